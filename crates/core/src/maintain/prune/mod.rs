//! `prune`: remove data that no snapshot uses, safely while backups from
//! other hosts run (they take no lock and only add objects). The reasoning
//! is in docs/FORMAT.md, section "Prune"; in short:
//!
//! ```text
//! lock (exclusive)  → load index objects, prune records, pack listing, snapshots
//!   → used blobs (reference counts brought to the snapshots listed,
//!     refs.rs: reads only the trees added or forgotten since they were
//!     kept in the cache)  → plan (pure, plan.rs)
//!   → repack: copy used blobs of wasteful packs into new packs (BlobWriter)
//!   → phase 1: write a record condemning packs, then an index without them
//!     that supersedes every index object read, then delete those objects
//!   → phase 2: packs condemned by records older than the grace period, that
//!     no snapshot needs and no index (re-listed now) names, are deleted;
//!     needed ones went back into the index; then their records are deleted
//! ```
//!
//! Input: the repository and [`PruneOptions`]. Output: a [`PruneReport`].
//! Invariants: prune deletes only packs, index objects that a stored index
//! supersedes, and its own records — each only after what replaces it is
//! stored; a pack is never deleted in the run that condemns it unless the
//! grace period is zero (`--now`, for tests and repositories nothing else
//! writes to); with `dry_run` nothing is written or deleted.

mod lock;
mod plan;
mod refs;
mod refs_file;
#[cfg(test)]
mod refs_tests;
mod run;
#[cfg(test)]
mod tests;

pub use lock::LockReport;
pub use plan::PlanStats;

use super::retention::Span;
use crate::error::{Error, Kind, Result};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack::BlobKind;
use crate::id::{IndexId, PackId, PruneRecordId, SnapshotId, TreeId};
use crate::progress::Progress;
use crate::repo::{PruneRecord, Repository};
use crate::store::StorageClass;
use refs::{References, UpdateError};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// How much unused data kept packs may hold before they are repacked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxUnused {
    /// Unused bytes at most this share (0 ≤ p < 100) of the pruned repository.
    Percent(f64),
    Bytes(u64),
    Unlimited,
}

impl MaxUnused {
    /// Parses `5%`, `0%`, `500M`, `2G`, `1024`, `unlimited`.
    pub fn parse(s: &str) -> Result<MaxUnused> {
        let bad = || {
            Error::invalid("invalid --max-unused (expected e.g. 5%, 500M or unlimited)")
                .with_location(s)
        };
        let s = s.trim();
        if s == "unlimited" {
            return Ok(MaxUnused::Unlimited);
        }
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            return if (0.0..100.0).contains(&p) {
                Ok(MaxUnused::Percent(p))
            } else if p == 100.0 {
                Ok(MaxUnused::Unlimited)
            } else {
                Err(bad())
            };
        }
        let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let shift = match unit.to_ascii_uppercase().as_str() {
            "" | "B" => 0,
            "K" | "KIB" => 10,
            "M" | "MIB" => 20,
            "G" | "GIB" => 30,
            "T" | "TIB" => 40,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        n.checked_mul(1 << shift)
            .map(MaxUnused::Bytes)
            .ok_or_else(bad)
    }

    /// Unused bytes tolerated next to `used` bytes.
    pub fn allowed(self, used: u64) -> u64 {
        match self {
            MaxUnused::Percent(p) => (used as f64 * p / (100.0 - p)) as u64,
            MaxUnused::Bytes(b) => b,
            MaxUnused::Unlimited => u64::MAX,
        }
    }
}

/// The default grace period: longer than any backup is expected to run.
pub const DEFAULT_GRACE: Span = Span {
    years: 0,
    months: 0,
    days: 1,
    hours: 0,
};

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub max_unused: MaxUnused,
    /// How long condemned packs wait before deletion; `None` = zero (`--now`).
    pub grace: Option<Span>,
    pub dry_run: bool,
    /// Concurrent uploads while repacking.
    pub connections: usize,
    /// Storage class of repacked data packs; `None`: the class most of
    /// the repacked data was in (on a local store, `STANDARD`).
    pub data_storage_class: Option<StorageClass>,
    /// ns since the epoch.
    pub now: i64,
    /// Where the reference counts of the snapshots are kept between prunes
    /// (this repository's directory in the local cache); `None`: counted
    /// from nothing each time.
    pub state_dir: Option<PathBuf>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_unused: MaxUnused::Percent(5.0),
            grace: Some(DEFAULT_GRACE),
            dry_run: false,
            connections: 4,
            data_storage_class: None,
            now: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
            state_dir: None,
        }
    }
}

