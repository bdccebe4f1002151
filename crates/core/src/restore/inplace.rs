//! Restoring onto a tree that may already hold (older or newer versions of)
//! the entries: what to do with each existing entry, temporary names, and
//! what `--delete` removes.
//!
//! Input: a snapshot node and what the target path holds now (its lstat,
//! if any). Output: an [`Action`].
//! Invariants: content is never written at an entry's final name — a file
//! (or symlink, device, FIFO) that replaces or creates an entry is made
//! under a temporary name in the same directory and renamed over it, so a
//! crash leaves either the old entry or the new one, never half a file.
//! Temporary names start with [`TEMP_PREFIX`] and are short, whatever the
//! final name's length.

use crate::format::tree::{Node, NodeKind};
use crate::fs::Meta;
use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to do with entries that already exist at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Replace every existing entry.
    #[default]
    Always,
    /// Replace entries whose type, size, mtime (or link target, device
    /// number) differ; fix only the metadata of the others.
    IfChanged,
    /// Replace entries whose mtime is older than the snapshot's.
    IfNewer,
    /// Leave every existing entry alone.
    Never,
}

/// What happens to one entry of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing is there: create it.
    Create,
    /// Something is there: replace it (a directory keeps its contents and
    /// gets its metadata; anything else is made anew and renamed over).
    Replace,
    /// The same content is there: set only owner, mode, xattrs and times.
    Metadata,
    /// Leave what is there.
    Keep,
}

/// What the target holds at an entry's path, as far as deciding needs.
pub struct Existing {
    pub meta: Meta,
    /// The symlink target, when both are symlinks.
    pub target: Option<Vec<u8>>,
}

/// Whether what exists has `node`'s content (type, size and mtime for
/// files; target for symlinks; device number for devices).
fn same_content(node: &Node, e: &Existing) -> bool {
    if node.kind != e.meta.kind {
        return false;
    }
    match node.kind {
        NodeKind::File => e.meta.size == node.size && e.meta.mtime == node.mtime,
        NodeKind::Symlink => e.target.as_deref() == node.target.as_deref(),
        NodeKind::Chardev | NodeKind::Blockdev => e.meta.rdev == node.rdev,
        NodeKind::Dir | NodeKind::Fifo | NodeKind::Socket => true,
    }
}

/// Whether what exists also has `node`'s owner (`owner`, as mapped on this
/// system; `None` when owners are not restored), mode and mtime.
/// Directories' mtimes are left out: a restore into one changes it anyway.
pub fn same_metadata(node: &Node, e: &Existing, owner: Option<(u32, u32)>) -> bool {
    same_content(node, e)
        && (node.kind == NodeKind::Symlink || e.meta.mode == node.mode)
        && owner.is_none_or(|o| o == (e.meta.uid, e.meta.gid))
        && (node.kind == NodeKind::Dir || e.meta.mtime == node.mtime)
}

/// Decides what `mode` does with `node` given what `existing` holds.
pub fn decide(node: &Node, existing: Option<&Existing>, mode: Overwrite) -> Action {
    let Some(e) = existing else {
        return Action::Create;
    };
    let dir_onto_dir = node.kind == NodeKind::Dir && e.meta.kind == NodeKind::Dir;
    let replace = if dir_onto_dir {
        Action::Metadata
    } else {
        Action::Replace
    };
    match mode {
        Overwrite::Always => replace,
        Overwrite::IfChanged if same_content(node, e) => Action::Metadata,
        Overwrite::IfChanged => replace,
        Overwrite::IfNewer if node.mtime > e.meta.mtime => replace,
        Overwrite::IfNewer | Overwrite::Never => Action::Keep,
    }
}

/// Temporary names begin with this; `--delete` also removes leftovers of
/// an interrupted restore.
pub const TEMP_PREFIX: &str = ".coffer-tmp.";

/// A number for [`temp_name`], never the same twice in a process, and
/// never 0 (see [`super::plan::PlannedFile::temp_n`]).
pub fn temp_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The temporary name number `n` (made in the directory of the entry it
/// stands for).
pub fn temp_name(n: u64) -> OsString {
    OsString::from(format!("{TEMP_PREFIX}{}.{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, mtime: i64) -> Node {
        Node {
            kind: NodeKind::File,
            size,
            mtime,
            mode: 0o644,
            ..Default::default()
        }
    }

    fn existing(kind: NodeKind, size: u64, mtime: i64) -> Existing {
        let node = file(size, mtime);
        Existing {
            meta: Meta {
                kind,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size,
                allocated: 0,
                mtime: node.mtime,
                atime: 0,
                ctime: 0,
                dev: 0,
                inode: 0,
                links: 1,
                rdev: 0,
            },
            target: None,
        }
    }

    #[test]
    fn overwrite_modes_decide_as_documented() {
        use Action::*;
        use Overwrite::*;
        let n = file(10, 100);
        let same = existing(NodeKind::File, 10, 100);
        let older = existing(NodeKind::File, 10, 50);
        let newer = existing(NodeKind::File, 10, 200);
        let dir = existing(NodeKind::Dir, 0, 100);
        for m in [Always, IfChanged, IfNewer, Never] {
            assert_eq!(decide(&n, None, m), Create);
        }
        assert_eq!(decide(&n, Some(&same), Always), Replace);
        assert_eq!(decide(&n, Some(&same), IfChanged), Metadata);
        assert_eq!(decide(&n, Some(&older), IfChanged), Replace);
        assert_eq!(decide(&n, Some(&dir), IfChanged), Replace);
        assert_eq!(decide(&n, Some(&older), IfNewer), Replace);
        assert_eq!(decide(&n, Some(&newer), IfNewer), Keep);
        assert_eq!(decide(&n, Some(&older), Never), Keep);
        assert!(same_metadata(&n, &same, Some((0, 0))));
        assert!(!same_metadata(&n, &same, Some((1, 0))));
        assert!(!same_metadata(&n, &older, None));
    }

    #[test]
    fn temp_names_are_short_and_unique() {
        let t = temp_name(temp_number());
        assert!(t.len() < 64 && !t.to_string_lossy().contains('/'));
        assert_ne!(temp_name(temp_number()), temp_name(temp_number()));
    }
}
