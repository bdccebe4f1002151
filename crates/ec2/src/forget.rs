//! `coffer ec2 forget`: retention for snapshot sets, with the policy code of
//! the repository's `forget` (coffer_core's `maintain::retention`), applied
//! per source instance.
//!
//! Input: the sets (all, or one instance's), every image this account owns,
//! a policy and `now`. Output: per instance, each set kept or removed and
//! why; then what was deregistered, deleted, and kept because in use.
//!
//! Invariants:
//! - An empty policy is refused, never read as "remove everything".
//! - The images coffer made from a removed set are deregistered before its
//!   snapshots are deleted (EC2 refuses to delete a snapshot an image uses).
//! - A snapshot that any other image still uses (coffer's or not) is never
//!   deleted: it is kept and reported. EC2 refuses such deletes too, but
//!   not every implementation does (moto deletes them), so coffer checks
//!   first and treats `InvalidSnapshot.InUse` the same way.
//! - With `dry_run` nothing is deregistered or deleted.

use crate::client::Ec2;
use crate::error::map_err;
use crate::sets::{ImageRef, SnapshotSet};
use coffer_core::Result;
use coffer_core::{Decision, Policy, apply_policy};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ForgetOptions {
    pub policy: Policy,
    /// Only this instance's sets (default: every instance's, each alone).
    pub instance_id: Option<String>,
    pub dry_run: bool,
    /// ns since the epoch.
    pub now: i64,
}

/// One instance's sets, newest first.
#[derive(Debug, Clone)]
pub struct ForgetGroup {
    pub instance_id: String,
    pub decisions: Vec<Decision<SnapshotSet>>,
}

/// A snapshot kept because an image uses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InUse {
    pub snapshot_id: String,
    pub set_id: String,
    /// Images using it (may be empty when only EC2's refusal told us).
    pub image_ids: Vec<String>,
}

/// What to do with the removed sets (pure; see [`removal`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removal {
    /// Images coffer made from removed sets.
    pub deregister: Vec<String>,
    pub delete: Vec<String>,
    pub in_use: Vec<InUse>,
}

#[derive(Debug, Clone, Default)]
pub struct ForgetResult {
    pub groups: Vec<ForgetGroup>,
    /// Done (with `dry_run`: to be done).
    pub removal: Removal,
}

/// The decisions per instance (pure).
pub fn plan(sets: Vec<SnapshotSet>, policy: &Policy, now: i64) -> Result<Vec<ForgetGroup>> {
    if policy.is_empty() {
        return Err(coffer_core::Error::invalid(
            "no policy given: forget removes nothing without one (use --keep-last, --keep-daily, …)",
        ));
    }
    let mut by_instance: BTreeMap<String, Vec<SnapshotSet>> = BTreeMap::new();
    for s in sets {
        by_instance
            .entry(s.instance_id.clone())
            .or_default()
            .push(s);
    }
    Ok(by_instance
        .into_iter()
        .map(|(instance_id, list)| ForgetGroup {
            decisions: apply_policy(&list, policy, now),
            instance_id,
        })
        .collect())
}

/// Which images to deregister and snapshots to delete for the removed
/// sets, given every image the account owns (pure).
pub fn removal(groups: &[ForgetGroup], images: &[ImageRef]) -> Removal {
    let removed: Vec<&SnapshotSet> = groups
        .iter()
        .flat_map(|g| g.decisions.iter().filter(|d| !d.keep))
        .map(|d| &d.snapshot)
        .collect();
    let mut r = Removal::default();
    for i in images {
        if let Some(set) = &i.set_id
            && removed.iter().any(|s| &s.set_id == set)
        {
            r.deregister.push(i.image_id.clone());
        }
    }
    for set in removed {
        for s in &set.snapshots {
            let users: Vec<String> = images
                .iter()
                .filter(|i| !r.deregister.contains(&i.image_id))
                .filter(|i| i.snapshot_ids.contains(&s.snapshot_id))
                .map(|i| i.image_id.clone())
                .collect();
            if users.is_empty() {
                r.delete.push(s.snapshot_id.clone());
            } else {
                r.in_use.push(InUse {
                    snapshot_id: s.snapshot_id.clone(),
                    set_id: set.set_id.clone(),
                    image_ids: users,
                });
            }
        }
    }
    r
}

