//! `coffer prune`: removes data no snapshot uses, in two phases (see
//! docs/MAINTENANCE.md); prints what was kept, repacked, condemned, deleted.

use crate::args::{PruneArgs, PruneTuning};
use crate::output::size;
use crate::settings::Settings;
use coffer_core::Repository;
use coffer_core::Result;
use coffer_core::Span;
use coffer_core::{LockReport, MaxUnused, PruneOptions, PruneReport, prune_with};
use std::sync::Arc;

pub fn run(a: PruneArgs, s: &Settings) -> Result<i32> {
    let opts = options(&a.tuning, a.dry_run, s)?;
    // prune loads the index itself, on its own handle.
    let repo = Arc::new(s.open_without_index()?);
    run_with(&repo, &opts, s)
}

/// Prunes an open repository and prints the report (also for `forget --prune`).
pub fn run_with(repo: &Arc<Repository>, opts: &PruneOptions, s: &Settings) -> Result<i32> {
    let reporter = crate::progress::Reporter::terminal_only(s, "read");
    let report = prune_with(repo, opts, &reporter);
    reporter.finish();
    let report = report?;
    if s.json {
        crate::output::json(&report)?;
    } else {
        text(&report, s.quiet, opts.grace.as_ref());
    }
    Ok(0)
}

pub fn options(t: &PruneTuning, dry_run: bool, s: &Settings) -> Result<PruneOptions> {
    Ok(PruneOptions {
        max_unused: MaxUnused::parse(&t.max_unused)?,
        grace: if t.now {
            None
        } else {
            Some(Span::parse(&t.grace)?)
        },
        dry_run,
        connections: s.connections,
        now: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
        state_dir: s.repo_cache_dir(),
        ..Default::default()
    })
}

fn text(r: &PruneReport, quiet: bool, grace: Option<&Span>) {
    for l in &r.stale_locks {
        eprintln!("coffer: warning: ignored a stale lock: {l}; `coffer unlock` removes it");
    }
    for e in &r.index_damaged {
        eprintln!("coffer: warning: damaged index object replaced by the new index: {e}");
    }
    let would = if r.dry_run { "would be " } else { "" };
    if !quiet {
        println!(
            "{} snapshot(s) use {} blob(s), {} stored",
            r.snapshots,
            r.stats.used_blobs,
            size(r.stats.used_bytes)
        );
        println!(
            "packs: {} kept, {} {would}repacked ({}), {} {would}condemned, {} orphan(s) {would}condemned, {} {would}put back into the index",
            r.packs_kept,
            r.packs_repacked,
            size(r.stats.repack_bytes),
            r.packs_condemned,
            r.orphans_condemned,
            r.packs_resurrected
        );
        if r.stats.young_packs_kept > 0 {
            println!(
                "{} pack(s) ({}) not repacked: inside their storage class's minimum duration, S3 bills them to its end anyway",
                r.stats.young_packs_kept,
                size(r.stats.young_bytes_kept)
            );
        }
        if r.stats.archived_packs_kept > 0 {
            println!(
                "{} pack(s) ({}) not repacked: in GLACIER or DEEP_ARCHIVE, reading them back would need a paid restore",
                r.stats.archived_packs_kept,
                size(r.stats.archived_bytes_kept)
            );
        }
        if r.stats.unused_bytes_kept > 0 {
            println!(
                "unused data left in kept packs: {}",
                size(r.stats.unused_bytes_kept)
            );
        }
        if !r.dry_run {
            println!(
                "index: {} object(s) written, {} superseded object(s) deleted",
                r.index_written, r.index_deleted
            );
            if r.fragments_removed > 0 {
                println!(
                    "removed {} fragment(s) of interrupted writes",
                    r.fragments_removed
                );
            }
        }
    }
    println!(
        "{} pack(s) {would}deleted ({}); {} condemned pack(s) wait for the grace period",
        r.packs_deleted,
        size(r.stats.delete_bytes),
        r.packs_pending
    );
    if r.packs_pending > 0 && !quiet {
        let g = grace.map_or("0h".to_string(), |g| {
            let mut parts = Vec::new();
            for (n, unit) in [
                (g.years, "y"),
                (g.months, "m"),
                (g.days, "d"),
                (g.hours, "h"),
            ] {
                if n > 0 {
                    parts.push(format!("{n}{unit}"));
                }
            }
            if parts.is_empty() {
                "0h".to_string()
            } else {
                parts.concat()
            }
        });
        println!(
            "condemned packs are deleted by the first prune {g} (--grace) after they were condemned, so a backup running now can still use them; when no backup runs, `coffer prune --now` takes the space back at once"
        );
    }
    if let Some(l) = &r.object_lock {
        lock_text(l);
    }
}

/// What the Object Lock step did (see docs/S3.md).
fn lock_text(l: &LockReport) {
    println!(
        "object lock: {} object(s) the repository needs kept locked, {} lock(s) extended",
        l.objects_locked, l.locks_extended
    );
    print!(
        "versions of deleted objects: {} removed for good ({})",
        l.versions_deleted,
        size(l.bytes_freed)
    );
    if l.versions_locked > 0 {
        print!(
            ", {} still locked ({}): a prune after their lock ends removes them",
            l.versions_locked,
            size(l.bytes_locked)
        );
    }
    println!();
    for key in &l.hidden {
        eprintln!(
            "coffer: warning: {key} is needed but hidden by a delete marker (someone deleted it): remove the marker (its version id from `aws s3api list-object-versions`) to bring it back"
        );
    }
    if !l.overwritten.is_empty() {
        eprintln!(
            "coffer: warning: {} object(s) have older versions (overwritten by someone, or a write was retried); the older bytes are kept. First: {}",
            l.overwritten.len(),
            l.overwritten[0]
        );
    }
}
