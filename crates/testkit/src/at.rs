//! Directory handles that work relative to an open descriptor, so fixture
//! building and tree comparison reach paths longer than PATH_MAX (4096).
//!
//! Calls that only exist for paths (xattrs) go through
//! `/proc/self/fd/<dirfd>/<name>`, which stays short however deep the entry is.

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Timespec, Timestamps};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// An open directory; entries are named relative to it.
pub(crate) struct DirFd(OwnedFd);

/// What `lstat` says about one entry, with portable field types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub file_type: FileType,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub dev: u64,
    pub ino: u64,
    pub rdev: u64,
    pub size: u64,
    /// Allocated bytes (`st_blocks * 512`).
    pub allocated: u64,
    pub mtime: (i64, u64),
}

impl DirFd {
    /// Opens the directory at `path` (which may itself be a symlink to one).
    pub fn open(path: &Path) -> io::Result<DirFd> {
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty())
            .map_err(|e| with_path(e.into(), path))?;
        Ok(DirFd(fd))
    }

    /// Opens the child directory `name`, never following a symlink.
    pub fn child(&self, name: &OsStr) -> io::Result<DirFd> {
        let fd = rustix::fs::openat(&self.0, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())?;
        Ok(DirFd(fd))
    }

    /// Creates the child directory `name` and opens it.
    pub fn mkdir_child(&self, name: &OsStr, mode: u32) -> io::Result<DirFd> {
        rustix::fs::mkdirat(&self.0, name, Mode::from_raw_mode(mode))?;
        self.child(name)
    }

    /// Entry names, sorted by bytes, without `.` and `..`.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        for entry in Dir::read_from(&self.0)? {
            let bytes = entry?.file_name().to_bytes().to_vec();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes));
            }
        }
        names.sort();
        Ok(names)
    }

    /// `lstat` of `name` (`.` is the directory itself).
    #[allow(
        clippy::useless_conversion,
        reason = "struct stat's field types differ between architectures"
    )]
    pub fn stat(&self, name: &OsStr) -> io::Result<Meta> {
        let st = rustix::fs::statat(&self.0, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(Meta {
            file_type: FileType::from_raw_mode(st.st_mode),
            perm: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            dev: u64::from(st.st_dev),
            ino: u64::from(st.st_ino),
            rdev: u64::from(st.st_rdev),
            size: u64::try_from(st.st_size).unwrap_or(0),
            allocated: u64::try_from(st.st_blocks).unwrap_or(0) * 512,
            mtime: (i64::from(st.st_mtime), u64::from(st.st_mtime_nsec)),
        })
    }

    /// The target of the symlink `name`, as bytes.
    pub fn readlink(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(&self.0, name, Vec::new())?.into_bytes())
    }

    /// Opens the regular file `name` for reading, never following a symlink.
    pub fn open_file(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        Ok(File::from(rustix::fs::openat(
            &self.0,
            name,
            flags,
            Mode::empty(),
        )?))
    }

    /// Creates the regular file `name` (which must not exist) for writing.
    pub fn create_file(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.0, name, flags, Mode::from_raw_mode(0o644))?;
        Ok(File::from(fd))
    }

    /// Sets atime and mtime of `name` without following a symlink.
    pub fn set_times(&self, name: &OsStr, atime: (i64, u32), mtime: (i64, u32)) -> io::Result<()> {
        let ts = |(s, ns): (i64, u32)| Timespec {
            tv_sec: s,
            tv_nsec: ns.into(),
        };
        let times = Timestamps {
            last_access: ts(atime),
            last_modification: ts(mtime),
        };
        Ok(rustix::fs::utimensat(
            &self.0,
            name,
            &times,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    #[cfg(test)]
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// A short path that names `name` inside this directory, for calls that
    /// take only paths. It is valid while `self` is open.
    pub fn proc_path(&self, name: &OsStr) -> PathBuf {
        let mut p = format!("/proc/self/fd/{}/", self.0.as_fd().as_raw_fd()).into_bytes();
        p.extend_from_slice(name.as_bytes());
        PathBuf::from(OsString::from_vec(p))
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// Adds `path` to an I/O error's message, keeping its kind.
pub(crate) fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// All extended attributes of `path` (not following a symlink), sorted by
/// name. A filesystem without xattr support has none.
pub(crate) fn xattrs(path: &Path) -> io::Result<Vec<(OsString, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        // An attribute removed between list and get is simply gone.
        if let Some(value) = xattr::get(path, &name)? {
            out.push((name, value));
        }
    }
    out.sort();
    Ok(out)
}

/// Errors that mean "this filesystem or object cannot hold that".
pub(crate) fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTSUP) | Some(libc::EPERM) | Some(libc::EINVAL)
    )
}
