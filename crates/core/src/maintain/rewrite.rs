//! `rewrite`: new snapshots without the files that match excludes (a
//! secret backed up by mistake, a directory that should never have been
//! in). Only trees are rewritten (`tree_rewrite`), data blobs are not
//! touched: a following prune frees the space the left-out files held,
//! once no snapshot uses them. With `forget`, each rewritten snapshot
//! replaces its original (stored first, then the original deleted, under
//! the exclusive lock); without, both stay.
//!
//! Killed at any point, a rerun finishes the job: trees already stored are
//! deduplicated, a snapshot already stored is found (an equal one exists)
//! and not stored twice.

use crate::blob::BlobWriter;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::fs::Excludes;
use crate::id::SnapshotId;
use crate::maintain::tree_rewrite::{Judge, Outcome, rewrite_tree};
use crate::repo::{Repository, SnapshotFilter};
use crate::store::StorageClass;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct RewriteOptions {
    /// Snapshots (ids, prefixes or `latest`); none: every snapshot `filter`
    /// matches.
    pub ids: Vec<String>,
    pub filter: SnapshotFilter,
    /// Patterns of what to leave out, as for `backup --exclude`.
    pub excludes: Vec<String>,
    /// Delete each original once its rewritten snapshot is stored.
    pub forget: bool,
    pub dry_run: bool,
    /// Concurrent uploads of the new trees.
    pub connections: usize,
}

/// One snapshot that had something to leave out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rewritten {
    pub old: SnapshotId,
    /// The new snapshot (none in a dry run).
    pub new: Option<SnapshotId>,
    /// Whether the old one was deleted (`forget`).
    pub forgotten: bool,
    /// The entries left out (absolute paths; a directory stands for
    /// everything below it).
    pub removed: Vec<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct RewriteResult {
    pub rewritten: Vec<Rewritten>,
    /// Snapshots with nothing matching.
    pub unchanged: Vec<SnapshotId>,
}

/// Leaves out what the excludes match; a tree that cannot be read stops
/// the rewrite (it would silently drop data).
struct Matching<'a>(&'a Excludes);

impl Judge for Matching<'_> {
    fn leave_out(&mut self, path: &[u8], node: &Node) -> bool {
        self.0.is_excluded(
            Path::new(OsStr::from_bytes(path)),
            node.kind == NodeKind::Dir,
        )
    }

    fn by_id(&self) -> bool {
        false // patterns match paths, and a tree may appear at several
    }

    fn lost_tree(&mut self, path: &[u8], why: &str) -> Result<()> {
        Err(Error::corrupt(
            format!("a tree of the snapshot cannot be read ({why}); run `coffer check`"),
            String::from_utf8_lossy(path),
        ))
    }
}

pub fn rewrite(repo: &Arc<Repository>, opts: &RewriteOptions) -> Result<RewriteResult> {
    if opts.excludes.is_empty() {
        return Err(Error::invalid(
            "nothing to leave out: give --exclude or --exclude-file",
        ));
    }
    let excludes = Excludes::new(&opts.excludes, Vec::new())?;
    let lock = match opts.forget && !opts.dry_run {
        true => Some(repo.lock(true, "rewrite")?),
        false => None,
    };
    let all = repo.snapshots()?;
    let targets = super::tag::select(repo, (&opts.ids, &opts.filter), &all)?;
    let writer = match opts.dry_run {
        true => None,
        false => Some(BlobWriter::new(
            Arc::clone(repo),
            opts.connections.max(1),
            StorageClass::Standard,
        )),
    };
    let mut result = RewriteResult::default();
    let mut new = Vec::new();
    for old in targets {
        let root = old.snapshot.tree;
        let mut memo = HashMap::new();
        let judge = &mut Matching(&excludes);
        let (tree, left_out) = match rewrite_tree(repo, writer.as_ref(), root, judge, &mut memo)? {
            Outcome::Kept { id, left_out } => (id, left_out),
            Outcome::Lost(why) => {
                return Err(Error::corrupt(
                    format!("its root tree cannot be read ({why})"),
                    old.id,
                ));
            }
        };
        if tree == root {
            result.unchanged.push(old.id);
            continue;
        }
        let snapshot = Snapshot {
            tree,
            original: Some(old.snapshot.original.unwrap_or(old.id)),
            ..old.snapshot.clone()
        };
        let removed = left_out
            .iter()
            .map(|p| format!("/{}", String::from_utf8_lossy(p)))
            .collect();
        new.push((old.id, snapshot, removed));
    }
    let flushed = match writer {
        Some(w) => Some(w.finish()?.0),
        None => None,
    };
    for (old, snapshot, removed) in new {
        let id = match (&flushed, &lock) {
            (None, _) => None,
            (Some(f), Some(lock)) => Some(repo.replace_snapshot(f, lock, &all, old, &snapshot)?),
            (Some(f), None) => Some(repo.save_snapshot_once(f, &all, &snapshot)?),
        };
        result.rewritten.push(Rewritten {
            old,
            new: id,
            forgotten: id.is_some() && lock.is_some(),
            removed,
        });
    }
    Ok(result)
}
