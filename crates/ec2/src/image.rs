//! From a snapshot set to a bootable image: the RegisterImage request.
//!
//! This is where the console's trap is: an image registered from snapshots
//! gets AWS's defaults unless told otherwise (no ENA, legacy BIOS, and
//! whatever root device name is typed), and then the instance does not boot,
//! or boots without network. So every setting that decides whether it boots
//! is copied from the source ([`InstanceFacts`]), never defaulted:
//! `VirtualizationType=hvm`, architecture, root device name, ENA, boot mode,
//! SR-IOV, NitroTPM; and each snapshot is mapped at the device name it had,
//! the root snapshot at the root device name, with its size, volume type
//! and performance, deleted when the instance is terminated.
//!
//! [`plan`] is pure (unit tested); [`request`] turns a plan into the SDK
//! call (checked against a server in the integration tests).

use crate::client::Ec2;
use crate::facts::InstanceFacts;
use crate::sets::SnapshotSet;
use crate::tags;
use crate::wait::{Clock, SnapshotState, wait_completed};
use aws_sdk_ec2::types::{
    ArchitectureValues, BlockDeviceMapping, BootModeValues, EbsBlockDevice, ResourceType, Tag,
    TagSpecification, TpmSupportValues, VolumeType,
};
use coffer_core::{Error, Kind, Result};
use std::time::Duration;

/// Everything RegisterImage will be asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImagePlan {
    pub name: String,
    pub description: String,
    pub virtualization_type: String,
    pub architecture: String,
    pub root_device_name: String,
    pub ena_support: bool,
    pub boot_mode: Option<String>,
    pub sriov_net_support: Option<String>,
    pub tpm_support: Option<String>,
    pub mappings: Vec<Mapping>,
    pub set_id: String,
    pub instance_id: String,
}

/// One block device mapping of the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    pub device: String,
    pub snapshot_id: String,
    pub size_gib: Option<i32>,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
}

/// The RegisterImage request for `set`, with the source's `facts` (see the
/// module docs). Refuses a set that is not complete: a snapshot still
/// pending, no root snapshot, or a snapshot without its device name.
pub fn plan(set: &SnapshotSet, facts: &InstanceFacts, name: &str) -> Result<ImagePlan> {
    if name.trim().is_empty() {
        return Err(Error::invalid("the image needs a --name"));
    }
    if let Some(s) = set.snapshots.iter().find(|s| s.state != "completed") {
        let what = if s.state == "pending" {
            format!(
                "snapshot still pending ({}); wait for it (`coffer ec2 snapshot --wait`, or try again later)",
                if s.progress.is_empty() {
                    "0%"
                } else {
                    &s.progress
                }
            )
        } else {
            format!("snapshot is in state {}, not completed", s.state)
        };
        return Err(Error::at(Kind::Fatal, what, &s.snapshot_id));
    }
    let root = set.root().ok_or_else(|| {
        Error::at(
            Kind::InvalidInput,
            "snapshot set has no snapshot of the root volume; an image cannot boot without one",
            &set.set_id,
        )
    })?;
    let mut mappings = Vec::with_capacity(set.snapshots.len());
    for s in &set.snapshots {
        let device = if std::ptr::eq(s, root) {
            facts.root_device_name.clone()
        } else {
            s.device.clone().ok_or_else(|| {
                Error::at(
                    Kind::Fatal,
                    "snapshot has no coffer:device tag",
                    &s.snapshot_id,
                )
            })?
        };
        mappings.push(Mapping {
            device,
            snapshot_id: s.snapshot_id.clone(),
            size_gib: s.size_gib,
            volume_type: s.volume_type.clone(),
            iops: s.iops,
            throughput: s.throughput,
        });
    }
    Ok(ImagePlan {
        name: name.to_string(),
        description: format!(
            "coffer: {} of {} at {}",
            set.set_id,
            set.instance_id,
            tags::rfc3339(set.time_ns)
        ),
        virtualization_type: "hvm".into(),
        architecture: facts.architecture.clone(),
        root_device_name: facts.root_device_name.clone(),
        ena_support: facts.ena_support,
        boot_mode: facts.boot_mode.clone(),
        sriov_net_support: facts.sriov_net_support.clone(),
        tpm_support: facts.tpm_support.clone(),
        mappings,
        set_id: set.set_id.clone(),
        instance_id: set.instance_id.clone(),
    })
}

