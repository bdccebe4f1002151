//! The blobs that snapshots use: every tree reachable from their roots and
//! every content blob those trees name. Prune keeps exactly these (it finds
//! them by reference counts kept between runs, `prune/refs.rs`, which its
//! tests compare with this walk); stats counts them.
//!
//! Input: the repository (its in-memory index must locate every tree) and
//! the snapshots' root trees. Output: the set of blob ids (tree ids as blob
//! ids). Invariant: a tree that cannot be read is an error, never skipped —
//! prune must not guess what a snapshot needs.

use crate::error::{Error, Result};
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::progress::{NoProgress, Progress};
use crate::repo::Repository;
use std::collections::HashSet;

/// Every blob the given snapshots use. Identical subtrees are read once.
pub fn used_blobs(repo: &Repository, roots: &[(SnapshotId, TreeId)]) -> Result<HashSet<BlobId>> {
    used_blobs_reporting(repo, roots, &NoProgress)
}

/// As [`used_blobs`], reporting each tree read to `progress`. The total is
/// the number of trees the index holds: an upper bound (unused trees are
/// never read), so the estimate errs on the long side.
pub fn used_blobs_reporting(
    repo: &Repository,
    roots: &[(SnapshotId, TreeId)],
    progress: &dyn Progress,
) -> Result<HashSet<BlobId>> {
    progress.phase("read", "trees");
    progress.totals(repo.index().tree_blobs(), 0, true);
    let mut used: HashSet<BlobId> = HashSet::new();
    let mut seen: HashSet<TreeId> = HashSet::new();
    let mut todo: Vec<(TreeId, SnapshotId)> = roots.iter().map(|(s, t)| (*t, *s)).collect();
    while let Some((tree_id, snap)) = todo.pop() {
        if !seen.insert(tree_id) {
            continue;
        }
        used.insert(tree_id.blob());
        let tree = repo.read_tree(&tree_id).map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "cannot read tree {} of snapshot {} (run `coffer check`): {e}",
                    tree_id.short(),
                    snap.short()
                ),
            )
        })?;
        progress.entry_done(std::path::Path::new(&snap.short()), 0, 0);
        for n in tree.nodes {
            used.extend(n.content);
            if let Some(sub) = n.subtree {
                todo.push((sub, snap));
            }
        }
    }
    Ok(used)
}
