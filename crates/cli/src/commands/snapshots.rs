use crate::args::SnapshotsArgs;
use crate::output::{TIME_WIDTH, size, time, time_rfc3339};
use crate::settings::{Settings, snapshot_filter};
use coffer_core::Result;

pub fn run(a: SnapshotsArgs, s: &Settings) -> Result<i32> {
    let repo = s.open_without_index()?;
    let filter = snapshot_filter(&a.filter);
    let snaps: Vec<_> = repo
        .snapshots()?
        .into_iter()
        .filter(|r| filter.matches(&r.snapshot))
        .collect();
    if s.json {
        let list: Vec<_> = snaps
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "short_id": r.id.short(),
                    "time": time_rfc3339(r.snapshot.time),
                    "host": r.snapshot.host,
                    "user": r.snapshot.user,
                    "paths": r.snapshot.paths,
                    "tags": r.snapshot.tags,
                    "tree": r.snapshot.tree,
                    "parent": r.snapshot.parent,
                    "summary": r.snapshot.summary,
                })
            })
            .collect();
        crate::output::json(&list)?;
        return Ok(0);
    }
    println!(
        "{:<8}  {:<TIME_WIDTH$}  {:<16}  {:<16}  {:>10}  paths",
        "id", "time", "host", "tags", "size"
    );
    for r in &snaps {
        let sn = &r.snapshot;
        println!(
            "{:<8}  {:<TIME_WIDTH$}  {:<16}  {:<16}  {:>10}  {}",
            r.id.short(),
            time(sn.time, s.utc),
            sn.host,
            sn.tags.join(","),
            size(sn.summary.total_bytes),
            sn.paths.join(" ")
        );
    }
    if !s.quiet {
        println!("{} snapshot(s)", snaps.len());
    }
    Ok(0)
}
