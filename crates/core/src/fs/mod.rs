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
mod owners;
mod read;
pub mod sparse;

pub use apply::{ApplyOptions, apply_metadata, apply_metadata_at, owner_ids};
pub use owners::Owners;
pub use read::{Meta, read_node, read_node_since, read_xattrs};

use crate::format::tree::Node;

/// Whether two nodes describe the same unchanged file: the change detection
/// of incremental backups (size, mtime, ctime, inode).
pub fn unchanged(old: &Node, new: &Node) -> bool {
    old.kind == new.kind
        && old.size == new.size
        && old.mtime == new.mtime
        && old.ctime == new.ctime
        && old.inode == new.inode
}