/// Tags of the image; `time_ns` is the set's time.
pub fn image_tags(p: &ImagePlan, time_ns: i64) -> Vec<Tag> {
    [
        ("Name", p.name.clone()),
        (tags::SET, p.set_id.clone()),
        (tags::INSTANCE, p.instance_id.clone()),
        (tags::TIME, tags::rfc3339(time_ns)),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

/// The SDK request for `p`, on `client`.
pub fn request(
    client: &aws_sdk_ec2::Client,
    p: &ImagePlan,
    time_ns: i64,
) -> aws_sdk_ec2::operation::register_image::builders::RegisterImageFluentBuilder {
    let mut r = client
        .register_image()
        .name(&p.name)
        .description(&p.description)
        .virtualization_type(&p.virtualization_type)
        .architecture(ArchitectureValues::from(p.architecture.as_str()))
        .root_device_name(&p.root_device_name)
        .ena_support(p.ena_support)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Image)
                .set_tags(Some(image_tags(p, time_ns)))
                .build(),
        );
    if let Some(b) = &p.boot_mode {
        r = r.boot_mode(BootModeValues::from(b.as_str()));
    }
    if let Some(s) = &p.sriov_net_support {
        r = r.sriov_net_support(s);
    }
    if let Some(t) = &p.tpm_support {
        r = r.tpm_support(TpmSupportValues::from(t.as_str()));
    }
    for m in &p.mappings {
        let mut ebs = EbsBlockDevice::builder()
            .snapshot_id(&m.snapshot_id)
            .delete_on_termination(true)
            .set_volume_size(m.size_gib)
            .set_iops(m.iops)
            .set_throughput(m.throughput);
        if let Some(t) = &m.volume_type {
            ebs = ebs.volume_type(VolumeType::from(t.as_str()));
        }
        r = r.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(&m.device)
                .ebs(ebs.build())
                .build(),
        );
    }
    r
}

/// What `coffer ec2 image` is asked.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub instance_id: String,
    /// The set to use (default: the newest of the instance).
    pub set_id: Option<String>,
    pub name: String,
    pub dry_run: bool,
}

/// What `image` did (or would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageResult {
    pub plan: ImagePlan,
    /// None with `dry_run`.
    pub image_id: Option<String>,
}

/// The set `set_id` of `instance_id`, or its newest one.
pub fn find_set(
    ec2: &Ec2,
    instance_id: &str,
    set_id: Option<&str>,
    at: Option<i64>,
) -> Result<SnapshotSet> {
    let sets = ec2.sets(Some(instance_id))?;
    crate::sets::choose(&sets, set_id, at).cloned().ok_or_else(|| match set_id {
        Some(id) => Error::at(Kind::NotFound, "no such snapshot set of this instance", format!("{id} ({instance_id})")),
        None => Error::at(
            Kind::NotFound,
            match at {
                Some(_) => "no snapshot set of this instance at or before that time (see `coffer ec2 list`)",
                None => "no snapshot set of this instance (take one with `coffer ec2 snapshot`)",
            },
            instance_id,
        ),
    })
}

/// The facts an image of `set` is made with: those recorded in its tags
/// (they describe the disks as they were), else the instance's now.
pub fn facts_for(ec2: &Ec2, set: &SnapshotSet) -> Result<InstanceFacts> {
    match &set.facts {
        Some(f) => Ok(f.clone()),
        None => ec2.facts(&set.instance_id),
    }
}

/// Registers the image of `set` (see the module docs).
pub fn register(ec2: &Ec2, set: &SnapshotSet, name: &str, dry_run: bool) -> Result<ImageResult> {
    let facts = facts_for(ec2, set)?;
    let p = plan(set, &facts, name)?;
    if dry_run {
        return Ok(ImageResult {
            plan: p,
            image_id: None,
        });
    }
    let out = ec2
        .block_on(request(ec2.client(), &p, set.time_ns).send())
        .map_err(|e| crate::error::map_err(e, "register image", &set.set_id))?;
    let id = out.image_id().unwrap_or_default().to_string();
    // RegisterImage tagged it already on AWS; some mocks ignore that.
    ec2.block_on(
        ec2.client()
            .create_tags()
            .resources(&id)
            .set_tags(Some(image_tags(&p, set.time_ns)))
            .send(),
    )
    .map_err(|e| crate::error::map_err(e, "tag image", &id))?;
    Ok(ImageResult {
        plan: p,
        image_id: Some(id),
    })
}

