//! Reference counts of the blobs snapshots use, so a prune reads only the
//! trees that changed since the counts were last brought up to date
//! (docs/design/prune-references.md).
//!
//! A snapshot holds one reference to its root tree; a tree with a count
//! above zero holds one to each subtree and content blob its nodes name
//! (once per occurrence). A blob is used exactly when its count is above
//! zero. Adding a snapshot reads the trees that go from 0 to 1, removing one
//! the trees that go from 1 to 0: the counts are a pure function of the
//! snapshots counted, whatever the order.
//!
//! Input: the repository (its index must locate the trees read) and the
//! snapshots listed. Output: the counts, which answer "is this blob used".
//! Invariant: a tree of a snapshot counted in that cannot be read is an
//! error, never skipped. Counting out can fail without the repository being
//! damaged — a prune elsewhere deleted the trees of snapshots forgotten
//! since these counts were kept; a count below zero means a cache file
//! that is not what it claims — and asks for a recount from nothing
//! ([`UpdateError::Recount`]).

use crate::error::{Error, Result};
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::progress::Progress;
use crate::repo::Repository;
use std::collections::{HashMap, HashSet};

/// The counts for a set of snapshots.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// The snapshots counted, with their root trees.
    pub(super) snapshots: HashMap<SnapshotId, TreeId>,
    /// Blobs (trees as blob ids) with a count above zero.
    pub(super) counts: HashMap<BlobId, u32>,
}

/// What bringing the counts up to date did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub added: usize,
    pub removed: usize,
    pub trees_read: u64,
}

/// A failed update: the repository's error, or counts that cannot be
/// brought up to date from where they are (why, for the record).
pub enum UpdateError {
    Repo(Error),
    Recount(String),
}

impl From<Error> for UpdateError {
    fn from(e: Error) -> Self {
        UpdateError::Repo(e)
    }
}

impl References {
    /// Whether a snapshot still needs `id`.
    pub fn contains(&self, id: &BlobId) -> bool {
        self.counts.contains_key(id)
    }

    /// The number of blobs used.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Every blob used.
    pub fn ids(&self) -> impl Iterator<Item = &BlobId> {
        self.counts.keys()
    }

    /// Whether the counts are of exactly the snapshots `roots`.
    pub fn counts_exactly(&self, roots: &[(SnapshotId, TreeId)]) -> bool {
        let listed: HashSet<SnapshotId> = roots.iter().map(|(s, _)| *s).collect();
        listed.len() == self.snapshots.len()
            && listed.iter().all(|s| self.snapshots.contains_key(s))
    }

    /// Brings the counts to exactly `roots`: snapshots not counted are
    /// added first (trees they share with forgotten ones then stay live and
    /// are not read), then those no longer listed are removed. Each tree
    /// read is reported to `progress`.
    pub fn update(
        &mut self,
        repo: &Repository,
        roots: &[(SnapshotId, TreeId)],
        progress: &dyn Progress,
    ) -> std::result::Result<Update, UpdateError> {
        let listed: HashSet<SnapshotId> = roots.iter().map(|(s, _)| *s).collect();
        let mut done = Update::default();
        let trees_read = std::cell::Cell::new(0u64);
        let mut reader = |id: &TreeId, snap: &SnapshotId| -> Result<Vec<Child>> {
            trees_read.set(trees_read.get() + 1);
            progress.entry_done(std::path::Path::new(&snap.short()), 0, 0);
            read_children(repo, id, snap)
        };
        for (snap, root) in roots {
            if self.snapshots.insert(*snap, *root).is_none() {
                self.add_root(snap, *root, &mut reader)?;
                done.added += 1;
            }
        }
        let gone: Vec<(SnapshotId, TreeId)> = self
            .snapshots
            .iter()
            .filter(|(s, _)| !listed.contains(s))
            .map(|(s, t)| (*s, *t))
            .collect();
        for (snap, root) in gone {
            self.remove_root(&snap, root, &mut reader)?;
            self.snapshots.remove(&snap);
            done.removed += 1;
        }
        done.trees_read = trees_read.get();
        Ok(done)
    }

    /// One more reference to `root`; trees that become live are read and
    /// reference their children.
    fn add_root(
        &mut self,
        snap: &SnapshotId,
        root: TreeId,
        read: &mut dyn FnMut(&TreeId, &SnapshotId) -> Result<Vec<Child>>,
    ) -> Result<()> {
        let mut todo = Vec::new();
        if self.increment(root.blob()) {
            todo.push(root);
        }
        while let Some(tree) = todo.pop() {
            for child in read(&tree, snap)? {
                match child {
                    Child::Blob(b) => {
                        self.increment(b);
                    }
                    Child::Tree(t) => {
                        if self.increment(t.blob()) {
                            todo.push(t);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One reference fewer to `root`; trees that are no longer live are
    /// read and let go of their children.
    fn remove_root(
        &mut self,
        snap: &SnapshotId,
        root: TreeId,
        read: &mut dyn FnMut(&TreeId, &SnapshotId) -> Result<Vec<Child>>,
    ) -> std::result::Result<(), UpdateError> {
        let mut todo = Vec::new();
        if self.decrement(root.blob())? {
            todo.push(root);
        }
        while let Some(tree) = todo.pop() {
            // Trees of snapshots forgotten since the counts were kept may
            // be gone already (another host pruned): count again.
            let children = read(&tree, snap).map_err(|e| UpdateError::Recount(e.to_string()))?;
            for child in children {
                match child {
                    Child::Blob(b) => {
                        self.decrement(b)?;
                    }
                    Child::Tree(t) => {
                        if self.decrement(t.blob())? {
                            todo.push(t);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns whether `id` went from 0 to 1. Counts saturate: a blob named
    /// four billion times stays used (never wraps to unused).
    fn increment(&mut self, id: BlobId) -> bool {
        let c = self.counts.entry(id).or_insert(0);
        *c = c.saturating_add(1);
        *c == 1
    }

    /// Returns whether `id` went from 1 to 0.
    fn decrement(&mut self, id: BlobId) -> std::result::Result<bool, UpdateError> {
        match self.counts.get_mut(&id) {
            None => Err(UpdateError::Recount(format!(
                "blob {} counted out more often than in",
                id.short()
            ))),
            Some(c) if *c == u32::MAX => Ok(false),
            Some(c) if *c > 1 => {
                *c -= 1;
                Ok(false)
            }
            Some(_) => {
                self.counts.remove(&id);
                Ok(true)
            }
        }
    }
}

/// What a tree names, in the order of its nodes.
pub(super) enum Child {
    Blob(BlobId),
    Tree(TreeId),
}

fn read_children(repo: &Repository, id: &TreeId, snap: &SnapshotId) -> Result<Vec<Child>> {
    let tree = repo.read_tree(id).map_err(|e| {
        Error::new(
            e.kind(),
            format!(
                "cannot read tree {} of snapshot {} (run `coffer check`): {e}",
                id.short(),
                snap.short()
            ),
        )
    })?;
    let mut out = Vec::new();
    for n in tree.nodes {
        out.extend(n.content.into_iter().map(Child::Blob));
        if let Some(t) = n.subtree {
            out.push(Child::Tree(t));
        }
    }
    Ok(out)
}
