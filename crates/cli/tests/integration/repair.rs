//! A damaged or partly lost repository heals: one damaged index object is
//! skipped with a warning (restore, backup and prune go on), `repair index`
//! rebuilds the index from pack headers, `repair snapshots` rewrites the
//! snapshots that lost data, keeping the rest and naming what was lost;
//! `check` passes afterwards. Each runs on a local and an S3 repository.

use crate::support::{Backend, Coffer, arg, assert_restored, restored, write};
use coffer_core::Store;
use coffer_testkit::fixture::pseudo_random;
use std::fs;
use std::path::Path;

per_store!(
    a_damaged_index_object_is_skipped_and_repair_index_rebuilds_it,
    repair_snapshots_leaves_out_lost_files_and_keeps_the_rest,
);

fn delete_object(c: &Coffer, key: &str) {
    match &c.s3 {
        Some(s3) => s3.store.delete(key).unwrap(),
        None => fs::remove_file(c.repo.join(key)).unwrap(),
    }
}

/// The objects under `prefix` that are not in `before`.
fn new_objects(c: &Coffer, prefix: &str, before: &[String]) -> Vec<String> {
    let mut keys = c.objects(prefix);
    keys.retain(|k| !before.contains(k));
    keys
}

fn files(dir: &Path, seed: u64, n: u64) {
    for i in 0..n {
        write(
            &dir.join(format!("file{i}.bin")),
            pseudo_random(seed * 100 + i, 200_000 + i as usize * 1000),
        );
    }
}

fn a_damaged_index_object_is_skipped_and_repair_index_rebuilds_it(backend: Backend) {
    let c = Coffer::init_on(backend);
    let (a, b) = (c.path("a"), c.path("b"));
    files(&a, 1, 3);
    files(&b, 2, 3);
    c.backup(&[&a], &[]);
    let first = c.objects("index/");
    c.backup(&[&b], &[]);
    let damaged = new_objects(&c, "index/", &first);
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    let damaged = &damaged[0];
    c.flip_object_byte(damaged, c.object_len(damaged) / 2, 0x01);
    c.drop_cache();
    let ids = c.snapshot_ids();

    // What the good index names is restored; the damaged object is named.
    let out = c.restore(&ids[0], &c.path("ta"), &[]);
    out.ok();
    assert!(out.stderr.contains(damaged.as_str()), "{}", out.show());
    assert_restored(&a, &restored(&c.path("ta"), &a));
    // A backup goes on too.
    let out = c.run(&["backup", arg(&a)]);
    out.ok();
    assert!(out.stderr.contains(damaged.as_str()), "{}", out.show());
    let out = c.run(&["check"]);
    out.failed();
    assert!(out.all().contains(damaged.as_str()), "{}", out.show());

    let out = c.run(&["repair", "index"]);
    out.ok();
    assert!(out.stderr.contains(damaged.as_str()), "{}", out.show());
    assert!(
        !c.objects("index/").contains(damaged),
        "the damaged object is replaced"
    );
    c.run(&["check", "--read-data"]).ok();
    // Every snapshot restores, the second one's blobs found from headers.
    c.drop_cache();
    let out = c.restore(&ids[1], &c.path("tb"), &[]);
    out.ok();
    assert!(out.stderr.is_empty(), "{}", out.show());
    assert_restored(&b, &restored(&c.path("tb"), &b));
}

fn repair_snapshots_leaves_out_lost_files_and_keeps_the_rest(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    files(&src.join("keep"), 3, 3);
    c.backup(&[&src], &[]);
    let packs = c.objects("data/");
    files(&src.join("lost"), 4, 2);
    c.backup(&[&src], &[]);
    let lost_packs = new_objects(&c, "data/", &packs);
    assert_eq!(lost_packs.len(), 1, "{lost_packs:?}");
    delete_object(&c, &lost_packs[0]);
    c.drop_cache();
    c.run(&["check"]).failed();
    let ids = c.snapshot_ids();

    let out = c.run(&["repair", "index"]);
    out.ok();
    assert!(out.stderr.contains(&lost_packs[0]), "{}", out.show());
    c.run(&["check"]).failed(); // the snapshot still names the lost blobs

    let out = c.run(&["repair", "snapshots", "--dry-run"]);
    out.ok();
    assert_eq!(c.snapshot_ids(), ids, "a dry run changes nothing");
    let out = c.run(&["repair", "snapshots"]);
    out.ok();
    let lost_name = "lost/file0.bin";
    assert!(out.stderr.contains(lost_name), "{}", out.show());
    assert!(!out.stderr.contains("keep/"), "{}", out.show());
    c.run(&["check", "--read-data"]).ok();

    let after = c.snapshot_ids();
    assert_eq!(after.len(), 2);
    assert!(after.contains(&ids[0]), "the intact snapshot is left alone");
    let repaired = after.iter().find(|id| **id != ids[0]).unwrap();
    assert!(!ids.contains(repaired));
    let list = c.run(&["snapshots", "--json"]).json();
    let tags = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str().unwrap().starts_with(repaired.as_str()))
        .map(|s| s["tags"].to_string())
        .unwrap();
    assert!(tags.contains("repaired"), "{list}");
    let out = c.restore(repaired, &c.path("t"), &[]);
    out.ok();
    let got = restored(&c.path("t"), &src);
    assert_restored(&src.join("keep"), &got.join("keep"));
    assert!(!got.join("lost").join("file0.bin").exists());
}
