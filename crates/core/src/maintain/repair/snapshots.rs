//! `repair snapshots`: rewrite snapshots whose trees refer to lost blobs.
//!
//! A blob is lost when the index does not have it (run `repair index`
//! first, so the index names exactly what is stored) or, for a tree, when
//! it cannot be read. Trees are rewritten bottom-up with an explicit stack
//! (no recursion: a tree may be thousands of levels deep); an unchanged
//! subtree keeps its id, so the rewritten snapshot dedups with the old one
//! everywhere but on the path to what was lost.

use super::REPAIRED_TAG;
use crate::blob::BlobWriter;
use crate::error::{Kind, Result};
use crate::format::pack::BlobKind;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::{SnapshotId, TreeId};
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
        match rewrite_tree(repo, writer.as_ref(), s.snapshot.tree, &mut memo)? {
            Outcome::Lost(why) => report
                .unrepairable
                .push(format!("snapshot {}: its root tree is lost ({why})", s.id)),
            Outcome::Kept { id, lost } if id != s.snapshot.tree => rewritten.push((s, id, lost)),
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
            let (id, _) = repo.save_snapshot(flushed, &snap)?;
            lock.check()?;
            repo.delete_snapshot(s.id)?;
            new_id = Some(id);
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

/// What became of a tree.
#[derive(Clone)]
enum Outcome {
    /// The tree cannot be read.
    Lost(String),
    /// Its (new) id, and the paths below it that were left out.
    Kept { id: TreeId, lost: Vec<Vec<u8>> },
}

/// A tree being rewritten: its nodes, the next one to look at, the nodes kept.
struct Frame {
    id: TreeId,
    nodes: Vec<Node>,
    next: usize,
    kept: Vec<Node>,
    lost: Vec<Vec<u8>>,
    changed: bool,
}

/// Reads a tree: `Ok(Err(why))` if it is lost (not in the index, or
/// damaged); `Err` only if the store fails, which stops the repair.
fn read(repo: &Repository, id: TreeId) -> Result<std::result::Result<Tree, String>> {
    match repo.read_tree(&id) {
        Ok(t) => Ok(Ok(t)),
        Err(e) if matches!(e.kind(), Kind::NotFound | Kind::Corrupt) => Ok(Err(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Rewrites the tree `root` without its lost entries; `memo` remembers
/// every tree already rewritten (identical subtrees are read once).
fn rewrite_tree(
    repo: &Repository,
    writer: Option<&BlobWriter>,
    root: TreeId,
    memo: &mut HashMap<TreeId, Outcome>,
) -> Result<Outcome> {
    let frame = |id: TreeId, tree: Tree| Frame {
        id,
        nodes: tree.nodes,
        next: 0,
        kept: Vec::new(),
        lost: Vec::new(),
        changed: false,
    };
    if let Some(o) = memo.get(&root) {
        return Ok(o.clone());
    }
    let mut stack = match read(repo, root)? {
        Ok(t) => vec![frame(root, t)],
        Err(why) => return Ok(Outcome::Lost(why)),
    };
    while let Some(top) = stack.last_mut() {
        if top.next == top.nodes.len() {
            let f = stack.pop().expect("a frame");
            let id = if f.changed {
                save_tree(repo, writer, Tree::new(f.kept))?
            } else {
                f.id
            };
            memo.insert(f.id, Outcome::Kept { id, lost: f.lost });
            continue;
        }
        let node = &top.nodes[top.next];
        if let (NodeKind::Dir, Some(sub)) = (node.kind, node.subtree) {
            let outcome = match memo.get(&sub) {
                Some(o) => o.clone(),
                None => match read(repo, sub)? {
                    Ok(t) => {
                        stack.push(frame(sub, t));
                        continue; // back to this node once `sub` is done
                    }
                    Err(why) => {
                        memo.insert(sub, Outcome::Lost(why.clone()));
                        Outcome::Lost(why)
                    }
                },
            };
            let mut node = node.clone();
            top.next += 1;
            match outcome {
                Outcome::Lost(_) => {
                    top.lost.push(node.name.clone());
                    top.changed = true;
                }
                Outcome::Kept { id, lost } => {
                    for l in lost {
                        top.lost.push([node.name.as_slice(), b"/", &l].concat());
                    }
                    if id != sub {
                        node.subtree = Some(id);
                        top.changed = true;
                    }
                    top.kept.push(node);
                }
            }
            continue;
        }
        let whole = {
            let index = repo.index();
            node.content.iter().all(|b| index.get(b).is_some())
        };
        let node = node.clone();
        top.next += 1;
        if whole {
            top.kept.push(node);
        } else {
            top.lost.push(node.name);
            top.changed = true;
        }
    }
    Ok(memo.get(&root).cloned().expect("the root was rewritten"))
}

/// Stores a rewritten tree (with `dry_run`, only computes its id).
fn save_tree(repo: &Repository, writer: Option<&BlobWriter>, tree: Tree) -> Result<TreeId> {
    let bytes = tree.encode();
    let id = match writer {
        Some(w) => w.add(BlobKind::Tree, &bytes)?.0,
        None => repo.key().blob_id(&bytes),
    };
    Ok(TreeId(id.0))
}
