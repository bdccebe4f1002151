//! Carrying out a prune plan, in the order that keeps every moment safe:
//!
//! 1. repack: used blobs of wasteful packs go into new packs through a
//!    [`BlobWriter`], which stores the packs and then their index objects;
//! 2. the prune record condemning packs (before the index that drops them,
//!    so a reader that no longer finds them in the index finds the record);
//! 3. the new index (kept and resurrected packs) in parts; only the last
//!    part lists `supersedes`, so a crash between parts leaves duplicates,
//!    never a hole;
//! 4. the superseded index objects, now that what replaces them is stored;
//! 5. phase 2: mature condemned packs, after checking again that no index
//!    object — including those written since this prune started — names
//!    them; then the finished records.

use super::plan::Plan;
use super::{PruneOptions, PruneReport, State};
use crate::blob::{BlobWriter, Wanted};
use crate::error::Result;
use crate::format::index::IndexFile;
use crate::format::pack::{self, BlobKind};
use crate::id::{IndexId, PackId};
use crate::progress::Progress;
use crate::repo::{LockGuard, PruneRecord, Repository};
use crate::store::StorageClass;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(super) fn execute(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    lock: &LockGuard,
    state: &State,
    plan: &Plan,
    report: &mut PruneReport,
    progress: &dyn Progress,
) -> Result<()> {
    lock.check()?;
    if !plan.repack.is_empty() {
        let class = opts
            .data_storage_class
            .unwrap_or_else(|| repack_class(plan, &state.classes));
        repack(repo, opts.connections, class, plan, progress)?;
    }
    if !plan.condemn.is_empty() {
        repo.save_prune_record(&PruneRecord {
            version: crate::format::pack::version_for(plan.condemn.iter().flat_map(|p| &p.blobs)),
            time: opts.now,
            packs: plan.condemn.clone(),
        })?;
    }
    let current: HashSet<PackId> = state.current.iter().map(|p| p.id).collect();
    let rewrite = state.files.len() > 1
        || !state.damaged.is_empty()
        || state.adopted
        || !plan.resurrect.is_empty()
        || plan.condemn.iter().any(|c| current.contains(&c.id));
    if rewrite {
        let read = state.files.iter().map(|(id, _)| *id);
        let supersedes: Vec<IndexId> = read.chain(state.damaged.iter().copied()).collect();
        report.index_written = repo.write_index(&plan.keep, supersedes.clone())?;
        lock.check()?;
        for id in &supersedes {
            repo.store().delete(&format!("index/{id}"))?;
            report.index_deleted += 1;
        }
    }
    delete_condemned(repo, lock, plan, report, progress)
}

/// Copies the used blobs of the packs to repack into new packs, data
/// packs in `class`.
fn repack(
    repo: &Arc<Repository>,
    connections: usize,
    class: StorageClass,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<()> {
    progress.phase("repacked", "packs");
    progress.totals(
        plan.repack.len() as u64,
        plan.repack.iter().map(|r| r.pack.size).sum(),
        true,
    );
    // Dedup only against the packs that stay, so blobs are really copied.
    let staying = IndexFile::new(plan.keep.clone(), Vec::new());
    repo.replace_index(&[(IndexId::default(), staying)]);
    let writer = BlobWriter::without_resume(Arc::clone(repo), connections, class);
    for r in &plan.repack {
        let key = pack::key(r.pack.kind, &r.pack.id);
        let mut wants: Vec<Wanted> = r.copy.iter().map(Wanted::from).collect();
        wants.sort_by_key(|w| w.offset);
        // Every used blob must come across: any error stops the prune.
        repo.read_pack_blobs(&key, &wants, |i, plain| {
            writer.add_with_id(r.pack.kind, wants[i].id, &plain?)?;
            Ok(())
        })?;
        progress.entry_done(std::path::Path::new(&key), r.pack.size, r.pack.size);
    }
    writer.finish()?;
    Ok(())
}

/// Phase 2: deletes mature condemned packs that no index names, then the
/// records this run finished.
fn delete_condemned(
    repo: &Repository,
    lock: &LockGuard,
    plan: &Plan,
    report: &mut PruneReport,
    progress: &dyn Progress,
) -> Result<()> {
    if plan.delete.is_empty() && plan.finished_records.is_empty() {
        return Ok(());
    }
    // Index objects written since this prune started (by backups) count too.
    let files = repo.load_index_files()?;
    let superseded: HashSet<IndexId> = files
        .iter()
        .flat_map(|(_, f)| f.supersedes.iter().copied())
        .collect();
    let named: HashSet<PackId> = files
        .iter()
        .filter(|(id, _)| !superseded.contains(id))
        .flat_map(|(_, f)| f.packs.iter().map(|p| p.id))
        .collect();
    progress.phase("deleted", "packs");
    progress.totals(
        plan.delete.len() as u64,
        plan.delete.iter().map(|p| p.size).sum(),
        true,
    );
    for p in &plan.delete {
        let key = pack::key(p.kind, &p.id);
        progress.entry_done(std::path::Path::new(&key), p.size, p.size);
        if named.contains(&p.id) {
            report.stats.delete_bytes = report.stats.delete_bytes.saturating_sub(p.size);
            continue;
        }
        lock.check()?;
        repo.store().delete(&key)?;
        report.packs_deleted += 1;
    }
    for id in &plan.finished_records {
        repo.store().delete(&format!("prune/{id}"))?;
        report.records_deleted += 1;
    }
    Ok(())
}

/// The class most of the repacked data packs' bytes are in: repacking
/// keeps data where the backups put it (an IA repository stays IA).
fn repack_class(plan: &Plan, classes: &HashMap<PackId, StorageClass>) -> StorageClass {
    let mut bytes: HashMap<StorageClass, u64> = HashMap::new();
    for r in plan.repack.iter().filter(|r| r.pack.kind == BlobKind::Data) {
        let class = classes.get(&r.pack.id).copied().unwrap_or_default();
        *bytes.entry(class).or_default() += r.pack.size;
    }
    StorageClass::ALL
        .into_iter()
        .max_by_key(|c| bytes.get(c).copied().unwrap_or(0))
        .filter(|c| bytes.contains_key(c))
        .unwrap_or_default()
}
