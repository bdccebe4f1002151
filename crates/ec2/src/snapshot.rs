//! `coffer ec2 snapshot`: a crash-consistent snapshot set of an instance.
//!
//! Input: the instance, which volumes, user tags. Output: the new set.
//! All volumes are snapshotted by one CreateSnapshots call, which EC2 takes
//! at one point in time across the volumes (crash-consistent: like pulling
//! the power cord; not application-consistent, see docs/EC2.md). With
//! `--volumes root` only the root volume is, by CreateSnapshot.
//!
//! Invariant: every snapshot carries `coffer:set`, `coffer:instance`,
//! `coffer:time` and the instance facts from the request that creates it,
//! so an interrupted run leaves nothing `list` does not show. The per-volume
//! tags (device, root, volume type) follow at once in CreateTags; a set
//! missing them is still listed, and `image` refuses it clearly.

use crate::client::{Ec2, sdk_tags};
use crate::error::map_err;
use crate::facts::{InstanceFacts, Volume};
use crate::sets::{SnapshotSet, group};
use crate::tags::{self, Tags};
use crate::wait::{Clock, SnapshotState, parse_percent, wait_completed};
use aws_sdk_ec2::types::{InstanceSpecification, ResourceType, TagSpecification};
use coffer_core::{Error, Kind, Result};
use std::time::Duration;

/// Which volumes go into the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volumes {
    Root,
    All,
}

#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub instance_id: String,
    pub volumes: Volumes,
    /// User tags (checked with `tags::parse_user_tag`).
    pub tags: Vec<(String, String)>,
    pub dry_run: bool,
    /// ns since the epoch: the set's time.
    pub now: i64,
}

/// What `snapshot` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotResult {
    pub set_id: String,
    pub instance_id: String,
    pub facts: InstanceFacts,
    /// The volumes snapshotted.
    pub volumes: Vec<Volume>,
    /// The set as EC2 shows it afterwards (None with `dry_run`).
    pub set: Option<SnapshotSet>,
    /// Every tag of the snapshots but the per-volume ones.
    pub tags: Tags,
}

/// The tags every snapshot of the set carries (pure).
pub fn set_tags(facts: &InstanceFacts, set_id: &str, now: i64, user: &[(String, String)]) -> Tags {
    let mut t = tags::facts_to_tags(facts);
    t.insert(tags::SET.into(), set_id.into());
    t.insert(tags::TIME.into(), tags::rfc3339(now));
    let label = facts
        .name
        .clone()
        .unwrap_or_else(|| facts.instance_id.clone());
    t.insert(
        "Name".into(),
        format!("coffer {label} {}", tags::rfc3339(now))
            .chars()
            .take(256)
            .collect(),
    );
    for (k, v) in user {
        t.insert(k.clone(), v.clone());
    }
    t
}

/// Takes the set (see the module docs).
pub fn snapshot(ec2: &Ec2, o: &SnapshotOptions) -> Result<SnapshotResult> {
    let facts = ec2.facts(&o.instance_id)?;
    let volumes = chosen_volumes(&facts, o)?;
    let set_id = tags::new_set_id(o.now);
    let common = set_tags(&facts, &set_id, o.now, &o.tags);
    check_tag_count(&common, o.tags.len())?;
    let mut result = SnapshotResult {
        set_id: set_id.clone(),
        instance_id: o.instance_id.clone(),
        facts,
        volumes: volumes.clone(),
        set: None,
        tags: common.clone(),
    };
    if o.dry_run {
        return Ok(result);
    }
    let description = format!("coffer {set_id} of {}", o.instance_id);
    match o.volumes {
        Volumes::Root => {
            create_root_snapshot(ec2, o, &volumes[0], &description, &common)?;
        }
        Volumes::All => {
            let created = create_all_snapshots(ec2, o, &description, &common)?;
            tag_volumes(ec2, &created, &volumes)?;
        }
    }
    result.set = Some(read_set(ec2, &set_id, &o.instance_id)?);
    Ok(result)
}

/// The volumes `o.volumes` selects of the instance's; an error if the
/// root volume is not among them.
fn chosen_volumes(facts: &InstanceFacts, o: &SnapshotOptions) -> Result<Vec<Volume>> {
    let volumes: Vec<Volume> = match o.volumes {
        Volumes::All => facts.volumes.clone(),
        Volumes::Root => facts.volumes.iter().filter(|v| v.root).cloned().collect(),
    };
    if volumes.is_empty() || !volumes.iter().any(|v| v.root) {
        return Err(Error::at(
            Kind::Fatal,
            "instance has no EBS root volume to snapshot",
            &o.instance_id,
        ));
    }
    Ok(volumes)
}

