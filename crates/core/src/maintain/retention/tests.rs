//! Golden cases for retention: hand-written snapshot times and the exact
//! set each policy keeps, with reasons. The edges: ties in one period,
//! equal times, empty periods, keep-within boundaries (exclusive, to the
//! nanosecond, month ends), snapshots in the future, ISO weeks across
//! years, policies combined.

use super::*;
use crate::format::snapshot::{Snapshot, Summary};
use crate::id::{SnapshotId, TreeId};

/// (label, RFC 3339 time, tags)
type Snap = (&'static str, &'static str, &'static [&'static str]);

struct Case {
    name: &'static str,
    /// Sets the policy's fields, starting from `Policy::default()`.
    policy: fn(&mut Policy),
    now: &'static str,
    snaps: &'static [Snap],
    /// (label, reasons), newest first.
    kept: &'static [(&'static str, &'static [&'static str])],
}

fn ns(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

/// Snapshot ids follow table order (1, 2, …), so equal times are ordered.
fn snapshot(i: usize, (_, time, tags): &Snap) -> SnapshotRef {
    SnapshotRef {
        id: SnapshotId([i as u8 + 1; 32]),
        snapshot: Snapshot {
            original: None,
            image: None,
            version: 1,
            time: ns(time),
            host: "h".into(),
            user: "u".into(),
            paths: vec!["/etc".into()],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            tree: TreeId::default(),
            parent: None,
            excludes: vec![],
            program_version: "test".into(),
            summary: Summary::default(),
        },
    }
}

fn policy(f: impl FnOnce(&mut Policy)) -> Policy {
    let mut p = Policy::default();
    f(&mut p);
    p
}

fn within(s: &str) -> Option<Span> {
    Some(Span::parse(s).unwrap())
}

fn run(c: &Case) {
    let snaps: Vec<SnapshotRef> = c
        .snaps
        .iter()
        .enumerate()
        .map(|(i, s)| snapshot(i, s))
        .collect();
    let label = |id: SnapshotId| c.snaps[id.0[0] as usize - 1].0;
    let got: Vec<(&str, Vec<String>)> = apply_policy(&snaps, &policy(c.policy), ns(c.now))
        .into_iter()
        .filter(|d| {
            assert_eq!(d.keep, !d.reasons.is_empty(), "{}", c.name);
            d.keep
        })
        .map(|d| (label(d.snapshot.id), d.reasons))
        .collect();
    let want: Vec<(&str, Vec<String>)> = c
        .kept
        .iter()
        .map(|(l, r)| (*l, r.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(got, want, "case {:?}", c.name);
}

const NOW: &str = "2030-01-01T00:00:00Z";

const GOLDEN_CASES: &[Case] = &[
    Case {
        name: "keep-last keeps the newest N",
        policy: |p| p.last = 3,
        now: NOW,
        snaps: &[
            ("a", "2024-01-01T00:00:00Z", &[]),
            ("b", "2024-01-02T00:00:00Z", &[]),
            ("c", "2024-01-03T00:00:00Z", &[]),
            ("d", "2024-01-04T00:00:00Z", &[]),
            ("e", "2024-01-05T00:00:00Z", &[]),
        ],
        kept: &[
            ("e", &["last snapshot"]),
            ("d", &["last snapshot"]),
            ("c", &["last snapshot"]),
        ],
    },
    Case {
        name: "keep-last larger than the list keeps all",
        policy: |p| p.last = 10,
        now: NOW,
        snaps: &[
            ("a", "2024-01-01T00:00:00Z", &[]),
            ("b", "2024-01-01T00:00:00Z", &[]),
        ],
        kept: &[("b", &["last snapshot"]), ("a", &["last snapshot"])],
    },
    Case {
        name: "daily: newest of each day, empty days do not count",
        policy: |p| p.daily = 3,
        now: NOW,
        snaps: &[
            ("a", "2024-01-01T08:00:00Z", &[]),
            ("b", "2024-01-01T20:00:00Z", &[]),
            ("c", "2024-01-02T10:00:00Z", &[]),
            // 3 and 4 January: no snapshots
            ("d", "2024-01-05T09:00:00Z", &[]),
            ("e", "2024-01-05T23:59:59.999999999Z", &[]),
            ("f", "2024-01-06T00:00:00Z", &[]),
        ],
        kept: &[
            ("f", &["daily snapshot"]),
            ("e", &["daily snapshot"]),
            ("c", &["daily snapshot"]),
        ],
    },
    Case {
        name: "equal times: the higher id counts as newer",
        policy: |p| p.daily = 1,
        now: NOW,
        snaps: &[
            ("x", "2024-01-01T12:00:00Z", &[]),
            ("y", "2024-01-01T12:00:00Z", &[]),
        ],
        kept: &[("y", &["daily snapshot"])],
    },
    Case {
        name: "hourly: boundaries to the nanosecond",
        policy: |p| p.hourly = 2,
        now: NOW,
        snaps: &[
            ("a", "2024-01-01T09:30:00Z", &[]),
            ("b", "2024-01-01T10:00:00Z", &[]),
            ("c", "2024-01-01T10:59:59.999999999Z", &[]),
            ("d", "2024-01-01T11:00:00Z", &[]),
        ],
        kept: &[("d", &["hourly snapshot"]), ("c", &["hourly snapshot"])],
    },
    Case {
        name: "weekly: ISO weeks across new year",
        policy: |p| p.weekly = 5,
        now: NOW,
        snaps: &[
            ("2020-12-31", "2020-12-31T12:00:00Z", &[]), // ISO 2020-W53 (Thursday)
            ("2021-01-03", "2021-01-03T12:00:00Z", &[]), // ISO 2020-W53 (Sunday)
            ("2021-01-04", "2021-01-04T12:00:00Z", &[]), // ISO 2021-W01 (Monday)
            ("2024-12-29", "2024-12-29T12:00:00Z", &[]), // ISO 2024-W52 (Sunday)
            ("2024-12-30", "2024-12-30T12:00:00Z", &[]), // ISO 2025-W01 (Monday)
            ("2025-01-01", "2025-01-01T12:00:00Z", &[]), // ISO 2025-W01
        ],
        kept: &[
            ("2025-01-01", &["weekly snapshot"]),
            ("2024-12-29", &["weekly snapshot"]),
            ("2021-01-04", &["weekly snapshot"]),
            ("2021-01-03", &["weekly snapshot"]),
        ],
    },
    Case {
        name: "monthly and yearly combine; reasons are listed together",
        policy: |p| {
            p.monthly = 2;
            p.yearly = 2;
        },
        now: NOW,
        snaps: &[
            ("2023-01-15", "2023-01-15T00:00:00Z", &[]),
            ("2023-06-30", "2023-06-30T00:00:00Z", &[]),
            ("2023-12-31", "2023-12-31T23:59:59Z", &[]),
            ("2024-01-01", "2024-01-01T00:00:00Z", &[]),
            ("2024-02-29", "2024-02-29T00:00:00Z", &[]),
        ],
        kept: &[
            ("2024-02-29", &["monthly snapshot", "yearly snapshot"]),
            ("2024-01-01", &["monthly snapshot"]),
            ("2023-12-31", &["yearly snapshot"]),
        ],
    },
    Case {
        name: "within: strictly newer than the newest minus the span; the future does not move it",
        policy: |p| p.within = within("2d"),
        now: "2024-03-11T00:00:00Z",
        snaps: &[
            ("z", "2024-03-01T00:00:00Z", &[]),
            ("at-bound", "2024-03-08T12:00:00Z", &[]),
            ("just-in", "2024-03-08T12:00:00.000000001Z", &[]),
            ("newest", "2024-03-10T12:00:00Z", &[]),
            ("future", "2024-03-20T00:00:00Z", &[]),
        ],
        kept: &[
            ("future", &["within 2d"]),
            ("newest", &["within 2d"]),
            ("just-in", &["within 2d"]),
        ],
    },
    Case {
        name: "within: once the future has come, it is the reference",
        policy: |p| p.within = within("2d"),
        now: "2024-03-25T00:00:00Z",
        snaps: &[
            ("newest-then", "2024-03-10T12:00:00Z", &[]),
            ("future", "2024-03-20T00:00:00Z", &[]),
        ],
        kept: &[("future", &["within 2d"])],
    },
    Case {
        name: "within: every snapshot in the future measures from now",
        policy: |p| p.within = within("1d"),
        now: "2024-01-01T00:00:00Z",
        snaps: &[
            ("f1", "2024-02-01T00:00:00Z", &[]),
            ("f2", "2024-03-01T00:00:00Z", &[]),
        ],
        kept: &[("f2", &["within 1d"]), ("f1", &["within 1d"])],
    },
    Case {
        name: "within: months end on the last day of a shorter month",
        policy: |p| p.within = within("1m"),
        now: NOW,
        snaps: &[
            ("at-bound", "2024-02-29T00:00:00Z", &[]),
            ("after", "2024-02-29T00:00:01Z", &[]),
            ("newest", "2024-03-31T00:00:00Z", &[]),
        ],
        kept: &[("newest", &["within 1m"]), ("after", &["within 1m"])],
    },
    Case {
        name: "within: years, months, days and hours",
        policy: |p| p.within = within("1y2m3d4h"),
        now: NOW,
        snaps: &[
            ("at-bound", "2023-03-07T06:00:00Z", &[]),
            ("after", "2023-03-07T06:00:01Z", &[]),
            ("newest", "2024-05-10T10:00:00Z", &[]),
        ],
        kept: &[
            ("newest", &["within 1y2m3d4h"]),
            ("after", &["within 1y2m3d4h"]),
        ],
    },
    Case {
        name: "tags: a set needs all its tags; sets are alternatives",
        policy: |p| p.tags = vec!["release".into(), "a,b".into()],
        now: NOW,
        snaps: &[
            ("none", "2024-01-01T00:00:00Z", &[]),
            ("release", "2024-01-02T00:00:00Z", &["release"]),
            ("only-a", "2024-01-03T00:00:00Z", &["a"]),
            ("a-b", "2024-01-04T00:00:00Z", &["a", "b"]),
            ("b-a-c", "2024-01-05T00:00:00Z", &["b", "a", "c"]),
        ],
        kept: &[
            ("b-a-c", &["has tags a,b"]),
            ("a-b", &["has tags a,b"]),
            ("release", &["has tags release"]),
        ],
    },
    Case {
        name: "policies combine as a union, each with its reason",
        policy: |p| {
            p.last = 1;
            p.daily = 2;
            p.tags = vec!["release".into()];
        },
        now: NOW,
        snaps: &[
            ("old-release", "2023-05-01T00:00:00Z", &["release"]),
            ("old", "2023-06-01T00:00:00Z", &[]),
            ("d1-early", "2024-01-01T01:00:00Z", &[]),
            ("d1-late", "2024-01-01T23:00:00Z", &[]),
            ("d2", "2024-01-02T05:00:00Z", &["release"]),
        ],
        kept: &[
            (
                "d2",
                &["has tags release", "last snapshot", "daily snapshot"],
            ),
            ("d1-late", &["daily snapshot"]),
            ("old-release", &["has tags release"]),
        ],
    },
    Case {
        name: "an empty list keeps nothing and does not fail",
        policy: |p| p.last = 1,
        now: NOW,
        snaps: &[],
        kept: &[],
    },
];

#[test]
fn golden_cases() {
    for c in GOLDEN_CASES {
        run(c);
    }
}

#[test]
fn an_empty_policy_keeps_everything() {
    let snaps = [snapshot(0, &("a", "2024-01-01T00:00:00Z", &[]))];
    let d = apply_policy(&snaps, &Policy::default(), ns(NOW));
    assert!(Policy::default().is_empty());
    assert!(d[0].keep);
    assert_eq!(d[0].reasons, ["policy is empty"]);
}

#[test]
fn groups_by_host_and_paths_ignoring_order() {
    let mut a = snapshot(0, &("a", "2024-01-01T00:00:00Z", &["x"]));
    let mut b = snapshot(1, &("b", "2024-01-02T00:00:00Z", &["y"]));
    let mut c = snapshot(2, &("c", "2024-01-03T00:00:00Z", &[]));
    a.snapshot.paths = vec!["/etc".into(), "/home".into()];
    b.snapshot.paths = vec!["/home".into(), "/etc".into()];
    c.snapshot.host = "other".into();
    let groups = group(vec![a.clone(), b.clone(), c.clone()], GroupBy::default());
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].0.host.as_deref(), Some("h"));
    assert_eq!(groups[0].1.len(), 2, "path order does not split a group");
    let by_tags = group(vec![a, b, c], GroupBy::parse("tags").unwrap());
    assert_eq!(by_tags.len(), 3);
    assert_eq!(group(vec![], GroupBy::parse("").unwrap()).len(), 0);
    assert!(GroupBy::parse("host,colour").is_err());
}

/// Labels of the snapshots kept when `policy` counts periods in `zone`.
fn kept_in<Z: chrono::TimeZone>(snaps: &[Snap], policy: &Policy, zone: &Z) -> Vec<&'static str> {
    let list: Vec<SnapshotRef> = snaps
        .iter()
        .enumerate()
        .map(|(i, s)| snapshot(i, s))
        .collect();
    apply_policy_in(&list, policy, ns(NOW), zone)
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| snaps[d.snapshot.id.0[0] as usize - 1].0)
        .collect()
}

