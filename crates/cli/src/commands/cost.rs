//! `coffer stats --cost`: what the repository costs a month on S3, by
//! storage class, and what the same data would cost as EBS snapshots or as
//! one full `tar.gz` a night (the arithmetic is `coffer_core`'s).

use crate::args::StatsArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::{Bill, Error, Prices, Result, repository_bill};

pub fn run(a: &StatsArgs, s: &Settings) -> Result<i32> {
    let prices = match &a.price_file {
        None => Prices::us_east_1(),
        Some(f) => read_prices(f)?,
    };
    let repo = s.open()?;
    let now = chrono::Utc::now().timestamp();
    let bill = repository_bill(&repo, &prices, a.tar_days, now)?;
    let local = !s.repo.starts_with("s3:");
    if s.json {
        crate::output::json(&serde_json::json!({
            "bill": bill,
            "local": local,
            "prices": prices,
        }))?;
        return Ok(0);
    }
    print_bill(&bill, local);
    Ok(0)
}

/// A price table from a JSON file (the shape `stats --cost --json` prints
/// under `prices`).
fn read_prices(file: &std::path::Path) -> Result<Prices> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io("cannot read the price file", file.display(), e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(format!("invalid price file ({e})")).with_location(file.display())
    })
}

/// Dollars, with the digits that matter for small bills.
fn dollars(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else if v >= 0.001 {
        format!("${v:.4}")
    } else if v >= 0.000_001 || v == 0.0 {
        format!("${v:.6}")
    } else {
        "< $0.000001".to_string()
    }
}

fn print_bill(b: &Bill, local: bool) {
    if local {
        println!("A local repository: no S3 bill. On S3 it would cost:");
    }
    println!(
        "{:<20} {:>8} {:>11} {:>11} {:>12}",
        "class", "objects", "stored", "billed", "per month"
    );
    for c in &b.classes {
        println!(
            "{:<20} {:>8} {:>11} {:>11} {:>12}",
            c.class,
            c.objects,
            size(c.bytes),
            size(c.billed_bytes),
            dollars(c.per_month)
        );
    }
    println!(
        "{:<20} {:>8} {:>11} {:>11} {:>12}",
        "total",
        b.objects,
        size(b.bytes),
        "",
        dollars(b.per_month)
    );
    for c in b.classes.iter().filter(|c| c.young_objects > 0) {
        println!(
            "{}: {} object{} inside the minimum storage duration; deleting them today would still be billed {}",
            c.class,
            c.young_objects,
            if c.young_objects == 1 { "" } else { "s" },
            dollars(c.early_delete_charge)
        );
    }
    println!(
        "as EBS snapshots: at least {} a month ({}, the latest snapshot of each host and path set)",
        dollars(b.ebs_per_month),
        size(b.ebs_bytes)
    );
    println!(
        "as one full tar.gz a night kept {} days: about {} a month ({} each, at this repository's compression)",
        b.tar_days,
        dollars(b.tar_per_month),
        size(b.tar_bytes)
    );
    if let Some(l) = &b.last_backup {
        let kinds: Vec<String> = l.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "the last backup (snapshot {}) made {} requests ({}): {} (PUTs priced as {})",
            &l.snapshot[..8.min(l.snapshot.len())],
            l.by_kind.values().sum::<u64>(),
            kinds.join(", "),
            dollars(l.cost),
            l.data_class
        );
    }
    println!("prices: {}", b.source);
}
