//! `diff`: what changed between two snapshots, path by path, plus totals.
//!
//! Input: the root trees of snapshots A (older) and B. Output: a call of
//! `each` per changed path, in tree order, and [`DiffTotals`]. Subtrees with
//! the same id are identical and are not read. A path is:
//! - **added** / **removed**: only in B / only in A (everything below an
//!   added or removed directory is listed too);
//! - **type changed**: a file became a directory, a symlink, …;
//! - **modified**: its content changed (file blobs, holes or size; symlink
//!   target; device number);
//! - **metadata**: only mode, owner, group, mtime or xattrs changed
//!   (atime, ctime, inode and device id are not compared: they change
//!   without anything a user would call a change).
//!
//! Totals also count the blobs only B uses (added) and only A uses
//! (removed), with their plaintext sizes from the index.

use super::used::used_blobs;
use crate::error::Result;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::{SnapshotId, TreeId};
use crate::repo::Repository;
use std::cmp::Ordering;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    TypeChanged,
    Modified,
    Metadata,
}

impl Change {
    /// One letter, as restic shows it: `+ - T M U`.
    pub fn letter(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::TypeChanged => 'T',
            Change::Modified => 'M',
            Change::Metadata => 'U',
        }
    }
}

/// One changed path; `a` and `b` are the node before and after.
#[derive(Debug, Clone)]
pub struct DiffEntry<'a> {
    pub path: &'a Path,
    pub change: Change,
    pub a: Option<&'a Node>,
    pub b: Option<&'a Node>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DiffTotals {
    pub added: u64,
    pub removed: u64,
    pub type_changed: u64,
    pub modified: u64,
    pub metadata: u64,
    pub blobs_added: u64,
    pub bytes_added: u64,
    pub blobs_removed: u64,
    pub bytes_removed: u64,
}

/// Compares the trees `a` and `b` (see the module documentation).
pub fn diff(
    repo: &Repository,
    a: TreeId,
    b: TreeId,
    each: &mut dyn FnMut(&DiffEntry) -> Result<()>,
) -> Result<DiffTotals> {
    let mut totals = DiffTotals::default();
    let mut w = Walker {
        repo,
        each,
        totals: &mut totals,
    };
    w.trees(Some(a), Some(b), Path::new("/"))?;
    let none = SnapshotId::default();
    let (used_a, used_b) = (
        used_blobs(repo, &[(none, a)])?,
        used_blobs(repo, &[(none, b)])?,
    );
    let index = repo.index();
    let raw = |id| {
        index
            .get(id)
            .map(|(_, loc)| loc.raw_length as u64)
            .unwrap_or(0)
    };
    for id in used_b.difference(&used_a) {
        totals.blobs_added += 1;
        totals.bytes_added += raw(id);
    }
    for id in used_a.difference(&used_b) {
        totals.blobs_removed += 1;
        totals.bytes_removed += raw(id);
    }
    Ok(totals)
}

struct Walker<'r, 'e> {
    repo: &'r Repository,
    each: &'e mut dyn FnMut(&DiffEntry) -> Result<()>,
    totals: &'e mut DiffTotals,
}

impl Walker<'_, '_> {
    fn read(&self, t: Option<TreeId>) -> Result<Tree> {
        match t {
            Some(id) => self.repo.read_tree(&id),
            None => Ok(Tree {
                version: crate::format::FORMAT_VERSION,
                nodes: Vec::new(),
            }),
        }
    }

