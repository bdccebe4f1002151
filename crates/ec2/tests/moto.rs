//! coffer_ec2 against moto's EC2 server (started by .ci/run; the tests fail
//! without it): the round trip snapshot -> image -> launch, restore of an
//! instance that is gone, retention, and errors.
//!
//! moto registers images without looking at the settings that make them
//! boot, so the RegisterImage request coffer sends is captured by an SDK
//! interceptor and checked field by field.

mod support;

use coffer_core::Kind;
use coffer_core::Policy;
use coffer_ec2::aws_sdk_ec2 as sdk;
use coffer_ec2::forget::{ForgetOptions, forget};
use coffer_ec2::image::{ImageOptions, image};
use coffer_ec2::launch::{LaunchOptions, run as launch};
use coffer_ec2::restore::{RestoreOptions, restore};
use coffer_ec2::sets::SnapshotSet;
use coffer_ec2::snapshot::{SnapshotOptions, Volumes, snapshot};
use coffer_ec2::tags;
use coffer_ec2::wait::SystemClock;
use sdk::config::interceptors::BeforeSerializationInterceptorContextRef;
use sdk::config::{ConfigBag, Intercept, RuntimeComponents};
use sdk::operation::register_image::RegisterImageInput;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// Keeps every RegisterImage input the client sends.
#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<RegisterImageInput>>>);

impl Intercept for Captured {
    fn name(&self) -> &'static str {
        "capture RegisterImage"
    }
    fn read_before_serialization(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), sdk::error::BoxError> {
        if let Some(i) = ctx.input().downcast_ref::<RegisterImageInput>() {
            self.0.lock().unwrap().push(i.clone());
        }
        Ok(())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

fn snap_opts(instance: &str, volumes: Volumes) -> SnapshotOptions {
    SnapshotOptions {
        instance_id: instance.into(),
        volumes,
        tags: vec![("env".into(), "test".into())],
        dry_run: false,
        now: now(),
    }
}

#[test]
fn snapshot_image_launch_round_trip() {
    let captured = Captured::default();
    let ec2 = ec2_with(config().interceptor(captured.clone()));
    let src = source(&ec2);
    let set = snapshot_every_volume(&ec2, &src);
    let name = unique("img");
    dry_run_image_registers_nothing(&ec2, &captured, &src, &name);
    let image_id = image_carries_what_makes_it_boot(&ec2, &captured, &src, &set, &name);
    launch_finds_the_original_through_tags(&ec2, &src, &image_id);

    // List: the set, with its image.
    let sets = ec2.sets(Some(&src.instance_id)).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].images.len(), 1);
    assert_eq!(sets[0].images[0].image_id, image_id);
}

/// Snapshot: every volume, tagged, root first.
fn snapshot_every_volume(ec2: &coffer_ec2::Ec2, src: &Source) -> SnapshotSet {
    let r = snapshot(ec2, &snap_opts(&src.instance_id, Volumes::All)).unwrap();
    let set = r.set.clone().unwrap();
    assert_eq!(set.snapshots.len(), 2, "{set:#?}");
    assert_eq!(set.state(), "completed");
    let root = &set.snapshots[0];
    let data = &set.snapshots[1];
    assert!(root.root && !data.root);
    assert_eq!(root.device.as_deref(), Some("/dev/sda1"));
    assert_eq!(data.device.as_deref(), Some("/dev/sdf"));
    assert_eq!(data.volume_id.as_deref(), Some(src.data_volume.as_str()));
    assert_eq!(data.volume_type.as_deref(), Some("gp3"));
    for s in snapshots_tagged(ec2, tags::SET, &set.set_id) {
        let t = tags_of(s.tags());
        assert_eq!(t[tags::INSTANCE], src.instance_id);
        assert_eq!(t[tags::INSTANCE_TYPE], "t3.micro");
        assert_eq!(t[tags::SUBNET], src.subnet_id);
        assert_eq!(t[tags::SECURITY_GROUPS], src.security_group);
        assert_eq!(t[tags::KEY_NAME], src.key_name);
        assert_eq!(t[tags::IAM_PROFILE], src.profile_arn);
        assert_eq!(t[tags::ARCHITECTURE], "x86_64");
        assert_eq!(t[tags::ROOT_DEVICE], "/dev/sda1");
        assert_eq!(t["env"], "test");
        assert!(t.contains_key(tags::TIME) && t.contains_key(tags::DEVICE));
    }
    set
}

