use crate::args::BackupArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::backup::{BackupOptions, backup};
use coffer_core::error::EXIT_INCOMPLETE;
use coffer_core::id::SnapshotId;
use coffer_core::store::StorageClass;
use coffer_core::{Error, Result};
use std::path::PathBuf;

fn read_exclude_file(f: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| Error::io("cannot read exclude file", f.display(), e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

pub fn run(a: BackupArgs, s: &Settings) -> Result<i32> {
    let (repo, created) = s.open_or_create_local()?;
    if created && !s.quiet && !s.json {
        eprintln!(
            "created new repository {} at {}",
            repo.config().id.short(),
            s.repo
        );
    }
    let mut opts = BackupOptions::new(a.paths);
    opts.tags = a.tags;
    if let Some(h) = a.host {
        opts.host = h;
    }
    opts.excludes = a.excludes;
    for f in &a.exclude_files {
        opts.excludes.extend(read_exclude_file(f)?);
    }
    opts.one_file_system = a.one_file_system;
    opts.force = a.force;
    opts.connections = s.connections;
    opts.data_storage_class = match a.data_storage_class.as_deref() {
        None | Some("STANDARD") => StorageClass::Standard,
        Some("STANDARD_IA") => StorageClass::StandardIa,
        Some("ONEZONE_IA") => StorageClass::OnezoneIa,
        Some("INTELLIGENT_TIERING") => StorageClass::IntelligentTiering,
        Some("GLACIER_IR") => StorageClass::GlacierIr,
        Some(other) => return Err(Error::invalid(format!("unknown storage class {other}"))),
    };
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    if s.is_local() {
        // Never back up the repository into itself.
        if let Ok(p) = std::path::absolute(&s.repo) {
            opts.exclude_paths.push(p);
        }
    }
    opts.parent = match &a.parent {
        Some(p) => Some(repo.find_snapshot(p, &Default::default())?.id),
        None => None,
    };
    let reporter = crate::progress::Reporter::new(s.json, s.quiet, "backed up");
    let r = backup(repo, &opts, &reporter);
    reporter.finish();
    let r = r?;
    let sum = &r.snapshot.summary;
    if s.json {
        crate::output::json(&serde_json::json!({
            "message_type": "summary",
            "snapshot_id": r.id,
            "parent": r.parent.map(|p: SnapshotId| p.to_hex()),
            "summary": sum,
            "skipped": r.skipped.iter().map(|k| serde_json::json!({"path": k.path.to_string_lossy(), "error": k.error.to_string()})).collect::<Vec<_>>(),
        }))?;
    } else if !s.quiet {
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
    if !r.skipped.is_empty() {
        if !s.json {
            eprintln!(
                "warning: {} path(s) could not be backed up:",
                r.skipped.len()
            );
            for k in &r.skipped {
                eprintln!("  {}", k.error);
            }
        }
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}
