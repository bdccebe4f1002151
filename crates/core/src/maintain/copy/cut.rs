//! Cutting a file's content again for the destination of a copy: read
//! from the source blob by blob (in memory up to a size, else streamed
//! through a reading thread) and cut by the destination's chunker, or in
//! fixed chunks for an image, one data region at a time (a blob never
//! spans a hole).

use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::tree::Node;
use crate::id::BlobId;
use crate::repo::Repository;
use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

/// Up to this size, a file's content is read into memory and cut there;
/// larger ones stream through a reading thread.
const IN_MEMORY: u64 = 8 << 20;

/// How content is cut in the destination: by its chunker, or (an image
/// snapshot) in fixed aligned chunks, so the copy is an image still.
#[derive(Clone)]
pub(super) enum Cut {
    Chunker(Chunker),
    Fixed(u64),
}

impl Cut {
    /// Cuts everything `reader` yields (`len` bytes expected).
    pub(super) fn cut<R: Read>(
        &self,
        mut reader: R,
        len: u64,
        what: &str,
        each: &mut dyn FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Cut::Chunker(c) => c.chunks(reader, len, &what, each),
            Cut::Fixed(size) => loop {
                let mut chunk = Vec::with_capacity(*size as usize);
                (&mut reader)
                    .take(*size)
                    .read_to_end(&mut chunk)
                    .map_err(|e| Error::io("cannot read", what, e))?;
                if chunk.is_empty() {
                    return Ok(());
                }
                each(chunk)?;
            },
        }
    }

    /// Tells the content memo's keys of the two ways apart.
    pub(super) fn tag(&self) -> u64 {
        match self {
            Cut::Chunker(_) => 0,
            Cut::Fixed(n) => *n,
        }
    }
}

/// The lengths of a file's data regions: its size less the holes it
/// records, in order.
fn data_regions(node: &Node) -> Vec<u64> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &(off, len) in &node.holes {
        if off > pos {
            out.push(off - pos);
        }
        pos = pos.max(off.saturating_add(len));
    }
    if node.size > pos {
        out.push(node.size - pos);
    }
    out
}

/// Reads a file's content from `source` and cuts it with the destination's
/// chunker, one data region at a time, adding each chunk to `writer`.
/// Returns the new blob ids and the bytes read.
pub(super) fn rechunk(
    source: &Repository,
    chunker: &Cut,
    writer: &BlobWriter,
    node: &Node,
    what: &str,
) -> Result<(Vec<BlobId>, u64)> {
    let mut new = Vec::new();
    let mut add = |chunk: Vec<u8>| -> Result<()> {
        new.push(writer.add(BlobKind::Data, &chunk)?.0);
        Ok(())
    };
    // What the regions do not account for (never, for what a backup
    // stored) is cut as one more region.
    let mut regions = data_regions(node);
    regions.push(u64::MAX);
    if node.size <= IN_MEMORY {
        let mut data = Vec::with_capacity(node.size as usize);
        source.read_blobs_in_order(&node.content, |blob| {
            data.extend_from_slice(&blob);
            Ok(())
        })?;
        let mut rest = &data[..];
        for len in regions {
            let (region, after) = rest.split_at((len.min(rest.len() as u64)) as usize);
            chunker.cut(region, region.len() as u64, what, &mut add)?;
            rest = after;
        }
        return Ok((new, data.len() as u64));
    }
    let (tx, rx) = sync_channel::<Result<Vec<u8>>>(4);
    let read = std::thread::scope(|scope| {
        scope.spawn(move || {
            let sent = source.read_blobs_in_order(&node.content, |blob| {
                tx.send(Ok(blob))
                    .map_err(|_| Error::fatal("the copy stopped reading"))
            });
            if let Err(e) = sent {
                let _ = tx.send(Err(e));
            }
        });
        let mut reader = Blobs {
            rx,
            buf: Vec::new(),
            at: 0,
            failed: None,
            read: 0,
        };
        for len in regions {
            let cut = chunker.cut((&mut reader).take(len), len, what, &mut add);
            if let Some(e) = reader.failed.take() {
                return Err(e); // the source's error, not the reader's copy
            }
            cut?;
        }
        Ok(reader.read)
    })?;
    Ok((new, read))
}

/// A file's blobs, as they arrive from the reading thread, as one stream.
struct Blobs {
    rx: Receiver<Result<Vec<u8>>>,
    buf: Vec<u8>,
    at: usize,
    failed: Option<Error>,
    read: u64,
}

impl Read for Blobs {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(blob)) => {
                    self.buf = blob;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    self.failed = Some(e);
                    return Err(std::io::Error::other(msg));
                }
                Err(_) => return Ok(0), // every blob was read
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tree::NodeKind;

    fn file(size: u64, holes: Vec<(u64, u64)>) -> Node {
        Node {
            size,
            holes,
            kind: NodeKind::File,
            ..Node::default()
        }
    }

    #[test]
    fn regions_are_the_size_less_the_holes() {
        assert_eq!(data_regions(&file(10, vec![])), vec![10]);
        assert_eq!(data_regions(&file(10, vec![(0, 4)])), vec![6]);
        assert_eq!(data_regions(&file(10, vec![(2, 3), (7, 1)])), vec![2, 2, 2]);
        assert_eq!(data_regions(&file(10, vec![(6, 4)])), vec![6]);
        assert!(data_regions(&file(10, vec![(0, 10)])).is_empty());
    }
}
