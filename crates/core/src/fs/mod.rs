//! The OS side of metadata: read an entry's metadata into a tree [`Node`],
//! apply a node's metadata back onto a restored entry, find and keep holes,
//! and reach paths of any length through directory descriptors.
//!
//! Reading uses lstat (never follows symlinks). Applying happens in an order
//! that survives the kernel's side effects: owner first (chown clears setuid,
//! setgid and file capabilities), then xattrs (ACLs, capabilities), then mode,
//! then times last (anything else would bump mtime/ctime again).

mod apply;
pub mod at;
pub(crate) mod count;
mod exclude;
mod owners;
mod read;
pub mod sparse;
pub mod walk;

pub use apply::{ApplyOptions, Entry, apply_metadata, owner_ids};
pub use exclude::{Excludes, SERVER_EXCLUDES, swap_files};
pub use owners::Owners;
pub use read::{Meta, read_node, read_node_since, read_xattrs};

use crate::format::tree::Node;
use std::path::PathBuf;

/// Whether two nodes describe the same unchanged file: the change detection
/// of incremental backups (size, mtime, ctime, inode).
pub fn unchanged(old: &Node, new: &Node) -> bool {
    old.kind == new.kind
        && old.size == new.size
        && old.mtime == new.mtime
        && old.ctime == new.ctime
        && old.inode == new.inode
}

/// The soft limit on open files (`RLIMIT_NOFILE`); 1024 when unknown.
pub fn open_files_limit() -> u64 {
    use rustix::process::{Resource, getrlimit};
    getrlimit(Resource::Nofile).current.unwrap_or(1024)
}

/// Raises the soft limit on open files to the hard limit (at most 65,536),
/// as Go programs such as restic do at start: the default soft limit of
/// 1024 would cap how far a backup's listers run ahead. Returns the limit
/// now in effect.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = limit.maximum.unwrap_or(u64::MAX).min(1 << 16);
    if limit.current.is_some_and(|c| c < want) {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(want),
                maximum: limit.maximum,
            },
        );
    }
    open_files_limit()
}

/// Normalizes the requested paths: absolute, `.`/`..` resolved lexically.
pub(crate) fn normalize_paths(paths: &[PathBuf]) -> crate::error::Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Err(crate::error::Error::invalid(
            "nothing to back up: give at least one path",
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let abs = std::path::absolute(p)
            .map_err(|e| crate::error::Error::io("invalid path", p.display(), e))?;
        let mut clean = PathBuf::from("/");
        for c in abs.components() {
            match c {
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                std::path::Component::Normal(n) => clean.push(n),
                _ => {}
            }
        }
        std::fs::symlink_metadata(&clean)
            .map_err(|e| crate::error::Error::io("cannot back up", clean.display(), e))?;
        out.push(clean);
    }
    out.sort();
    out.dedup();
    Ok(out)
}
