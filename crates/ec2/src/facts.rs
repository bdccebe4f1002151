//! What coffer needs to know about a source instance to make a bootable
//! image of its snapshots and to launch a twin of it.
//!
//! Input: the instance as DescribeInstances returns it, its AMI (if it still
//! exists), whether its instance type requires ENA, and its EBS volumes.
//! Output: [`InstanceFacts`]. Pure: no I/O, so every rule below is unit
//! tested.
//!
//! Where a fact comes from, in order (the first that knows wins):
//! - architecture, root device name, virtualization type: the instance;
//! - ENA support: the instance's attribute, else the AMI's, else whether the
//!   instance type *requires* ENA (every Nitro type does: an instance running
//!   on one has the driver, and an image without the flag would not boot there);
//! - boot mode: the instance's `BootMode`, else the mode it booted in
//!   (`CurrentInstanceBootMode`), else the AMI's; unknown is left to AWS's
//!   default (legacy BIOS on x86_64, UEFI on arm64);
//! - SR-IOV and NitroTPM: the instance, else the AMI.

use aws_sdk_ec2::types::{Image, Instance};
use coffer_core::{Error, Kind, Result};

/// The facts of a source instance (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct InstanceFacts {
    pub instance_id: String,
    pub instance_type: String,
    pub subnet_id: Option<String>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub iam_profile_arn: Option<String>,
    /// `x86_64`, `arm64`, `i386`, `x86_64_mac`, `arm64_mac`.
    pub architecture: String,
    pub root_device_name: String,
    /// Always `hvm` for instances coffer accepts.
    pub virtualization_type: String,
    pub ena_support: bool,
    /// `legacy-bios`, `uefi` or `uefi-preferred`.
    pub boot_mode: Option<String>,
    pub sriov_net_support: Option<String>,
    pub tpm_support: Option<String>,
    /// The instance's Name tag.
    pub name: Option<String>,
    /// The instance's tags without AWS's reserved `aws:` ones.
    pub tags: Vec<(String, String)>,
    /// Attached EBS volumes, root first.
    pub volumes: Vec<Volume>,
}

/// One EBS volume attached to the source instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Volume {
    pub volume_id: String,
    pub device: String,
    pub root: bool,
    pub size_gib: Option<i32>,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
}

/// Builds the facts (see the module docs). `volumes` are the instance's
/// volumes from DescribeVolumes (for their type and size); `type_requires_ena`
/// is from DescribeInstanceTypes, `None` if unknown.
pub fn from_instance(
    inst: &Instance,
    image: Option<&Image>,
    type_requires_ena: Option<bool>,
    volumes: &[aws_sdk_ec2::types::Volume],
) -> Result<InstanceFacts> {
    let id = inst.instance_id().unwrap_or_default().to_string();
    let virt = hvm_virtualization(inst, image, &id)?;
    let root_device_name = root_device_name(inst, image, &id)?;
    let architecture = inst
        .architecture()
        .or_else(|| image.and_then(|i| i.architecture()))
        .map(|a| a.as_str().to_string())
        .ok_or_else(|| Error::at(Kind::Fatal, "instance reports no architecture", &id))?;
    let ena_support = inst
        .ena_support()
        .or_else(|| image.and_then(|i| i.ena_support()))
        .or(type_requires_ena)
        .unwrap_or(false);
    let sriov_net_support = inst
        .sriov_net_support()
        .or_else(|| image.and_then(|i| i.sriov_net_support()))
        .map(String::from);
    let tpm_support = inst.tpm_support().map(String::from).or_else(|| {
        image
            .and_then(|i| i.tpm_support())
            .map(|t| t.as_str().to_string())
    });
    let tags = user_tags(inst);
    let name = tags
        .iter()
        .find(|(k, _)| k == "Name")
        .map(|(_, v)| v.clone());
    let vols = attached_volumes(inst, volumes, &root_device_name);
    Ok(InstanceFacts {
        instance_type: inst
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        subnet_id: inst.subnet_id().map(String::from),
        security_groups: inst
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(String::from))
            .collect(),
        key_name: inst.key_name().map(String::from),
        iam_profile_arn: inst
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(String::from),
        instance_id: id,
        architecture,
        root_device_name,
        virtualization_type: virt,
        ena_support,
        boot_mode: boot_mode(inst, image),
        sriov_net_support,
        tpm_support,
        name,
        tags,
        volumes: vols,
    })
}

/// The virtualization type (the instance's, else the AMI's, else `hvm`);
/// an error unless it is `hvm`.
fn hvm_virtualization(inst: &Instance, image: Option<&Image>, id: &str) -> Result<String> {
    let virt = inst
        .virtualization_type()
        .map(|v| v.as_str().to_string())
        .or_else(|| {
            image
                .and_then(|i| i.virtualization_type())
                .map(|v| v.as_str().to_string())
        })
        .unwrap_or_else(|| "hvm".into());
    if virt != "hvm" {
        return Err(Error::at(
            Kind::InvalidInput,
            format!("instance uses {virt} virtualization; coffer makes HVM images only"),
            id,
        ));
    }
    Ok(virt)
}

/// The root device name (the instance's, else the AMI's); an error if
/// neither has one.
fn root_device_name(inst: &Instance, image: Option<&Image>, id: &str) -> Result<String> {
    Ok(inst
        .root_device_name()
        .or_else(|| image.and_then(|i| i.root_device_name()))
        .ok_or_else(|| {
            Error::at(
                Kind::Fatal,
                "instance has no root device name (instance-store root?)",
                id,
            )
        })?
        .to_string())
}

