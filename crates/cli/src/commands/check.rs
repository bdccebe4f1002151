use crate::args::CheckArgs;
use crate::settings::Settings;
use coffer_core::DataSubset;
use coffer_core::Result;
use coffer_core::{CheckOptions, check_with};
use std::sync::Arc;

pub fn run(a: CheckArgs, s: &Settings) -> Result<i32> {
    let subset = a
        .read_data_subset
        .as_deref()
        .map(DataSubset::parse)
        .transpose()?;
    // Read the store itself: damage behind a cached copy must not hide.
    let repo = Arc::new(s.uncached().open_without_index()?);
    // Shared: checks run side by side; prune and forget wait (exit code 11).
    let lock = match a.no_lock {
        true => None,
        false => Some(repo.lock(false, "check")?),
    };
    for l in lock.iter().flat_map(|l| l.stale.iter()) {
        eprintln!(
            "coffer: warning: stale lock {} ({}); `coffer unlock` removes it",
            l.key(),
            l.stale.as_deref().unwrap_or("")
        );
    }
    let reporter = crate::progress::Reporter::terminal_only(s, "read").cold_days(a.cold.cold_days);
    let report = check_with(
        &repo,
        CheckOptions {
            read_data: a.read_data,
            cold: a.cold.options()?,
        },
        subset,
        &reporter,
    );
    reporter.finish();
    let report = report?;
    if let Some(Err(e)) = lock.map(|l| l.release()) {
        eprintln!(
            "coffer: warning: cannot remove the check's lock, it goes stale in 30 minutes: {e}"
        );
    }
    if s.json {
        crate::output::json(&report)?;
    } else {
        for n in &report.notes {
            if !s.quiet {
                println!("note: {n}");
            }
        }
        for e in &report.errors {
            println!("error: {e}");
        }
        if !s.quiet || !report.ok() {
            println!(
                "checked {} snapshots{}, {} trees, {} packs{}: {}",
                report.snapshots,
                match report.catalogs {
                    0 => String::new(),
                    n => format!(" ({n} catalogs)"),
                },
                report.trees,
                report.packs,
                if a.read_data || subset.is_some() {
                    format!(
                        ", {} packs and {} blobs read",
                        report.packs_read, report.blobs_read
                    )
                } else {
                    String::new()
                },
                if report.ok() {
                    "no errors".to_string()
                } else {
                    format!("{} error(s)", report.errors.len())
                }
            );
        }
    }
    Ok(if report.ok() { 0 } else { 1 })
}
