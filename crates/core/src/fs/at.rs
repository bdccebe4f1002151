//! File system access relative to open directories, so that paths of any
//! length work and nothing follows a symlink it did not mean to: backup
//! walks a tree through directory descriptors, restore acts only on names
//! in directories it opened from its target down.
//!
//! Input: a path (possibly longer than PATH_MAX), or an open [`Dir`] and a
//! name in it. Output: what every `*at` syscall takes, a directory
//! descriptor and a name ([`At`]), or an open [`Dir`].
//! Invariants: [`Dir::child`] and [`open_beneath`] never follow a symlink
//! and never leave the directory (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS` where the kernel has it, `O_NOFOLLOW` on a single
//! name otherwise). A path shorter than PATH_MAX is handed to the kernel
//! as is (one syscall, no extra open); a longer one is reached by opening
//! its parent piece by piece, each piece shorter than PATH_MAX. Nothing
//! here formats errors: callers name the full path in theirs.

use rustix::fs::{AtFlags, CWD, Mode, OFlags, ResolveFlags, Stat};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once `openat2` answered ENOSYS (kernels before 5.6): from then on
/// [`open_beneath`] uses `openat` with `O_NOFOLLOW`.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens `name`, one entry of `dir`, with `flags`: never through a symlink
/// (a symlink at `name` is refused with ELOOP, or ENOTDIR with
/// `O_DIRECTORY`) and never outside `dir` (`..` and names holding `/` are
/// refused). With `openat2` (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS`) the kernel enforces both; without it, checking
/// the name and `O_NOFOLLOW` on its only component do the same.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b".." || bytes.contains(&b'/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(dir, name, flags, mode, resolve) {
            Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            r => return Ok(r?),
        }
    }
    Ok(rustix::fs::openat(dir, name, flags, mode)?)
}

/// The kernel refuses paths of PATH_MAX bytes or more (the count includes
/// the terminating NUL).
const PATH_MAX: usize = libc::PATH_MAX as usize;
/// Longest piece opened at once when a path is too long: well under
/// PATH_MAX, and longer than any name (NAME_MAX is 255), so a piece always
/// ends at a `/`.
const PIECE: usize = 3072;

/// Whether the kernel takes `path` whole.
pub fn is_short(path: &Path) -> bool {
    path.as_os_str().len() < PATH_MAX
}

/// An open directory; entries are named relative to it.
#[derive(Debug)]
pub struct Dir(OwnedFd);

impl Dir {
    /// Opens the directory `path` (any length) for listing. Symlinks in
    /// the path are followed, as open(2) would.
    pub fn open(path: &Path) -> io::Result<Dir> {
        open_long(path, list_flags()).map(Dir)
    }

    /// Opens the directory `name` in this one for listing; a symlink is
    /// refused (ELOOP/ENOTDIR), never followed ([`open_beneath`]).
    pub fn child(&self, name: &OsStr) -> io::Result<Dir> {
        open_beneath(self.0.as_fd(), name, list_flags(), Mode::empty()).map(Dir)
    }

