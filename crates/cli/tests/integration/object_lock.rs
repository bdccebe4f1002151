//! S3 Object Lock on SeaweedFS, which enforces it: every object coffer
//! writes is locked; no version can be deleted for good before its date,
//! whoever asks; a delete only hides an object behind a delete marker;
//! prune keeps what snapshots need locked ahead and, once a deleted
//! object's lock has passed, deletes its versions and frees the space.

use crate::support::{Backend, Coffer, S3Repo, assert_restored, config_tree, restored};
use coffer_core::{PutHints, Store, Version, list_all};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds each object stays locked in these tests.
const RETENTION: i64 = 15;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A repository location in a bucket of its own that does not exist yet
/// (Object Lock is chosen when a bucket is created).
fn coffer_on_new_bucket() -> Coffer {
    let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT")
        .expect("COFFER_TEST_S3_ENDPOINT is not set: run the tests through `bash .ci/run`");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let location = format!("s3://ct-lock-{}-{nanos:08x}/repo", std::process::id());
    let store = coffer_testkit::s3::store(&location);
    let mut c = Coffer::new();
    c.s3 = Some(S3Repo {
        location,
        endpoint,
        store,
    });
    c
}

fn store(c: &Coffer) -> &dyn Store {
    &c.s3.as_ref().unwrap().store
}

fn versions(c: &Coffer, key: &str) -> Vec<Version> {
    let mut out = Vec::new();
    let versioned = store(c).versioned().expect("S3 has versions");
    versioned
        .list_versions(key, &mut |v| {
            if v.key == key {
                out.push(v);
            }
            Ok(())
        })
        .unwrap();
    out
}

fn locked_until(c: &Coffer, key: &str) -> i64 {
    store(c)
        .head(key)
        .unwrap()
        .locked_until
        .unwrap_or_else(|| panic!("{key} carries no lock"))
}

fn prune(c: &Coffer) -> Value {
    let out = c.run(&["prune", "--now", "--max-unused", "0%", "--json"]);
    out.ok();
    out.json()["object_lock"].clone()
}

fn tree(src: &Path, round: u64) {
    config_tree(src, round, 1_500_000, 10);
}

#[test]
fn locked_versions_outlive_deletes_until_their_date_then_prune_frees_them() {
    let c = coffer_on_new_bucket();
    let retention = format!("{RETENTION}s");
    c.run(&[
        "init",
        "--create-bucket",
        "--object-lock",
        "compliance",
        "--retention",
        &retention,
    ])
    .ok();
    let src = c.path("src");
    tree(&src, 1);
    c.backup(&[&src], &[]);
    let first_packs: Vec<String> = list_all(store(&c), "data/")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    tree(&src, 2);
    c.backup(&[&src], &[]);

    // Everything is written locked, ahead of now.
    for m in list_all(store(&c), "").unwrap() {
        assert!(locked_until(&c, &m.key) >= now() - 1, "{}", m.key);
    }
    // No version can be deleted for good while locked: what an attacker
    // with any credentials would try.
    let pack = &first_packs[0];
    let v = versions(&c, pack).pop().unwrap();
    let versioned = store(&c).versioned().unwrap();
    assert!(!versioned.delete_version(pack, &v.version_id).unwrap());
    assert_eq!(versions(&c, pack).len(), 1, "still there");

    // The first snapshot goes; its pack, half unused, is repacked and
    // deleted: hidden behind a delete marker, its bytes kept while locked.
    let until = locked_until(&c, pack);
    c.run(&["forget", &c.snapshot_ids()[0]]).ok();
    let first = prune(&c);
    if now() < until {
        assert!(first["versions_locked"].as_u64().unwrap() >= 1, "{first}");
        let left = versions(&c, pack);
        assert!(left.iter().any(|v| v.delete_marker && v.latest), "{left:?}");
        assert!(left.iter().any(|v| !v.delete_marker), "{left:?}");
    } else {
        eprintln!("the machine was too slow to see the pack still locked");
    }
    assert_eq!(first["hidden"], Value::Array(vec![]), "{first}");

    // After its date, the next prune deletes its versions for good, and
    // keeps what the kept snapshot needs locked a retention ahead.
    std::thread::sleep(Duration::from_secs((until + 1 - now()).max(0) as u64));
    let before = now();
    let second = prune(&c);
    assert!(
        second["versions_deleted"].as_u64().unwrap() >= 1
            && second["bytes_freed"].as_u64().unwrap() > 0,
        "{second}"
    );
    assert!(versions(&c, pack).is_empty(), "{:?}", versions(&c, pack));
    for m in list_all(store(&c), "").unwrap() {
        if !m.key.starts_with("locks/") {
            assert!(locked_until(&c, &m.key) >= before + RETENTION, "{}", m.key);
        }
    }
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
    c.run(&["check", "--read-data"]).ok();

    // Someone with write access overwrites a pack: the locked original
    // stays as an older version, prune reports it and never purges it, and
    // check finds the damage.
    let kept = list_all(store(&c), "data/").unwrap().pop().unwrap().key;
    store(&c)
        .put(&kept, b"garbage", &PutHints::default())
        .unwrap();
    let third = prune(&c);
    assert_eq!(third["overwritten"], serde_json::json!([kept]), "{third}");
    assert_eq!(versions(&c, &kept).len(), 2);
    c.run(&["check", "--read-data"]).code(1);
}

#[test]
fn object_lock_needs_a_bucket_that_has_it() {
    let c = Coffer::on(Backend::S3);
    let out = c.run(&["init", "--object-lock", "governance", "--retention", "30d"]);
    out.code(1);
    assert!(out.stderr.contains("has no Object Lock"), "{}", out.all());
    let local = Coffer::new();
    let out = local.run(&["init", "--object-lock", "compliance", "--retention", "1d"]);
    out.code(1);
    assert!(out.stderr.contains("for S3 repositories"), "{}", out.all());
}
