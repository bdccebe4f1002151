//! Writing entries: file creation, content at offsets (zeros become holes),
//! final length and metadata; symlinks, devices, FIFOs.

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Creates (or truncates) a file to restore into. An existing entry of
/// another kind, or a symlink, is removed first: never write through a link.
pub fn create_file(path: &Path) -> Result<std::fs::File> {
    if let Ok(md) = std::fs::symlink_metadata(path)
        && !md.is_file()
    {
        if md.is_dir() {
            std::fs::remove_dir_all(path)
                .map_err(|e| Error::io("cannot replace directory", path.display(), e))?;
        } else {
            std::fs::remove_file(path)
                .map_err(|e| Error::io("cannot replace", path.display(), e))?;
        }
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags_nofollow()
        .open(path)
        .map_err(|e| Error::io("cannot create file", path.display(), e))
}

/// Creates a file holding exactly `data` (one blob: most files of a
/// system), in one open: creation costs more than the bytes.
pub fn write_whole(path: &Path, data: &[u8], len: u64) -> Result<()> {
    let f = create_file(path)?;
    if !data.iter().all(|&b| b == 0) {
        f.write_all_at(data, 0)
            .map_err(|e| Error::io("cannot write", path.display(), e))?;
    }
    if len != data.len() as u64 {
        f.set_len(len)
            .map_err(|e| Error::io("cannot set length", path.display(), e))?;
    }
    Ok(())
}

trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NOFOLLOW)
    }
}

/// Writes `data` at `offset`; all-zero data is skipped so it stays a hole
/// (the final length is set by [`set_length`]).
pub fn write_at(path: &Path, offset: u64, data: &[u8]) -> Result<()> {
    if data.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let f = OpenOptions::new()
        .write(true)
        .custom_flags_nofollow()
        .open(path)
        .map_err(|e| Error::io("cannot open file", path.display(), e))?;
    f.write_all_at(data, offset)
        .map_err(|e| Error::io("cannot write", path.display(), e))
}

pub fn set_length(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags_nofollow()
        .open(path)
        .map_err(|e| Error::io("cannot open file", path.display(), e))?;
    f.set_len(len)
        .map_err(|e| Error::io("cannot set length", path.display(), e))
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
        NodeKind::Fifo => rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        ),
        NodeKind::Chardev | NodeKind::Blockdev => {
            let ft = if node.kind == NodeKind::Chardev {
                rustix::fs::FileType::CharacterDevice
            } else {
                rustix::fs::FileType::BlockDevice
            };
            rustix::fs::mknodat(
                rustix::fs::CWD,
                path,
                ft,
                rustix::fs::Mode::from_raw_mode(0o600),
                node.rdev,
            )
        }
        NodeKind::Socket => return Ok(false),
        NodeKind::File | NodeKind::Dir => unreachable!("files and directories are made elsewhere"),
    };
    r.map(|_| true)
        .map_err(|e| Error::io("cannot create", path.display(), e.into()))
}
