//! Snapshot sets: the EBS snapshots coffer took of one instance at one time,
//! found again by their `coffer:set` tag; and the images made from them.
//!
//! Input: snapshots and images as EC2 describes them (already reduced to
//! [`Snap`] and [`ImageRef`]). Output: [`SnapshotSet`]s, newest first. Pure.
//! A set's time is its `coffer:time` tag (falling back to the earliest
//! StartTime), which is what retention and `restore --at` use.

use crate::facts::InstanceFacts;
use crate::tags::{self, Tags};
use coffer_core::Retained;
use std::collections::BTreeMap;

/// One EBS snapshot coffer took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snap {
    pub snapshot_id: String,
    pub volume_id: Option<String>,
    /// Device name on the source instance, if recorded.
    pub device: Option<String>,
    pub root: bool,
    pub size_gib: Option<i32>,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub state: String,
    pub progress: String,
    /// StartTime in ns since the epoch.
    pub start_ns: i64,
    #[serde(skip)]
    pub tags: Tags,
}

impl Snap {
    pub fn from_tags(
        snapshot_id: String,
        volume_id: Option<String>,
        size_gib: Option<i32>,
        state: String,
        progress: String,
        start_ns: i64,
        tags: Tags,
    ) -> Snap {
        let num = |k: &str| tags.get(k).and_then(|v| v.parse::<i32>().ok());
        Snap {
            snapshot_id,
            volume_id,
            device: tags.get(tags::DEVICE).cloned(),
            root: tags.get(tags::ROOT).map(String::as_str) == Some("true"),
            size_gib,
            volume_type: tags.get(tags::VOLUME_TYPE).cloned(),
            iops: num(tags::IOPS),
            throughput: num(tags::THROUGHPUT),
            state,
            progress,
            start_ns,
            tags,
        }
    }
}

/// An image coffer registered (tagged with the set it was made from).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageRef {
    pub image_id: String,
    pub name: String,
    pub state: String,
    pub set_id: Option<String>,
    pub instance_id: Option<String>,
    /// ns since the epoch (CreationDate), 0 if unknown.
    pub created_ns: i64,
    /// Snapshots its block device mappings use.
    pub snapshot_ids: Vec<String>,
}

/// The snapshots of one instance taken together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotSet {
    pub set_id: String,
    pub instance_id: String,
    /// ns since the epoch.
    pub time_ns: i64,
    /// Root first, then by device name.
    pub snapshots: Vec<Snap>,
    /// The user's `--tag`s as `k=v`.
    pub user_tags: Vec<String>,
    /// Source instance facts recorded in the tags (None for sets taken
    /// without them).
    #[serde(skip)]
    pub facts: Option<InstanceFacts>,
    /// Images coffer made from this set.
    pub images: Vec<ImageRef>,
}

impl SnapshotSet {
    pub fn size_gib(&self) -> i64 {
        self.snapshots
            .iter()
            .map(|s| s.size_gib.unwrap_or(0) as i64)
            .sum()
    }

    /// `completed` when all are, else the first other state (`error` wins).
    pub fn state(&self) -> &str {
        if let Some(s) = self.snapshots.iter().find(|s| s.state == "error") {
            return &s.state;
        }
        self.snapshots
            .iter()
            .find(|s| s.state != "completed")
            .map(|s| s.state.as_str())
            .unwrap_or("completed")
    }

    pub fn root(&self) -> Option<&Snap> {
        self.snapshots.iter().find(|s| s.root)
    }
}

impl Retained for SnapshotSet {
    fn time_ns(&self) -> i64 {
        self.time_ns
    }
    fn id_key(&self) -> &[u8] {
        self.set_id.as_bytes()
    }
    fn tags(&self) -> &[String] {
        &self.user_tags
    }
}

/// Groups snapshots into sets by their `coffer:set` tag and attaches the
/// images made from each; newest set first.
pub fn group(snaps: Vec<Snap>, images: &[ImageRef]) -> Vec<SnapshotSet> {
    let mut by_set: BTreeMap<String, Vec<Snap>> = BTreeMap::new();
    for s in snaps {
        if let Some(id) = s.tags.get(tags::SET).cloned() {
            by_set.entry(id).or_default().push(s);
        }
    }
    let mut sets: Vec<SnapshotSet> = by_set
        .into_iter()
        .map(|(set_id, mut snapshots)| {
            snapshots.sort_by(|a, b| b.root.cmp(&a.root).then(a.device.cmp(&b.device)));
            let first = &snapshots[0].tags;
            let earliest = snapshots.iter().map(|s| s.start_ns).min().unwrap_or(0);
            let time_ns = first
                .get(tags::TIME)
                .and_then(|t| tags::parse_rfc3339(t))
                .unwrap_or(earliest);
            let user_tags = first
                .iter()
                .filter(|(k, _)| !tags::is_internal(k) && k.as_str() != "Name")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            // The facts are on every snapshot; prefer the root's copy.
            let facts = tags::facts_from_tags(first);
            let instance_id = first
                .get(tags::INSTANCE)
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            SnapshotSet {
                images: images
                    .iter()
                    .filter(|i| i.set_id.as_deref() == Some(set_id.as_str()))
                    .cloned()
                    .collect(),
                set_id,
                instance_id,
                time_ns,
                snapshots,
                user_tags,
                facts,
            }
        })
        .collect();
    sets.sort_by(|a, b| b.time_ns.cmp(&a.time_ns).then(b.set_id.cmp(&a.set_id)));
    sets
}

