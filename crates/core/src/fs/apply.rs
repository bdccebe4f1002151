//! Applying a node's metadata to a restored entry.
//!
//! Input: an entry of a restore, by its own descriptor (files,
//! directories) or by name in an open directory (symlinks, devices, FIFOs),
//! and the node it must match. Output: the entry's owner, xattrs, mode and
//! times set; nothing here looks up a path or follows a symlink.
//! Invariants: the order survives the kernel's side effects — owner first
//! (chown clears setuid, setgid and `security.capability`), then xattrs
//! (ACLs, capabilities; attributes the node does not have are removed, such
//! as an ACL inherited from a default ACL), then mode (which must agree with
//! an ACL's mask, and so is set after it), then times last (everything else
//! changes ctime, and writing would change mtime). Every step is tried; the
//! first failure is returned, naming the path.

use super::at::{Dir, open_beneath};
use super::owners::Owners;
use super::read::is_unsupported;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use rustix::fs::{
    AtFlags, CWD, FileType, Gid, Mode, OFlags, Timespec, Timestamps, UTIME_OMIT, Uid,
};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Use the stored uid/gid even where the names map elsewhere here.
    pub numeric_owner: bool,
    /// Whether to chown at all (only root can give files away).
    pub chown: bool,
    /// Keep setuid and setgid bits even where owners are not restored
    /// (off: a restore that cannot give a file its owner drops them, as
    /// bsdtar does, so no program runs as whoever restored it).
    pub keep_setid: bool,
}

fn ts(ns: i64) -> Timespec {
    Timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000) as _,
    }
}

/// The uid and gid `node` gets on this system: by name when this system
/// knows the name (and `numeric_owner` is off), else the stored numbers.
pub fn owner_ids(node: &Node, owners: &Owners, numeric_owner: bool) -> (u32, u32) {
    if numeric_owner {
        return (node.uid, node.gid);
    }
    (
        owners.uid_of(&node.user).unwrap_or(node.uid),
        owners.gid_of(&node.group).unwrap_or(node.gid),
    )
}

/// The mode `node` gets here: setuid and setgid are dropped when the owner
/// is not the snapshot's (not restored, or it could not be) unless
/// `keep_setid` asks to keep them.
pub fn restored_mode(node: &Node, owner_applied: bool, opts: ApplyOptions) -> u32 {
    if owner_applied || opts.keep_setid {
        node.mode
    } else {
        node.mode & !0o6000
    }
}

/// Xattrs a restore leaves alone when the snapshot does not have them: an
/// SELinux label is assigned by the target system's policy.
const KEEP_XATTRS: &[&[u8]] = &[b"security.selinux"];

/// What metadata is applied to: an open regular file or directory (its
/// own descriptor: no lookup, nothing to swap), or a symlink, device or
/// FIFO named in an open directory (which cannot be opened for writing
/// without side effects: every call on it refuses to follow a symlink).
pub enum Entry<'a> {
    Fd(&'a File),
    At(&'a Dir, &'a OsStr),
}

