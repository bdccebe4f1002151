//! The OS side of metadata: read a path's metadata into a tree [`Node`],
//! and apply a node's metadata back onto a restored path.
//!
//! Reading uses lstat (never follows symlinks). Applying happens in an order
//! that survives the kernel's side effects: owner first (chown clears setuid,
//! setgid and file capabilities), then xattrs (ACLs, capabilities), then mode,
//! then times last (anything else would bump mtime/ctime again).

mod apply;
mod owners;
mod read;

pub use apply::{ApplyOptions, apply_metadata};
pub use owners::Owners;
pub use read::{read_node, read_xattrs};

use crate::format::tree::Node;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The name of a path as bytes (its last component; `/` for the root).
pub fn name_bytes(path: &Path) -> Vec<u8> {
    path.file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"/".to_vec())
}

/// Whether two nodes describe the same unchanged file: the change detection
/// of incremental backups (size, mtime, ctime, inode).
pub fn unchanged(old: &Node, new: &Node) -> bool {
    old.kind == new.kind
        && old.size == new.size
        && old.mtime == new.mtime
        && old.ctime == new.ctime
        && old.inode == new.inode
}
