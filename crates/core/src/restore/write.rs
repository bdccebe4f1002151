//! Writing one entry: file content (zeros as holes), symlinks, devices, FIFOs.

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::repo::Repository;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Writes a file's content from its blobs. Runs of zeros are skipped with a
/// seek so they become holes; the final length is set explicitly.
pub fn write_file(repo: &Repository, path: &Path, node: &Node) -> Result<()> {
    let _ = std::fs::remove_file(path); // replace whatever is there, never write through a link
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("cannot create file", path.display(), e))?;
    let mut pos = 0u64;
    let mut holes = node.holes.iter().peekable();
    for id in &node.content {
        // Stored holes (sparse files) come between data runs.
        while let Some(&&(off, len)) = holes.peek() {
            if off > pos {
                break;
            }
            pos = pos.max(off + len);
            holes.next();
        }
        let data = repo.read_blob(id).map_err(|e| {
            Error::new(e.kind(), format!("cannot restore content ({e})")).with_location(path.display())
        })?;
        if data.iter().all(|&b| b == 0) {
            pos += data.len() as u64;
            continue;
        }
        f.seek(SeekFrom::Start(pos)).map_err(|e| Error::io("cannot seek", path.display(), e))?;
        f.write_all(&data).map_err(|e| Error::io("cannot write", path.display(), e))?;
        pos += data.len() as u64;
    }
    f.set_len(node.size.max(pos)).map_err(|e| Error::io("cannot set length", path.display(), e))?;
    Ok(())
}

/// Creates a non-regular, non-directory entry. Returns false for sockets,
/// which cannot be restored (a listening process makes them).
pub fn make_special(path: &Path, node: &Node) -> Result<bool> {
    let _ = std::fs::remove_file(path);
    let r = match node.kind {
        NodeKind::Symlink => {
            let target = node.target.as_deref().unwrap_or_default();
            rustix::fs::symlinkat(std::ffi::OsStr::from_bytes(target), rustix::fs::CWD, path)
        }
        NodeKind::Fifo => {
            rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0)
        }
        NodeKind::Chardev | NodeKind::Blockdev => {
            let ft = if node.kind == NodeKind::Chardev {
                rustix::fs::FileType::CharacterDevice
            } else {
                rustix::fs::FileType::BlockDevice
            };
            rustix::fs::mknodat(rustix::fs::CWD, path, ft, rustix::fs::Mode::from_raw_mode(0o600), node.rdev)
        }
        NodeKind::Socket => return Ok(false),
        NodeKind::File | NodeKind::Dir => unreachable!("files and directories are made elsewhere"),
    };
    r.map(|_| true).map_err(|e| Error::io("cannot create", path.display(), e.into()))
}