/// `coffer ec2 image`.
pub fn image(ec2: &Ec2, o: &ImageOptions) -> Result<ImageResult> {
    let set = find_set(ec2, &o.instance_id, o.set_id.as_deref(), None)?;
    register(ec2, &set, &o.name, o.dry_run)
}

/// Waits until image `id` is `available` (RegisterImage returns while it is
/// still `pending`, and RunInstances refuses a pending image).
pub fn wait_available(
    ec2: &Ec2,
    id: &str,
    clock: &mut dyn Clock,
    interval: Duration,
    timeout: Duration,
) -> Result<()> {
    wait_completed(
        clock,
        interval,
        timeout,
        || {
            let out = ec2
                .block_on(ec2.client().describe_images().image_ids(id).send())
                .map_err(|e| crate::error::map_err(e, "describe image", id))?;
            let state = out
                .images()
                .first()
                .and_then(|i| i.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            Ok(vec![SnapshotState {
                snapshot_id: id.to_string(),
                state: match state.as_str() {
                    "available" => "completed".into(),
                    "failed" | "error" | "invalid" | "deregistered" => "error".into(),
                    _ => "pending".into(),
                },
                percent: 0,
                message: Some(format!("image is {state}")),
            }])
        },
        |_| {},
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sets::{Snap, group};
    use crate::tags::Tags;

    fn facts() -> InstanceFacts {
        InstanceFacts {
            instance_id: "i-1".into(),
            instance_type: "m7g.large".into(),
            architecture: "arm64".into(),
            root_device_name: "/dev/xvda".into(),
            virtualization_type: "hvm".into(),
            ena_support: true,
            boot_mode: Some("uefi".into()),
            ..Default::default()
        }
    }

    fn set(states: &[(&str, &str, bool, &str)]) -> SnapshotSet {
        let snaps = states
            .iter()
            .map(|(id, dev, root, state)| {
                let mut t = Tags::new();
                t.insert(tags::SET.into(), "cs-1".into());
                t.insert(tags::INSTANCE.into(), "i-1".into());
                t.insert(tags::DEVICE.into(), dev.to_string());
                t.insert(tags::ROOT.into(), root.to_string());
                t.insert(tags::VOLUME_TYPE.into(), "gp3".into());
                Snap::from_tags(
                    id.to_string(),
                    None,
                    Some(10),
                    state.to_string(),
                    "37%".into(),
                    0,
                    t,
                )
            })
            .collect();
        group(snaps, &[]).remove(0)
    }

    #[test]
    fn maps_every_snapshot_at_its_device_with_the_source_settings() {
        let s = set(&[
            ("snap-data", "/dev/sdf", false, "completed"),
            ("snap-root", "/dev/sda1", true, "completed"),
        ]);
        let p = plan(&s, &facts(), "web1").unwrap();
        assert_eq!(p.virtualization_type, "hvm");
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.root_device_name, "/dev/xvda");
        assert!(p.ena_support);
        assert_eq!(p.boot_mode.as_deref(), Some("uefi"));
        assert_eq!(
            p.mappings
                .iter()
                .map(|m| (m.device.as_str(), m.snapshot_id.as_str()))
                .collect::<Vec<_>>(),
            [("/dev/xvda", "snap-root"), ("/dev/sdf", "snap-data")],
            "the root snapshot goes on the root device name"
        );
        assert_eq!(p.mappings[0].volume_type.as_deref(), Some("gp3"));
        assert_eq!(p.mappings[0].size_gib, Some(10));
    }

    #[test]
    fn refuses_a_pending_snapshot() {
        let s = set(&[("snap-root", "/dev/xvda", true, "pending")]);
        let e = plan(&s, &facts(), "web1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "snapshot still pending (37%); wait for it (`coffer ec2 snapshot --wait`, or try again later): snap-root"
        );
    }

    #[test]
    fn refuses_a_set_without_root() {
        let s = set(&[("snap-data", "/dev/sdf", false, "completed")]);
        let e = plan(&s, &facts(), "web1").unwrap_err();
        assert!(
            e.to_string().contains("no snapshot of the root volume"),
            "{e}"
        );
        assert!(
            plan(
                &set(&[("a", "/dev/xvda", true, "completed")]),
                &facts(),
                " "
            )
            .is_err()
        );
    }
}