/// A dry run registers nothing.
fn dry_run_image_registers_nothing(
    ec2: &coffer_ec2::Ec2,
    captured: &Captured,
    src: &Source,
    name: &str,
) {
    let dry = image(
        ec2,
        &ImageOptions {
            instance_id: src.instance_id.clone(),
            set_id: None,
            name: name.to_string(),
            dry_run: true,
        },
    )
    .unwrap();
    assert_eq!(dry.image_id, None);
    assert!(captured.0.lock().unwrap().is_empty());
}

/// Image: the request carries what makes it boot. Returns the image id.
fn image_carries_what_makes_it_boot(
    ec2: &coffer_ec2::Ec2,
    captured: &Captured,
    src: &Source,
    set: &SnapshotSet,
    name: &str,
) -> String {
    let img = image(
        ec2,
        &ImageOptions {
            instance_id: src.instance_id.clone(),
            set_id: Some(set.set_id.clone()),
            name: name.to_string(),
            dry_run: false,
        },
    )
    .unwrap();
    let image_id = img.image_id.clone().unwrap();
    let reqs = captured.0.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.name(), Some(name));
    assert_eq!(req.virtualization_type(), Some("hvm"));
    assert_eq!(req.architecture().map(|a| a.as_str()), Some("x86_64"));
    assert_eq!(req.root_device_name(), Some("/dev/sda1"));
    assert_eq!(req.ena_support(), Some(true), "t3 requires ENA");
    assert_eq!(
        req.boot_mode().map(|b| b.as_str()),
        Some("uefi"),
        "from the source AMI"
    );
    let (root, data) = (&set.snapshots[0], &set.snapshots[1]);
    assert_eq!(
        mappings(req),
        vec![
            (
                "/dev/sda1".into(),
                root.snapshot_id.clone(),
                true,
                root.size_gib,
                root.volume_type.clone()
            ),
            (
                "/dev/sdf".into(),
                data.snapshot_id.clone(),
                true,
                Some(5),
                Some("gp3".into())
            ),
        ]
    );
    let described = ec2.image(&image_id).unwrap().unwrap();
    let it = tags_of(described.tags());
    assert_eq!(it[tags::SET], set.set_id);
    assert_eq!(it[tags::INSTANCE], src.instance_id);
    image_id
}

/// (device, snapshot, delete on termination, size, volume type)
type Mapping = (String, String, bool, Option<i32>, Option<String>);

/// The block device mappings of a RegisterImage request.
fn mappings(req: &RegisterImageInput) -> Vec<Mapping> {
    req.block_device_mappings()
        .iter()
        .map(|m| {
            let e = m.ebs().unwrap();
            (
                m.device_name().unwrap().to_string(),
                e.snapshot_id().unwrap().to_string(),
                e.delete_on_termination().unwrap(),
                e.volume_size(),
                e.volume_type().map(|t| t.as_str().to_string()),
            )
        })
        .collect()
}

/// Launch: found the original through the image's tags.
fn launch_finds_the_original_through_tags(ec2: &coffer_ec2::Ec2, src: &Source, image_id: &str) {
    let l = launch(
        ec2,
        &LaunchOptions {
            image_id: image_id.to_string(),
            like: None,
            instance_type: None,
            dry_run: false,
            timeout: Duration::from_secs(30),
        },
        &mut SystemClock::start(),
    )
    .unwrap();
    assert_eq!(l.like.as_deref(), Some(src.instance_id.as_str()));
    let new = describe(ec2, &l.launched.unwrap().instance_id);
    assert_eq!(new.image_id(), Some(image_id));
    assert_eq!(new.instance_type().map(|t| t.as_str()), Some("t3.micro"));
    assert_eq!(new.subnet_id(), Some(src.subnet_id.as_str()));
    let groups: Vec<&str> = new
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, [src.security_group.as_str()]);
    assert_eq!(new.key_name(), Some(src.key_name.as_str()));
    assert_eq!(
        new.iam_instance_profile().and_then(|p| p.arn()),
        Some(src.profile_arn.as_str())
    );
    let nt = tags_of(new.tags());
    assert_eq!(nt["Name"], src.name);
    assert_eq!(nt["app"], "web");
    assert_eq!(nt[tags::LAUNCHED_FROM], image_id);
}

