use super::owners::Owners;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_OMIT};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Use the stored uid/gid even where the names map elsewhere here.
    pub numeric_owner: bool,
    /// Whether to chown at all (only root can give files away).
    pub chown: bool,
}

fn ts(ns: i64) -> Timespec {
    Timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000) as _,
    }
}

/// Applies owner, xattrs, mode and times of `node` to `path`, in that order.
/// Failures to set xattrs in namespaces we may not write (e.g. `trusted.*`
/// as non-root) are returned as one error after everything else was applied.
pub fn apply_metadata(path: &Path, node: &Node, owners: &Owners, opts: ApplyOptions) -> Result<()> {
    let is_link = node.kind == NodeKind::Symlink;
    let mut first_err: Option<Error> = None;
    if opts.chown {
        let (uid, gid) = if opts.numeric_owner {
            (node.uid, node.gid)
        } else {
            (
                owners.uid_of(&node.user).unwrap_or(node.uid),
                owners.gid_of(&node.group).unwrap_or(node.gid),
            )
        };
        let r = rustix::fs::chownat(
            CWD,
            path,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        if let Err(e) = r {
            first_err.get_or_insert(Error::io("cannot change owner", path.display(), e.into()));
        }
    }
    if !is_link {
        for x in &node.xattrs {
            if let Err(e) = xattr::set(path, OsStr::from_bytes(&x.name), &x.value) {
                first_err.get_or_insert(Error::io(
                    format!(
                        "cannot set extended attribute {}",
                        String::from_utf8_lossy(&x.name)
                    ),
                    path.display(),
                    e,
                ));
            }
        }
        let mode = rustix::fs::Mode::from_raw_mode(node.mode as _);
        if let Err(e) = rustix::fs::chmod(path, mode) {
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
    if let Err(e) = rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW) {
        first_err.get_or_insert(Error::io("cannot set times", path.display(), e.into()));
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
