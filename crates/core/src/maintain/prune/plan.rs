//! What a prune run does, decided without I/O from what it loaded.
//!
//! Input: the packs of the current index, the packs in the store, the prune
//! records, the blobs snapshots use, the `--max-unused` limit and the time
//! before which records are mature. Output: a [`Plan`].
//!
//! Invariants:
//! - every used blob ends up in a kept pack, a resurrected pack or a pack
//!   being repacked — otherwise it is listed in [`Plan::missing`] and the
//!   caller stops;
//! - a pack is deleted only if no current index names it, it holds no blob
//!   that a snapshot needs and is not in a kept pack, and every record
//!   naming it is mature (a pack condemned again later waits again);
//! - packs of the current index and packs no index names (orphans) are only
//!   ever *condemned* here, never deleted: deletion waits for a later run.

use super::MaxUnused;
use super::refs::References;
use crate::format::index::IndexPack;
use crate::format::pack::{self, BlobKind, PackBlob};
use crate::id::{BlobId, PackId, PruneRecordId};
use crate::repo::PruneRecord;
use std::collections::{HashMap, HashSet};

/// What the plan is made from.
pub struct Inputs<'a> {
    /// Packs named by the current (not superseded) index objects, once each.
    pub current: &'a [IndexPack],
    /// Packs in the store: id -> (kind, size).
    pub stored: &'a HashMap<PackId, (BlobKind, u64)>,
    /// Packs inside their storage class's minimum duration: S3 bills them
    /// to its end whether they are deleted or not, so repacking one now
    /// would pay for the copy on top. They are not repacked (yet).
    pub young: &'a HashSet<PackId>,
    /// Packs in an archive class (`GLACIER`, `DEEP_ARCHIVE`): reading one
    /// needs a restore that takes hours and costs per GB, so they are never
    /// repacked; unused ones are still deleted.
    pub archived: &'a HashSet<PackId>,
    /// Every prune record, oldest first.
    pub records: &'a [(PruneRecordId, PruneRecord)],
    /// Blobs that snapshots use.
    pub used: &'a References,
    pub max_unused: MaxUnused,
    /// Records written at or before this time (ns) are mature.
    pub mature_before: i64,
}

