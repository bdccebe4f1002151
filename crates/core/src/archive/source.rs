//! The file system as a tar stream: walks the given paths (depth first,
//! names in byte order, never following symlinks) and writes each entry
//! with its metadata and content into a [`TarWriter`].
//!
//! Input: absolute paths, excludes, `one_file_system`. Output: members
//! named like GNU tar names them (the path without its leading `/`,
//! directories with a trailing `/`), and the counts of what was written.
//! Invariants: an entry that cannot be opened or listed is left out and
//! reported (the archive is then incomplete, exit 3); a file that changes
//! while it is read still gets exactly the length its header declared;
//! sparse files are written as pax sparse 1.0 (holes are not stored);
//! sockets are skipped, as tar cannot hold them.

use super::write::{Follows, TarWriter, member_name as member, sink_err};
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::fs::at::Dir;
use crate::fs::walk::{Step, Walk};
use crate::fs::{Excludes, Owners, sparse};
use crate::fs::{Meta, read_node};
use crate::progress::Progress;
use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub other: u64,
    /// Bytes of file content (holes excluded).
    pub content_bytes: u64,
    /// Entries left out or cut short (they are listed in `errors`).
    #[serde(skip)]
    pub errors: Vec<(PathBuf, String)>,
    /// Files that changed while they were read.
    #[serde(skip)]
    pub changed: Vec<PathBuf>,
}

pub struct Source<'a, W: Write> {
    pub tar: &'a mut TarWriter<W>,
    pub excludes: &'a Excludes,
    pub one_file_system: bool,
    pub owners: &'a Owners,
    pub progress: &'a dyn Progress,
    pub counts: Counts,
    /// The destination's name, for errors.
    pub dest: &'a str,
    /// Bytes consumed, for the read-ahead (see `prefetch`).
    pub consumed: &'a std::sync::atomic::AtomicU64,
}

impl<W: Write> Source<'_, W> {
    fn skip(&mut self, path: &Path, e: Error) {
        self.progress.warning(path, &e.to_string());
        self.counts.errors.push((path.to_path_buf(), e.to_string()));
    }

    /// Archives the given paths (absolute, normalized), in order.
    pub fn run(&mut self, paths: &[PathBuf]) -> Result<()> {
        for step in Walk::new(paths.to_vec(), self.excludes, self.one_file_system) {
            match step {
                Step::Entry {
                    dir,
                    name,
                    path,
                    meta,
                    ..
                } => self.entry(&dir, &name, &path, &meta)?,
                Step::Error { path, what, error } => {
                    self.skip(&path, Error::io(what, path.display(), error))
                }
            }
            self.consumed.fetch_add(
                super::prefetch::PER_ENTRY,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Ok(())
    }

    /// One entry the walk reached (a directory's entries follow it).
    fn entry(&mut self, dir: &Dir, name: &OsStr, path: &Path, meta: &Meta) -> Result<()> {
        let is_dir = meta.kind == NodeKind::Dir;
        if meta.kind == NodeKind::Socket {
            self.progress
                .warning(path, "socket skipped (tar cannot hold sockets)");
            return Ok(());
        }
        let node = match read_node(dir, name, path, meta, self.owners) {
            Ok(n) => n,
            Err(e) => {
                self.skip(path, e);
                return Ok(());
            }
        };
        let m = member(path, is_dir);
        match meta.kind {
            NodeKind::Dir => {
                self.tar
                    .begin(&m, &node, None)
                    .map_err(|e| sink_err(self.dest, e))?;
                self.tar.end().map_err(|e| sink_err(self.dest, e))?;
                // Directories are not counted (as in backup and in the totals).
                self.counts.dirs += 1;
                Ok(())
            }
            NodeKind::File if !self.tar.is_hardlink(&node) => {
                self.file(dir, name, path, meta, &node, &m)
            }
            _ => {
                self.tar
                    .begin(&m, &node, None)
                    .map_err(|e| sink_err(self.dest, e))?;
                self.tar.end().map_err(|e| sink_err(self.dest, e))?;
                if meta.kind == NodeKind::File {
                    self.counts.links += 1;
                } else {
                    self.counts.other += 1;
                }
                self.progress.entry_done(path, 0, 0);
                Ok(())
            }
        }
    }

    /// A regular file's member: its data regions (holes left out), then
    /// its content; a file that cannot be read is zero-filled to the
    /// declared length and reported, one that changed while read is
    /// listed as changed.
    fn file(
        &mut self,
        dir: &Dir,
        name: &OsStr,
        path: &Path,
        meta: &Meta,
        node: &Node,
        m: &[u8],
    ) -> Result<()> {
        let file = match dir.open_file(name) {
            Ok(f) => f,
            Err(e) => {
                self.skip(path, Error::io("cannot open", path.display(), e));
                return Ok(());
            }
        };
        let regions = if sparse::may_have_holes(node.size, meta.allocated) {
            match sparse::data_regions(&file) {
                Ok(r) if r != [(0, node.size)] => Some(r),
                Ok(_) => None,
                Err(e) => {
                    self.skip(path, Error::io("cannot find holes in", path.display(), e));
                    return Ok(());
                }
            }
        } else {
            None
        };
        let Follows::Data(_) = self
            .tar
            .begin(m, node, regions.as_deref())
            .map_err(|e| sink_err(self.dest, e))?
        else {
            return Ok(());
        };
        let ranges = regions.clone().unwrap_or_else(|| vec![(0, node.size)]);
        let mut read = 0u64;
        let mut failure = None;
        for (offset, len) in ranges {
            match self.copy(&file, offset, len) {
                Ok(n) => read += n,
                Err(CopyError::Sink(e)) => return Err(sink_err(self.dest, e)),
                Err(CopyError::Source(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let short = self.tar.end().map_err(|e| sink_err(self.dest, e))?;
        if let Some(e) = failure {
            self.skip(
                path,
                Error::io(
                    "cannot read (zero-filled in the archive)",
                    path.display(),
                    e,
                ),
            );
        } else {
            let after = file.metadata().ok();
            let changed = short > 0
                || after.is_none_or(|a| {
                    a.size() != node.size
                        || a.mtime() * 1_000_000_000 + a.mtime_nsec() != node.mtime
                });
            if changed {
                self.progress.changed_while_reading(path);
                self.counts.changed.push(path.to_path_buf());
            }
        }
        self.counts.files += 1;
        self.counts.content_bytes += read;
        self.progress.entry_done(path, read, node.size);
        Ok(())
    }

    /// Copies `len` bytes at `offset` of `file` into the current member.
    fn copy(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> std::result::Result<u64, CopyError> {
        let mut f = file;
        f.seek(SeekFrom::Start(offset)).map_err(CopyError::Source)?;
        let mut r = f.take(len);
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = match r.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CopyError::Source(e)),
            };
            self.tar.data(&buf[..k]).map_err(CopyError::Sink)?;
            self.consumed
                .fetch_add(k as u64, std::sync::atomic::Ordering::Relaxed);
            n += k as u64;
        }
    }
}

enum CopyError {
    Source(std::io::Error),
    Sink(std::io::Error),
}
