//! `repair snapshots`: rewrite snapshots whose trees refer to lost blobs.
//!
//! A blob is lost when the index does not have it (run `repair index`
//! first, so the index names exactly what is stored) or, for a tree, when
//! it cannot be read. The trees are rewritten by `tree_rewrite`.

use super::REPAIRED_TAG;
use crate::blob::BlobWriter;
use crate::error::Result;
use crate::format::tree::{Node, NodeKind};
use crate::id::{SnapshotId, TreeId};
use crate::maintain::tree_rewrite::{Judge, Outcome, rewrite_tree};
use crate::repo::Repository;
use crate::store::StorageClass;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct RepairSnapshotsOptions {
    /// Report what would be rewritten; write and delete nothing.
    pub dry_run: bool,
    /// Concurrent uploads of the new trees.
    pub connections: usize,
}

/// One snapshot that lost something.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepairedSnapshot {
    pub id: SnapshotId,
    /// The snapshot that replaces it (`None` with `dry_run`, or when its
    /// root tree itself is lost and nothing can be kept).
    pub new_id: Option<SnapshotId>,
    /// Paths inside the snapshot that were left out, `/`-separated.
    pub lost: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairSnapshotsReport {
    pub dry_run: bool,
    pub snapshots: u64,
    pub repaired: Vec<RepairedSnapshot>,
    /// Snapshots whose root tree is lost: left as they are (`forget` them).
    pub unrepairable: Vec<String>,
}

/// Rewrites every snapshot that refers to lost blobs (see the module
/// documentation).
pub fn repair_snapshots(
    repo: &Arc<Repository>,
    opts: &RepairSnapshotsOptions,
) -> Result<RepairSnapshotsReport> {
    let lock = match opts.dry_run {
        true => None,
        false => Some(repo.lock(true, "repair snapshots")?),
    };
    let mut report = RepairSnapshotsReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let snapshots = repo.snapshots()?;
    report.snapshots = snapshots.len() as u64;
    let writer = match opts.dry_run {
        true => None,
        false => Some(BlobWriter::new(
            Arc::clone(repo),
            opts.connections,
            StorageClass::Standard,
        )),
    };
    let mut memo: HashMap<TreeId, Outcome> = HashMap::new();
    let mut rewritten = Vec::new();
    for s in &snapshots {
        let root = s.snapshot.tree;
        match rewrite_tree(repo, writer.as_ref(), root, &mut Lost(repo), &mut memo)? {
            Outcome::Lost(why) => report
                .unrepairable
                .push(format!("snapshot {}: its root tree is lost ({why})", s.id)),
            Outcome::Kept { id, left_out } if id != root => rewritten.push((s, id, left_out)),
            Outcome::Kept { .. } => {}
        }
    }
    let flushed = match writer {
        Some(w) => Some(w.finish()?.0),
        None => None,
    };
    for (s, tree, lost) in rewritten {
        let mut new_id = None;
        if let (Some(flushed), Some(lock)) = (&flushed, &lock) {
            let mut snap = s.snapshot.clone();
            snap.tree = tree;
            if !snap.tags.iter().any(|t| t == REPAIRED_TAG) {
                snap.tags.push(REPAIRED_TAG.to_string());
            }
            new_id = Some(repo.replace_snapshot(flushed, lock, &snapshots, s.id, &snap)?);
        }
        report.repaired.push(RepairedSnapshot {
            id: s.id,
            new_id,
            lost: lost
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
        });
    }
    if let Some(lock) = lock {
        let _ = lock.release();
    }
    Ok(report)
}

/// Leaves out files whose content the index lacks (subtrees that cannot
/// be read are left out by the walker itself).
struct Lost<'a>(&'a Repository);

impl Judge for Lost<'_> {
    fn leave_out(&mut self, _path: &[u8], node: &Node) -> bool {
        let index = self.0.index();
        node.kind != NodeKind::Dir && !node.content.iter().all(|b| index.get(b).is_some())
    }

    fn by_id(&self) -> bool {
        true
    }

    fn lost_tree(&mut self, _path: &[u8], _why: &str) -> Result<()> {
        Ok(()) // left out: what repair is for
    }
}