/// A pack whose used blobs are copied into new packs before it is condemned.
#[derive(Debug, Clone)]
pub struct Repack {
    pub pack: IndexPack,
    pub copy: Vec<PackBlob>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PlanStats {
    pub used_blobs: u64,
    /// Stored bytes of the used blobs (each counted once).
    pub used_bytes: u64,
    /// Bytes of unused or duplicate blobs that stay in kept packs.
    pub unused_bytes_kept: u64,
    pub repack_bytes: u64,
    pub condemn_bytes: u64,
    pub delete_bytes: u64,
    /// Packs that would have been repacked but are inside their storage
    /// class's minimum duration, kept until it passes; and their size.
    pub young_packs_kept: u64,
    pub young_bytes_kept: u64,
    /// Packs that would have been repacked but are archived (never read
    /// back by prune); and their size.
    pub archived_packs_kept: u64,
    pub archived_bytes_kept: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Packs of the new index: kept current packs and resurrected ones.
    pub keep: Vec<IndexPack>,
    /// Condemned packs a snapshot needs after all (also in `keep`).
    pub resurrect: Vec<PackId>,
    pub repack: Vec<Repack>,
    /// Newly condemned: unused current packs, repacked packs, orphans.
    pub condemn: Vec<IndexPack>,
    pub orphans: u64,
    /// Condemned packs whose grace period is over: deleted by this run.
    pub delete: Vec<IndexPack>,
    /// Mature records this run finishes (deleted after the packs).
    pub finished_records: Vec<PruneRecordId>,
    /// Condemned packs still waiting for their grace period.
    pub pending: u64,
    /// Used blobs that no stored pack holds (the repository is damaged).
    pub missing: Vec<BlobId>,
    /// Current packs that the store does not have.
    pub missing_packs: Vec<PackId>,
    pub stats: PlanStats,
}

/// Decides a prune run (see the module documentation).
pub fn plan(i: &Inputs) -> Plan {
    let mut p = Plan::default();
    let current_ids: HashSet<PackId> = i.current.iter().map(|c| c.id).collect();
    p.missing_packs = i
        .current
        .iter()
        .filter(|c| !i.stored.contains_key(&c.id))
        .map(|c| c.id)
        .collect();

    // Blobs a snapshot needs that no current pack has: look in condemned
    // packs. (The set of blobs available goes before the packs are
    // classified: at a million files it is ~70 MiB.)
    let mut needed: HashSet<BlobId> = {
        let avail: HashSet<BlobId> = i
            .current
            .iter()
            .filter(|c| i.stored.contains_key(&c.id))
            .flat_map(|c| c.blobs.iter().map(|b| b.id))
            .collect();
        i.used
            .ids()
            .filter(|b| !avail.contains(b))
            .copied()
            .collect()
    };
    let mut recorded: HashMap<PackId, (&IndexPack, bool)> = HashMap::new();
    for (_, r) in i.records {
        for pack in &r.packs {
            let mature = r.time <= i.mature_before;
            recorded
                .entry(pack.id)
                .and_modify(|e| e.1 &= mature)
                .or_insert((pack, mature));
        }
    }
    let mut fates: Vec<(&IndexPack, bool)> = recorded.into_values().collect();
    fates.sort_by_key(|(pack, _)| pack.id);
    let mut resurrected: Vec<&IndexPack> = Vec::new();
    for (pack, mature) in fates {
        if current_ids.contains(&pack.id) || !i.stored.contains_key(&pack.id) {
            continue; // named again by an index, or already deleted
        }
        if pack.blobs.iter().any(|b| needed.contains(&b.id)) {
            for b in &pack.blobs {
                needed.remove(&b.id);
            }
            p.resurrect.push(pack.id);
            resurrected.push(pack);
        } else if mature {
            p.stats.delete_bytes += i.stored[&pack.id].1;
            p.delete.push(pack.clone());
        } else {
            p.pending += 1;
        }
    }
    p.missing = needed.into_iter().collect();
    p.missing.sort();
    p.finished_records = i
        .records
        .iter()
        .filter(|(_, r)| r.time <= i.mature_before)
        .map(|(id, _)| *id)
        .collect();

    classify_current(i, &mut p, &resurrected);

    // Orphans: stored packs that no index and no record names.
    let named: HashSet<PackId> = i
        .current
        .iter()
        .map(|c| c.id)
        .chain(
            i.records
                .iter()
                .flat_map(|(_, r)| r.packs.iter().map(|p| p.id)),
        )
        .collect();
    let mut orphans: Vec<(&PackId, &(BlobKind, u64))> = i
        .stored
        .iter()
        .filter(|(id, _)| !named.contains(id))
        .collect();
    orphans.sort_by_key(|(id, _)| **id);
    for (id, (kind, size)) in orphans {
        p.orphans += 1;
        p.stats.condemn_bytes += size;
        p.condemn.push(IndexPack {
            id: *id,
            kind: *kind,
            size: *size,
            blobs: Vec::new(),
        });
    }
    p
}

/// Keeps, repacks or condemns each stored current pack. A used blob counts
/// as used in the first pack (most used first) that holds it; its copies in
/// other packs count as unused.
fn classify_current(i: &Inputs, p: &mut Plan, resurrected: &[&IndexPack]) {
    let used_share = |c: &IndexPack| {
        let n = c.blobs.iter().filter(|b| i.used.contains(&b.id)).count();
        (n as u128 * 1_000_000) / (c.blobs.len().max(1) as u128)
    };
    let mut order: Vec<&IndexPack> = i
        .current
        .iter()
        .filter(|c| i.stored.contains_key(&c.id))
        .collect();
    // Each pack's share once (a comparator that counted it looked up every
    // blob of two packs per comparison: half of a no-op prune's time at a
    // million files).
    order.sort_by_cached_key(|c| (std::cmp::Reverse(used_share(c)), c.id));

    // Sized once: growing it by doubling held both tables at the end.
    let mut covered: HashSet<BlobId> = HashSet::with_capacity(i.used.len());
    // (pack, used blobs, used bytes, unused bytes)
    let mut partly: Vec<(&IndexPack, Vec<PackBlob>, u64, u64)> = Vec::new();
    for c in order {
        let (mut used, mut used_bytes, mut unused_bytes) = (Vec::new(), 0u64, 0u64);
        // A grouped blob's bytes are its share of its group's.
        for (b, bytes) in c.blobs.iter().zip(pack::stored_shares(&c.blobs)) {
            if i.used.contains(&b.id) && covered.insert(b.id) {
                used.push(*b);
                used_bytes += bytes;
            } else {
                unused_bytes += bytes;
            }
        }
        p.stats.used_blobs += used.len() as u64;
        p.stats.used_bytes += used_bytes;
        if used.is_empty() {
            p.stats.condemn_bytes += c.size;
            p.condemn.push(c.clone());
        } else if unused_bytes == 0 {
            p.keep.push(c.clone());
        } else {
            partly.push((c, used, used_bytes, unused_bytes));
        }
    }
    for r in resurrected {
        for (b, bytes) in r.blobs.iter().zip(pack::stored_shares(&r.blobs)) {
            if i.used.contains(&b.id) && covered.insert(b.id) {
                p.stats.used_blobs += 1;
                p.stats.used_bytes += bytes;
            } else {
                p.stats.unused_bytes_kept += bytes;
            }
        }
        p.keep.push((*r).clone());
    }

    // Repack the most wasteful packs until what stays unused is tolerated.
    let allowed = i.max_unused.allowed(p.stats.used_bytes);
    let mut unused_total: u64 = partly.iter().map(|x| x.3).sum();
    partly.sort_by(|a, b| {
        let share = |x: &(&IndexPack, Vec<PackBlob>, u64, u64)| {
            (x.3 as u128 * 1_000_000) / ((x.2 + x.3).max(1) as u128)
        };
        share(b).cmp(&share(a)).then(a.0.id.cmp(&b.0.id))
    });
    for (c, used, _, unused_bytes) in partly {
        if unused_total > allowed && i.archived.contains(&c.id) {
            p.stats.archived_packs_kept += 1;
            p.stats.archived_bytes_kept += c.size;
            p.stats.unused_bytes_kept += unused_bytes;
            p.keep.push(c.clone());
        } else if unused_total > allowed && i.young.contains(&c.id) {
            p.stats.young_packs_kept += 1;
            p.stats.young_bytes_kept += c.size;
            p.stats.unused_bytes_kept += unused_bytes;
            p.keep.push(c.clone());
        } else if unused_total > allowed {
            unused_total -= unused_bytes;
            p.stats.repack_bytes += c.size;
            p.stats.condemn_bytes += c.size;
            p.condemn.push(c.clone());
            p.repack.push(Repack {
                pack: c.clone(),
                copy: used,
            });
        } else {
            p.stats.unused_bytes_kept += unused_bytes;
            p.keep.push(c.clone());
        }
    }
}