/// Refuses a set whose `common` tags (of which `user` are the user's)
/// leave no room for the per-volume ones.
fn check_tag_count(common: &Tags, user: usize) -> Result<()> {
    // EC2 allows 50 tags per resource; each snapshot also gets up to 5
    // per-volume tags (`tags::volume_tags`).
    const MAX_TAGS: usize = 50;
    const VOLUME_TAGS: usize = 5;
    if common.len() + VOLUME_TAGS > MAX_TAGS {
        return Err(Error::invalid(format!(
            "too many --tag: EC2 allows {MAX_TAGS} tags per snapshot and coffer's own take {}",
            common.len().saturating_sub(user) + VOLUME_TAGS
        )));
    }
    Ok(())
}

/// The tags a snapshot is created with: `common` and `extra`.
fn tag_spec(common: &Tags, extra: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .set_tags(Some(sdk_tags(common.iter().chain(extra.iter()))))
        .build()
}

/// Snapshots the root volume alone (CreateSnapshot), with its per-volume
/// tags in the same request.
fn create_root_snapshot(
    ec2: &Ec2,
    o: &SnapshotOptions,
    root: &Volume,
    description: &str,
    common: &Tags,
) -> Result<()> {
    ec2.block_on(
        ec2.client()
            .create_snapshot()
            .volume_id(&root.volume_id)
            .description(description)
            .tag_specifications(tag_spec(common, &tags::volume_tags(root)))
            .send(),
    )
    .map_err(|e| map_err(e, "create snapshot", &o.instance_id))?;
    Ok(())
}

/// Snapshots every volume of the instance at one point in time
/// (CreateSnapshots). Returns (snapshot id, volume id) of each.
fn create_all_snapshots(
    ec2: &Ec2,
    o: &SnapshotOptions,
    description: &str,
    common: &Tags,
) -> Result<Vec<(String, Option<String>)>> {
    let out = ec2
        .block_on(
            ec2.client()
                .create_snapshots()
                .instance_specification(
                    InstanceSpecification::builder()
                        .instance_id(&o.instance_id)
                        .exclude_boot_volume(false)
                        .build(),
                )
                .description(description)
                .tag_specifications(tag_spec(common, &Tags::new()))
                .send(),
        )
        .map_err(|e| map_err(e, "create snapshots", &o.instance_id))?;
    Ok(out
        .snapshots()
        .iter()
        .map(|s| {
            (
                s.snapshot_id().unwrap_or_default().to_string(),
                s.volume_id().map(String::from),
            )
        })
        .collect())
}

/// Adds the per-volume tags to each `created` (snapshot id, volume id)
/// whose volume is one of `volumes`.
fn tag_volumes(ec2: &Ec2, created: &[(String, Option<String>)], volumes: &[Volume]) -> Result<()> {
    for (snap, vol) in created {
        let Some(v) = volumes.iter().find(|v| Some(&v.volume_id) == vol.as_ref()) else {
            continue;
        };
        ec2.block_on(
            ec2.client()
                .create_tags()
                .resources(snap)
                .set_tags(Some(sdk_tags(tags::volume_tags(v).iter())))
                .send(),
        )
        .map_err(|e| map_err(e, "tag snapshot", snap))?;
    }
    Ok(())
}

/// The set `set_id` as EC2 shows it now.
pub fn read_set(ec2: &Ec2, set_id: &str, instance_id: &str) -> Result<SnapshotSet> {
    let snaps: Vec<_> = ec2
        .snaps(Some(instance_id))?
        .into_iter()
        .filter(|s| s.tags.get(tags::SET).map(String::as_str) == Some(set_id))
        .collect();
    group(snaps, &[])
        .into_iter()
        .next()
        .ok_or_else(|| Error::at(Kind::NotFound, "no such snapshot set", set_id))
}

/// Waits until every snapshot of the set is completed; `progress` sees the
/// states after each poll.
pub fn wait(
    ec2: &Ec2,
    set: &SnapshotSet,
    clock: &mut dyn Clock,
    interval: Duration,
    timeout: Duration,
    progress: impl FnMut(&[SnapshotState]),
) -> Result<SnapshotSet> {
    let ids: Vec<String> = set
        .snapshots
        .iter()
        .map(|s| s.snapshot_id.clone())
        .collect();
    wait_completed(
        clock,
        interval,
        timeout,
        || {
            let out = ec2
                .block_on(
                    ec2.client()
                        .describe_snapshots()
                        .set_snapshot_ids(Some(ids.clone()))
                        .send(),
                )
                .map_err(|e| map_err(e, "describe snapshots", &set.set_id))?;
            Ok(out
                .snapshots()
                .iter()
                .map(|s| SnapshotState {
                    snapshot_id: s.snapshot_id().unwrap_or_default().to_string(),
                    state: s
                        .state()
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_default(),
                    percent: parse_percent(s.progress()),
                    message: s.state_message().map(String::from),
                })
                .collect())
        },
        progress,
    )?;
    read_set(ec2, &set.set_id, &set.instance_id)
}
