//! Retention: which snapshots a policy keeps. A pure function of the
//! snapshots, the policy and `now` — no I/O, no clock — so golden tests pin
//! it (`tests.rs`).
//!
//! Input: snapshots (any order), a [`Policy`], `now` in ns since the epoch.
//! Output: one [`Decision`] per snapshot, newest first, with `keep` and the
//! reasons it is kept.
//!
//! Semantics (restic's `forget`):
//! - `last N` keeps the N newest snapshots.
//! - `hourly/daily/weekly/monthly/yearly N` keep, going from the newest
//!   snapshot backwards, the newest snapshot of each period, for the last N
//!   periods *that have snapshots* (empty periods do not count).
//! - `within SPAN` keeps every snapshot strictly newer than the newest
//!   snapshot minus SPAN. The reference is the newest snapshot that is not
//!   after `now` (a snapshot from a host whose clock runs ahead does not
//!   move it; if every snapshot is in the future, `now` is the reference).
//!   Measuring from the newest snapshot, not from `now`, means that a
//!   backup job that stopped running does not make forget remove its last
//!   snapshots.
//! - `tags ["a,b", "c"]` keeps every snapshot that has all of a and b, or c.
//! - Policies combine: a snapshot is kept if any of them keeps it.
//! - An empty policy keeps everything (callers refuse to run with one).
//!
//! Periods are calendar periods in the time zone the caller names
//! ([`apply_policy_in`]; [`apply_policy`] counts in UTC): days start at
//! local midnight, weeks are ISO 8601 weeks, Monday to Sunday, numbered
//! within their ISO year. `coffer forget` counts in the zone it prints
//! times in (local, or UTC with `--utc`), so two snapshots it shows on one
//! day are never both kept as "daily". An hour that a DST change repeats
//! is one local hour. Ties (equal times) are ordered by snapshot id,
//! highest first, so the result is deterministic.
//!
//! The policy is not tied to repository snapshots: anything with a time, a
//! tie-breaking id and tags ([`Retained`]) can be kept or removed by it.
//! coffer_ec2 applies the same function to EBS snapshot sets, so
//! `coffer forget` and `coffer ec2 forget` cannot drift apart.

mod span;
#[cfg(test)]
mod tests;

pub use span::Span;

use crate::repo::SnapshotRef;
use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Timelike, Utc};
use std::collections::BTreeMap;

/// What to keep. Counts of 0 mean "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    pub within: Option<Span>,
    /// Each entry is a comma-separated set of tags that must all be present.
    pub tags: Vec<String>,
}

impl Policy {
    /// Whether the policy keeps nothing in particular (forget refuses it).
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }
}

/// What retention needs to know of a snapshot (a repository snapshot, or an
/// EBS snapshot set in coffer_ec2).
pub trait Retained {
    /// When it was taken, in ns since the epoch.
    fn time_ns(&self) -> i64;
    /// Orders snapshots with equal times (the higher one counts as newer).
    fn id_key(&self) -> &[u8];
    /// The tags `--keep-tag` matches against.
    fn tags(&self) -> &[String];
}

impl Retained for SnapshotRef {
    fn time_ns(&self) -> i64 {
        self.snapshot.time
    }
    fn id_key(&self) -> &[u8] {
        &self.id.0
    }
    fn tags(&self) -> &[String] {
        &self.snapshot.tags
    }
}

/// One snapshot's fate.
#[derive(Debug, Clone)]
pub struct Decision<T = SnapshotRef> {
    pub snapshot: T,
    pub keep: bool,
    /// Why it is kept ("daily snapshot", "within 2d", …); empty if removed.
    pub reasons: Vec<String>,
}

/// Which snapshot fields form a group; policies apply to each group alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    pub host: bool,
    pub paths: bool,
    pub tags: bool,
}

impl Default for GroupBy {
    /// restic's default: host and paths.
    fn default() -> Self {
        GroupBy {
            host: true,
            paths: true,
            tags: false,
        }
    }
}

impl GroupBy {
    /// Parses `host,paths,tags` (any subset; empty means one group).
    pub fn parse(s: &str) -> crate::Result<GroupBy> {
        let mut g = GroupBy {
            host: false,
            paths: false,
            tags: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "host" => g.host = true,
                "paths" | "path" => g.paths = true,
                "tags" | "tag" => g.tags = true,
                _ => {
                    return Err(crate::Error::invalid(
                        "unknown --group-by field (host, paths or tags expected)",
                    )
                    .with_location(part));
                }
            }
        }
        Ok(g)
    }
}

/// The fields a group shares (only those grouped by are set). Paths and
/// tags are sorted, so their order in a snapshot does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct GroupKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl GroupKey {
    fn of(s: &SnapshotRef, by: GroupBy) -> GroupKey {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        GroupKey {
            host: by.host.then(|| s.snapshot.host.clone()),
            paths: by.paths.then(|| sorted(&s.snapshot.paths)),
            tags: by.tags.then(|| sorted(&s.snapshot.tags)),
        }
    }
}