#[test]
fn periods_are_counted_in_the_zone_given() {
    use chrono::FixedOffset;
    let new_york_winter = FixedOffset::west_opt(5 * 3600).unwrap();
    let india = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    // 22:30 and 23:30 on 4 March in New York, 00:30 on 5 March; all three
    // on 5 March in UTC.
    let around_midnight: &[Snap] = &[
        ("a", "2024-03-05T03:30:00Z", &[]),
        ("b", "2024-03-05T04:30:00Z", &[]),
        ("c", "2024-03-05T05:30:00Z", &[]),
    ];
    let daily = policy(|p| p.daily = 3);
    assert_eq!(kept_in(around_midnight, &daily, &Utc), ["c"]);
    assert_eq!(
        kept_in(around_midnight, &daily, &new_york_winter),
        ["c", "b"]
    );
    assert_eq!(
        apply_policy(&[snapshot(0, &around_midnight[0])], &daily, ns(NOW)).len(),
        1
    );
    // Half-hour zones: 10:10 and 10:40 UTC are 15:40 and 16:10 in India.
    let hourly: &[Snap] = &[
        ("a", "2024-03-05T10:10:00Z", &[]),
        ("b", "2024-03-05T10:40:00Z", &[]),
    ];
    let keep_hours = policy(|p| p.hourly = 2);
    assert_eq!(kept_in(hourly, &keep_hours, &Utc), ["b"]);
    assert_eq!(kept_in(hourly, &keep_hours, &india), ["b", "a"]);
    // Months and years end at local midnight too: 31 December 23:30 in
    // New York is already the next year in UTC.
    let new_year: &[Snap] = &[
        ("a", "2024-12-31T12:00:00Z", &[]),
        ("b", "2025-01-01T04:30:00Z", &[]),
    ];
    for p in [policy(|p| p.yearly = 2), policy(|p| p.monthly = 2)] {
        assert_eq!(kept_in(new_year, &p, &Utc), ["b", "a"]);
        assert_eq!(kept_in(new_year, &p, &new_york_winter), ["b"]);
    }
}