/// The boot mode: the instance's `BootMode`, else the mode it booted in,
/// else the AMI's; `None` if unknown.
fn boot_mode(inst: &Instance, image: Option<&Image>) -> Option<String> {
    inst.boot_mode()
        .map(|b| b.as_str().to_string())
        .or_else(|| {
            inst.current_instance_boot_mode()
                .map(|b| b.as_str().to_string())
        })
        .or_else(|| {
            image
                .and_then(|i| i.boot_mode())
                .map(|b| b.as_str().to_string())
        })
}

/// The instance's tags without AWS's reserved `aws:` ones.
fn user_tags(inst: &Instance) -> Vec<(String, String)> {
    inst.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// The instance's attached EBS volumes, root first, with type, size, IOPS
/// and throughput from `volumes` (DescribeVolumes) where known.
fn attached_volumes(
    inst: &Instance,
    volumes: &[aws_sdk_ec2::types::Volume],
    root_device_name: &str,
) -> Vec<Volume> {
    let mut vols: Vec<Volume> = inst
        .block_device_mappings()
        .iter()
        .filter_map(|m| {
            let device = m.device_name()?.to_string();
            let volume_id = m.ebs()?.volume_id()?.to_string();
            let info = volumes
                .iter()
                .find(|v| v.volume_id() == Some(volume_id.as_str()));
            Some(Volume {
                root: device == root_device_name,
                device,
                volume_id,
                size_gib: info.and_then(|v| v.size()),
                volume_type: info
                    .and_then(|v| v.volume_type())
                    .map(|t| t.as_str().to_string()),
                iops: info
                    .filter(|v| {
                        v.volume_type()
                            .is_some_and(|t| has_provisioned_iops(t.as_str()))
                    })
                    .and_then(|v| v.iops()),
                throughput: info
                    .filter(|v| v.volume_type().is_some_and(|t| t.as_str() == "gp3"))
                    .and_then(|v| v.throughput()),
            })
        })
        .collect();
    vols.sort_by_key(|v| !v.root);
    vols
}

/// Volume types whose IOPS are set at creation (and so must be copied).
fn has_provisioned_iops(t: &str) -> bool {
    matches!(t, "io1" | "io2" | "gp3")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        ArchitectureValues, BootModeValues, EbsInstanceBlockDevice, GroupIdentifier,
        InstanceBlockDeviceMapping, InstanceType, Tag, VirtualizationType, VolumeType,
    };

    fn mapping(dev: &str, vol: &str) -> InstanceBlockDeviceMapping {
        InstanceBlockDeviceMapping::builder()
            .device_name(dev)
            .ebs(EbsInstanceBlockDevice::builder().volume_id(vol).build())
            .build()
    }

    fn instance() -> aws_sdk_ec2::types::builders::InstanceBuilder {
        Instance::builder()
            .instance_id("i-1")
            .instance_type(InstanceType::T3Micro)
            .architecture(ArchitectureValues::Arm64)
            .root_device_name("/dev/xvda")
            .virtualization_type(VirtualizationType::Hvm)
            .subnet_id("subnet-1")
            .security_groups(GroupIdentifier::builder().group_id("sg-1").build())
            .key_name("ops")
            .tags(Tag::builder().key("Name").value("web1").build())
            .tags(
                Tag::builder()
                    .key("aws:cloudformation:stack-name")
                    .value("x")
                    .build(),
            )
            .block_device_mappings(mapping("/dev/sdf", "vol-data"))
            .block_device_mappings(mapping("/dev/xvda", "vol-root"))
    }

    #[test]
    fn copies_what_makes_it_boot() {
        let vols = [aws_sdk_ec2::types::Volume::builder()
            .volume_id("vol-root")
            .size(8)
            .volume_type(VolumeType::Gp3)
            .iops(3000)
            .throughput(125)
            .build()];
        let f = from_instance(&instance().ena_support(true).build(), None, None, &vols).unwrap();
        assert_eq!(f.architecture, "arm64");
        assert_eq!(f.root_device_name, "/dev/xvda");
        assert!(f.ena_support);
        assert_eq!(
            f.tags,
            vec![("Name".to_string(), "web1".to_string())],
            "aws: tags dropped"
        );
        assert_eq!(f.volumes[0].device, "/dev/xvda", "root first");
        assert!(f.volumes[0].root && !f.volumes[1].root);
        assert_eq!(f.volumes[0].volume_type.as_deref(), Some("gp3"));
        assert_eq!(
            (f.volumes[0].iops, f.volumes[0].throughput),
            (Some(3000), Some(125))
        );
        assert_eq!(f.volumes[1].size_gib, None, "unknown volume: no size");
    }

    #[test]
    fn ena_and_boot_mode_fall_back_to_the_image_then_the_type() {
        let img = Image::builder()
            .boot_mode(BootModeValues::Uefi)
            .ena_support(true)
            .build();
        let f = from_instance(&instance().build(), Some(&img), Some(false), &[]).unwrap();
        assert!(f.ena_support, "the image says ENA");
        assert_eq!(f.boot_mode.as_deref(), Some("uefi"));
        let f = from_instance(&instance().build(), None, Some(true), &[]).unwrap();
        assert!(f.ena_support, "the type requires ENA");
        assert_eq!(f.boot_mode, None);
        let f = from_instance(&instance().build(), None, None, &[]).unwrap();
        assert!(!f.ena_support);
    }

    #[test]
    fn refuses_paravirtual() {
        let inst = instance()
            .virtualization_type(VirtualizationType::Paravirtual)
            .build();
        let e = from_instance(&inst, None, None, &[]).unwrap_err();
        assert!(e.to_string().contains("paravirtual"), "{e}");
    }
}