/// The set `restore`/`image` use: the one named, else the newest complete
/// set taken at or before `at` (ns; `None`: the newest).
pub fn choose<'a>(
    sets: &'a [SnapshotSet],
    set_id: Option<&str>,
    at: Option<i64>,
) -> Option<&'a SnapshotSet> {
    if let Some(id) = set_id {
        return sets.iter().find(|s| s.set_id == id);
    }
    sets.iter()
        .filter(|s| at.is_none_or(|t| s.time_ns <= t))
        .filter(|s| s.root().is_some())
        .max_by(|a, b| a.time_ns.cmp(&b.time_ns).then(a.set_id.cmp(&b.set_id)))
}

/// Parses `--at`: RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]` in UTC.
pub fn parse_time(s: &str) -> coffer_core::Result<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    let s = s.trim();
    let naive = if let Some(ns) = tags::parse_rfc3339(s) {
        return Ok(ns);
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(23, 59, 59)
    } else {
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    };
    naive
        .and_then(|n| n.and_utc().timestamp_nanos_opt())
        .ok_or_else(|| {
            coffer_core::Error::invalid(
                "invalid time (expected RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]], UTC)",
            )
            .with_location(s)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, set: &str, time: Option<&str>, device: &str, root: bool) -> Snap {
        let mut t = Tags::new();
        t.insert(tags::SET.into(), set.into());
        t.insert(tags::INSTANCE.into(), "i-1".into());
        if let Some(time) = time {
            t.insert(tags::TIME.into(), time.into());
        }
        t.insert(tags::DEVICE.into(), device.into());
        t.insert(tags::ROOT.into(), root.to_string());
        t.insert("env".into(), "prod".into());
        Snap::from_tags(
            id.into(),
            None,
            Some(8),
            "completed".into(),
            "100%".into(),
            5,
            t,
        )
    }

    #[test]
    fn groups_by_set_root_first_newest_first() {
        let sets = group(
            vec![
                snap(
                    "snap-a",
                    "cs-1",
                    Some("2026-01-01T00:00:00Z"),
                    "/dev/sdf",
                    false,
                ),
                snap(
                    "snap-b",
                    "cs-1",
                    Some("2026-01-01T00:00:00Z"),
                    "/dev/xvda",
                    true,
                ),
                snap(
                    "snap-c",
                    "cs-2",
                    Some("2026-02-01T00:00:00Z"),
                    "/dev/xvda",
                    true,
                ),
                snap("snap-d", "cs-3", None, "/dev/xvda", true),
            ],
            &[],
        );
        let ids: Vec<&str> = sets.iter().map(|s| s.set_id.as_str()).collect();
        assert_eq!(ids, ["cs-2", "cs-1", "cs-3"]);
        assert_eq!(sets[1].snapshots[0].snapshot_id, "snap-b", "root first");
        assert_eq!(sets[1].size_gib(), 16);
        assert_eq!(sets[2].time_ns, 5, "no coffer:time: StartTime");
        assert_eq!(sets[0].user_tags, vec!["env=prod".to_string()]);
    }

    #[test]
    fn chooses_the_newest_at_or_before() {
        let sets = group(
            vec![
                snap("a", "cs-1", Some("2026-01-01T00:00:00Z"), "/dev/xvda", true),
                snap("b", "cs-2", Some("2026-02-01T00:00:00Z"), "/dev/xvda", true),
                snap("c", "cs-3", Some("2026-03-01T00:00:00Z"), "/dev/sdf", false),
            ],
            &[],
        );
        assert_eq!(
            choose(&sets, None, None).unwrap().set_id,
            "cs-2",
            "cs-3 has no root"
        );
        let at = parse_time("2026-01-15").unwrap();
        assert_eq!(choose(&sets, None, Some(at)).unwrap().set_id, "cs-1");
        assert_eq!(
            choose(&sets, None, Some(parse_time("2025-12-31").unwrap())),
            None
        );
        assert_eq!(choose(&sets, Some("cs-3"), None).unwrap().set_id, "cs-3");
    }

    #[test]
    fn times_parse_in_utc() {
        assert_eq!(
            parse_time("2026-01-02 03:04").unwrap(),
            parse_time("2026-01-02T03:04:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2026-01-02").unwrap(),
            parse_time("2026-01-02T23:59:59+00:00").unwrap(),
            "a day means its end"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
