//! Writing entries: files (under their own or temporary names), content at
//! offsets (zeros stay holes), final length, renaming into place;
//! directories, symlinks, devices, FIFOs, hardlinks.
//!
//! Input: an open directory ([`Dir`], from [`super::dirs::Dirs`]), a name
//! in it and what to write. Output: the entries on disk.
//! Invariants: every call is relative to the directory's descriptor and
//! never follows a symlink; new files are created exclusively (O_EXCL), so
//! a restore never writes through something that appeared meanwhile; a
//! file reopened to write more must still be the inode this restore
//! created; every error is one line naming `shown`, the entry's final path.

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::fs::at::{Dir, open_beneath};
use crate::fs::sparse::write_sparse;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn io_err(what: &str, shown: &Path, e: impl Into<std::io::Error>) -> Error {
    Error::io(what, shown.display(), e.into())
}

/// Creates the new file `name` in `dir` to restore `shown` into: a
/// temporary name (`temp`), or the file's own name when nothing was there
/// ([`super::plan::PlannedFile`]).
pub fn create_new(dir: &Dir, name: &OsStr, temp: bool, shown: &Path) -> Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
    let open = || open_beneath(dir.fd(), name, flags, Mode::from_raw_mode(0o600));
    let fd = match open() {
        // A leftover of an interrupted restore that had our process id (a
        // file's own name is never removed here: something appeared there).
        Err(e) if temp && e.raw_os_error() == Some(libc::EEXIST) => {
            let _ = rustix::fs::unlinkat(dir.fd(), name, AtFlags::empty());
            open()
        }
        r => r,
    }
    .map_err(|e| io_err("cannot create file", shown, e))?;
    Ok(File::from(fd))
}

/// The inode of an open file (to check a reopened one against).
pub fn inode(f: &File) -> u64 {
    rustix::fs::fstat(f).map(|st| st.st_ino).unwrap_or(0)
}

/// Opens the file this restore created as `name` in `dir` (inode `ino`)
/// for writing; something else there now is refused.
pub fn open_created(dir: &Dir, name: &OsStr, ino: u64, shown: &Path) -> Result<File> {
    let f = open_beneath(dir.fd(), name, OFlags::WRONLY, Mode::empty())
        .map(File::from)
        .map_err(|e| io_err("cannot open file", shown, e))?;
    if inode(&f) != ino {
        return Err(io_err("cannot open file", shown, super::dirs::replaced()));
    }
    Ok(f)
}

/// Creates `name` holding `data` at `offset` and `len` bytes in all (a file
/// of one blob: most files of a system), in one open; returns it open, for
/// its metadata. A file that cannot be written is removed.
pub fn write_whole(
    dir: &Dir,
    name: &OsStr,
    temp: bool,
    shown: &Path,
    (offset, data, len): (u64, &[u8], u64),
) -> Result<File> {
    let f = create_new(dir, name, temp, shown)?;
    let write = || {
        let written =
            write_sparse(&f, offset, data).map_err(|e| io_err("cannot write", shown, e))?;
        // Trailing zero blocks were skipped (or the file ends in a hole).
        if written < len {
            f.set_len(len)
                .map_err(|e| io_err("cannot set length", shown, e))?;
        }
        Ok(())
    };
    match write() {
        Ok(()) => Ok(f),
        Err(e) => {
            discard(dir, name);
            Err(e)
        }
    }
}

/// Writes `data` at `offset`; its all-zero blocks are skipped so they stay
/// holes (the final length is set when the file is complete).
pub fn write_at(f: &File, shown: &Path, offset: u64, data: &[u8]) -> Result<()> {
    write_sparse(f, offset, data)
        .map(drop)
        .map_err(|e| io_err("cannot write", shown, e))
}

/// Renames `from` over `to`, both in `dir` (atomically replacing what is
/// there, unless it is a directory: that is removed first).
pub fn rename_into_place(dir: &Dir, from: &OsStr, to: &OsStr, shown: &Path) -> Result<()> {
    let rename = || rustix::fs::renameat(dir.fd(), from, dir.fd(), to);
    match rename() {
        Err(rustix::io::Errno::ISDIR)
        | Err(rustix::io::Errno::NOTEMPTY)
        | Err(rustix::io::Errno::EXIST) => {
            dir.remove_all(to)
                .map_err(|e| io_err("cannot replace directory", shown, e))?;
            rename()
        }
        r => r,
    }
    .map_err(|e| io_err("cannot rename into place", shown, e))
}

/// Removes `name` from `dir` (a temporary name left by a failure); errors
/// are moot.
pub fn discard(dir: &Dir, name: &OsStr) {
    let _ = rustix::fs::unlinkat(dir.fd(), name, AtFlags::empty());
}

/// Makes `name` in `dir` another name of `first` in `first_dir`.
pub fn hard_link(
    (first_dir, first): (&Dir, &OsStr),
    (dir, name): (&Dir, &OsStr),
    shown: &Path,
) -> Result<()> {
    rustix::fs::linkat(first_dir.fd(), first, dir.fd(), name, AtFlags::empty())
        .map_err(|e| io_err("cannot create hardlink", shown, e))
}

/// Creates the directory `name` in `dir` (private until its metadata is
/// applied, at the end) and opens it.
pub fn make_dir(dir: &Dir, name: &OsStr, shown: &Path) -> Result<Dir> {
    rustix::fs::mkdirat(dir.fd(), name, Mode::from_raw_mode(0o700))
        .map_err(|e| io_err("cannot create directory", shown, e))?;
    dir.child(name)
        .map_err(|e| io_err("cannot open directory", shown, e))
}

/// Creates a non-regular, non-directory entry `name` in `dir` (which must
/// not exist) for `shown`. Returns false for sockets, which are not restored
/// (the program that listens on one makes it).
pub fn make_special(dir: &Dir, name: &OsStr, shown: &Path, node: &Node) -> Result<bool> {
    let private = Mode::from_raw_mode(0o600);
    let d = dir.fd();
    let r = match node.kind {
        NodeKind::Symlink => {
            let target = node.target.as_deref().unwrap_or_default();
            rustix::fs::symlinkat(OsStr::from_bytes(target), d, name)
        }
        NodeKind::Fifo => rustix::fs::mknodat(d, name, FileType::Fifo, private, 0),
        NodeKind::Chardev => {
            rustix::fs::mknodat(d, name, FileType::CharacterDevice, private, node.rdev)
        }
        NodeKind::Blockdev => {
            rustix::fs::mknodat(d, name, FileType::BlockDevice, private, node.rdev)
        }
        NodeKind::Socket => return Ok(false),
        NodeKind::File | NodeKind::Dir => {
            return Err(Error::fatal("not a special file").with_location(shown.display()));
        }
    };
    r.map(|_| true)
        .map_err(|e| io_err("cannot create", shown, e))
}