/// What a prune did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub snapshots: u64,
    pub packs: u64,
    pub packs_kept: u64,
    pub packs_repacked: u64,
    pub packs_condemned: u64,
    pub orphans_condemned: u64,
    pub packs_resurrected: u64,
    pub packs_deleted: u64,
    pub packs_pending: u64,
    pub index_written: u64,
    pub index_deleted: u64,
    pub records_deleted: u64,
    #[serde(flatten)]
    pub stats: PlanStats,
    /// Stale locks of others that were ignored.
    pub stale_locks: Vec<String>,
    /// Leftovers of puts a killed writer never finished (local `.tmp-*`
    /// files) older than the grace period, removed.
    pub fragments_removed: u64,
    /// Snapshots in the catalog written (0: none was needed).
    pub catalog_snapshots: u64,
    /// Damaged index objects: skipped, their packs read by their headers,
    /// and replaced by the new index.
    pub index_damaged: Vec<String>,
    /// Object Lock upkeep (a repository with Object Lock, not a dry run).
    pub object_lock: Option<LockReport>,
    /// Trees read to know what snapshots use: only those of snapshots
    /// added or forgotten since the counts kept in the cache.
    pub trees_read: u64,
    /// Whether the counts kept in the cache were used (else every kept
    /// snapshot's trees were read).
    pub counts_reused: bool,
}

/// What one run loaded.
pub(crate) struct State {
    pub files: Vec<(IndexId, IndexFile)>,
    /// Index objects that are damaged (skipped by the load): the new index
    /// supersedes them, as it names every pack they could have named.
    pub damaged: Vec<IndexId>,
    /// Whether packs no index named were adopted into `current`.
    pub adopted: bool,
    pub current: Vec<IndexPack>,
    pub records: Vec<(PruneRecordId, PruneRecord)>,
    pub stored: HashMap<PackId, (BlobKind, u64)>,
    /// Packs still inside their storage class's minimum duration.
    pub young: HashSet<PackId>,
    pub archived: HashSet<PackId>,
    /// The storage class of each pack, where the store says.
    pub classes: HashMap<PackId, StorageClass>,
}

/// Prunes `repo` (see the module documentation). With a zero grace period
/// the packs this run condemns are deleted by a second pass of the same run.
pub fn prune(repo: &Arc<Repository>, opts: &PruneOptions) -> Result<PruneReport> {
    prune_with(repo, opts, &crate::progress::NoProgress)
}

/// As [`prune`], reporting its stages to `progress`: trees read, packs
/// repacked, packs deleted.
pub fn prune_with(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    progress: &dyn Progress,
) -> Result<PruneReport> {
    let lock = if opts.dry_run {
        None
    } else {
        Some(repo.lock(true, "prune")?)
    };
    let mut report = PruneReport {
        dry_run: opts.dry_run,
        stale_locks: lock
            .iter()
            .flat_map(|l| l.stale.iter())
            .map(|l| format!("{} ({})", l.key(), l.stale.as_deref().unwrap_or("")))
            .collect(),
        ..Default::default()
    };
    // Prune's own handle: its index changes stay out of `repo`'s.
    let work = Arc::new(repo.detached());
    let mut counts = Counts::load(repo, opts);
    let result = one_pass(
        &work,
        opts,
        lock.as_ref(),
        &mut counts,
        &mut report,
        progress,
    )
    .and_then(|condemned| {
        if opts.grace.is_none() && condemned && !opts.dry_run {
            let mut second = PruneReport::default();
            one_pass(
                &work,
                opts,
                lock.as_ref(),
                &mut counts,
                &mut second,
                progress,
            )?;
            report.trees_read += second.trees_read;
            report.packs_deleted += second.packs_deleted;
            report.stats.delete_bytes += second.stats.delete_bytes;
            report.records_deleted += second.records_deleted;
            report.index_written += second.index_written;
            report.index_deleted += second.index_deleted;
            report.packs_pending = second.packs_pending;
        }
        Ok(())
    });
    report.counts_reused = counts.reused;
    let result = result.and_then(|_| {
        if !opts.dry_run {
            report.fragments_removed = repo.store().remove_fragments(fragments_before(opts))?;
            // Catalogs drop forgotten snapshots and small ones merge.
            report.catalog_snapshots = repo.write_catalog(true)?.map_or(0, |c| c.snapshots);
        }
        Ok(())
    });
    // Show the caller the repository as it now is.
    let reloaded = repo.reload_index();
    result.and(reloaded)?;
    if let (Some((mode, retention)), Some(versioned), false) =
        (repo.object_lock(), repo.store().versioned(), opts.dry_run)
    {
        report.object_lock = Some(lock::keep_locked(repo, versioned, mode, retention)?);
    }
    Ok(report)
}

