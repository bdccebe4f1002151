use crate::args::RestoreArgs;
use crate::output::size;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::EXIT_INCOMPLETE;
use coffer_core::id::SnapshotId;
use coffer_core::{ChangeKind, Overwrite, RestoreOptions, RestoreResult, restore};
use coffer_core::{Error, Result};
use std::path::PathBuf;

fn overwrite(s: &str) -> Result<Overwrite> {
    Ok(match s {
        "always" => Overwrite::Always,
        "if-changed" => Overwrite::IfChanged,
        "if-newer" => Overwrite::IfNewer,
        "never" => Overwrite::Never,
        other => return Err(Error::invalid(format!("unknown --overwrite mode {other}"))),
    })
}

fn change_word(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::New => "new",
        ChangeKind::Replace => "replace",
        ChangeKind::Update => "update",
        ChangeKind::Delete => "delete",
    }
}

pub fn run(a: RestoreArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let snap = repo.find_snapshot(&a.snapshot, &snapshot_filter(&a.filter))?;
    let mut opts = RestoreOptions::new(a.target);
    opts.include = a.include;
    opts.exclude = a.exclude;
    opts.numeric_owner = a.numeric_owner;
    opts.keep_setid = a.keep_setid;
    opts.overwrite = overwrite(&a.overwrite)?;
    opts.delete = a.delete;
    opts.snapshot_paths = snap.snapshot.paths.iter().map(PathBuf::from).collect();
    opts.dry_run = a.dry_run;
    opts.verify = a.verify;
    opts.cold = a.cold.options()?;
    // A local store gains nothing from fetches beyond the cores (measured:
    // slower and more memory); a remote one keeps a core busy per waiting GET.
    opts.connections = if s.is_local() { 1 } else { s.connections };
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    let reporter = crate::progress::Reporter::new(s.json, s.quiet || a.dry_run, "restored")
        .cold_days(a.cold.cold_days);
    let r = restore(&repo, snap.snapshot.tree, &opts, &reporter);
    reporter.finish();
    let r = r?;
    if s.json {
        summary_json(&r, snap.id, a.dry_run, s)?;
    } else {
        print_changes(&r);
        if a.dry_run {
            print_dry_run(&r, snap.id, &opts);
        } else if !s.quiet {
            print_summary(&r, snap.id, &opts);
        }
        warn_incomplete(&r);
    }
    if !r.failed.is_empty() || !r.metadata_failed.is_empty() || !r.unmatched.is_empty() {
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

/// The `--json` summary of a restore (or of a dry run).
fn summary_json(r: &RestoreResult, id: SnapshotId, dry_run: bool, s: &Settings) -> Result<()> {
    let path_list = |v: &[PathBuf]| {
        v.iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    crate::output::json(&serde_json::json!({
        "message_type": "summary",
        "snapshot_id": id,
        "dry_run": dry_run,
        "retries": s.retries(),
        "requests": s.requests(),
        "files": r.files, "dirs": r.dirs, "other": r.other, "bytes": r.bytes,
        "kept": r.kept, "deleted": r.deleted, "verified": r.verified,
        "skipped_sockets": path_list(&r.sockets),
        "changes": r.changes.iter().map(|c| serde_json::json!({"change": change_word(c.kind), "path": c.path.to_string_lossy()})).collect::<Vec<_>>(),
        "failed": r.failed.iter().map(|f| serde_json::json!({"path": f.path.to_string_lossy(), "error": f.error.to_string()})).collect::<Vec<_>>(),
        "metadata_failed": r.metadata_failed.iter().map(|f| serde_json::json!({"path": f.path.to_string_lossy(), "error": f.error.to_string()})).collect::<Vec<_>>(),
        "unmatched_includes": r.unmatched,
    }))
}

/// One line per change made (or that a dry run would make), then one per
/// socket skipped.
fn print_changes(r: &RestoreResult) {
    for c in &r.changes {
        println!("{:<7} {}", change_word(c.kind), c.path.display());
    }
    // Sockets are recorded but never recreated: the program that listens
    // on one makes it. Not an error: one line each, the restore succeeds.
    for p in &r.sockets {
        eprintln!(
            "skipped socket (made by the program that listens on it): {}",
            p.display()
        );
    }
}

/// The closing line of `restore --dry-run`: the changes it would make, by kind.
fn print_dry_run(r: &RestoreResult, id: SnapshotId, opts: &RestoreOptions) {
    let count = |k| r.changes.iter().filter(|c| c.kind == k).count();
    println!(
        "dry run of snapshot {} to {}: {} new, {} replaced, {} updated, {} deleted; nothing was changed",
        id.short(),
        opts.target.display(),
        count(ChangeKind::New),
        count(ChangeKind::Replace),
        count(ChangeKind::Update),
        count(ChangeKind::Delete),
    );
}

/// The text summary of a restore: what was restored, kept, deleted and
/// verified.
fn print_summary(r: &RestoreResult, id: SnapshotId, opts: &RestoreOptions) {
    let failed = if r.failed.is_empty() {
        String::new()
    } else {
        format!("; {} failed", r.failed.len())
    };
    println!(
        "restored snapshot {} to {}: {} files ({}), {} directories, {} other entries{failed}",
        id.short(),
        opts.target.display(),
        r.files,
        size(r.bytes),
        r.dirs,
        r.other
    );
    if r.kept > 0 || r.deleted > 0 {
        println!(
            "left {} existing entries as they were; deleted {}",
            r.kept, r.deleted
        );
    }
    if opts.verify {
        println!("verified {} files against the snapshot", r.verified);
    }
}

/// Warns of the paths not restored completely, those restored without all
/// their metadata, and the `--include` patterns that matched nothing.
fn warn_incomplete(r: &RestoreResult) {
    if !r.failed.is_empty() {
        eprintln!(
            "warning: {} path(s) could not be restored completely:",
            r.failed.len()
        );
        for f in &r.failed {
            eprintln!("  {}", f.error);
        }
    }
    if !r.metadata_failed.is_empty() {
        eprintln!(
            "warning: {} path(s) restored without all their metadata:",
            r.metadata_failed.len()
        );
        for f in &r.metadata_failed {
            eprintln!("  {}", f.error);
        }
    }
    for p in &r.unmatched {
        eprintln!("warning: --include {p} matches nothing in the snapshot");
    }
}
