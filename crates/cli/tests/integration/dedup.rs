//! Deduplication and incremental backups: what is already in the
//! repository is neither stored nor (when unchanged) read again, on a local
//! and on an S3 repository.

use crate::support::{
    Backend, Coffer, arg, assert_restored, restored, summary_u64, tree_node, write,
};
use coffer_testkit::fixture::{big_file_seeded, many_small_files, pseudo_random};
use serde_json::Value;
use std::path::Path;

/// A tree of one `big_mib` MiB file, 1,000 small files and four 1 MiB
/// files. Returns (regular files, bytes).
fn mid_tree(root: &Path, big_mib: u64) -> (u64, u64) {
    std::fs::create_dir_all(root).unwrap();
    big_file_seeded(&root.join("big.bin"), big_mib << 20, 11).unwrap();
    let small = many_small_files(&root.join("small"), 1_000).unwrap();
    for i in 0..4u64 {
        write(
            &root.join(format!("medium/m{i}.bin")),
            pseudo_random(100 + i, 1 << 20),
        );
    }
    (1 + 1_000 + 4, (big_mib << 20) + small + (4 << 20))
}

#[track_caller]
fn assert_grew_under_one_percent(before: (u64, u64), after: (u64, u64), what: &str) {
    for (name, b, a) in [
        ("on disk", before.0, after.0),
        ("apparent", before.1, after.1),
    ] {
        assert!(a >= b, "{what}: the repository shrank {name}: {b} -> {a}");
        assert!(
            (a - b) * 100 < b,
            "{what}: the repository grew {name} by {} of {b} bytes (1% allowed)",
            a - b
        );
    }
}

per_store!(
    backing_up_the_same_tree_again_adds_under_one_percent,
    identical_files_in_many_places_are_stored_once,
    incremental_backup_reads_only_what_changed,
);

fn backing_up_the_same_tree_again_adds_under_one_percent(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    mid_tree(&src, 12);
    c.backup(&[&src], &[]);
    let first = c.size();
    assert!(
        first.1 > 16 << 20,
        "the first backup stored only {} bytes",
        first.1
    );

    // With the parent: unchanged files are not even read.
    c.backup(&[&src], &[]);
    let second = c.size();
    assert_grew_under_one_percent(first, second, "second backup");

    // Without a parent's help (--force reads every file): content dedup.
    let b = c.backup(&[&src], &["--force"]);
    assert!(
        summary_u64(&b, "bytes_read") > 16 << 20,
        "--force must read everything: {b}"
    );
    assert_grew_under_one_percent(first, c.size(), "forced third backup");

    // And a new path holding the same tree dedups as well.
    let copy = c.path("copy");
    mid_tree(&copy, 12);
    c.backup(&[&copy], &[]);
    assert_grew_under_one_percent(first, c.size(), "backup of an identical copy");
    assert_eq!(c.snapshot_ids().len(), 4);
}

