//! `coffer ec2 …` end to end against moto's EC2 server (.ci/run starts it
//! on COFFER_TEST_EC2_ENDPOINT; these tests fail without it). The fixtures
//! are coffer_ec2's own (`crates/ec2/tests/support`).
//!
//! The one test that uses moto's request recorder (global to the server)
//! is the only one that starts and stops it; it checks the RegisterImage
//! request the binary sends, which moto itself ignores.

use super::support::{Coffer, Out};
use coffer_ec2::tags;

#[path = "../../../ec2/tests/support/mod.rs"]
mod fixture;

/// Runs `coffer ec2 ARGS…` against the EC2 test server.
fn ec2(args: &[&str]) -> Out {
    let c = Coffer::new();
    let mut all = vec!["ec2"];
    all.extend_from_slice(args);
    c.run_env(
        &all,
        &[
            ("AWS_ENDPOINT_URL", &fixture::endpoint()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

#[test]
fn snapshot_image_launch_list_forget_with_the_binary() {
    let client = fixture::ec2();
    let src = fixture::source(&client);
    let id = src.instance_id.as_str();
    let set_id = snapshot_waits_for_the_set(id);
    let image_id = image_request_carries_what_makes_it_boot(&client, id);
    launch_is_like_the_source(&client, &src, &image_id);

    let list = ec2(&["--json", "list", "--instance", id]);
    let v = list.ok().json();
    assert_eq!(v["sets"][0]["set_id"], set_id.as_str());
    assert_eq!(v["sets"][0]["images"][0]["image_id"], image_id.as_str());
    assert_eq!(v["sets"][0]["tags"][0], "env=ci");
    let text = ec2(&["list", "--instance", id]);
    assert!(text.ok().stdout.contains(&set_id), "{}", text.stdout);

    forget_keep_last_removes_the_first_set_and_its_image(&client, id, &set_id, &image_id);
}

/// `snapshot --wait` streams status until the set is complete. Returns the
/// set id.
fn snapshot_waits_for_the_set(id: &str) -> String {
    let snap = ec2(&[
        "--json",
        "snapshot",
        "--instance",
        id,
        "--tag",
        "env=ci",
        "--wait",
    ]);
    let lines = snap.ok().json_lines();
    assert_eq!(lines[0]["message_type"], "status", "{lines:?}");
    assert_eq!(lines[0]["percent_done"], 1.0);
    let v = lines.last().unwrap().clone();
    let set_id = v["set_id"].as_str().unwrap().to_string();
    assert_eq!(v["set"]["snapshots"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["set"]["state"], "completed");
    assert_eq!(v["set"]["size_gib"], 13, "8 GiB root + 5 GiB data");
    set_id
}

/// The image, with moto's recorder on to see the request the binary sends.
/// Returns the image id.
fn image_request_carries_what_makes_it_boot(client: &coffer_ec2::Ec2, id: &str) -> String {
    let name = fixture::unique("cli-img");
    fixture::moto_api("POST", "/moto-api/recorder/reset-recording");
    fixture::moto_api("POST", "/moto-api/recorder/start-recording");
    let img = ec2(&["image", "--from", id, "--name", &name]);
    let recording = fixture::moto_api("GET", "/moto-api/recorder/download-recording");
    fixture::moto_api("POST", "/moto-api/recorder/stop-recording");
    img.ok();
    let image_id = img
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("ami-"))
        .unwrap()
        .to_string();
    let bodies = recorded_bodies(&recording);
    let request = bodies
        .iter()
        .find(|b| b.starts_with("Action=RegisterImage") && b.contains(&name))
        .unwrap_or_else(|| panic!("no RegisterImage for {name} in the recording:\n{bodies:#?}"));
    for want in [
        "VirtualizationType=hvm",
        "Architecture=x86_64",
        "RootDeviceName=%2Fdev%2Fsda1",
        "EnaSupport=true",
        "BootMode=uefi",
        "BlockDeviceMapping.1.DeviceName=%2Fdev%2Fsda1",
        "BlockDeviceMapping.1.Ebs.DeleteOnTermination=true",
        "BlockDeviceMapping.2.DeviceName=%2Fdev%2Fsdf",
    ] {
        assert!(
            request.contains(want),
            "RegisterImage lacks {want}: {request}"
        );
    }
    let sets = client.sets(Some(id)).unwrap();
    for s in &sets[0].snapshots {
        assert!(
            request.contains(&s.snapshot_id),
            "{} not mapped: {request}",
            s.snapshot_id
        );
    }
    image_id
}

/// `launch` starts an instance configured like the source.
fn launch_is_like_the_source(client: &coffer_ec2::Ec2, src: &fixture::Source, image_id: &str) {
    let launched = ec2(&["launch", "--image", image_id]);
    launched.ok();
    assert!(
        launched.stdout.contains("private 10.7.1."),
        "{}",
        launched.stdout
    );
    let new_id = launched
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let new = fixture::describe(client, &new_id);
    assert_eq!(new.instance_type().map(|t| t.as_str()), Some("t3.micro"));
    assert_eq!(new.subnet_id(), Some(src.subnet_id.as_str()));
    assert_eq!(new.key_name(), Some(src.key_name.as_str()));
    let t = fixture::tags_of(new.tags());
    assert_eq!(t["Name"], src.name);
    assert_eq!(t["app"], "web");
}

/// A second set; forget --keep-last 1 removes the first and its image
/// (after a dry run, in JSON and text, that removes nothing).
fn forget_keep_last_removes_the_first_set_and_its_image(
    client: &coffer_ec2::Ec2,
    id: &str,
    set_id: &str,
    image_id: &str,
) {
    let second = ec2(&["--json", "snapshot", "--instance", id, "--volumes", "root"]);
    let second_id = second.ok().json()["set_id"].as_str().unwrap().to_string();
    let v = ec2(&[
        "--json",
        "forget",
        "--keep-last",
        "1",
        "--instance",
        id,
        "--dry-run",
    ])
    .ok()
    .json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["groups"][0]["sets"][1]["set_id"], set_id);
    assert_eq!(v["groups"][0]["sets"][1]["keep"], false);
    assert_eq!(v["deregistered"][0], image_id);
    let dry = ec2(&["forget", "--keep-last", "1", "--instance", id, "--dry-run"]);
    assert!(
        dry.ok()
            .stdout
            .contains(&format!("would deregister image {image_id}")),
        "{}",
        dry.stdout
    );
    assert_eq!(client.sets(Some(id)).unwrap().len(), 2);
    ec2(&["forget", "--keep-last", "1", "--instance", id]).ok();
    let left: Vec<String> = client
        .sets(Some(id))
        .unwrap()
        .into_iter()
        .map(|s| s.set_id)
        .collect();
    assert_eq!(left, [second_id]);
    assert!(fixture::snapshots_tagged(client, tags::SET, set_id).is_empty());
}

/// The request bodies in moto's recording (one JSON object per line; the
/// body base64-encoded when `body_encoded`).
fn recorded_bodies(recording: &str) -> Vec<String> {
    recording
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let body = v["body"].as_str()?;
            Some(if v["body_encoded"] == true {
                String::from_utf8_lossy(&base64_decode(body)).into_owned()
            } else {
                body.to_string()
            })
        })
        .collect()
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn restore_dry_run_then_for_real() {
    let client = fixture::ec2();
    let src = fixture::source(&client);
    let id = src.instance_id.as_str();
    ec2(&["snapshot", "--instance", id]).ok();
    let dry = ec2(&["restore", "--instance", id, "--dry-run"]);
    assert!(
        dry.ok().stdout.contains("would register an image"),
        "{}",
        dry.stdout
    );
    let r = ec2(&["--json", "restore", "--instance", id]);
    let v = r.ok().json();
    assert_eq!(v["original_exists"], true);
    let new_id = v["launched"]["instance_id"].as_str().unwrap();
    let new = fixture::describe(&client, new_id);
    assert_eq!(new.subnet_id(), Some(src.subnet_id.as_str()));
    // A new image was made from the set, and it exists. (Counting all the
    // server's images would race with the other tests sharing it.)
    assert_eq!(v["image_reused"], false, "{v}");
    let image = v["image_id"].as_str().unwrap();
    assert!(
        client
            .images(true)
            .unwrap()
            .iter()
            .any(|i| i.image_id == image),
        "{image} is not among the images"
    );
    // --at before the first set finds nothing: a clear error.
    let none = ec2(&["restore", "--instance", id, "--at", "2001-01-01"]);
    none.code(1);
    assert!(
        none.stderr
            .contains("no snapshot set of this instance at or before"),
        "{}",
        none.stderr
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_a_documented_code() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["snapshot", "--instance", "i-0123456789abcdef0"],
            "coffer: error: no such instance: i-0123456789abcdef0",
        ),
        (
            &["image", "--from", "i-0bad", "--name", "x"],
            "coffer: error: no snapshot set of this instance",
        ),
        (
            &["launch", "--image", "ami-1e749f67"],
            "coffer: error: the image was not made by coffer",
        ),
        (
            &["snapshot", "--instance", "i-1", "--tag", "aws:x=1"],
            "coffer: error: invalid --tag",
        ),
        (
            &["snapshot", "--instance", "i-1", "--timeout", "soon"],
            "coffer: error: invalid duration",
        ),
        (&["forget"], "coffer: error: no policy given"),
        (
            &["launch", "--image", "ami-0000000000000dead"],
            "coffer: error: no such image",
        ),
        (
            &["restore", "--instance", "i-1", "--at", "yesterday"],
            "coffer: error: invalid time",
        ),
    ];
    for (args, want) in cases {
        let o = ec2(args);
        o.code(1);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        assert!(o.stderr.starts_with(want), "{args:?}: {}", o.stderr);
    }
}

#[test]
fn missing_permissions_are_named() {
    // The IAM-enforcing moto of .ci/run, with the put-only S3 user.
    let var = |n: &str| {
        std::env::var(n).unwrap_or_else(|_| panic!("{n} is not set: run the tests through .ci/run"))
    };
    let c = Coffer::new();
    let o = c.run_env(
        &["ec2", "list"],
        &[
            ("AWS_ENDPOINT_URL", &var("COFFER_TEST_MOTO_ENDPOINT")),
            ("AWS_ACCESS_KEY_ID", &var("COFFER_TEST_PUTONLY_KEY")),
            ("AWS_SECRET_ACCESS_KEY", &var("COFFER_TEST_PUTONLY_SECRET")),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    o.code(1);
    assert!(
        o.stderr.starts_with(
            "coffer: error: describe snapshots: not allowed for these AWS credentials"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn needs_no_repository_nor_home() {
    // As a systemd service runs it: no HOME, no repository settings.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["ec2", "list", "--instance", "i-0123456789abcdef0"])
        .env_clear()
        .env("AWS_ENDPOINT_URL", fixture::endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 snapshot set(s), 0 image(s)"));
}