    /// Merges two directories' entries (both sorted by name bytes), and
    /// the subdirectories' below, depth first: the directories being
    /// merged are a stack of their own, so depth costs no thread stack.
    fn trees(&mut self, a: Option<TreeId>, b: Option<TreeId>, dir: &Path) -> Result<()> {
        let mut stack: Vec<Merge> = Vec::new();
        if let Some(m) = self.open(a, b, dir.to_path_buf())? {
            stack.push(m);
        }
        while let Some(m) = stack.last_mut() {
            let order = match (m.a.nodes.get(m.i), m.b.nodes.get(m.j)) {
                (Some(x), Some(y)) => x.name.cmp(&y.name),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => {
                    stack.pop();
                    continue;
                }
            };
            let (x, y) = match order {
                Ordering::Less => (Some(&m.a.nodes[m.i]), None),
                Ordering::Greater => (None, Some(&m.b.nodes[m.j])),
                Ordering::Equal => (Some(&m.a.nodes[m.i]), Some(&m.b.nodes[m.j])),
            };
            let below = self.node(x, y, &m.dir)?;
            if order != Ordering::Greater {
                m.i += 1;
            }
            if order != Ordering::Less {
                m.j += 1;
            }
            if let Some((sa, sb, path)) = below
                && let Some(sub) = self.open(sa, sb, path)?
            {
                stack.push(sub);
            }
        }
        Ok(())
    }

    /// The merge of `a` and `b` at `dir`; `None` when they are the same.
    fn open(&self, a: Option<TreeId>, b: Option<TreeId>, dir: PathBuf) -> Result<Option<Merge>> {
        if a == b {
            return Ok(None);
        }
        Ok(Some(Merge {
            a: self.read(a)?,
            b: self.read(b)?,
            i: 0,
            j: 0,
            dir,
        }))
    }

    /// Reports one entry; returns the subtrees to merge below it.
    #[allow(clippy::type_complexity, reason = "a pair of trees and their path")]
    fn node(
        &mut self,
        a: Option<&Node>,
        b: Option<&Node>,
        dir: &Path,
    ) -> Result<Option<(Option<TreeId>, Option<TreeId>, PathBuf)>> {
        let Some(name) = a.or(b).map(|n| n.name.as_slice()) else {
            return Ok(None);
        };
        let path = dir.join(OsStr::from_bytes(name));
        let change = match (a, b) {
            (Some(_), None) => Some(Change::Removed),
            (None, Some(_)) => Some(Change::Added),
            (Some(x), Some(y)) if x.kind != y.kind => Some(Change::TypeChanged),
            (Some(x), Some(y)) if content_differs(x, y) => Some(Change::Modified),
            (Some(x), Some(y)) if metadata_differs(x, y) => Some(Change::Metadata),
            _ => None,
        };
        if let Some(change) = change {
            *match change {
                Change::Added => &mut self.totals.added,
                Change::Removed => &mut self.totals.removed,
                Change::TypeChanged => &mut self.totals.type_changed,
                Change::Modified => &mut self.totals.modified,
                Change::Metadata => &mut self.totals.metadata,
            } += 1;
            (self.each)(&DiffEntry {
                path: &path,
                change,
                a,
                b,
            })?;
        }
        let sub = |n: Option<&Node>| {
            n.filter(|n| n.kind == NodeKind::Dir)
                .and_then(|n| n.subtree)
        };
        Ok(match (sub(a), sub(b)) {
            (None, None) => None,
            (sa, sb) => Some((sa, sb, path)),
        })
    }
}

/// Two directories being merged: their entries and how far each is done.
struct Merge {
    a: Tree,
    b: Tree,
    i: usize,
    j: usize,
    dir: PathBuf,
}

fn content_differs(a: &Node, b: &Node) -> bool {
    match a.kind {
        NodeKind::File => a.content != b.content || a.holes != b.holes || a.size != b.size,
        NodeKind::Symlink => a.target != b.target,
        NodeKind::Chardev | NodeKind::Blockdev => a.rdev != b.rdev,
        _ => false,
    }
}

fn metadata_differs(a: &Node, b: &Node) -> bool {
    (a.mode, a.uid, a.gid, &a.user, &a.group, a.mtime, &a.xattrs)
        != (b.mode, b.uid, b.gid, &b.user, &b.group, b.mtime, &b.xattrs)
}
