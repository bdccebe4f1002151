//! Showing the thaw step of a command that needs archived data: which
//! packs, what restoring them costs at each tier and how long it takes,
//! the restores asked for, the wait. Text on stderr; with `--json`, one
//! JSON line each on stdout (where the other JSON goes).

use crate::output::size;
use coffer_core::{ColdClass, ColdEvent, Prices, StorageClass, Tier};
use std::io::Write;

/// How long S3 takes to restore an object of `class` at `tier` (AWS's
/// published times).
fn wait(class: StorageClass, tier: Tier) -> &'static str {
    match (class, tier) {
        (StorageClass::DeepArchive, Tier::Standard) => "within 12 hours",
        (StorageClass::DeepArchive, _) => "within 48 hours",
        (_, Tier::Expedited) => "1-5 minutes",
        (_, Tier::Standard) => "3-5 hours",
        (_, Tier::Bulk) => "5-12 hours",
    }
}

/// One line per tier the class offers: price of restoring its frozen packs
/// for `days` days, and the wait.
fn tiers(c: &ColdClass, days: u32, prices: &Prices) -> Vec<(Tier, f64, &'static str)> {
    let Some(class) = StorageClass::parse(c.class) else {
        return Vec::new();
    };
    Tier::ALL
        .into_iter()
        .filter_map(|t| {
            prices
                .thaw(class, t, c.frozen_packs, c.frozen_bytes, days)
                .map(|usd| (t, usd, wait(class, t)))
        })
        .collect()
}

/// A price as people read one: `$1.23`, `under $0.01`.
fn dollars(usd: f64) -> String {
    if usd > 0.0 && usd < 0.005 {
        "under $0.01".into()
    } else {
        format!("${usd:.2}")
    }
}

/// The text of `event` (several lines for a plan).
fn text(event: &ColdEvent, days: u32, prices: &Prices) -> String {
    match event {
        ColdEvent::Plan(classes) => {
            let mut out = String::new();
            for c in classes {
                out += &format!(
                    "archived data needed: {} pack(s) in {} ({}): {} not restored, {} being restored, {} restored\n",
                    c.packs,
                    c.class,
                    size(c.bytes),
                    c.frozen_packs,
                    c.thawing_packs,
                    c.packs - c.frozen_packs - c.thawing_packs
                );
                if c.frozen_packs > 0 {
                    for (t, usd, w) in tiers(c, days, prices) {
                        out += &format!(
                            "  --cold-restore {:<9}  {} ({} kept {days} day(s)), ready {w}\n",
                            t.name(),
                            dollars(usd),
                            size(c.frozen_bytes)
                        );
                    }
                }
            }
            out
        }
        ColdEvent::Requested { packs, tier, days } => format!(
            "asked S3 to restore {packs} pack(s) at tier {tier}, readable for {days} day(s)\n"
        ),
        ColdEvent::Waiting { ready, total } => {
            format!("archived packs readable: {ready} of {total}\n")
        }
    }
}

fn json(event: &ColdEvent) -> serde_json::Value {
    match event {
        ColdEvent::Plan(classes) => serde_json::json!({
            "message_type": "cold_plan",
            "classes": classes.iter().map(|c| serde_json::json!({
                "class": c.class, "packs": c.packs, "bytes": c.bytes,
                "frozen_packs": c.frozen_packs, "frozen_bytes": c.frozen_bytes,
                "thawing_packs": c.thawing_packs,
            })).collect::<Vec<_>>(),
        }),
        ColdEvent::Requested { packs, tier, days } => serde_json::json!({
            "message_type": "cold_requested", "packs": packs, "tier": tier, "days": days,
        }),
        ColdEvent::Waiting { ready, total } => serde_json::json!({
            "message_type": "cold_waiting", "ready": ready, "total": total,
        }),
    }
}

/// Prints `event`; `days` is `--cold-days` (for the prices of a plan).
pub fn show(event: &ColdEvent, as_json: bool, days: u32) {
    if as_json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", json(event));
        let _ = out.flush();
    } else {
        eprint!("{}", text(event, days, &Prices::us_east_1()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_prices_each_tier_the_class_offers() {
        let plan = ColdEvent::Plan(vec![ColdClass {
            class: "DEEP_ARCHIVE",
            packs: 3,
            bytes: 3 << 30,
            frozen_packs: 2,
            frozen_bytes: 2 << 30,
            thawing_packs: 1,
        }]);
        let t = text(&plan, 2, &Prices::us_east_1());
        assert!(t.contains("3 pack(s) in DEEP_ARCHIVE"), "{t}");
        assert!(
            t.contains("2 not restored, 1 being restored, 0 restored"),
            "{t}"
        );
        assert!(
            !t.contains("Expedited"),
            "Deep Archive has no Expedited: {t}"
        );
        assert!(t.contains("--cold-restore Bulk"), "{t}");
        assert!(t.contains("within 48 hours"), "{t}");
    }
}
