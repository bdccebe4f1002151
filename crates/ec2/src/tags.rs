//! The tags coffer puts on what it creates, and reading them back.
//!
//! Everything coffer creates in EC2 carries its tags from the request that
//! creates it (TagSpecifications), so an interrupted command never leaves
//! an untagged snapshot or image behind: `coffer ec2 list` finds them all by
//! the `coffer:set` tag. Each snapshot of a set also records the facts of the
//! source instance needed to rebuild it ([`InstanceFacts`]), so `restore`
//! works after the instance is gone.
//!
//! Pure code: no I/O. AWS limits: 50 tags per resource, keys up to 128 and
//! values up to 256 characters; `aws:` is reserved.

use crate::facts::{InstanceFacts, Volume};
use std::collections::BTreeMap;

/// The set a snapshot (or image) belongs to: `cs-<UTC time>-<random>`.
pub const SET: &str = "coffer:set";
/// Source instance id.
pub const INSTANCE: &str = "coffer:instance";
/// When the set was taken (RFC 3339, UTC); retention is based on it.
pub const TIME: &str = "coffer:time";
/// Device name of the snapshotted volume on the source (`/dev/xvda`).
pub const DEVICE: &str = "coffer:device";
/// `true` on the snapshot of the root volume.
pub const ROOT: &str = "coffer:root";
/// EBS volume type of the source volume (gp3, io2, ...).
pub const VOLUME_TYPE: &str = "coffer:volume-type";
/// Provisioned IOPS / throughput of the source volume, when it had them.
pub const IOPS: &str = "coffer:iops";
pub const THROUGHPUT: &str = "coffer:throughput";
/// Set on instances coffer launched: the image they came from.
pub const LAUNCHED_FROM: &str = "coffer:launched-from";

// Facts of the source instance, on every snapshot of a set.
pub const INSTANCE_TYPE: &str = "coffer:instance-type";
pub const SUBNET: &str = "coffer:subnet";
pub const SECURITY_GROUPS: &str = "coffer:security-groups";
pub const KEY_NAME: &str = "coffer:key-name";
pub const IAM_PROFILE: &str = "coffer:iam-profile";
pub const ARCHITECTURE: &str = "coffer:architecture";
pub const ROOT_DEVICE: &str = "coffer:root-device";
pub const ENA: &str = "coffer:ena";
pub const BOOT_MODE: &str = "coffer:boot-mode";
pub const SRIOV: &str = "coffer:sriov";
pub const TPM: &str = "coffer:tpm";
pub const NAME: &str = "coffer:name";

/// Longest tag value AWS accepts.
const MAX_VALUE: usize = 256;

/// Tags of one resource, by key.
pub type Tags = BTreeMap<String, String>;

/// Whether `key` is one of ours (`coffer:`) or reserved by AWS (`aws:`).
pub fn is_internal(key: &str) -> bool {
    key.starts_with("coffer:") || key.starts_with("aws:")
}

