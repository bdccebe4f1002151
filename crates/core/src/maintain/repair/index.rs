//! `repair index`: a new index from readable index objects and pack headers.

use crate::error::{Kind, Result};
use crate::format::index::IndexPack;
use crate::id::{IndexId, PackId};
use crate::repo::{Repository, StoredPack};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What `repair index` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairIndexReport {
    /// Index objects read, and those of them that were damaged.
    pub index_read: u64,
    pub index_damaged: Vec<String>,
    /// Packs whose entry came from a readable index object.
    pub packs_kept: u64,
    /// Packs read by their header (no readable index named them, or their
    /// size differed).
    pub packs_from_headers: u64,
    /// Packs an index named that are no longer stored (their blobs are lost).
    pub packs_missing: Vec<String>,
    /// Stored packs whose header cannot be read (left unindexed; `check
    /// --read-data` tells more, `prune` removes them).
    pub packs_unreadable: Vec<String>,
    pub index_written: u64,
    pub index_deleted: u64,
}

/// Rebuilds the index (see the module documentation of `repair`).
pub fn repair_index(repo: &Arc<Repository>) -> Result<RepairIndexReport> {
    let lock = repo.lock(true, "repair index")?;
    let mut r = RepairIndexReport::default();
    let files = repo.load_index_files()?;
    let damaged = repo.skipped_index();
    r.index_read = (files.len() + damaged.len()) as u64;
    r.index_damaged = damaged.iter().map(|(_, e)| e.clone()).collect();
    // Every listed object is superseded: the new index names what they did.
    let listed: Vec<IndexId> = files
        .iter()
        .map(|(id, _)| *id)
        .chain(damaged.iter().map(|(id, _)| *id))
        .collect();
    let superseded: HashSet<IndexId> = files
        .iter()
        .flat_map(|(_, f)| f.supersedes.iter().copied())
        .collect();
    let mut named: HashMap<PackId, IndexPack> = HashMap::new();
    for (_, f) in files.iter().filter(|(id, _)| !superseded.contains(id)) {
        for p in &f.packs {
            named.entry(p.id).or_insert_with(|| p.clone());
        }
    }
    // Condemned packs stay out: their prune record keeps them readable
    // until the prune that condemned them deletes them.
    let condemned: HashSet<PackId> = repo
        .prune_records()?
        .into_iter()
        .flat_map(|(_, rec)| rec.packs.into_iter().map(|p| p.id))
        .collect();
    let stored = repo.stored_packs()?;
    let stored_ids: HashSet<PackId> = stored.iter().map(|p| p.id).collect();
    let mut packs = Vec::new();
    let mut to_read: Vec<StoredPack> = Vec::new();
    for p in &stored {
        match named.get(&p.id) {
            Some(entry) if entry.size == p.size && entry.kind == p.kind => {
                packs.push(entry.clone());
                r.packs_kept += 1;
            }
            _ if condemned.contains(&p.id) && !named.contains_key(&p.id) => {}
            _ => to_read.push(*p),
        }
    }
    for p in &to_read {
        match repo.read_pack_header(p.kind, p.id, p.size) {
            Ok(entry) => {
                packs.push(entry);
                r.packs_from_headers += 1;
            }
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => r.packs_unreadable.push(e.to_string()),
        }
    }
    let mut missing: Vec<String> = named
        .values()
        .filter(|p| !stored_ids.contains(&p.id))
        .map(|p| crate::format::pack::key(p.kind, &p.id))
        .collect();
    missing.sort();
    r.packs_missing = missing;
    packs.sort_by_key(|p| p.id);
    if packs.is_empty() && listed.is_empty() {
        return Ok(r);
    }
    lock.check()?;
    r.index_written = repo.write_index(&packs, listed.clone())?;
    lock.check()?;
    for id in &listed {
        repo.store().delete(&format!("index/{id}"))?;
        r.index_deleted += 1;
    }
    repo.reload_index()?;
    let _ = lock.release();
    Ok(r)
}
