//! `coffer tag`: add, remove or set the tags of snapshots; each changed
//! snapshot is replaced by one with the new tags (its data untouched).

use crate::args::TagArgs;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::{Result, TagOptions, TagResult, tag};

/// `a,b` and repeats, as one list.
fn split(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn run(a: TagArgs, s: &Settings) -> Result<i32> {
    let opts = TagOptions {
        ids: a.snapshots.clone(),
        filter: snapshot_filter(&a.filter),
        add: split(&a.add),
        remove: split(&a.remove),
        set: a.set_given().then(|| split(&a.set)),
        dry_run: a.dry_run,
    };
    let repo = std::sync::Arc::new(s.open()?);
    let r = tag(&repo, &opts)?;
    if s.json {
        crate::output::json(&serde_json::json!({
            "dry_run": a.dry_run,
            "changed": r.changed,
            "unchanged": r.unchanged,
        }))?;
    } else {
        text(&r, a.dry_run, s.quiet);
    }
    Ok(0)
}

fn text(r: &TagResult, dry_run: bool, quiet: bool) {
    if !quiet {
        for c in &r.changed {
            let new = c
                .new
                .map(|n| format!(" -> {}", n.short()))
                .unwrap_or_default();
            println!("{}{new}: tags [{}]", c.old.short(), c.tags.join(", "));
        }
    }
    let verb = if dry_run { "would change" } else { "changed" };
    println!(
        "{verb} {} snapshot(s); {} already had these tags",
        r.changed.len(),
        r.unchanged.len()
    );
}
