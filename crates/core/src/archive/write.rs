//! A tar stream being written: member headers, data with its padding,
//! hardlinks to earlier members, and the end-of-archive blocks.
//!
//! Input: members in the order they should appear, each a path, a
//! [`Node`] and its data (given in pieces). Output: a pax tar stream on
//! any `Write`.
//! Invariants: a member's data is exactly the length its header declares
//! (a file that shrank while being read is padded with zeros, one that
//! grew is cut; the caller is told, as GNU tar warns); the second and
//! later names of a multiply-linked file become hardlink members.

use super::pax::{self, BLOCK};
use crate::format::tree::{Node, NodeKind};
use std::collections::HashMap;
use std::io::{self, Write};

/// The member name of `path`, as GNU tar names it: without the leading
/// `/` (`.` for the root), directories with a trailing `/`.
pub fn member_name(path: &std::path::Path, is_dir: bool) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    let mut m = bytes[start..].to_vec();
    if m.is_empty() {
        m.push(b'.');
    }
    if is_dir {
        m.push(b'/');
    }
    m
}

/// A failure of the archive stream itself (the sink, going to `dest`),
/// which ends the run.
pub fn sink_err(dest: &str, e: io::Error) -> crate::error::Error {
    crate::error::Error::io("cannot write the archive", dest, e)
}

pub struct TarWriter<W: Write> {
    out: W,
    /// (dev, inode) of multiply-linked files already written → their path.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Data bytes the current member still expects.
    remaining: u64,
    /// Padding owed after the current member's data.
    padding: usize,
    /// Bytes written so far (headers, data, padding).
    written: u64,
}

/// What follows a header: the data (`Some(len)` of file content, sparse
/// map excluded) or nothing (directories, links, devices, hardlinks).
pub enum Follows {
    Data(u64),
    Nothing,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        TarWriter {
            out,
            links: HashMap::new(),
            remaining: 0,
            padding: 0,
            written: 0,
        }
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Whether `node` is a second (or later) name of a file already
    /// written; then `begin` writes it as a hardlink.
    pub fn is_hardlink(&self, node: &Node) -> bool {
        node.kind != NodeKind::Dir
            && node.links > 1
            && self.links.contains_key(&(node.dev, node.inode))
    }

    /// Writes the headers of a member. `regions` are a sparse file's data
    /// regions (`None` for a dense file). Then the caller gives the data
    /// with [`TarWriter::data`] (for a sparse file: the regions' bytes, in
    /// order) and calls [`TarWriter::end`].
    pub fn begin(
        &mut self,
        path: &[u8],
        node: &Node,
        regions: Option<&[(u64, u64)]>,
    ) -> io::Result<Follows> {
        debug_assert_eq!(self.remaining, 0, "previous member not ended");
        let key = (node.dev, node.inode);
        let link = if node.kind != NodeKind::Dir && node.links > 1 {
            match self.links.get(&key) {
                Some(first) => Some(first.clone()),
                None => {
                    self.links.insert(key, path.to_vec());
                    None
                }
            }
        } else {
            None
        };
        let h = pax::header(path, node, link.as_deref(), regions);
        self.put(&h.blocks)?;
        self.put(&h.sparse_map)?;
        let content = h.data_len - h.sparse_map.len() as u64;
        self.remaining = content;
        self.padding = (BLOCK - (h.data_len % BLOCK as u64) as usize) % BLOCK;
        Ok(if link.is_none() && node.kind == NodeKind::File {
            Follows::Data(content)
        } else {
            Follows::Nothing
        })
    }

    /// Writes data of the current member; bytes past its declared length
    /// are dropped. Returns how many were taken.
    pub fn data(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.put(&buf[..n])?;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Ends the current member: zero-fills what the data fell short of (and
    /// returns how many bytes that was), then pads to a block.
    pub fn end(&mut self) -> io::Result<u64> {
        let short = self.remaining;
        let zeros = [0u8; 64 * 1024];
        while self.remaining > 0 {
            let n = self.remaining.min(zeros.len() as u64) as usize;
            self.put(&zeros[..n])?;
            self.remaining -= n as u64;
        }
        let p = self.padding;
        self.put(&zeros[..p])?;
        self.padding = 0;
        Ok(short)
    }

    /// Writes the two zero blocks that end an archive and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }
}