/// Fragments of puts last written before the grace period are removed
/// (all of them with `--now`, like condemned packs).
fn fragments_before(opts: &PruneOptions) -> std::time::SystemTime {
    let ns = match opts.grace {
        None => opts.now,
        Some(span) => span
            .before(chrono::DateTime::from_timestamp_nanos(opts.now))
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0),
    };
    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64)
}

/// One pass; returns whether it condemned packs.
fn one_pass(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    lock: Option<&crate::repo::LockGuard>,
    counts: &mut Counts,
    report: &mut PruneReport,
    progress: &dyn Progress,
) -> Result<bool> {
    // Snapshots first, then the index: a backup stores its packs and index
    // before its snapshot, so every snapshot listed here finds its blobs in
    // the index loaded after. (The other order failed a prune that met a
    // snapshot saved between the two reads: "blob is not in the index".)
    let snapshots = repo.snapshots()?;
    let state = load(repo, opts.now)?;
    report.index_damaged = repo.skipped_index().into_iter().map(|(_, e)| e).collect();
    let roots: Vec<_> = snapshots.iter().map(|s| (s.id, s.snapshot.tree)).collect();
    let condemned: Vec<IndexPack> = state
        .records
        .iter()
        .flat_map(|(_, r)| r.packs.iter().cloned())
        .collect();
    // The current packs, adopted ones included, so their trees are found.
    let current = IndexFile::new(state.current.clone(), Vec::new());
    repo.replace_index_with(&[(IndexId::default(), current)], &condemned);
    report.trees_read += counts.update(repo, &roots, opts, progress)?;
    let used = &counts.refs;
    let mature_before = match opts.grace {
        None => opts.now,
        Some(span) => span
            .before(chrono::DateTime::from_timestamp_nanos(opts.now))
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(i64::MIN),
    };
    let plan = plan::plan(&plan::Inputs {
        current: &state.current,
        stored: &state.stored,
        young: &state.young,
        archived: &state.archived,
        records: &state.records,
        used,
        max_unused: opts.max_unused,
        mature_before,
    });
    if let Some(id) = plan.missing_packs.first() {
        return Err(Error::at(
            Kind::Corrupt,
            format!(
                "{} pack(s) named by the index are missing; prune stops (run `coffer check`)",
                plan.missing_packs.len()
            ),
            format!("pack {id}"),
        ));
    }
    if let Some(b) = plan.missing.first() {
        return Err(Error::at(
            Kind::Corrupt,
            format!(
                "{} blob(s) that snapshots use are in no pack; prune stops (run `coffer check`)",
                plan.missing.len()
            ),
            format!("blob {b}"),
        ));
    }
    report.snapshots = snapshots.len() as u64;
    report.packs = state.current.len() as u64;
    report.packs_kept = plan.keep.len() as u64 - plan.resurrect.len() as u64;
    report.packs_repacked = plan.repack.len() as u64;
    report.packs_condemned = plan.condemn.len() as u64 - plan.orphans;
    report.orphans_condemned = plan.orphans;
    report.packs_resurrected = plan.resurrect.len() as u64;
    report.packs_pending = plan.pending + plan.condemn.len() as u64;
    report.stats = plan.stats.clone();
    if opts.dry_run {
        report.packs_deleted = plan.delete.len() as u64;
        return Ok(!plan.condemn.is_empty());
    }
    let lock = lock.ok_or_else(|| Error::fatal("prune needs its lock"))?;
    run::execute(repo, opts, lock, &state, &plan, report, progress)?;
    Ok(!plan.condemn.is_empty())
}

