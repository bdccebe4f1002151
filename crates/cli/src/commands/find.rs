//! `coffer find PATTERN`: the snapshots holding matching paths, with the
//! size and mtime each has there.

use crate::args::FindArgs;
use crate::output::{size, time, time_rfc3339};
use crate::settings::{Settings, select_snapshots};
use coffer_core::Result;
use coffer_core::{Pattern, find};

pub fn run(a: FindArgs, s: &Settings) -> Result<i32> {
    let pattern = Pattern::new(&a.pattern, a.ignore_case)?;
    let repo = s.open()?;
    let snaps = select_snapshots(&repo, &a.snapshots, &a.filter)?;
    let mut found = Vec::new();
    let n = find(&repo, &snaps, &pattern, &mut |snap, path, node| {
        let path = path.to_string_lossy();
        if s.json {
            found.push(serde_json::json!({
                "snapshot": snap.id,
                "snapshot_time": time_rfc3339(snap.snapshot.time),
                "host": snap.snapshot.host,
                "path": path,
                "type": node.kind,
                "size": node.size,
                "mtime": time_rfc3339(node.mtime),
            }));
        } else {
            println!(
                "{}  {}  {:>10}  {}  {path}",
                snap.id.short(),
                time(snap.snapshot.time, s.utc),
                size(node.size),
                time(node.mtime, s.utc)
            );
        }
        Ok(())
    })?;
    if s.json {
        crate::output::json(&found)?;
    } else if !s.quiet {
        println!("{n} match(es) in {} snapshot(s) searched", snaps.len());
    }
    Ok(0)
}
