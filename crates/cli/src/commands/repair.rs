//! `coffer repair index|snapshots`: bring a damaged repository back to one
//! `check` passes (see docs/MAINTENANCE.md#repair). Each names what it
//! dropped; the exit code is 0 once the repair is written.

use crate::settings::Settings;
use clap::{Args, Subcommand};
use coffer_core::Result;
use coffer_core::{
    RepairIndexReport, RepairSnapshotsOptions, RepairSnapshotsReport, repair_index,
    repair_snapshots,
};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum RepairCommand {
    /// Rebuild the index from readable index objects and pack headers
    Index,
    /// Rewrite snapshots that refer to lost data, leaving out what is lost
    Snapshots(RepairSnapshotsArgs),
}

#[derive(Args, Debug)]
pub struct RepairSnapshotsArgs {
    /// Show what would be rewritten; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

pub fn run(c: RepairCommand, s: &Settings) -> Result<i32> {
    // The repair reads the store itself: a cached copy must not hide damage.
    let s = s.uncached();
    match c {
        RepairCommand::Index => {
            let repo = Arc::new(s.open_without_index()?);
            let r = repair_index(&repo)?;
            match s.json {
                true => crate::output::json(&r)?,
                false => index_text(&r, s.quiet),
            }
        }
        RepairCommand::Snapshots(a) => {
            let repo = s.open()?;
            let opts = RepairSnapshotsOptions {
                dry_run: a.dry_run,
                connections: s.connections,
            };
            let r = repair_snapshots(&repo, &opts)?;
            match s.json {
                true => crate::output::json(&r)?,
                false => snapshots_text(&r, s.quiet),
            }
        }
    }
    Ok(0)
}

fn index_text(r: &RepairIndexReport, quiet: bool) {
    for e in &r.index_damaged {
        eprintln!("coffer: warning: damaged index object replaced: {e}");
    }
    for k in &r.packs_missing {
        eprintln!("coffer: warning: pack is missing, its blobs are lost: {k}");
    }
    for e in &r.packs_unreadable {
        eprintln!("coffer: warning: pack header cannot be read, pack left out: {e}");
    }
    if !quiet {
        println!(
            "read {} index objects ({} damaged); {} packs from the index, {} from their headers, {} missing; wrote {} index objects, deleted {}",
            r.index_read,
            r.index_damaged.len(),
            r.packs_kept,
            r.packs_from_headers,
            r.packs_missing.len(),
            r.index_written,
            r.index_deleted
        );
    }
}

fn snapshots_text(r: &RepairSnapshotsReport, quiet: bool) {
    for u in &r.unrepairable {
        eprintln!("coffer: warning: {u}; `coffer forget` it");
    }
    for s in &r.repaired {
        for l in &s.lost {
            eprintln!("coffer: warning: snapshot {}: lost /{l}", s.id.short());
        }
        if !quiet {
            match &s.new_id {
                Some(n) => println!(
                    "snapshot {} rewritten as {} (tag repaired): {} entries left out",
                    s.id.short(),
                    n.short(),
                    s.lost.len()
                ),
                None => println!(
                    "snapshot {} would be rewritten: {} entries left out",
                    s.id.short(),
                    s.lost.len()
                ),
            }
        }
    }
    if !quiet {
        println!(
            "{} snapshots, {} {}repaired",
            r.snapshots,
            r.repaired.len(),
            if r.dry_run { "would be " } else { "" }
        );
    }
}