/// Parses `--tag k=v` (a bare `k` means an empty value). Refuses keys AWS or
/// coffer reserve and sizes AWS would refuse.
pub fn parse_user_tag(s: &str) -> coffer_core::Result<(String, String)> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    let bad =
        |why: &str| coffer_core::Error::invalid(format!("invalid --tag ({why})")).with_location(s);
    if k.is_empty() {
        return Err(bad("empty key; expected KEY=VALUE"));
    }
    if is_internal(k) {
        return Err(bad("keys starting with aws: or coffer: are reserved"));
    }
    if k.chars().count() > 128 || v.chars().count() > MAX_VALUE {
        return Err(bad(
            "key longer than 128 or value longer than 256 characters",
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `v` cut to what AWS accepts (at a character boundary).
fn fit(v: &str) -> String {
    v.chars().take(MAX_VALUE).collect()
}

/// A list in one tag value: as many items as fit, space-separated.
fn join_fitting(items: &[String]) -> String {
    let mut out = String::new();
    for i in items {
        let extra = if out.is_empty() { i.len() } else { i.len() + 1 };
        if out.len() + extra > MAX_VALUE {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(i);
    }
    out
}

/// The instance facts as tags (empty values are left out).
pub fn facts_to_tags(f: &InstanceFacts) -> Tags {
    let mut t = Tags::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            t.insert(k.to_string(), fit(v));
        }
    };
    put(INSTANCE, Some(&f.instance_id));
    put(INSTANCE_TYPE, Some(&f.instance_type));
    put(SUBNET, f.subnet_id.as_deref());
    put(SECURITY_GROUPS, Some(&join_fitting(&f.security_groups)));
    put(KEY_NAME, f.key_name.as_deref());
    put(IAM_PROFILE, f.iam_profile_arn.as_deref());
    put(ARCHITECTURE, Some(&f.architecture));
    put(ROOT_DEVICE, Some(&f.root_device_name));
    put(ENA, Some(if f.ena_support { "true" } else { "false" }));
    put(BOOT_MODE, f.boot_mode.as_deref());
    put(SRIOV, f.sriov_net_support.as_deref());
    put(TPM, f.tpm_support.as_deref());
    put(NAME, f.name.as_deref());
    t
}

/// The instance facts recorded on a snapshot, if the tags hold the ones an
/// image needs (instance, type, architecture, root device).
pub fn facts_from_tags(t: &Tags) -> Option<InstanceFacts> {
    let get = |k: &str| t.get(k).filter(|v| !v.is_empty()).cloned();
    Some(InstanceFacts {
        instance_id: get(INSTANCE)?,
        instance_type: get(INSTANCE_TYPE)?,
        subnet_id: get(SUBNET),
        security_groups: get(SECURITY_GROUPS)
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
        key_name: get(KEY_NAME),
        iam_profile_arn: get(IAM_PROFILE),
        architecture: get(ARCHITECTURE)?,
        root_device_name: get(ROOT_DEVICE)?,
        virtualization_type: "hvm".into(),
        ena_support: get(ENA).as_deref() == Some("true"),
        boot_mode: get(BOOT_MODE),
        sriov_net_support: get(SRIOV),
        tpm_support: get(TPM),
        name: get(NAME),
        // The instance's own tags are not recorded (they would crowd out
        // the 50-tag limit); a restored instance gets its Name back.
        tags: get(NAME)
            .map(|n| vec![("Name".to_string(), n)])
            .unwrap_or_default(),
        volumes: Vec::new(),
    })
}

/// Tags of the snapshot of `v`: its device, whether it is the root, its
/// volume type and performance.
pub fn volume_tags(v: &Volume) -> Tags {
    let mut t = Tags::new();
    t.insert(DEVICE.into(), fit(&v.device));
    t.insert(ROOT.into(), v.root.to_string());
    if let Some(vt) = &v.volume_type {
        t.insert(VOLUME_TYPE.into(), vt.clone());
    }
    if let Some(i) = v.iops {
        t.insert(IOPS.into(), i.to_string());
    }
    if let Some(x) = v.throughput {
        t.insert(THROUGHPUT.into(), x.to_string());
    }
    t
}

/// RFC 3339 (UTC, seconds) of ns since the epoch.
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// ns since the epoch of an RFC 3339 time.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_nanos_opt()
}

/// A new set id: the UTC time (so ids sort by time) and 32 random bits (so
/// two sets taken in the same second differ).
pub fn new_set_id(now_ns: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(now_ns).format("%Y%m%dT%H%M%SZ");
    format!("cs-{t}-{:08x}", rand::random::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> InstanceFacts {
        InstanceFacts {
            instance_id: "i-0abc".into(),
            instance_type: "t3.micro".into(),
            subnet_id: Some("subnet-1".into()),
            security_groups: vec!["sg-1".into(), "sg-2".into()],
            key_name: Some("ops".into()),
            iam_profile_arn: Some("arn:aws:iam::1:instance-profile/web".into()),
            architecture: "arm64".into(),
            root_device_name: "/dev/xvda".into(),
            virtualization_type: "hvm".into(),
            ena_support: true,
            boot_mode: Some("uefi".into()),
            sriov_net_support: None,
            tpm_support: Some("v2.0".into()),
            name: Some("web1".into()),
            tags: vec![("Name".into(), "web1".into())],
            volumes: vec![],
        }
    }

    #[test]
    fn facts_round_trip_through_tags() {
        let f = facts();
        let back = facts_from_tags(&facts_to_tags(&f)).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn facts_need_the_essentials() {
        let mut t = facts_to_tags(&facts());
        t.remove(ROOT_DEVICE);
        assert_eq!(facts_from_tags(&t), None);
    }

    #[test]
    fn long_lists_are_cut_between_items() {
        let many: Vec<String> = (0..30).map(|i| format!("sg-{i:017}")).collect();
        let s = join_fitting(&many);
        assert!(s.len() <= MAX_VALUE);
        assert!(s.split(' ').all(|g| g.len() == 20), "{s}");
    }

    #[test]
    fn user_tags_are_checked() {
        assert_eq!(
            parse_user_tag("env=prod").unwrap(),
            ("env".into(), "prod".into())
        );
        assert_eq!(parse_user_tag("flag").unwrap(), ("flag".into(), "".into()));
        assert_eq!(parse_user_tag("a=b=c").unwrap().1, "b=c");
        for bad in ["=x", "aws:x=1", "coffer:set=1"] {
            assert!(parse_user_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_ids_sort_by_time() {
        let a = new_set_id(1_700_000_000_000_000_000);
        let b = new_set_id(1_700_000_001_000_000_000);
        assert!(a.starts_with("cs-20231114T221320Z-"), "{a}");
        assert!(a < b);
        assert_eq!(
            parse_rfc3339(&rfc3339(1_700_000_000_000_000_000)),
            Some(1_700_000_000_000_000_000)
        );
    }
}