/// Index objects, records and the pack listing — in this order, so every
/// pack an index object names was stored before the listing. Stored packs
/// that no index names and no record condemns are adopted by reading their
/// headers (a damaged index object, an interrupted backup): a snapshot that
/// uses them keeps them; one whose header cannot be read stays an orphan.
/// `now` (ns) dates the packs still inside their minimum storage duration.
fn load(repo: &Repository, now: i64) -> Result<State> {
    let files = repo.load_index_files()?;
    let damaged: Vec<IndexId> = repo.skipped_index().into_iter().map(|(id, _)| id).collect();
    let superseded: HashSet<IndexId> = files
        .iter()
        .flat_map(|(_, f)| f.supersedes.iter().copied())
        .collect();
    let mut seen = HashSet::new();
    let mut current: Vec<IndexPack> = files
        .iter()
        .filter(|(id, _)| !superseded.contains(id))
        .flat_map(|(_, f)| f.packs.iter())
        .filter(|p| seen.insert(p.id))
        .cloned()
        .collect();
    let records = repo.prune_records()?;
    let condemned: HashSet<PackId> = records
        .iter()
        .flat_map(|(_, r)| r.packs.iter().map(|p| p.id))
        .collect();
    let mut stored = HashMap::new();
    let mut young = HashSet::new();
    let mut archived = HashSet::new();
    let mut classes = HashMap::new();
    let mut orphans = Vec::new();
    let now_secs = now / 1_000_000_000;
    for p in repo.stored_packs()? {
        stored.insert(p.id, (p.kind, p.size));
        if let Some(class) = p.class {
            classes.insert(p.id, class);
            if class.is_archive() {
                archived.insert(p.id);
            }
        }
        if let (Some(class), Some(t)) = (p.class, p.modified)
            && now_secs - t < i64::from(class.min_days()) * 86_400
        {
            young.insert(p.id);
        }
        if !seen.contains(&p.id) && !condemned.contains(&p.id) {
            orphans.push(p);
        }
    }
    let mut adopted = false;
    for p in orphans {
        if let Ok(entry) = repo.read_pack_header(p.kind, p.id, p.size) {
            current.push(entry);
            adopted = true;
        }
    }
    Ok(State {
        files,
        damaged,
        adopted,
        current,
        records,
        stored,
        young,
        archived,
        classes,
    })
}

/// The reference counts of the snapshots, and where they are kept.
struct Counts {
    refs: References,
    /// Whether `refs` differ from what the cache holds.
    dirty: bool,
    /// Whether `refs` came from the cache and proved right.
    reused: bool,
}

impl Counts {
    /// The counts kept for `repo`, or none (counted from nothing).
    fn load(repo: &Repository, opts: &PruneOptions) -> Counts {
        let kept = opts
            .state_dir
            .as_deref()
            .and_then(|d| refs_file::load(d, &repo.config().id, repo.key()));
        Counts {
            dirty: kept.is_none(),
            reused: kept.is_some(),
            refs: kept.unwrap_or_default(),
        }
    }

    /// Brings the counts to the snapshots `roots` and keeps them in the
    /// cache (not on a dry run). Counts that cannot be brought up to date
    /// (a count below zero, a forgotten snapshot's tree already deleted by
    /// a prune elsewhere) are dropped and counted again from nothing.
    /// Returns the trees read.
    fn update(
        &mut self,
        repo: &Repository,
        roots: &[(SnapshotId, TreeId)],
        opts: &PruneOptions,
        progress: &dyn Progress,
    ) -> Result<u64> {
        if self.refs.counts_exactly(roots) {
            // Nothing to read (a second pass, or nothing changed).
            return Ok(0);
        }
        progress.phase("read", "trees");
        progress.totals(repo.index().tree_blobs(), 0, true);
        let done = match self.refs.update(repo, roots, progress) {
            Ok(done) => done,
            Err(UpdateError::Repo(e)) => return Err(e),
            Err(UpdateError::Recount(_)) => {
                self.refs = References::default();
                self.reused = false;
                match self.refs.update(repo, roots, progress) {
                    Ok(done) => done,
                    Err(UpdateError::Repo(e)) => return Err(e),
                    // Counting from nothing only counts in.
                    Err(UpdateError::Recount(why)) => return Err(Error::fatal(why)),
                }
            }
        };
        self.dirty |= done.added + done.removed > 0;
        if let (Some(dir), false, true) = (&opts.state_dir, opts.dry_run, self.dirty) {
            refs_file::save(dir, &repo.config().id, repo.key(), &self.refs);
            self.dirty = false;
        }
        Ok(done.trees_read)
    }
}