/// Applies the policy (see the module docs).
pub fn forget(ec2: &Ec2, o: &ForgetOptions) -> Result<ForgetResult> {
    let sets = ec2.sets(o.instance_id.as_deref())?;
    let groups = plan(sets, &o.policy, o.now)?;
    let images = ec2.images(false)?;
    let mut rm = removal(&groups, &images);
    if !o.dry_run {
        for id in &rm.deregister {
            ec2.block_on(ec2.client().deregister_image().image_id(id).send())
                .map_err(|e| map_err(e, "deregister image", id))?;
        }
        let mut deleted = Vec::with_capacity(rm.delete.len());
        for id in &rm.delete {
            match ec2.block_on(ec2.client().delete_snapshot().snapshot_id(id).send()) {
                Ok(_) => deleted.push(id.clone()),
                Err(e) => {
                    let code = e
                        .as_service_error()
                        .and_then(|x| aws_sdk_ec2::error::ProvideErrorMetadata::code(x))
                        .unwrap_or_default()
                        .to_string();
                    match code.as_str() {
                        // An image we did not see (made meanwhile, or not ours to list).
                        "InvalidSnapshot.InUse" => rm.in_use.push(InUse {
                            snapshot_id: id.clone(),
                            set_id: set_of(&groups, id),
                            image_ids: Vec::new(),
                        }),
                        // Gone already (another forget): what we wanted.
                        "InvalidSnapshot.NotFound" => deleted.push(id.clone()),
                        _ => return Err(map_err(e, "delete snapshot", id)),
                    }
                }
            }
        }
        rm.delete = deleted;
    }
    Ok(ForgetResult {
        groups,
        removal: rm,
    })
}

fn set_of(groups: &[ForgetGroup], snapshot_id: &str) -> String {
    groups
        .iter()
        .flat_map(|g| &g.decisions)
        .find(|d| {
            d.snapshot
                .snapshots
                .iter()
                .any(|s| s.snapshot_id == snapshot_id)
        })
        .map(|d| d.snapshot.set_id.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sets::{Snap, group};
    use crate::tags::{self, Tags};

    fn snap(id: &str, set: &str, instance: &str, time: &str) -> Snap {
        let mut t = Tags::new();
        t.insert(tags::SET.into(), set.into());
        t.insert(tags::INSTANCE.into(), instance.into());
        t.insert(tags::TIME.into(), time.into());
        t.insert(tags::ROOT.into(), "true".into());
        Snap::from_tags(
            id.into(),
            None,
            Some(8),
            "completed".into(),
            "100%".into(),
            0,
            t,
        )
    }

    fn image(id: &str, set: Option<&str>, snaps: &[&str]) -> ImageRef {
        ImageRef {
            image_id: id.into(),
            name: id.into(),
            state: "available".into(),
            set_id: set.map(String::from),
            instance_id: None,
            created_ns: 0,
            snapshot_ids: snaps.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn sets() -> Vec<SnapshotSet> {
        group(
            vec![
                snap("snap-1", "cs-1", "i-a", "2026-11-01T10:00:00Z"),
                snap("snap-2", "cs-2", "i-a", "2026-11-02T10:00:00Z"),
                snap("snap-3", "cs-3", "i-a", "2026-11-03T10:00:00Z"),
                snap("snap-4", "cs-4", "i-b", "2026-11-01T10:00:00Z"),
            ],
            &[],
        )
    }

    fn now() -> i64 {
        tags::parse_rfc3339("2026-11-04T00:00:00Z").unwrap()
    }

    #[test]
    fn policy_applies_per_instance() {
        let p = Policy {
            last: 1,
            ..Default::default()
        };
        let groups = plan(sets(), &p, now()).unwrap();
        let kept: Vec<(&str, &str, bool)> = groups
            .iter()
            .flat_map(|g| {
                g.decisions
                    .iter()
                    .map(|d| (g.instance_id.as_str(), d.snapshot.set_id.as_str(), d.keep))
            })
            .collect();
        assert_eq!(
            kept,
            [
                ("i-a", "cs-3", true),
                ("i-a", "cs-2", false),
                ("i-a", "cs-1", false),
                ("i-b", "cs-4", true)
            ]
        );
        assert!(
            plan(sets(), &Policy::default(), now()).is_err(),
            "empty policy refused"
        );
    }

    #[test]
    fn deregisters_own_images_and_keeps_snapshots_others_use() {
        let p = Policy {
            last: 1,
            ..Default::default()
        };
        let groups = plan(sets(), &p, now()).unwrap();
        let images = [
            image("ami-coffer2", Some("cs-2"), &["snap-2"]),
            image("ami-someone", None, &["snap-1"]),
            image("ami-kept", Some("cs-3"), &["snap-3"]),
        ];
        let r = removal(&groups, &images);
        assert_eq!(r.deregister, ["ami-coffer2"]);
        assert_eq!(r.delete, ["snap-2"]);
        assert_eq!(
            r.in_use,
            [InUse {
                snapshot_id: "snap-1".into(),
                set_id: "cs-1".into(),
                image_ids: vec!["ami-someone".into()]
            }]
        );
    }
}
