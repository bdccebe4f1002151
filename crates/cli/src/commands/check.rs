use crate::args::CheckArgs;
use crate::settings::Settings;
use coffer_core::Result;
use coffer_core::maintain::check::{CheckOptions, check};

pub fn run(a: CheckArgs, s: &Settings) -> Result<i32> {
    let repo = s.open_without_index()?;
    let report = check(
        &repo,
        CheckOptions {
            read_data: a.read_data,
        },
    )?;
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
                "checked {} snapshots, {} trees, {} packs{}: {}",
                report.snapshots,
                report.trees,
                report.packs,
                if a.read_data {
                    format!(", {} blobs read", report.blobs_read)
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