/// Splits snapshots into groups, ordered by key.
pub fn group(snapshots: Vec<SnapshotRef>, by: GroupBy) -> Vec<(GroupKey, Vec<SnapshotRef>)> {
    let mut groups: BTreeMap<GroupKey, Vec<SnapshotRef>> = BTreeMap::new();
    for s in snapshots {
        groups.entry(GroupKey::of(&s, by)).or_default().push(s);
    }
    groups.into_iter().collect()
}

/// UTC calendar time of a snapshot (ns since the epoch; always in range).
fn utc(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// The time zone calendar periods are counted in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    /// The same answer on every machine.
    #[default]
    Utc,
    /// The zone of the machine (TZ, else /etc/localtime): what a user there
    /// calls "a day".
    Local,
}

/// The calendar periods of the counted policies, newest snapshot first.
#[derive(Clone, Copy)]
enum Period {
    Last,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    /// A number that is equal for two times exactly when they fall into the
    /// same period (`Last`: every snapshot is its own period).
    fn of(self, t: NaiveDateTime, position: usize) -> i64 {
        let day = t.date().num_days_from_ce() as i64;
        match self {
            Period::Last => position as i64,
            Period::Hour => day * 24 + t.hour() as i64,
            Period::Day => day,
            Period::Week => {
                let w = t.iso_week();
                w.year() as i64 * 100 + w.week() as i64
            }
            Period::Month => t.year() as i64 * 12 + t.month0() as i64,
            Period::Year => t.year() as i64,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Period::Last => "last snapshot",
            Period::Hour => "hourly snapshot",
            Period::Day => "daily snapshot",
            Period::Week => "weekly snapshot",
            Period::Month => "monthly snapshot",
            Period::Year => "yearly snapshot",
        }
    }
}

fn has_tags<T: Retained>(s: &T, set: &str) -> bool {
    set.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| s.tags().iter().any(|st| st == t))
}

/// Applies `policy` to one group of snapshots, counting periods in UTC
/// (see the module docs).
pub fn apply_policy<T: Retained + Clone>(
    snapshots: &[T],
    policy: &Policy,
    now: i64,
) -> Vec<Decision<T>> {
    apply_policy_in(snapshots, policy, now, &Utc)
}

/// Applies `policy` to one group of snapshots, counting hours, days,
/// weeks, months and years in `zone`.
pub fn apply_policy_in<T: Retained + Clone, Z: TimeZone>(
    snapshots: &[T],
    policy: &Policy,
    now: i64,
    zone: &Z,
) -> Vec<Decision<T>> {
    let mut list: Vec<&T> = snapshots.iter().collect();
    list.sort_by(|a, b| {
        b.time_ns()
            .cmp(&a.time_ns())
            .then(b.id_key().cmp(a.id_key()))
    });
    if policy.is_empty() {
        return list
            .into_iter()
            .map(|s| Decision {
                snapshot: s.clone(),
                keep: true,
                reasons: vec!["policy is empty".into()],
            })
            .collect();
    }
    let reference = list
        .iter()
        .map(|s| s.time_ns())
        .find(|&t| t <= now)
        .unwrap_or(now);
    // Snapshots strictly newer than this are "within" (a bound before what
    // chrono or i64 nanoseconds represent keeps every snapshot).
    let within_after: Option<i64> = policy.within.map(|span| {
        span.before(utc(reference))
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(i64::MIN)
    });
    // (period, how many more periods to keep, the last period kept)
    let mut buckets: Vec<(Period, u32, Option<i64>)> = [
        (Period::Last, policy.last),
        (Period::Hour, policy.hourly),
        (Period::Day, policy.daily),
        (Period::Week, policy.weekly),
        (Period::Month, policy.monthly),
        (Period::Year, policy.yearly),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(p, n)| (p, n, None))
    .collect();

    let mut out = Vec::with_capacity(list.len());
    for (position, s) in list.into_iter().enumerate() {
        let mut reasons = Vec::new();
        for set in &policy.tags {
            if has_tags(s, set) {
                reasons.push(format!("has tags {set}"));
            }
        }
        if let (Some(span), Some(after)) = (policy.within, within_after)
            && (s.time_ns() > after || after == i64::MIN)
        {
            reasons.push(format!("within {span}"));
        }
        let t = utc(s.time_ns()).with_timezone(zone).naive_local();
        for (period, left, last) in buckets.iter_mut() {
            let value = period.of(t, position);
            if *left > 0 && *last != Some(value) {
                *left -= 1;
                *last = Some(value);
                reasons.push(period.reason().to_string());
            }
        }
        out.push(Decision {
            snapshot: s.clone(),
            keep: !reasons.is_empty(),
            reasons,
        });
    }
    out
}