    /// Opens the regular file `name` in this directory for reading without
    /// following a symlink, without blocking (should it have become a
    /// FIFO) and, where allowed, without updating its atime (O_NOATIME:
    /// only the owner or root may use it).
    pub fn open_file(&self, name: &OsStr) -> io::Result<std::fs::File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.0, name, flags | OFlags::NOATIME, Mode::empty()) {
            Err(rustix::io::Errno::PERM) => rustix::fs::openat(&self.0, name, flags, Mode::empty()),
            r => r,
        }?;
        Ok(std::fs::File::from(fd))
    }

    /// The (device, inode) of this directory: what it is, whatever it is
    /// called now.
    pub fn ident(&self) -> io::Result<(u64, u64)> {
        let st = rustix::fs::fstat(&self.0)?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Removes `name` and, if it is a directory, everything below it,
    /// never following symlinks ([`remove_all`] relative to this directory).
    pub fn remove_all(&self, name: &OsStr) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.0, name, AtFlags::empty()) {
            Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {}
            r => return Ok(r?),
        }
        empty_dir(&self.child(name)?)?;
        Ok(rustix::fs::unlinkat(&self.0, name, AtFlags::REMOVEDIR)?)
    }

    /// A path naming this directory itself, for the calls that only take
    /// paths; valid while `self` is open; it needs /proc.
    pub fn own_proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }

    /// Entry names, sorted by bytes, without `.` and `..`. Reads through
    /// this descriptor (getdents64 from its current offset, which is the
    /// start for a directory opened here), so it is called once per `Dir`;
    /// rustix's `Dir::read_from` would duplicate the descriptor first (an
    /// openat, fcntl and close more per directory).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 32 * 1024];
        let mut raw = rustix::fs::RawDir::new(&self.0, &mut buf);
        let mut names = Vec::new();
        while let Some(entry) = raw.next() {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes.to_vec()));
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// `lstat` of `name` (`.` is the directory itself).
    pub fn stat(&self, name: &OsStr) -> io::Result<Stat> {
        Ok(rustix::fs::statat(
            &self.0,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// The target of the symlink `name`, as bytes.
    pub fn readlink(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(&self.0, name, Vec::new())?.into_bytes())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// This directory as a [`std::fs::File`], for the calls only a file has
    /// (xattrs through the descriptor).
    pub fn into_file(self) -> std::fs::File {
        std::fs::File::from(self.0)
    }

    /// A short path naming `name` in this directory, for the calls that only
    /// take paths (xattrs). It is valid while `self` is open; it needs /proc.
    pub fn proc_path(&self, name: &OsStr) -> PathBuf {
        proc_path(self.0.as_fd(), name)
    }
}

fn proc_path(fd: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = format!("/proc/self/fd/{}/", fd.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    PathBuf::from(OsString::from_vec(p))
}

fn list_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// Opens `path` with `flags`, in pieces when it is too long for one call.
fn open_long(path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() < PATH_MAX {
        return Ok(rustix::fs::open(path, flags, Mode::empty())?);
    }
    let step = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir: Option<OwnedFd> = None;
    let mut start = 0;
    loop {
        let rest = &bytes[start..];
        let last = rest.len() < PIECE;
        let end = if last {
            bytes.len()
        } else {
            match rest[..PIECE].iter().rposition(|&b| b == b'/') {
                Some(i) if i > 0 => start + i,
                _ => return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG)),
            }
        };
        let piece = OsStr::from_bytes(&bytes[start..end]);
        let f = if last { flags } else { step };
        let fd = match &dir {
            None => rustix::fs::openat(CWD, piece, f, Mode::empty())?,
            Some(d) => rustix::fs::openat(d, piece, f, Mode::empty())?,
        };
        if last {
            return Ok(fd);
        }
        dir = Some(fd);
        start = end;
        while start < bytes.len() && bytes[start] == b'/' {
            start += 1;
        }
        if start == bytes.len() {
            // The path ended in slashes: reopen what we have with `flags`.
            return Ok(rustix::fs::openat(
                dir.as_ref().expect("set above"),
                ".",
                flags,
                Mode::empty(),
            )?);
        }
    }
}

/// Removes everything in `dir`, at any depth: iterative, one open
/// descriptor per level below `dir` (never a path, never a symlink
/// followed), so a tree deeper than the stack empties like a flat one.
fn empty_dir(dir: &Dir) -> io::Result<()> {
    /// A directory being emptied: what is left to remove in it, and the
    /// name it has in the level above (removed once it is empty).
    struct Level {
        dir: Dir,
        names: std::vec::IntoIter<OsString>,
        name: OsString,
    }
    let mut below: Vec<Level> = Vec::new();
    let mut names = dir.names()?.into_iter();
    loop {
        let (here, next) = match below.last_mut() {
            Some(level) => (&level.dir, level.names.next()),
            None => (dir, names.next()),
        };
        let Some(name) = next else {
            let Some(done) = below.pop() else {
                return Ok(());
            };
            drop(done.dir);
            let parent = below.last().map_or(dir, |l| &l.dir);
            rustix::fs::unlinkat(parent.fd(), done.name.as_os_str(), AtFlags::REMOVEDIR)?;
            continue;
        };
        match rustix::fs::unlinkat(here.fd(), name.as_os_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {
                let child = here.child(&name)?;
                let names = child.names()?.into_iter();
                below.push(Level {
                    dir: child,
                    names,
                    name,
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A directory chain deeper than PATH_MAX, made with mkdirat.
    fn deep(root: &Path, levels: usize) -> PathBuf {
        let mut path = root.to_path_buf();
        let mut dir = Dir::open(root).unwrap();
        for i in 0..levels {
            let name = format!("{i:03}{}", "d".repeat(200));
            rustix::fs::mkdirat(dir.fd(), name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
            dir = dir.child(OsStr::new(&name)).unwrap();
            path.push(name);
        }
        path
    }

    #[test]
    fn long_paths_open_stat_and_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let path = deep(tmp.path(), 30);
        assert!(!is_short(&path));
        std::fs::metadata(&path).unwrap_err();
        let dir = Dir::open(&path).unwrap();
        rustix::fs::mkdirat(dir.fd(), "leaf", Mode::from_raw_mode(0o700)).unwrap();
        let leaf = dir.proc_path(OsStr::new("leaf"));
        assert_eq!(
            std::fs::metadata(&leaf).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        assert!(xattr::list(&leaf).is_ok());
        let first = path
            .strip_prefix(tmp.path())
            .unwrap()
            .iter()
            .next()
            .unwrap();
        drop(dir);
        Dir::open(tmp.path()).unwrap().remove_all(first).unwrap();
        assert!(Dir::open(tmp.path()).unwrap().names().unwrap().is_empty());
    }

    /// Deeper than any thread's stack would allow a recursive removal,
    /// with files and a symlink at every level: all gone, nothing that a
    /// symlink points to touched.
    #[test]
    fn remove_all_empties_a_tree_deeper_than_the_stack() {
        assert!(crate::fs::raise_open_files_limit() > 5_100);
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("outside"), b"keep").unwrap();
        let top = tmp.path().join("top");
        std::fs::create_dir(&top).unwrap();
        let mut dir = Dir::open(&top).unwrap();
        for _ in 0..5_000 {
            rustix::fs::mkdirat(dir.fd(), "d", Mode::from_raw_mode(0o755)).unwrap();
            let f = rustix::fs::openat(
                dir.fd(),
                "f",
                OFlags::CREATE | OFlags::WRONLY,
                Mode::from_raw_mode(0o644),
            )
            .unwrap();
            drop(f);
            rustix::fs::symlinkat(tmp.path().join("outside"), dir.fd(), "l").unwrap();
            dir = dir.child(OsStr::new("d")).unwrap();
        }
        drop(dir);
        let tmp_path = tmp.path().to_path_buf();
        let t = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || Dir::open(&tmp_path).and_then(|d| d.remove_all(OsStr::new("top"))))
            .unwrap();
        t.join().unwrap().unwrap();
        assert_eq!(
            Dir::open(tmp.path()).unwrap().names().unwrap(),
            vec![OsString::from("outside")]
        );
        assert_eq!(std::fs::read(tmp.path().join("outside")).unwrap(), b"keep");
    }
}
