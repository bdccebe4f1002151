//! `coffer rewrite`: new snapshots without the files that match excludes.

use crate::args::RewriteArgs;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::{Result, RewriteOptions, RewriteResult, rewrite};

pub fn run(a: RewriteArgs, s: &Settings) -> Result<i32> {
    let mut excludes = a.excludes.clone();
    for f in &a.exclude_files {
        excludes.extend(super::backup::read_list(f, "exclude file")?);
    }
    let opts = RewriteOptions {
        ids: a.snapshots.clone(),
        filter: snapshot_filter(&a.filter),
        excludes,
        forget: a.forget,
        dry_run: a.dry_run,
        connections: s.connections,
    };
    let repo = std::sync::Arc::new(s.open()?);
    let r = rewrite(&repo, &opts)?;
    if s.json {
        crate::output::json(&serde_json::json!({
            "dry_run": a.dry_run,
            "rewritten": r.rewritten,
            "unchanged": r.unchanged,
        }))?;
    } else {
        text(&r, a.dry_run, s.quiet);
    }
    Ok(0)
}

fn text(r: &RewriteResult, dry_run: bool, quiet: bool) {
    if !quiet {
        for w in &r.rewritten {
            let new = w
                .new
                .map(|n| format!(" -> {}", n.short()))
                .unwrap_or_default();
            let gone = if w.forgotten {
                " (original deleted)"
            } else {
                ""
            };
            println!(
                "{}{new}{gone}: left out {} entries",
                w.old.short(),
                w.removed.len()
            );
            for p in &w.removed {
                println!("  - {p}");
            }
        }
    }
    let verb = if dry_run { "would rewrite" } else { "rewrote" };
    println!(
        "{verb} {} snapshot(s); {} had nothing matching",
        r.rewritten.len(),
        r.unchanged.len()
    );
}
