//! Test fixtures on the moto EC2 server `.ci/run` starts: its address (the
//! tests fail, never skip, without it), a client, and a source instance
//! like a real server's (VPC, subnet, security group, key pair, IAM
//! instance profile, tags, a root and a data volume), unique per test so
//! tests can run in parallel on the one server.
//!
//! Shared by coffer_ec2's tests and the CLI's (included by path), so it
//! uses only `coffer_ec2` and std.

#![allow(dead_code)]

use coffer_ec2::Ec2;
use coffer_ec2::aws_sdk_ec2 as sdk;
use sdk::types::{
    Filter, IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification,
};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The moto server for EC2 (`COFFER_TEST_EC2_ENDPOINT`, set by .ci/run).
pub fn endpoint() -> String {
    std::env::var("COFFER_TEST_EC2_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "COFFER_TEST_EC2_ENDPOINT is not set: run the tests through .ci/run, or start \
             `moto_server -H 127.0.0.1 -p 9002` and export COFFER_TEST_EC2_ENDPOINT=http://127.0.0.1:9002"
        )
    })
}

/// An SDK client config for the test server (static test credentials).
pub fn config() -> sdk::config::Builder {
    sdk::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint())
        .region(sdk::config::Region::new("us-east-1"))
        .credentials_provider(sdk::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
}

/// A coffer_ec2 client for the test server.
pub fn ec2() -> Ec2 {
    ec2_with(config())
}

pub fn ec2_with(b: sdk::config::Builder) -> Ec2 {
    let rt = coffer_ec2::client::runtime().unwrap();
    let client = sdk::Client::from_conf(b.build());
    Ec2::from_parts(rt, client)
}

/// A name no other test (or earlier run on the same server) uses.
pub fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{what}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An IAM call on moto's query API (no SDK for IAM in the tree; the test
/// server accepts unsigned requests).
pub fn iam(params: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-f", "-X", "POST", &format!("{}/", endpoint())])
        .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"])
        .args(["--data-urlencode", "Version=2010-05-08"]);
    for (k, v) in params {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd.output().expect("curl");
    assert!(
        out.status.success(),
        "IAM {params:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A POST to moto's control API (`/moto-api/...`).
pub fn moto_api(method: &str, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-f", "-X", method, &format!("{}{path}", endpoint())])
        .output()
        .expect("curl");
    assert!(out.status.success(), "{method} {path} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A source instance and what it was launched with.
pub struct Source {
    pub instance_id: String,
    pub name: String,
    pub subnet_id: String,
    pub security_group: String,
    pub key_name: String,
    pub profile_arn: String,
    pub data_volume: String,
}

/// moto's stock Ubuntu 14.04 HVM image: x86_64, root /dev/sda1, boot mode
/// uefi in moto's data.
pub const AMI: &str = "ami-1e749f67";

/// Launches a source instance (t3.micro, so ENA is required by its type)
/// with a 5 GiB gp3 data volume on /dev/sdf.
pub fn source(ec2: &Ec2) -> Source {
    let name = unique("src");
    let (subnet_id, security_group) = network(ec2, &name);
    ec2.block_on(ec2.client().create_key_pair().key_name(&name).send())
        .unwrap();
    let profile_arn = instance_profile(&name);
    let (instance_id, az) = launch_source(ec2, &name, &subnet_id, &security_group, &profile_arn);
    let data_volume = attach_data_volume(ec2, &instance_id, &az);
    Source {
        instance_id,
        name: name.clone(),
        subnet_id,
        security_group,
        key_name: name.clone(),
        profile_arn,
        data_volume,
    }
}

/// Creates a VPC with one subnet and a security group named `name`;
/// returns (subnet id, security group id).
fn network(ec2: &Ec2, name: &str) -> (String, String) {
    let c = ec2.client();
    let vpc = ec2
        .block_on(c.create_vpc().cidr_block("10.7.0.0/16").send())
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet_id = ec2
        .block_on(
            c.create_subnet()
                .vpc_id(&vpc)
                .cidr_block("10.7.1.0/24")
                .send(),
        )
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let security_group = ec2
        .block_on(
            c.create_security_group()
                .group_name(name)
                .description("coffer test")
                .vpc_id(&vpc)
                .send(),
        )
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    (subnet_id, security_group)
}

/// Creates an IAM role and an instance profile holding it, both named
/// `name`; returns the profile's ARN.
fn instance_profile(name: &str) -> String {
    iam(&[
        ("Action", "CreateRole"),
        ("RoleName", name),
        ("AssumeRolePolicyDocument", "{}"),
    ]);
    let out = iam(&[
        ("Action", "CreateInstanceProfile"),
        ("InstanceProfileName", name),
    ]);
    iam(&[
        ("Action", "AddRoleToInstanceProfile"),
        ("InstanceProfileName", name),
        ("RoleName", name),
    ]);
    between(&out, "<Arn>", "</Arn>")
}

/// Runs the source instance from [`AMI`], tagged `Name=name` and
/// `app=web`; returns (instance id, availability zone).
fn launch_source(
    ec2: &Ec2,
    name: &str,
    subnet_id: &str,
    security_group: &str,
    profile_arn: &str,
) -> (String, String) {
    let run = ec2
        .block_on(
            ec2.client()
                .run_instances()
                .image_id(AMI)
                .instance_type(InstanceType::T3Micro)
                .min_count(1)
                .max_count(1)
                .subnet_id(subnet_id)
                .security_group_ids(security_group)
                .key_name(name)
                .iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .arn(profile_arn)
                        .build(),
                )
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Instance)
                        .tags(Tag::builder().key("Name").value(name).build())
                        .tags(Tag::builder().key("app").value("web").build())
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let inst = &run.instances()[0];
    let instance_id = inst.instance_id().unwrap().to_string();
    let az = inst
        .placement()
        .unwrap()
        .availability_zone()
        .unwrap()
        .to_string();
    (instance_id, az)
}

/// Creates a 5 GiB gp3 volume in `az` and attaches it to the instance as
/// /dev/sdf; returns the volume id.
fn attach_data_volume(ec2: &Ec2, instance_id: &str, az: &str) -> String {
    let c = ec2.client();
    let data_volume = ec2
        .block_on(
            c.create_volume()
                .size(5)
                .availability_zone(az)
                .volume_type(sdk::types::VolumeType::Gp3)
                .send(),
        )
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    ec2.block_on(
        c.attach_volume()
            .volume_id(&data_volume)
            .instance_id(instance_id)
            .device("/dev/sdf")
            .send(),
    )
    .unwrap();
    data_volume
}

fn between(s: &str, a: &str, b: &str) -> String {
    let start = s.find(a).unwrap_or_else(|| panic!("no {a} in {s}")) + a.len();
    let end = s[start..].find(b).unwrap() + start;
    s[start..end].to_string()
}

/// The instance as EC2 describes it.
pub fn describe(ec2: &Ec2, id: &str) -> sdk::types::Instance {
    ec2.instance(id).unwrap()
}

/// Tags of a resource as a map.
pub fn tags_of(t: &[Tag]) -> std::collections::BTreeMap<String, String> {
    coffer_ec2::client::tag_map(t)
}

/// Snapshots whose `key` tag is `value`.
pub fn snapshots_tagged(ec2: &Ec2, key: &str, value: &str) -> Vec<sdk::types::Snapshot> {
    ec2.block_on(
        ec2.client()
            .describe_snapshots()
            .owner_ids("self")
            .filters(
                Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build(),
            )
            .send(),
    )
    .unwrap()
    .snapshots()
    .to_vec()
}
