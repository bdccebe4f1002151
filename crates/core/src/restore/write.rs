//! Writing entries: files under temporary names, content at offsets (zeros
//! stay holes), final length, renaming into place; directories, symlinks,
//! devices, FIFOs, hardlinks.
//!
//! Input: paths of any length (reached through [`At`]) and what to write.
//! Output: the entries on disk. Invariants: nothing follows a symlink at
//! the final component; new files are created exclusively (O_EXCL), so a
//! restore never writes through something that appeared meanwhile; every
//! error is one line naming `shown`, the entry's final path.

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::fs::at::{At, remove_all};
use crate::fs::sparse::write_sparse;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn at<'a>(path: &'a Path, shown: &Path) -> Result<At<'a>> {
    At::new(path).map_err(|e| Error::io("cannot reach", shown.display(), e))
}

/// Creates the new file `path` to restore `shown` into: a temporary name,
/// or `shown` itself when nothing was there ([`super::plan::PlannedFile`]).
pub fn create_new(path: &Path, shown: &Path) -> Result<File> {
    let a = at(path, shown)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || rustix::fs::openat(a.dir(), a.name(), flags, Mode::from_raw_mode(0o600));
    let fd = match open() {
        // A leftover of an interrupted restore that had our process id (a
        // file's own name is never removed here: something appeared there).
        Err(rustix::io::Errno::EXIST) if path != shown => {
            let _ = rustix::fs::unlinkat(a.dir(), a.name(), AtFlags::empty());
            open()
        }
        r => r,
    }
    .map_err(|e| Error::io("cannot create file", shown.display(), e.into()))?;
    Ok(File::from(fd))
}

fn open_write(path: &Path, shown: &Path) -> Result<File> {
    let a = at(path, shown)?;
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(a.dir(), a.name(), flags, Mode::empty())
        .map(File::from)
        .map_err(|e| Error::io("cannot open file", shown.display(), e.into()))
}

/// Creates `path` holding `data` at `offset` and `len` bytes in all (a file
/// of one blob: most files of a system), in one open; returns it open, for
/// its metadata.
pub fn write_whole(path: &Path, shown: &Path, offset: u64, data: &[u8], len: u64) -> Result<File> {
    let f = create_new(path, shown)?;
    let written = write_sparse(&f, offset, data)
        .map_err(|e| Error::io("cannot write", shown.display(), e))?;
    // Trailing zero blocks were skipped (or the file ends in a hole).
    if written < len {
        f.set_len(len)
            .map_err(|e| Error::io("cannot set length", shown.display(), e))?;
    }
    Ok(f)
}

/// Writes `data` at `offset`; its all-zero blocks are skipped so they stay
/// holes (the final length is set by [`set_length`]).
pub fn write_at(path: &Path, shown: &Path, offset: u64, data: &[u8]) -> Result<()> {
    if data.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let f = open_write(path, shown)?;
    write_sparse(&f, offset, data)
        .map(drop)
        .map_err(|e| Error::io("cannot write", shown.display(), e))
}

pub fn set_length(path: &Path, shown: &Path, len: u64) -> Result<()> {
    open_write(path, shown)?
        .set_len(len)
        .map_err(|e| Error::io("cannot set length", shown.display(), e))
}

/// Renames `from` over `to` (atomically replacing what is there, unless it
/// is a directory: that is removed first).
pub fn rename_into_place(from: &Path, to: &Path) -> Result<()> {
    let (a, b) = (at(from, to)?, at(to, to)?);
    match rustix::fs::renameat(a.dir(), a.name(), b.dir(), b.name()) {
        Err(rustix::io::Errno::ISDIR)
        | Err(rustix::io::Errno::NOTEMPTY)
        | Err(rustix::io::Errno::EXIST) => {
            remove_all(to).map_err(|e| Error::io("cannot replace directory", to.display(), e))?;
            rustix::fs::renameat(a.dir(), a.name(), b.dir(), b.name())
        }
        r => r,
    }
    .map_err(|e| Error::io("cannot rename into place", to.display(), e.into()))
}

/// Removes `path` (a temporary name left by a failure); errors are moot.
pub fn discard(path: &Path) {
    if let Ok(a) = At::new(path) {
        let _ = rustix::fs::unlinkat(a.dir(), a.name(), AtFlags::empty());
    }
}

/// Makes `path` another name of `first`.
pub fn hard_link(first: &Path, path: &Path, shown: &Path) -> Result<()> {
    let (a, b) = (at(first, shown)?, at(path, shown)?);
    rustix::fs::linkat(a.dir(), a.name(), b.dir(), b.name(), AtFlags::empty())
        .map_err(|e| Error::io("cannot create hardlink", shown.display(), e.into()))
}

/// Creates the directory `path`; returns false if one is already there.
pub fn make_dir(path: &Path) -> Result<bool> {
    let a = at(path, path)?;
    match rustix::fs::mkdirat(a.dir(), a.name(), Mode::from_raw_mode(0o700)) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST)
            if a.stat()
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory) =>
        {
            Ok(false)
        }
        Err(rustix::io::Errno::NOENT) if path.parent().is_some_and(|p| p != path) => {
            // Reached through include patterns: make the parents too.
            make_dir(path.parent().expect("checked"))?;
            make_dir(path)
        }
        Err(e) => Err(Error::io(
            "cannot create directory",
            path.display(),
            e.into(),
        )),
    }
}

/// Creates a non-regular, non-directory entry at `path` (which must not
/// exist) for `shown`. Returns false for sockets, which are not restored
/// (the program that listens on one makes it).
pub fn make_special(path: &Path, shown: &Path, node: &Node) -> Result<bool> {
    let a = at(path, shown)?;
    let private = Mode::from_raw_mode(0o600);
    let r = match node.kind {
        NodeKind::Symlink => {
            let target = node.target.as_deref().unwrap_or_default();
            rustix::fs::symlinkat(std::ffi::OsStr::from_bytes(target), a.dir(), a.name())
        }
        NodeKind::Fifo => rustix::fs::mknodat(a.dir(), a.name(), FileType::Fifo, private, 0),
        NodeKind::Chardev => rustix::fs::mknodat(
            a.dir(),
            a.name(),
            FileType::CharacterDevice,
            private,
            node.rdev,
        ),
        NodeKind::Blockdev => {
            rustix::fs::mknodat(a.dir(), a.name(), FileType::BlockDevice, private, node.rdev)
        }
        NodeKind::Socket => return Ok(false),
        NodeKind::File | NodeKind::Dir => {
            return Err(Error::fatal("not a special file").with_location(shown.display()));
        }
    };
    r.map(|_| true)
        .map_err(|e| Error::io("cannot create", shown.display(), e.into()))
}
