//! `coffer forget`: per group, which snapshots are kept and why; removes the
//! others' snapshot objects (not with --dry-run).

use crate::args::ForgetArgs;
use crate::output::{TIME_WIDTH, time, time_rfc3339};
use crate::settings::{Settings, snapshot_filter};
use coffer_core::Result;
use coffer_core::{ForgetGroup, ForgetOptions, ForgetResult, forget_with};
use coffer_core::{GroupBy, GroupKey, Zone};
use std::sync::Arc;

pub fn run(a: ForgetArgs, s: &Settings) -> Result<i32> {
    let opts = options(&a, s.utc)?;
    let prune_opts = match a.prune {
        true => Some(super::prune::options(&a.tuning, a.dry_run, s)?),
        false => None,
    };
    let repo = Arc::new(s.open_without_index()?);
    let reporter = crate::progress::Reporter::terminal_only(s, "removed");
    let result = forget_with(&repo, &opts, &reporter);
    reporter.finish();
    let result = result?;
    if !a.dry_run {
        crate::metrics::record("coffer_snapshots_removed", result.removed.len() as f64);
    }
    if s.json {
        json(&result, a.dry_run)?;
    } else {
        text(&result, a.dry_run, s.quiet, s.utc);
    }
    match prune_opts {
        Some(p) => super::prune::run_with(&repo, &p, s),
        None => Ok(0),
    }
}

/// The options `a` gives; days, weeks, months and years are counted in the
/// zone the times are printed in (local, or UTC with `--utc`).
pub fn options(a: &ForgetArgs, utc: bool) -> Result<ForgetOptions> {
    Ok(ForgetOptions {
        policy: crate::settings::policy(&a.keep)?,
        group_by: GroupBy::parse(&a.group_by)?,
        filter: snapshot_filter(&a.filter),
        ids: a.snapshots.clone(),
        dry_run: a.dry_run,
        now: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
        zone: if utc { Zone::Utc } else { Zone::Local },
    })
}

fn describe(k: &GroupKey) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &k.host {
        parts.push(format!("host {h}"));
    }
    if let Some(p) = &k.paths {
        parts.push(format!("paths {}", p.join(" ")));
    }
    if let Some(t) = &k.tags {
        parts.push(format!("tags {}", t.join(",")));
    }
    if parts.is_empty() {
        "all snapshots".into()
    } else {
        parts.join(", ")
    }
}

fn text(r: &ForgetResult, dry_run: bool, quiet: bool, utc: bool) {
    if !quiet {
        for g in &r.groups {
            print_group(g, utc);
        }
    }
    let n = r.removed.len();
    let verb = if dry_run { "would remove" } else { "removed" };
    println!("{verb} {n} snapshot(s)");
}

fn print_group(g: &ForgetGroup, utc: bool) {
    println!("{}:", describe(&g.key));
    for d in &g.decisions {
        let sn = &d.snapshot.snapshot;
        println!(
            "  {:<6}  {:<8}  {:<TIME_WIDTH$}  {:<16}  {}",
            if d.keep { "keep" } else { "remove" },
            d.snapshot.id.short(),
            time(sn.time, utc),
            sn.tags.join(","),
            d.reasons.join(", ")
        );
    }
}

fn json(r: &ForgetResult, dry_run: bool) -> Result<()> {
    let groups: Vec<_> = r
        .groups
        .iter()
        .map(|g| {
            let snaps: Vec<_> = g
                .decisions
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "id": d.snapshot.id,
                        "short_id": d.snapshot.id.short(),
                        "time": time_rfc3339(d.snapshot.snapshot.time),
                        "host": d.snapshot.snapshot.host,
                        "paths": d.snapshot.snapshot.paths,
                        "tags": d.snapshot.snapshot.tags,
                        "keep": d.keep,
                        "reasons": d.reasons,
                    })
                })
                .collect();
            serde_json::json!({ "group": g.key, "snapshots": snaps })
        })
        .collect();
    crate::output::json(&serde_json::json!({
        "dry_run": dry_run,
        "groups": groups,
        "removed": r.removed,
    }))
}
