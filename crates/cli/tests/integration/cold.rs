//! Data packs in an archive class (GLACIER), on moto, which has S3's
//! archive semantics: a GET of an archived object is refused until a
//! `RestoreObject` has made a copy readable, and HEAD says where a restore
//! stands. `.ci/run` makes moto's restores take 2 s, so the wait and a
//! second run while restores are under way are real.
//!
//! What a user of cold storage relies on: metadata stays hot (snapshots,
//! ls, diff, check and further backups never touch an archived object); a
//! restore that needs archived data shows the plan and stops with exit 13
//! before writing anything; with `--cold-restore` it asks for exactly the
//! packs it needs, once, and restores exactly; prune never reads one back.

use crate::support::{Coffer, S3Repo, assert_restored, config_tree, restored, write};
use coffer_core::{StorageClass, list_all};
use coffer_testkit::fixture::pseudo_random;
use serde_json::Value;
use std::path::Path;

/// A repository location on the moto server of the test run.
fn coffer_on_moto() -> Coffer {
    let endpoint = std::env::var("COFFER_TEST_EC2_ENDPOINT").expect(
        "COFFER_TEST_EC2_ENDPOINT is not set: run the tests through `bash .ci/run`, which starts moto",
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let bucket = format!("ct-cold-{}-{nanos:08x}", std::process::id());
    let location = format!("s3://{bucket}/repo");
    let store = coffer_testkit::s3::store_at(&endpoint, &location);
    store.create_bucket().expect("create a bucket on moto");
    let mut c = Coffer::new();
    c.s3 = Some(S3Repo {
        location,
        endpoint,
        store,
    });
    c
}

/// Every object's storage class, by key prefix: data packs, and the rest.
fn classes(c: &Coffer) -> (Vec<StorageClass>, Vec<(String, StorageClass)>) {
    let all = list_all(&c.s3.as_ref().unwrap().store, "").unwrap();
    let (data, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|m| m.key.starts_with("data/"));
    (
        data.iter().map(|m| m.class.unwrap()).collect(),
        rest.into_iter()
            .map(|m| (m.key, m.class.unwrap()))
            .collect(),
    )
}

/// The JSON lines of `stdout` of one message type.
fn messages(stdout: &str, kind: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message_type"] == kind)
        .collect()
}

fn tree(src: &Path, round: u64) {
    config_tree(src, round, 2_000_000, 20);
}

#[test]
fn archived_data_is_restored_as_a_plan_first_and_asked_for_once() {
    let c = coffer_on_moto();
    let src = c.path("src");
    c.run(&["init"]).ok();
    tree(&src, 1);
    c.backup(&[&src], &["--data-storage-class", "GLACIER"]);
    tree(&src, 2);
    c.backup(&[&src], &["--data-storage-class", "GLACIER"]);
    let (data, rest) = classes(&c);
    assert_eq!(data, [StorageClass::Glacier; 2], "one data pack a backup");
    assert!(
        rest.iter()
            .all(|(_, class)| *class == StorageClass::Standard),
        "metadata stays hot: {rest:?}"
    );

    // Nothing but data is archived: these never need a restore.
    let ids = c.snapshot_ids();
    c.run(&["ls", "latest"]).ok();
    c.run(&["diff", &ids[0], &ids[1]]).ok();
    c.run(&["check"]).ok();
    c.backup(&[&src], &["--data-storage-class", "GLACIER"]);

    // Without --cold-restore: the plan, exit 13, nothing written.
    let target = c.path("target");
    let out = c.restore("latest", &target, &[]);
    out.code(13);
    assert!(
        out.stderr.contains("2 pack(s) in GLACIER") && out.stderr.contains("--cold-restore Bulk"),
        "{}",
        out.all()
    );
    assert!(!target.exists(), "a restore that stops writes nothing");
    c.run(&["export", "latest", "-o", c.path("x.tar").to_str().unwrap()])
        .code(13);
    assert!(!c.path("x.tar").exists());
    c.run(&["check", "--read-data"]).code(13);

    // moto's restore takes its 2 s only when asked 2 s after the write.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let out = c.restore(
        "latest",
        &target,
        &["--json", "--cold-restore", "bulk", "--no-wait"],
    );
    out.code(13);
    let asked = messages(&out.stdout, "cold_requested");
    assert_eq!(asked.len(), 1, "{}", out.all());
    assert_eq!(asked[0]["packs"], 2);
    assert!(!target.exists());

    // Run again: the restores are under way; it waits, asks nothing again.
    let out = c.restore("latest", &target, &["--json", "--cold-poll", "1s"]);
    out.ok();
    assert!(
        messages(&out.stdout, "cold_requested").is_empty(),
        "{}",
        out.all()
    );
    let waits = messages(&out.stdout, "cold_waiting");
    assert!(
        waits.len() >= 2 && waits.last().unwrap()["ready"] == 2,
        "waited until both were readable: {}",
        out.all()
    );
    let summary = messages(&out.stdout, "summary").pop().unwrap();
    assert_eq!(
        summary["requests"]["by_kind"]["RESTORE"],
        Value::Null,
        "{summary}"
    );
    assert_restored(&src, &restored(&target, &src));
    c.run(&["check", "--read-data"]).ok();

    // Prune never reads an archived pack back: the first backup's pack,
    // half of it unused now, is kept whole.
    let out = c.run(&[
        "forget",
        "--keep-last",
        "1",
        "--prune",
        "--max-unused",
        "0%",
        "--now",
    ]);
    out.ok();
    assert!(
        out.stdout.contains("in GLACIER or DEEP_ARCHIVE"),
        "{}",
        out.all()
    );
    assert_eq!(classes(&c).0, [StorageClass::Glacier; 2]);
}

/// Archive packs are as large as asked (the local store has no classes,
/// but the writer sizes packs for the class all the same): 60 MB of new
/// data is one pack at the 64 MiB default, two with 48 MiB packs (the
/// first full, where an ordinary pack closes at 32 MiB).
#[test]
fn archive_packs_have_the_size_asked_for() {
    let sizes = |extra: &[&str]| {
        let c = Coffer::init();
        let src = c.path("src");
        write(&src.join("a.bin"), pseudo_random(5, 60_000_000));
        let mut args = vec!["--data-storage-class", "DEEP_ARCHIVE"];
        args.extend(extra);
        c.backup(&[&src], &args);
        let mut sizes: Vec<usize> = c.objects("data/").iter().map(|k| c.object_len(k)).collect();
        sizes.sort();
        sizes
    };
    assert_eq!(sizes(&[]).len(), 1);
    let sized = sizes(&["--archive-pack-size", "48M"]);
    assert!(sized.len() == 2 && sized[1] >= 48 << 20, "{sized:?}");
    Coffer::init()
        .run(&["backup", "--archive-pack-size", "8M", "/etc/hostname"])
        .code(2);
}

/// A store that records archive classes but serves their objects directly
/// (SeaweedFS, like several S3 implementations) needs no restore: one
/// one-byte GET finds that out, and the restore just runs.
#[test]
fn a_store_without_archive_semantics_restores_directly() {
    let c = Coffer::init_on(crate::support::Backend::S3);
    let src = c.path("src");
    tree(&src, 3);
    c.backup(&[&src], &["--data-storage-class", "GLACIER"]);
    let (data, _) = classes(&c);
    assert_eq!(data, [StorageClass::Glacier], "the server keeps the class");
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
}
