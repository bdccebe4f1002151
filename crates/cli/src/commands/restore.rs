use crate::args::RestoreArgs;
use crate::output::size;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::Result;
use coffer_core::error::EXIT_INCOMPLETE;
use coffer_core::progress::Progress;
use coffer_core::restore::{RestoreOptions, restore};
use std::path::Path;

struct Warnings;

impl Progress for Warnings {
    fn warning(&self, _path: &Path, message: &str) {
        eprintln!("warning: {message}");
    }
}

pub fn run(a: RestoreArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let snap = repo.find_snapshot(&a.snapshot, &snapshot_filter(&a.filter))?;
    let mut opts = RestoreOptions::new(a.target);
    opts.include = a.include;
    opts.exclude = a.exclude;
    opts.numeric_owner = a.numeric_owner;
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    let r = restore(&repo, snap.snapshot.tree, &opts, &Warnings)?;
    if s.json {
        crate::output::json(&serde_json::json!({
            "message_type": "summary",
            "snapshot_id": snap.id,
            "files": r.files, "dirs": r.dirs, "other": r.other, "bytes": r.bytes,
            "failed": r.failed.iter().map(|f| serde_json::json!({"path": f.path.to_string_lossy(), "error": f.error.to_string()})).collect::<Vec<_>>(),
        }))?;
    } else if !s.quiet {
        println!(
            "restored snapshot {} to {}: {} files ({}), {} directories, {} other entries",
            snap.id.short(),
            opts.target.display(),
            r.files,
            size(r.bytes),
            r.dirs,
            r.other
        );
    }
    if !r.failed.is_empty() {
        if !s.json {
            eprintln!(
                "warning: {} path(s) could not be restored completely:",
                r.failed.len()
            );
            for f in &r.failed {
                eprintln!("  {}", f.error);
            }
        }
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}