fn identical_files_in_many_places_are_stored_once(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    // Several chunks (min 256 KiB), small enough to restore 60 times quickly.
    const SIZE: usize = 700_000;
    let content = pseudo_random(7, SIZE);
    let mut names = Vec::new();
    for i in 0..60 {
        let rel = format!("d{}/sub{}/copy-{i}.bin", i % 6, i % 4);
        write(&src.join(&rel), &content);
        names.push(rel);
    }
    let b = c.backup(&[&src], &[]);
    assert_eq!(summary_u64(&b, "files_new"), 60, "{b}");
    assert_eq!(summary_u64(&b, "total_bytes"), 60 * SIZE as u64, "{b}");
    // New plaintext: one copy of the content plus small tree blobs.
    assert!(
        summary_u64(&b, "bytes_new") < SIZE as u64 + (64 << 10),
        "{b}"
    );
    let (_, apparent) = c.size();
    assert!(
        apparent < SIZE as u64 + (256 << 10),
        "60 copies of {SIZE} bytes took {apparent} bytes"
    );

    // Every copy names the same blobs, and the index holds each data blob once.
    let snap = b["snapshot_id"].as_str().unwrap();
    let first = tree_node(&c, snap, &src.join(&names[0]))["content"].clone();
    let ids: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    for rel in [&names[17], &names[59]] {
        assert_eq!(
            tree_node(&c, snap, &src.join(rel))["content"],
            first,
            "{rel}"
        );
    }
    let mut data_blobs = Vec::new();
    for key in c.objects("index/") {
        let out = c.run(&["cat", "index", key.trim_start_matches("index/")]);
        for p in out.ok().json()["packs"].as_array().unwrap() {
            if p["kind"] == "data" {
                data_blobs.extend(
                    p["blobs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b["id"].as_str().unwrap().to_string()),
                );
            }
        }
    }
    data_blobs.sort();
    let mut expected: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(
        data_blobs, expected,
        "the index should hold exactly the blobs of one copy"
    );

    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
}

fn counts(b: &Value) -> (u64, u64, u64, u64) {
    let f = |k| summary_u64(b, k);
    (
        f("files_new"),
        f("files_changed"),
        f("files_unchanged"),
        f("bytes_read"),
    )
}

fn incremental_backup_reads_only_what_changed(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    let (files, bytes) = mid_tree(&src, 2);
    let first = c.backup(&[&src], &[]);
    assert_eq!(counts(&first), (files, 0, 0, bytes), "{first}");
    assert_eq!(first["parent"], Value::Null);
    let first_id = first["snapshot_id"].as_str().unwrap().to_string();

    // Same host and paths: the first snapshot is the parent; nothing is read.
    let second = c.backup(&[&src], &[]);
    assert_eq!(
        second["parent"].as_str(),
        Some(first_id.as_str()),
        "{second}"
    );
    assert_eq!(counts(&second), (0, 0, files, 0), "{second}");
    assert_eq!(summary_u64(&second, "total_bytes"), bytes);

    // One file changes (new size, new content): only it is read.
    let changed = src.join("medium/m2.bin");
    let new_content = pseudo_random(999, (1 << 20) + 333);
    write(&changed, &new_content);
    let third = c.backup(&[&src], &[]);
    assert_eq!(
        counts(&third),
        (0, 1, files - 1, new_content.len() as u64),
        "{third}"
    );

    // One file added, one removed.
    write(&src.join("medium/new.txt"), b"a new file\n");
    std::fs::remove_file(src.join("small/d0003/f000300")).unwrap();
    let fourth = c.backup(&[&src], &[]);
    assert_eq!(counts(&fourth), (1, 0, files - 1, 11), "{fourth}");

    // An explicit --parent is used as given, even an older snapshot.
    let fifth = c.backup(&[&src], &["--parent", &first_id]);
    assert_eq!(fifth["parent"].as_str(), Some(first_id.as_str()), "{fifth}");
    let (new, changed_n, unchanged, read) = counts(&fifth);
    assert_eq!((new, changed_n), (1, 1), "{fifth}");
    assert_eq!(unchanged, files - 2, "{fifth}");
    assert_eq!(read, new_content.len() as u64 + 11, "{fifth}");

    // --force reads every file though the parent says they are unchanged.
    let forced = c.backup(&[&src], &["--force"]);
    assert_eq!(
        summary_u64(&forced, "bytes_read"),
        summary_u64(&forced, "total_bytes"),
        "{forced}"
    );
    assert_eq!(summary_u64(&forced, "files_unchanged"), 0, "{forced}");

    // What an incremental backup stored restores to the current tree.
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
    // And the first snapshot still restores the first tree's changed file.
    let old = c.path("old");
    c.restore(&first_id, &old, &["--include", arg(&changed)])
        .ok();
    let restored_old = std::fs::read(restored(&old, &changed)).unwrap();
    assert_eq!(
        restored_old,
        pseudo_random(102, 1 << 20),
        "the first snapshot's version of m2.bin"
    );
}