#[test]
fn root_only_snapshot_and_dry_run() {
    let ec2 = ec2();
    let src = source(&ec2);
    let mut o = snap_opts(&src.instance_id, Volumes::Root);
    o.dry_run = true;
    let dry = snapshot(&ec2, &o).unwrap();
    assert!(dry.set.is_none());
    assert_eq!(dry.volumes.len(), 1);
    assert!(
        snapshots_tagged(&ec2, tags::SET, &dry.set_id).is_empty(),
        "dry run made nothing"
    );

    let r = snapshot(&ec2, &snap_opts(&src.instance_id, Volumes::Root)).unwrap();
    let set = r.set.unwrap();
    assert_eq!(set.snapshots.len(), 1);
    assert!(set.snapshots[0].root);
    assert_eq!(set.snapshots[0].device.as_deref(), Some("/dev/sda1"));
    // Waiting on completed snapshots returns at once.
    let waited = coffer_ec2::snapshot::wait(
        &ec2,
        &set,
        &mut SystemClock::start(),
        Duration::from_secs(1),
        Duration::from_secs(10),
        |_| {},
    )
    .unwrap();
    assert_eq!(waited.state(), "completed");
}

#[test]
fn restore_when_the_instance_is_gone() {
    let ec2 = ec2();
    let src = source(&ec2);
    let r = snapshot(&ec2, &snap_opts(&src.instance_id, Volumes::All)).unwrap();
    let set = r.set.unwrap();
    // Make the set belong to an instance EC2 no longer knows (moto keeps
    // terminated instances describable, AWS does so only for a while).
    let gone = format!("i-0{:016x}", rand_u64());
    let snaps: Vec<String> = set
        .snapshots
        .iter()
        .map(|s| s.snapshot_id.clone())
        .collect();
    ec2.block_on(
        ec2.client()
            .create_tags()
            .set_resources(Some(snaps))
            .tags(
                sdk::types::Tag::builder()
                    .key(tags::INSTANCE)
                    .value(&gone)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let o = RestoreOptions {
        instance_id: gone.clone(),
        at: None,
        instance_type: None,
        dry_run: false,
        timeout: Duration::from_secs(30),
        interval: Duration::from_millis(200),
    };
    let r = restore(&ec2, &o, &mut SystemClock::start()).unwrap();
    assert!(!r.original_exists);
    assert!(!r.image_reused);
    let plan = r.image_plan.unwrap();
    assert_eq!(plan.root_device_name, "/dev/sda1");
    assert_eq!(plan.mappings.len(), 2);
    let new = describe(&ec2, &r.launched.unwrap().instance_id);
    assert_eq!(new.instance_type().map(|t| t.as_str()), Some("t3.micro"));
    assert_eq!(new.subnet_id(), Some(src.subnet_id.as_str()));
    assert_eq!(new.key_name(), Some(src.key_name.as_str()));
    let groups: Vec<&str> = new
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, [src.security_group.as_str()]);
    assert_eq!(tags_of(new.tags())["Name"], src.name);

    // A second restore reuses the image made from the set.
    let again = restore(&ec2, &o, &mut SystemClock::start()).unwrap();
    assert!(again.image_reused);
    assert_eq!(again.image_id, r.image_id);
}

#[test]
fn restore_after_terminate_uses_what_the_set_recorded() {
    let ec2 = ec2();
    let src = source(&ec2);
    snapshot(&ec2, &snap_opts(&src.instance_id, Volumes::Root)).unwrap();
    ec2.block_on(
        ec2.client()
            .terminate_instances()
            .instance_ids(&src.instance_id)
            .send(),
    )
    .unwrap();
    let o = RestoreOptions {
        instance_id: src.instance_id.clone(),
        at: None,
        instance_type: Some("t3.small".into()),
        dry_run: false,
        timeout: Duration::from_secs(30),
        interval: Duration::from_millis(200),
    };
    let r = restore(&ec2, &o, &mut SystemClock::start()).unwrap();
    assert!(!r.original_exists, "a terminated instance counts as gone");
    let new = describe(&ec2, &r.launched.unwrap().instance_id);
    assert_eq!(new.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(new.subnet_id(), Some(src.subnet_id.as_str()));
    assert_eq!(new.key_name(), Some(src.key_name.as_str()));
    assert_eq!(
        new.iam_instance_profile().and_then(|p| p.arn()),
        Some(src.profile_arn.as_str())
    );
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(unique("r"))
}

/// Creates a snapshot of `volume` tagged as the root snapshot of set `set`
/// of `instance`, taken at `time`.
fn fake_set(ec2: &coffer_ec2::Ec2, volume: &str, instance: &str, set: &str, time: &str) -> String {
    let tag = |k: &str, v: &str| sdk::types::Tag::builder().key(k).value(v).build();
    ec2.block_on(
        ec2.client()
            .create_snapshot()
            .volume_id(volume)
            .tag_specifications(
                sdk::types::TagSpecification::builder()
                    .resource_type(sdk::types::ResourceType::Snapshot)
                    .tags(tag(tags::SET, set))
                    .tags(tag(tags::INSTANCE, instance))
                    .tags(tag(tags::TIME, time))
                    .tags(tag(tags::ROOT, "true"))
                    .tags(tag(tags::DEVICE, "/dev/xvda"))
                    .build(),
            )
            .send(),
    )
    .unwrap()
    .snapshot_id()
    .unwrap()
    .to_string()
}

/// What `forget` is tried on: six sets of one (made-up) instance, s1's
/// snapshot used by an image coffer did not make, s3 with an image coffer
/// made.
struct ForgetFixture {
    instance: String,
    /// The image coffer did not make, and the snapshot it uses (tagged as
    /// one of s1's).
    foreign: String,
    foreign_snap: String,
    /// The image coffer made from s3.
    s3_image: String,
}

/// The id of the set labelled `label` of `instance`.
fn set_id(instance: &str, label: &str) -> String {
    format!("cs-{instance}-{label}")
}

impl ForgetFixture {
    fn set_id(&self, label: &str) -> String {
        set_id(&self.instance, label)
    }
}

#[test]
fn forget_applies_the_policy_and_keeps_snapshots_images_use() {
    let ec2 = ec2();
    let f = forget_fixture(&ec2);

    // keep-daily 2 keeps s6, s5; keep-monthly 2 keeps s6 (November) and s2
    // (the newest of October).
    let o = ForgetOptions {
        policy: Policy {
            daily: 2,
            monthly: 2,
            ..Default::default()
        },
        instance_id: Some(f.instance.clone()),
        dry_run: true,
        now: tags::parse_rfc3339("2026-11-29T00:00:00Z").unwrap(),
    };
    forget_dry_run_decides_and_deletes_nothing(&ec2, &f, &o);
    forget_deletes_all_but_the_kept_and_the_used(&ec2, &f, o);
}

/// Creates the sets s1..s6 and the two images of [`ForgetFixture`].
fn forget_fixture(ec2: &coffer_ec2::Ec2) -> ForgetFixture {
    let instance = format!("i-0{:016x}", rand_u64());
    let volume = ec2
        .block_on(
            ec2.client()
                .create_volume()
                .size(1)
                .availability_zone("us-east-1a")
                .send(),
        )
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    let times = [
        ("s1", "2026-10-01T10:00:00Z"),
        ("s2", "2026-10-20T10:00:00Z"),
        ("s3", "2026-11-01T10:00:00Z"),
        ("s4", "2026-11-01T20:00:00Z"),
        ("s5", "2026-11-02T10:00:00Z"),
        ("s6", "2026-11-03T10:00:00Z"),
    ];
    for (label, time) in times {
        fake_set(ec2, &volume, &instance, &set_id(&instance, label), time);
    }
    let (foreign, foreign_snap) = foreign_image_using_s1(ec2, &instance);
    let s3_image = coffer_image_of_s3(ec2, &instance);
    ForgetFixture {
        instance,
        foreign,
        foreign_snap,
        s3_image,
    }
}

/// s1's snapshot is used by an image coffer did not make: moto's
/// RegisterImage maps a snapshot of its own, so tag that one as s1's.
/// Returns (image id, snapshot id).
fn foreign_image_using_s1(ec2: &coffer_ec2::Ec2, instance: &str) -> (String, String) {
    let c = ec2.client();
    let foreign = ec2
        .block_on(c.register_image().name(unique("foreign")).send())
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    let foreign_snap = ec2
        .image(&foreign)
        .unwrap()
        .unwrap()
        .block_device_mappings()[0]
        .ebs()
        .unwrap()
        .snapshot_id()
        .unwrap()
        .to_string();
    let tag = |k: &str, v: &str| sdk::types::Tag::builder().key(k).value(v).build();
    ec2.block_on(
        c.create_tags()
            .resources(&foreign_snap)
            .tags(tag(tags::SET, &set_id(instance, "s1")))
            .tags(tag(tags::INSTANCE, instance))
            .tags(tag(tags::TIME, "2026-10-01T10:00:00Z"))
            .tags(tag(tags::ROOT, "false"))
            .tags(tag(tags::DEVICE, "/dev/sdf"))
            .send(),
    )
    .unwrap();
    (foreign, foreign_snap)
}

/// s3 has an image coffer made: forget deregisters it first. Returns its
/// id.
fn coffer_image_of_s3(ec2: &coffer_ec2::Ec2, instance: &str) -> String {
    let sets = ec2.sets(Some(instance)).unwrap();
    let s3 = sets
        .iter()
        .find(|s| s.set_id == set_id(instance, "s3"))
        .unwrap();
    let facts = coffer_ec2::facts::InstanceFacts {
        instance_id: instance.to_string(),
        architecture: "x86_64".into(),
        root_device_name: "/dev/xvda".into(),
        virtualization_type: "hvm".into(),
        ..Default::default()
    };
    let mut s3 = s3.clone();
    s3.facts = Some(facts);
    coffer_ec2::image::register(ec2, &s3, &unique("s3img"), false)
        .unwrap()
        .image_id
        .unwrap()
}

/// The dry run decides per set, lists the image to deregister and the
/// snapshot in use, and deletes nothing.
fn forget_dry_run_decides_and_deletes_nothing(
    ec2: &coffer_ec2::Ec2,
    f: &ForgetFixture,
    o: &ForgetOptions,
) {
    let dry = forget(ec2, o).unwrap();
    let decisions: Vec<(String, bool)> = dry.groups[0]
        .decisions
        .iter()
        .map(|d| (d.snapshot.set_id.clone(), d.keep))
        .collect();
    let want: Vec<(String, bool)> = [
        ("s6", true),
        ("s5", true),
        ("s4", false),
        ("s3", false),
        ("s2", true),
        ("s1", false),
    ]
    .iter()
    .map(|(l, k)| (f.set_id(l), *k))
    .collect();
    assert_eq!(decisions, want);
    assert_eq!(dry.removal.deregister, std::slice::from_ref(&f.s3_image));
    assert_eq!(dry.removal.in_use.len(), 1);
    assert_eq!(dry.removal.in_use[0].snapshot_id, f.foreign_snap);
    assert_eq!(
        dry.removal.in_use[0].image_ids,
        std::slice::from_ref(&f.foreign)
    );
    assert_eq!(
        ec2.sets(Some(&f.instance)).unwrap().len(),
        6,
        "dry run deleted nothing"
    );
}

/// The real run deletes the sets not kept, except the snapshot the
/// foreign image uses, and deregisters s3's image first.
fn forget_deletes_all_but_the_kept_and_the_used(
    ec2: &coffer_ec2::Ec2,
    f: &ForgetFixture,
    o: ForgetOptions,
) {
    let done = forget(
        ec2,
        &ForgetOptions {
            dry_run: false,
            ..o
        },
    )
    .unwrap();
    assert_eq!(done.removal.delete.len(), 3, "{:?}", done.removal);
    let left: Vec<String> = ec2
        .sets(Some(&f.instance))
        .unwrap()
        .iter()
        .map(|s| s.set_id.clone())
        .collect();
    assert_eq!(
        left,
        [
            f.set_id("s6"),
            f.set_id("s5"),
            f.set_id("s2"),
            f.set_id("s1")
        ]
    );
    let s1 = snapshots_tagged(ec2, tags::SET, &f.set_id("s1"));
    assert_eq!(s1.len(), 1, "only the snapshot in use is left of s1");
    assert_eq!(s1[0].snapshot_id(), Some(f.foreign_snap.as_str()));
    let gone = ec2.image(&f.s3_image).unwrap();
    assert!(
        gone.is_none() || gone.unwrap().state().map(|s| s.as_str()) == Some("deregistered"),
        "the image of s3 is deregistered"
    );
    assert!(
        ec2.image(&f.foreign).unwrap().is_some(),
        "the foreign image stays"
    );
}

#[test]
fn a_missing_instance_is_a_clear_not_found() {
    let ec2 = ec2();
    for id in ["i-0123456789abcdef0", "not-an-id"] {
        let e = snapshot(&ec2, &snap_opts(id, Volumes::All)).unwrap_err();
        assert_eq!(e.kind(), Kind::NotFound, "{e}");
        assert_eq!(e.to_string(), format!("no such instance: {id}"));
    }
    let e = image(
        &ec2,
        &ImageOptions {
            instance_id: "i-0123456789abcdef0".into(),
            set_id: None,
            name: "x".into(),
            dry_run: false,
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    assert!(
        e.to_string().contains("no snapshot set of this instance"),
        "{e}"
    );
}
