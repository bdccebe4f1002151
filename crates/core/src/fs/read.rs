//! Reading an entry's metadata into a tree [`Node`]: lstat fields, symlink
//! target, xattrs of every namespace, owner names.
//!
//! Input: an open directory, a name in it and its lstat (taken by the
//! caller, who also decides from it what to do next). Output: a `Node`
//! without content (content, holes and subtree are the caller's).
//! Invariants: nothing follows symlinks; directory and symlink atimes are
//! recorded as 0 (listing a directory or reading a link changes them, and
//! recording them would defeat tree dedup); errors name the full path.

use super::at::{Dir, is_short};
use super::owners::Owners;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind, Xattr};
use rustix::fs::{FileType, Stat};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// The fields of `struct stat` coffer uses, with portable types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: NodeKind,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Allocated bytes (`st_blocks * 512`).
    pub allocated: u64,
    pub mtime: i64,
    pub atime: i64,
    pub ctime: i64,
    pub dev: u64,
    pub inode: u64,
    pub links: u64,
    pub rdev: u64,
}

impl Meta {
    #[allow(
        clippy::useless_conversion,
        clippy::unnecessary_cast,
        reason = "struct stat's field types differ between architectures"
    )]
    pub fn from_stat(st: &Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode as _) {
            FileType::RegularFile => NodeKind::File,
            FileType::Directory => NodeKind::Dir,
            FileType::Symlink => NodeKind::Symlink,
            FileType::CharacterDevice => NodeKind::Chardev,
            FileType::BlockDevice => NodeKind::Blockdev,
            FileType::Fifo => NodeKind::Fifo,
            _ => NodeKind::Socket,
        };
        Meta {
            kind,
            mode: (st.st_mode as u32) & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            allocated: u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512),
            mtime: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            atime: ns(st.st_atime as i64, st.st_atime_nsec as i64),
            ctime: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
            dev: u64::from(st.st_dev),
            inode: u64::from(st.st_ino),
            links: u64::from(st.st_nlink),
            rdev: u64::from(st.st_rdev),
        }
    }
}

/// Reads everything but file content about `name` in `dir` (whose full path,
/// for messages, is `path`); `meta` is its lstat.
pub fn read_node(
    dir: &Dir,
    name: &OsStr,
    path: &Path,
    meta: &Meta,
    owners: &Owners,
) -> Result<Node> {
    read_node_since(dir, name, path, meta, owners, None)
}

/// As [`read_node`], given what the last backup recorded for the same
/// path: when that is the same inode, unchanged ([`super::unchanged`]:
/// kind, size, mtime, ctime, inode), its symlink target and xattrs are taken
/// from it instead of read again. Both can only change with the ctime
/// (setting or removing an xattr or ACL updates it; a symlink's target
/// cannot change at all), so this saves a readlink and an xattr listing by
/// path per entry of an unchanged tree.
pub fn read_node_since(
    dir: &Dir,
    name: &OsStr,
    path: &Path,
    meta: &Meta,
    owners: &Owners,
    last: Option<&Node>,
) -> Result<Node> {
    let mut node = stat_node(name, meta, owners);
    if let Some(last) = last.filter(|l| super::unchanged(l, &node)) {
        node.target = last.target.clone();
        node.xattrs = last.xattrs.clone();
        return Ok(node);
    }
    if node.kind == NodeKind::Symlink {
        let t = dir
            .readlink(name)
            .map_err(|e| Error::io("cannot read symlink", path.display(), e))?;
        node.target = Some(t);
    }
    node.xattrs = read_xattrs(&xattr_path(dir, name, path), path)?;
    Ok(node)
}

/// The node of `name` from its lstat alone: no target, xattrs or content.
fn stat_node(name: &OsStr, meta: &Meta, owners: &Owners) -> Node {
    let kind = meta.kind;
    Node {
        name: name.as_bytes().to_vec(),
        kind,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        user: owners.user_name(meta.uid),
        group: owners.group_name(meta.gid),
        mtime: meta.mtime,
        // A directory's atime changes whenever a backup lists it, and a
        // symlink's when the backup reads its target; recording them would
        // make trees differ from the last backup's and defeat tree dedup.
        // Files are read with O_NOATIME, so theirs is stable.
        atime: if matches!(kind, NodeKind::Dir | NodeKind::Symlink) {
            0
        } else {
            meta.atime
        },
        ctime: meta.ctime,
        size: if kind == NodeKind::File { meta.size } else { 0 },
        inode: meta.inode,
        dev: meta.dev,
        links: meta.links,
        rdev: if matches!(kind, NodeKind::Chardev | NodeKind::Blockdev) {
            meta.rdev
        } else {
            0
        },
        target: None,
        xattrs: Vec::new(),
        holes: Vec::new(),
        content: Vec::new(),
        subtree: None,
    }
}

/// The path through which the xattr calls (which take only paths) reach
/// `name`: its own path when the kernel takes it, else through /proc.
fn xattr_path(dir: &Dir, name: &OsStr, path: &Path) -> PathBuf {
    if is_short(path) {
        path.to_path_buf()
    } else {
        dir.proc_path(name)
    }
}

/// All extended attributes of `at` (not following a symlink), sorted by
/// name; `path` names it in errors. A filesystem without xattr support
/// yields none.
pub fn read_xattrs(at: &Path, path: &Path) -> Result<Vec<Xattr>> {
    let names = match xattr::list(at) {
        Ok(n) => n,
        Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::io(
                "cannot list extended attributes",
                path.display(),
                e,
            ));
        }
    };
    let mut out = Vec::new();
    for name in names {
        match xattr::get(at, &name) {
            Ok(Some(value)) => out.push(Xattr {
                name: name.as_bytes().to_vec(),
                value,
            }),
            Ok(None) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("cannot read extended attribute {}", name.to_string_lossy()),
                    path.display(),
                    e,
                ));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(super) fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::ENODATA))
}
