//! Snapshot catalogs (`catalog/<id>`, see `format::catalog`): listing
//! snapshots reads the catalogs first and GETs only the snapshots no
//! catalog holds; a backup writes a catalog once more than
//! [`UNCATALOGUED_KEPT`] snapshots are outside one.
//!
//! Input: the listing of `snapshots/` (the authority) and the catalogs.
//! Output: the sealed bytes of each listed snapshot. Invariants: a catalog
//! entry is used only for a listed snapshot, and only when its BLAKE3 is
//! that snapshot's id, so a stale, damaged or missing catalog costs GETs,
//! never a wrong or lost snapshot; catalogs are copies, so writing one
//! needs no lock and deleting one loses nothing.
//!
//! Catalogs with fewer than [`SMALL_CATALOG`] listed snapshots are merged
//! into the next one written (which lists them in `supersedes`, and then
//! they are deleted), so a repository holds about one catalog per
//! [`SMALL_CATALOG`] snapshots plus one. Entries of forgotten snapshots
//! leave with the next merge of their catalog; prune merges every catalog
//! that holds one, and a damaged catalog is superseded by the next one
//! written.

use super::Repository;
use crate::crypto::Sealed;
use crate::error::{Kind, Result};
use crate::format::catalog::Catalog;
use crate::id::{CatalogId, SnapshotId, hash_object};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

/// Snapshots outside any catalog before a backup writes one.
pub const UNCATALOGUED_KEPT: usize = 64;

/// A catalog with fewer listed snapshots than this is merged into the
/// next one written.
pub const SMALL_CATALOG: usize = 4096;

/// Listings of at most this many snapshots read no catalog (a catalog GET
/// would save nothing).
const FEW: usize = 8;

/// What writing a catalog did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogReport {
    pub snapshots: u64,
    pub merged: u64,
    pub deleted: u64,
    pub delete_failed: Option<String>,
}

type Entries = HashMap<SnapshotId, Vec<u8>>;
/// Catalogs that opened, with their ids.
type Opened = Vec<(CatalogId, Catalog)>;

impl Repository {
    /// The ids of the listed snapshots, with their keys.
    pub(super) fn listed_snapshots(&self) -> Result<Vec<(SnapshotId, String)>> {
        let mut out = Vec::new();
        for meta in crate::store::list_all(self.store().as_ref(), "snapshots/")? {
            if let Some(id) = meta
                .key
                .strip_prefix("snapshots/")
                .and_then(|h| SnapshotId::parse(h).ok())
            {
                out.push((id, meta.key));
            }
        }
        Ok(out)
    }

