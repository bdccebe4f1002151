//! `coffer diff A B`: changed paths (`+` added, `-` removed, `T` type
//! changed, `M` content modified, `U` metadata only) and totals.

use crate::args::DiffArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::Result;
use coffer_core::SnapshotFilter;
use coffer_core::{DiffChange as Change, DiffTotals, diff};

pub fn run(a: DiffArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let none = SnapshotFilter::default();
    let (sa, sb) = (
        repo.find_snapshot(&a.snapshot_a, &none)?,
        repo.find_snapshot(&a.snapshot_b, &none)?,
    );
    let mut changes = Vec::new();
    let totals = diff(&repo, sa.snapshot.tree, sb.snapshot.tree, &mut |e| {
        if e.change == Change::Metadata && !a.metadata {
            return Ok(());
        }
        let path = e.path.to_string_lossy().into_owned();
        if s.json {
            let node = |n: Option<&coffer_core::format::tree::Node>| {
                n.map(|n| serde_json::json!({ "type": n.kind, "size": n.size, "mtime": crate::output::time_rfc3339(n.mtime) }))
            };
            changes.push(serde_json::json!({
                "path": path,
                "change": e.change,
                "before": node(e.a),
                "after": node(e.b),
            }));
        } else {
            println!("{}  {path}", e.change.letter());
        }
        Ok(())
    })?;
    if s.json {
        return crate::output::json(&serde_json::json!({
            "snapshot_a": sa.id,
            "snapshot_b": sb.id,
            "changes": changes,
            "totals": totals,
        }))
        .map(|_| 0);
    }
    if !s.quiet {
        summary(&totals);
    }
    Ok(0)
}

fn summary(t: &DiffTotals) {
    println!();
    println!(
        "{} added, {} removed, {} type changed, {} modified, {} metadata only",
        t.added, t.removed, t.type_changed, t.modified, t.metadata
    );
    println!(
        "data: {} blob(s) added ({}), {} blob(s) removed ({})",
        t.blobs_added,
        size(t.bytes_added),
        t.blobs_removed,
        size(t.bytes_removed)
    );
}
