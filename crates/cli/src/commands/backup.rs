use crate::args::BackupArgs;
use crate::output::size;
use crate::progress::{FileList, Reporter};
use crate::settings::Settings;
use coffer_core::EXIT_INCOMPLETE;
use coffer_core::id::SnapshotId;
use coffer_core::{BackupOptions, BackupResult, Skipped, WarmUp, backup};
use coffer_core::{Error, Result};
use coffer_core::{SERVER_EXCLUDES, swap_files};
use std::path::PathBuf;

/// The lines of a list file (`--exclude-file`, `--files-from`): blank
/// lines and lines starting with '#' are skipped; `what` names it in errors.
pub fn read_list(f: &PathBuf, what: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| Error::io(format!("cannot read {what}"), f.display(), e))?;
    Ok(text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.trim().to_string())
        .collect())
}

/// Applies `--preset server`: `/` unless paths were given, one filesystem,
/// the recommended excludes and the active swap files.
fn server_preset(opts: &mut BackupOptions) {
    if opts.paths.is_empty() {
        opts.paths.push(PathBuf::from("/"));
    }
    opts.one_file_system = true;
    opts.excludes
        .extend(SERVER_EXCLUDES.iter().map(|p| p.to_string()));
    if let Ok(swaps) = std::fs::read_to_string("/proc/swaps") {
        opts.exclude_paths.extend(swap_files(&swaps));
    }
}

/// Removes the source paths that do not exist and returns why each went:
/// one mistyped or unmounted path must not stop the backup of the others
/// (it is reported, and the exit code is 3).
fn drop_missing(paths: &mut Vec<PathBuf>) -> Vec<Error> {
    let mut missing = Vec::new();
    paths.retain(|p| match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            missing.push(Error::io("source path does not exist", p.display(), e));
            false
        }
        _ => true,
    });
    missing
}

pub fn run(a: BackupArgs, s: &Settings) -> Result<i32> {
    if a.stdin || a.stdin_from_command {
        return super::backup_stream::run(a, s);
    }
    let (mut opts, missing) = sources(&a)?;
    tune(&mut opts, &a, s)?;
    // The tree's metadata is read into the kernel's caches while the key
    // is derived and the index loaded; stopped before the backup starts.
    let warm_up = WarmUp::start(&opts);
    // A dry run never creates a repository.
    let repo = if a.dry_run {
        s.open()
    } else {
        s.open_or_create_announced()
    };
    drop(warm_up);
    let repo = repo?;
    opts.parent = match &a.parent {
        Some(p) => Some(repo.find_snapshot(p, &Default::default())?.id),
        None => None,
    };
    if a.dry_run {
        return dry_run(repo, &opts, &missing, s);
    }
    let files = if s.verbose >= 2 {
        FileList::Stderr
    } else {
        FileList::Off
    };
    let reporter = Reporter::new(s.json, s.quiet, "backed up").list_files(files);
    let r = backup(repo, &opts, &reporter);
    reporter.finish();
    let r = r?;
    let _ = crate::hooks::SNAPSHOT_ID.set(r.id.to_hex());
    crate::metrics::record_backup(&r.snapshot.summary);
    if s.json {
        summary_json(&r, &missing, s)?;
    } else if !s.quiet {
        print_summary(&r);
    }
    Ok(warn_incomplete(&r, &missing, s))
}

/// What to back up and what to leave out, from the arguments (with the
/// list files read and the preset applied), and the given paths that do
/// not exist, dropped from the backup. An error when no path is left.
fn sources(a: &BackupArgs) -> Result<(BackupOptions, Vec<Error>)> {
    let mut opts = BackupOptions::new(a.paths.clone());
    for f in &a.files_from {
        opts.paths.extend(
            read_list(f, "--files-from file")?
                .into_iter()
                .map(PathBuf::from),
        );
    }
    opts.tags = a.tags.clone();
    if let Some(h) = &a.host {
        opts.host = h.clone();
    }
    opts.excludes = a.excludes.clone();
    for f in &a.exclude_files {
        opts.excludes.extend(read_list(f, "exclude file")?);
    }
    opts.exclude_if_present = a.exclude_if_present.clone();
    opts.exclude_caches = a.exclude_caches;
    opts.one_file_system = a.one_file_system;
    if a.preset.as_deref() == Some("server") {
        server_preset(&mut opts);
    }
    if opts.paths.is_empty() {
        return Err(Error::invalid(
            "nothing to back up: the --files-from list is empty",
        ));
    }
    let missing = drop_missing(&mut opts.paths);
    if opts.paths.is_empty() {
        return Err(missing
            .into_iter()
            .next()
            .unwrap_or_else(|| Error::invalid("nothing to back up: no path given")));
    }
    Ok((opts, missing))
}