/// Applies owner, xattrs, mode and times of `node` to `e` (restored as
/// `path`, which errors name). Every step is tried; the first failure is
/// returned: the entry is there, only (some of) its metadata is not.
pub fn apply_metadata(
    e: &Entry,
    path: &Path,
    node: &Node,
    owners: &Owners,
    opts: ApplyOptions,
) -> Result<()> {
    let mut first_err: Option<Error> = None;
    let mut owner_applied = false;
    if opts.chown {
        let (uid, gid) = owner_ids(node, owners, opts.numeric_owner);
        let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        let r = match e {
            Entry::At(dir, name) => {
                rustix::fs::chownat(dir.fd(), *name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            }
            Entry::Fd(f) => rustix::fs::fchown(f, uid, gid),
        };
        match r {
            Ok(()) => owner_applied = true,
            Err(e) => {
                first_err.get_or_insert(Error::io("cannot change owner", path.display(), e.into()));
            }
        }
    }
    let xattrs = match e {
        Entry::At(dir, name) => set_xattrs(&PathXattrs(&dir.proc_path(name)), path, node),
        Entry::Fd(f) => set_xattrs(*f, path, node),
    };
    if let Err(e) = xattrs {
        first_err.get_or_insert(e);
    }
    if node.kind != NodeKind::Symlink {
        // Symlinks have no mode of their own on Linux (always 0777).
        let mode = Mode::from_raw_mode(restored_mode(node, owner_applied, opts) as _);
        let r = match e {
            Entry::At(dir, name) => chmod_special(dir, name, mode),
            Entry::Fd(f) => rustix::fs::fchmod(f, mode),
        };
        if let Err(e) = r {
            first_err.get_or_insert(Error::io("cannot change mode", path.display(), e.into()));
        }
    }
    let times = Timestamps {
        last_access: if node.atime != 0 {
            ts(node.atime)
        } else {
            Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            }
        },
        last_modification: ts(node.mtime),
    };
    let r = match e {
        Entry::At(dir, name) => {
            rustix::fs::utimensat(dir.fd(), *name, &times, AtFlags::SYMLINK_NOFOLLOW)
        }
        Entry::Fd(f) => rustix::fs::futimens(f, &times),
    };
    if let Err(e) = r {
        first_err.get_or_insert(Error::io("cannot set times", path.display(), e.into()));
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// chmod of a device or FIFO `name` in `dir`: fchmodat has no flag that
/// refuses a symlink, so the entry is opened as a path only (`O_PATH`: a
/// FIFO does not block, a device driver is not called), checked not to be
/// a symlink, and changed through that descriptor.
fn chmod_special(dir: &Dir, name: &OsStr, mode: Mode) -> rustix::io::Result<()> {
    let fd = open_beneath(dir.fd(), name, OFlags::PATH, Mode::empty())
        .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(rustix::io::Errno::LOOP);
    }
    let own = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    rustix::fs::chmodat(CWD, &own, mode, AtFlags::empty())
}

/// The xattr calls, by path (not following a symlink) or on an open file.
trait Xattrs {
    fn list(&self) -> std::io::Result<Vec<std::ffi::OsString>>;
    fn remove(&self, name: &OsStr) -> std::io::Result<()>;
    fn set(&self, name: &OsStr, value: &[u8]) -> std::io::Result<()>;
}

struct PathXattrs<'a>(&'a Path);

impl Xattrs for PathXattrs<'_> {
    fn list(&self) -> std::io::Result<Vec<std::ffi::OsString>> {
        xattr::list(self.0).map(|n| n.collect())
    }
    fn remove(&self, name: &OsStr) -> std::io::Result<()> {
        xattr::remove(self.0, name)
    }
    fn set(&self, name: &OsStr, value: &[u8]) -> std::io::Result<()> {
        xattr::set(self.0, name, value)
    }
}

impl Xattrs for File {
    fn list(&self) -> std::io::Result<Vec<std::ffi::OsString>> {
        xattr::FileExt::list_xattr(self).map(|n| n.collect())
    }
    fn remove(&self, name: &OsStr) -> std::io::Result<()> {
        xattr::FileExt::remove_xattr(self, name)
    }
    fn set(&self, name: &OsStr, value: &[u8]) -> std::io::Result<()> {
        xattr::FileExt::set_xattr(self, name, value)
    }
}

/// Makes the xattrs of `at` exactly the node's (but [`KEEP_XATTRS`]).
fn set_xattrs(at: &dyn Xattrs, path: &Path, node: &Node) -> Result<()> {
    let mut first_err = None;
    let existing = match at.list() {
        Ok(names) => names,
        Err(e) if is_unsupported(&e) => Vec::new(),
        Err(e) => {
            // Setting may still work; report listing only if nothing else fails.
            first_err = Some(Error::io(
                "cannot list extended attributes",
                path.display(),
                e,
            ));
            Vec::new()
        }
    };
    for name in existing {
        let bytes = name.as_bytes();
        if KEEP_XATTRS.contains(&bytes) || node.xattrs.iter().any(|x| x.name == bytes) {
            continue;
        }
        match at.remove(&name) {
            Ok(()) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => {
                first_err.get_or_insert(Error::io(
                    format!(
                        "cannot remove extended attribute {}",
                        name.to_string_lossy()
                    ),
                    path.display(),
                    e,
                ));
            }
        }
    }
    for x in &node.xattrs {
        if let Err(e) = at.set(OsStr::from_bytes(&x.name), &x.value) {
            first_err = Some(first_err.unwrap_or(Error::io(
                format!(
                    "cannot set extended attribute {}",
                    String::from_utf8_lossy(&x.name)
                ),
                path.display(),
                e,
            )));
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_map_by_name_when_known_else_by_number() {
        let owners = Owners::new();
        let node = |user: &str, group: &str| Node {
            uid: 4242,
            gid: 4343,
            user: user.into(),
            group: group.into(),
            ..Default::default()
        };
        // "root" is uid/gid 0 on every Linux system.
        assert_eq!(owner_ids(&node("root", "root"), &owners, false), (0, 0));
        assert_eq!(
            owner_ids(&node("root", "root"), &owners, true),
            (4242, 4343)
        );
        let unknown = node("no-such-user-here", "");
        assert_eq!(owner_ids(&unknown, &owners, false), (4242, 4343));
    }
}