    /// Every catalog that opens, and the ids of those that are damaged
    /// (skipped: their snapshots are read one by one). One deleted since
    /// the listing (superseded) is neither.
    pub(crate) fn catalogs(&self) -> Result<(Opened, Vec<CatalogId>)> {
        let (mut out, mut damaged) = (Vec::new(), Vec::new());
        for meta in crate::store::list_all(self.store().as_ref(), "catalog/")? {
            let Some(id) = meta
                .key
                .strip_prefix("catalog/")
                .and_then(|h| CatalogId::parse(h).ok())
            else {
                continue;
            };
            match self
                .load_sealed(Sealed::Catalog, &meta.key)
                .and_then(|p| Catalog::decode(&p, &meta.key))
            {
                Ok(c) => out.push((id, c)),
                Err(e) if e.kind() == Kind::Corrupt => damaged.push(id),
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok((out, damaged))
    }

    /// The sealed bytes the catalogs hold for the `listed` snapshots.
    pub(super) fn catalogued(&self, listed: &[(SnapshotId, String)]) -> Result<Entries> {
        if listed.len() <= FEW {
            return Ok(HashMap::new());
        }
        let wanted: HashSet<SnapshotId> = listed.iter().map(|(id, _)| *id).collect();
        Ok(entries(&self.catalogs()?.0, &wanted, &HashSet::new()))
    }

    /// Remembers how many listed snapshots no catalog holds (what decides
    /// that a catalog is due).
    pub(super) fn note_uncatalogued(&self, n: usize) {
        self.uncatalogued.store(n, Ordering::Relaxed);
    }

    /// Whether the last listing found more than `keep` snapshots outside
    /// every catalog (one more is about to be saved).
    pub fn catalog_due(&self, keep: usize) -> bool {
        self.uncatalogued.load(Ordering::Relaxed) + 1 > keep
    }

    /// Writes a catalog of every listed snapshot that no large catalog
    /// holds, superseding the small catalogs (and, with `drop_forgotten`,
    /// every catalog holding a forgotten snapshot), then deletes those.
    /// `None`: nothing to merge.
    pub fn write_catalog(&self, drop_forgotten: bool) -> Result<Option<CatalogReport>> {
        let listed = self.listed_snapshots()?;
        let wanted: HashSet<SnapshotId> = listed.iter().map(|(id, _)| *id).collect();
        let (all, damaged) = self.catalogs()?;
        let superseded: HashSet<CatalogId> = all
            .iter()
            .flat_map(|(_, c)| c.supersedes.iter().copied())
            .collect();
        let live_entries = |c: &Catalog| {
            c.snapshots
                .iter()
                .filter(|s| wanted.contains(&SnapshotId(hash_object(s))))
                .count()
        };
        let (merged_from, keep): (Vec<_>, Vec<_>) = all.into_iter().partition(|(id, c)| {
            let live = live_entries(c);
            let small = live < SMALL_CATALOG || (drop_forgotten && live < c.snapshots.len());
            superseded.contains(id) || small
        });
        // A damaged catalog is superseded too: it is a copy, and its
        // snapshots are read from `snapshots/` below.
        let merge: Vec<CatalogId> = merged_from
            .iter()
            .map(|(id, _)| *id)
            .chain(damaged)
            .collect();
        let held: HashSet<SnapshotId> = keep
            .iter()
            .flat_map(|(_, c)| &c.snapshots)
            .map(|s| SnapshotId(hash_object(s)))
            .filter(|id| wanted.contains(id))
            .collect();
        let mut found = entries(&merged_from, &wanted, &held);
        let missing: Vec<&(SnapshotId, String)> = listed
            .iter()
            .filter(|(id, _)| !held.contains(id) && !found.contains_key(id))
            .collect();
        for (id, key) in missing {
            match self.store().get(key, None) {
                Ok(bytes) if hash_object(&bytes) == id.0 => {
                    found.insert(*id, bytes);
                }
                Ok(_) => {}                                // damaged: `check` reports it
                Err(e) if e.kind() == Kind::NotFound => {} // forgotten meanwhile
                Err(e) => return Err(e),
            }
        }
        if found.is_empty() || (merge.is_empty() && found.len() <= UNCATALOGUED_KEPT / 2) {
            return Ok(None);
        }
        let mut report = CatalogReport {
            snapshots: found.len() as u64,
            merged: merge.len() as u64,
            ..Default::default()
        };
        let mut snapshots: Vec<(SnapshotId, Vec<u8>)> = found.into_iter().collect();
        snapshots.sort_by_key(|(id, _)| *id);
        let catalog = Catalog::new(
            snapshots.into_iter().map(|(_, b)| b).collect(),
            merge.clone(),
        );
        self.save_sealed("catalog", Sealed::Catalog, &catalog.encode())?;
        (report.deleted, report.delete_failed) = self.delete_superseded("catalog", &merge);
        self.note_uncatalogued(0);
        Ok(Some(report))
    }
}

/// The entries of `catalogs` that are `wanted` and not `except`, checked
/// against their ids.
fn entries(
    catalogs: &[(CatalogId, Catalog)],
    wanted: &HashSet<SnapshotId>,
    except: &HashSet<SnapshotId>,
) -> Entries {
    let mut out = HashMap::new();
    for (_, c) in catalogs {
        for s in &c.snapshots {
            let id = SnapshotId(hash_object(s));
            if wanted.contains(&id) && !except.contains(&id) {
                out.entry(id).or_insert_with(|| s.to_vec());
            }
        }
    }
    out
}