/// How the backup runs: `--force`, connections, storage class, threads,
/// and a local repository left out of its own backup.
fn tune(opts: &mut BackupOptions, a: &BackupArgs, s: &Settings) -> Result<()> {
    opts.force = a.force;
    // Writing a pack to a local disk is quick: one writer keeps up, and
    // every pack waiting for a writer is 32 MiB of memory. Measured on the
    // 3 GiB benchmark tree: two writers were 3-5 % faster but peaked at
    // 174 MiB instead of 145-157 MiB (restic: 159-165 MiB).
    opts.connections = if s.is_local() { 1 } else { s.connections };
    opts.data_storage_class = crate::settings::storage_class(a.data_storage_class.as_deref())?;
    opts.requests = s.request_log();
    opts.archive_pack_size = a.archive_pack_size;
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    if s.is_local() {
        // Never back up the repository into itself.
        if let Ok(p) = std::path::absolute(&s.repo) {
            opts.exclude_paths.push(p);
        }
    }
    Ok(())
}

/// The text summary of a backup: parent, file counts, bytes, snapshot id.
fn print_summary(r: &BackupResult) {
    let sum = &r.snapshot.summary;
    match r.parent {
        Some(p) => println!("using parent snapshot {}", p.short()),
        None => println!("no parent snapshot: reading every file"),
    }
    println!(
        "files: {} new, {} changed, {} unchanged; {} directories, {} other entries",
        sum.files_new, sum.files_changed, sum.files_unchanged, sum.dirs, sum.other_entries
    );
    println!(
        "read {} of {}; added {} new data ({} stored after compression) in {:.1}s",
        size(sum.bytes_read),
        size(sum.total_bytes),
        size(sum.bytes_new),
        size(sum.bytes_stored),
        sum.duration_ns as f64 / 1e9
    );
    println!("snapshot {} saved", r.id.short());
}

/// Warns (unless `--json`) of files that changed while read and of paths
/// not backed up; returns the exit code: 3 when a path was not backed up.
fn warn_incomplete(r: &BackupResult, missing: &[Error], s: &Settings) -> i32 {
    if !r.changed.is_empty() && !s.json {
        eprintln!(
            "warning: {} file(s) changed while they were read (the snapshot holds what was read):",
            r.changed.len()
        );
        for p in &r.changed {
            eprintln!("  {}", p.display());
        }
    }
    if !r.skipped.is_empty() || !missing.is_empty() {
        if !s.json {
            eprintln!(
                "warning: {} path(s) could not be backed up:",
                r.skipped.len() + missing.len()
            );
            for e in missing.iter().chain(r.skipped.iter().map(|k| &k.error)) {
                eprintln!("  {e}");
            }
        }
        return EXIT_INCOMPLETE;
    }
    0
}

/// `backup --dry-run`: each file that would be read, then what would be
/// added. Exit code as a backup's (3 when a path could not be read).
fn dry_run(
    repo: std::sync::Arc<coffer_core::Repository>,
    opts: &BackupOptions,
    missing: &[Error],
    s: &Settings,
) -> Result<i32> {
    let reporter = Reporter::new(s.json, s.quiet, "read").list_files(FileList::Stdout);
    let r = coffer_core::backup_dry_run(repo, opts, &reporter);
    reporter.finish();
    let r = r?;
    let sum = &r.summary;
    if s.json {
        crate::output::json(&serde_json::json!({
            "message_type": "summary",
            "dry_run": true,
            "parent": r.parent.map(|p| p.to_hex()),
            "summary": sum,
            "skipped": skipped_json(missing, &r.skipped),
            "retries": s.retries(),
        "requests": s.requests(),
        }))?;
    } else {
        if let Some(p) = r.parent {
            println!("using parent snapshot {}", p.short());
        }
        println!(
            "dry run: {} new, {} modified, {} unchanged files; would read {} of {} and add {} new data ({} stored after compression); nothing was written",
            sum.files_new,
            sum.files_changed,
            sum.files_unchanged,
            size(sum.bytes_read),
            size(sum.total_bytes),
            size(sum.bytes_new),
            size(sum.bytes_stored),
        );
        for e in missing.iter().chain(r.skipped.iter().map(|k| &k.error)) {
            eprintln!("warning: would not be backed up: {e}");
        }
    }
    if !r.skipped.is_empty() || !missing.is_empty() {
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

/// The paths a backup (or a dry run) left out, for `--json`: the given
/// paths that do not exist, then what could not be read.
fn skipped_json(missing: &[Error], skipped: &[Skipped]) -> Vec<serde_json::Value> {
    let missing = missing
        .iter()
        .map(|e| serde_json::json!({"path": e.location(), "error": e.to_string()}));
    let unreadable = skipped.iter().map(
        |k| serde_json::json!({"path": k.path.to_string_lossy(), "error": k.error.to_string()}),
    );
    missing.chain(unreadable).collect()
}

/// The `--json` summary of a backup (of files or of a stream).
pub fn summary_json(r: &BackupResult, missing: &[Error], s: &Settings) -> Result<()> {
    crate::output::json(&serde_json::json!({
        "message_type": "summary",
        "snapshot_id": r.id,
        "parent": r.parent.map(|p: SnapshotId| p.to_hex()),
        "summary": &r.snapshot.summary,
        "skipped": skipped_json(missing, &r.skipped),
        "changed_while_reading": r.changed.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "retries": s.retries(),
        "requests": s.requests(),
    }))
}
