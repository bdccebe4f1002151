//! Object Lock upkeep, the last step of a prune of a repository whose
//! `config` asks for Object Lock (S3).
//!
//! ```text
//! extend  every object the repository still needs (config, keys,
//!         snapshots, index objects, the packs of the new index) is kept
//!         locked at least `retention` ahead: HEAD each, and where its lock
//!         ends sooner, extend it to twice that (so each object is
//!         extended about once per retention period, not every night)
//! purge   a delete under Object Lock only hides an object behind a delete
//!         marker; its bytes stay, locked, and billed. For each object
//!         whose latest version is a delete marker and that the repository
//!         no longer needs, delete its versions for good once S3 allows it
//!         (their lock has passed), then the marker
//! ```
//! Never purged: a pack the index names, or `config`, hidden by a delete
//! marker (someone deleted it: reported, so it can be brought back by
//! removing the marker), and the older versions of an object that is
//! still there (someone overwrote it, or a write was retried: reported,
//! the old bytes kept).

use crate::error::{Result, parallel};
use crate::format::pack;
use crate::repo::Repository;
use crate::store::{LockMode, Version, Versioned, now_secs};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Requests in flight at once.
const CONNECTIONS: usize = 16;

/// What the Object Lock step did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LockReport {
    /// Objects the repository needs, each kept locked `retention` ahead.
    pub objects_locked: u64,
    /// Of those, the ones whose lock was extended now.
    pub locks_extended: u64,
    /// Versions of deleted objects removed for good, and their bytes.
    pub versions_deleted: u64,
    pub bytes_freed: u64,
    /// Versions of deleted objects still locked (a later prune removes
    /// them), and their bytes.
    pub versions_locked: u64,
    pub bytes_locked: u64,
    /// Objects still there with older versions: overwritten by someone, or
    /// a write retried. Their old versions are kept.
    pub overwritten: Vec<String>,
    /// Objects the repository needs that a delete marker hides.
    pub hidden: Vec<String>,
}

/// Whether the repository keeps `key` (an object it needs and locks).
fn needed(key: &str, packs: &HashSet<String>) -> bool {
    key == "config"
        || ["keys/", "snapshots/", "index/"]
            .iter()
            .any(|p| key.starts_with(p))
        || packs.contains(key)
}

/// Runs both steps (see the module documentation).
pub fn keep_locked(
    repo: &Repository,
    versioned: &dyn Versioned,
    mode: LockMode,
    retention: Duration,
) -> Result<LockReport> {
    let packs: HashSet<String> = {
        let index = repo.index();
        index
            .packs()
            .iter()
            .filter(|p| !index.is_condemned(&p.id))
            .map(|p| pack::key(p.kind, &p.id))
            .collect()
    };
    let mut report = LockReport::default();
    extend(repo, versioned, &packs, mode, retention, &mut report)?;
    purge(versioned, &packs, &mut report)?;
    Ok(report)
}

fn extend(
    repo: &Repository,
    versioned: &dyn Versioned,
    packs: &HashSet<String>,
    mode: LockMode,
    retention: Duration,
    report: &mut LockReport,
) -> Result<()> {
    let mut keys = Vec::new();
    repo.store().list("", &mut |m| {
        if needed(&m.key, packs) {
            keys.push(m.key);
        }
        Ok(())
    })?;
    let secs = retention.as_secs() as i64;
    let (soon, until) = (now_secs() + secs, now_secs() + 2 * secs);
    let extended = AtomicU64::new(0);
    let failed = Mutex::new(None);
    parallel(CONNECTIONS, keys.len(), |i| {
        let r = repo.store().head(&keys[i]).and_then(|m| {
            if m.locked_until.is_none_or(|t| t < soon) {
                versioned.extend_lock(&keys[i], mode, until)?;
                extended.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        if let Err(e) = r {
            failed.lock().expect("poisoned").get_or_insert(e);
        }
    });
    if let Some(e) = failed.into_inner().expect("poisoned") {
        return Err(e);
    }
    report.objects_locked = keys.len() as u64;
    report.locks_extended = extended.into_inner();
    Ok(())
}

fn purge(
    versioned: &dyn Versioned,
    packs: &HashSet<String>,
    report: &mut LockReport,
) -> Result<()> {
    let mut by_key: BTreeMap<String, Vec<Version>> = BTreeMap::new();
    versioned.list_versions("", &mut |v| {
        by_key.entry(v.key.clone()).or_default().push(v);
        Ok(())
    })?;
    for (key, versions) in by_key {
        let hidden = versions.iter().any(|v| v.latest && v.delete_marker);
        let older = versions.iter().filter(|v| !v.latest && !v.delete_marker);
        if !hidden {
            if older.count() > 0 {
                report.overwritten.push(key);
            }
            continue;
        }
        // Deleted snapshots, index objects and keys were deleted by
        // coffer (forget, prune, key remove); a hidden pack the index
        // names, or a hidden config, was not.
        if key == "config" || packs.contains(&key) {
            report.hidden.push(key);
            continue;
        }
        let mut all_gone = true;
        for v in versions.iter().filter(|v| !v.delete_marker) {
            if versioned.delete_version(&key, &v.version_id)? {
                report.versions_deleted += 1;
                report.bytes_freed += v.size;
            } else {
                all_gone = false;
                report.versions_locked += 1;
                report.bytes_locked += v.size;
            }
        }
        if all_gone {
            for m in versions.iter().filter(|v| v.delete_marker) {
                versioned.delete_version(&key, &m.version_id)?;
            }
        }
    }
    Ok(())
}
