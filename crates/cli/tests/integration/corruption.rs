//! A flipped byte in any object: `check` names the object and exits
//! non-zero, `restore` names the damaged file and restores the rest; never
//! a panic (the runner checks every run for one). Each test runs on a local
//! and on an S3 repository; the damage is done behind the binary's back
//! (on S3 with a plain PUT through the store).

use crate::support::{Backend, Coffer, arg, restored, tree_node, write};
use coffer_testkit::fixture::pseudo_random;
use coffer_testkit::{CompareOptions, compare_trees};
use std::fs;
use std::path::{Path, PathBuf};

per_store!(
    damaged_data_pack_is_found_by_check_read_data,
    damaged_data_pack_header_is_found_by_check_read_data,
    damaged_config_is_refused_naming_it,
    config_changed_to_other_valid_values_is_refused,
    damaged_key_file_is_never_a_panic_and_other_keys_still_open,
    #[ignore = "open decision: key files are now verified against their id, but `check` lists a damaged key \
                file as a note (the other keys still open the repository), while this test wants an error; \
                and opening with the damaged key's password says `wrong password` naming the damaged file"]
    damaged_key_file_is_reported_by_its_key,
    restore_names_the_damaged_file_and_restores_every_other,
    export_of_a_damaged_file_fails_and_leaves_no_archive,
);

// Index, snapshots and tree packs: on S3 these sit in the local cache too;
// `check` must still see damage in the bucket (it reads the store uncached).
per_store!(
    damaged_tree_pack_is_found_by_check,
    damaged_index_is_found_by_check,
    damaged_snapshot_is_found_by_check,
);

/// A repository on `backend` with one snapshot of eight files (a few
/// hundred KiB each, so all in one data pack) in two directories.
fn repo(backend: Backend) -> (Coffer, PathBuf) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    for i in 0..8u64 {
        let dir = if i % 2 == 0 { "even" } else { "odd" };
        write(
            &src.join(format!("{dir}/file{i}.bin")),
            pseudo_random(i + 1, 300_000 + i as usize * 1000),
        );
    }
    c.backup(&[&src], &[]);
    c.run(&["check", "--read-data"]).ok();
    (c, src)
}

/// The only object under `prefix`.
fn only(c: &Coffer, prefix: &str) -> String {
    let keys = c.objects(prefix);
    assert_eq!(
        keys.len(),
        1,
        "expected one object under {prefix}: {keys:?}"
    );
    keys[0].clone()
}

/// Flips a bit in the middle of `key`, runs `check ARGS`, and asserts it
/// fails and names `key`. `check` must see the damage in the store even
/// with a warm local cache (on S3: `repo` ran `check --read-data`). Then
/// the cache is dropped: a cached copy matches its id, so other commands
/// may rightly use it; without it they read the damaged object.
#[track_caller]
fn flip_and_check(c: &Coffer, key: &str, offset: Option<usize>, check_args: &[&str]) {
    let offset = offset.unwrap_or_else(|| c.object_len(key) / 2);
    c.flip_object_byte(key, offset, 0x01);
    let mut args = vec!["check"];
    args.extend(check_args);
    let out = c.run(&args);
    out.code(1);
    assert!(
        out.all().contains(key),
        "`{}` should name {key}:\n{}",
        out.what,
        out.show()
    );
    let json = c.run(&[&args[..], &["--json"]].concat());
    json.code(1);
    let report = json.json();
    let errors = report["errors"]
        .as_array()
        .expect("errors in the check report");
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.contains(key))),
        "{report}"
    );
    c.drop_cache();
}

fn damaged_data_pack_is_found_by_check_read_data(backend: Backend) {
    let (c, _) = repo(backend);
    let key = only(&c, "data/");
    flip_and_check(&c, &key, None, &["--read-data"]);
}

fn damaged_data_pack_header_is_found_by_check_read_data(backend: Backend) {
    let (c, _) = repo(backend);
    let key = only(&c, "data/");
    let len = c.object_len(&key);
    // The header is sealed at the end, before its 4-byte length.
    flip_and_check(&c, &key, Some(len - 20), &["--read-data"]);
}

fn damaged_tree_pack_is_found_by_check(backend: Backend) {
    let (c, _) = repo(backend);
    let key = only(&c, "tree/");
    // Inside the first tree blob: check reads every tree even without --read-data.
    flip_and_check(&c, &key, Some(30), &[]);
    c.run(&["check", "--read-data"]).code(1);
    // Listing needs the trees: a clear error, not a panic.
    let out = c.run(&["ls", "latest"]);
    out.failed();
    assert!(out.stderr.contains(&key), "{}", out.show());
}

fn damaged_index_is_found_by_check(backend: Backend) {
    let (c, _) = repo(backend);
    let key = only(&c, "index/");
    flip_and_check(&c, &key, None, &[]);
    let out = c.run(&["snapshots"]);
    // Listing snapshots does not need the index.
    out.ok();
    let out = c.run(&["restore", "latest", "--target", arg(&c.path("t"))]);
    out.failed();
    assert!(out.stderr.contains(&key), "{}", out.show());
}

fn damaged_snapshot_is_found_by_check(backend: Backend) {
    let (c, _) = repo(backend);
    let key = only(&c, "snapshots/");
    flip_and_check(&c, &key, None, &[]);
    let out = c.run(&["snapshots"]);
    out.failed();
    assert!(out.stderr.contains(&key), "{}", out.show());
}

fn damaged_config_is_refused_naming_it(backend: Backend) {
    let (c, _) = repo(backend);
    let text = String::from_utf8(c.read_object("config")).unwrap();
    // The `"` that opens the repository id becomes `#`.
    let offset = text.find("\"id\": \"").expect("config has an id") + 6;
    c.flip_object_byte("config", offset, 0x01);
    for args in [vec!["check"], vec!["snapshots"]] {
        let out = c.run(&args);
        out.code(1);
        assert!(out.one_line_error().contains("config"), "{}", out.show());
    }
}

/// `config` is authenticated by a tag in the key files: a change that
/// leaves valid JSON and valid values (compression, pack size, chunker) is
/// refused by every command, with exit code 1 and one line naming config.
fn config_changed_to_other_valid_values_is_refused(backend: Backend) {
    let (c, src) = repo(backend);
    let original = c.read_object("config");
    let text = String::from_utf8(original.clone()).unwrap();
    for (from, to) in [
        ("\"compression\": 3", "\"compression\": 2"),
        ("\"pack_size\": 33554432", "\"pack_size\": 33554430"),
        ("\"avg_size\": 1048576", "\"avg_size\": 1048574"),
    ] {
        assert!(text.contains(from), "{text}");
        c.write_object("config", text.replace(from, to).as_bytes());
        for args in [vec!["check"], vec!["snapshots"], vec!["backup", arg(&src)]] {
            let out = c.run(&args);
            out.code(1);
            let line = out.one_line_error();
            assert!(
                line.contains("config") && line.contains("keys/"),
                "{}",
                out.show()
            );
        }
    }
    c.write_object("config", &original);
    c.run(&["check"]).ok();
}

fn damaged_key_file_is_never_a_panic_and_other_keys_still_open(backend: Backend) {
    let (mut c, _) = repo(backend);
    let first = only(&c, "keys/");
    c.run_env(
        &["key", "add"],
        &[("COFFER_NEW_PASSWORD", "second password")],
    )
    .ok();
    let second = c
        .objects("keys/")
        .into_iter()
        .find(|k| *k != first)
        .unwrap();
    // Damage the second key (a hex digit of its sealed master key changes
    // to another hex digit): the first password still opens everything.
    let text = String::from_utf8(c.read_object(&second)).unwrap();
    let at = text.find("\"sealed\"").expect("key file has a sealed key") + 20;
    let digit = text.as_bytes()[at];
    assert!(digit.is_ascii_hexdigit(), "{text}");
    let mask = if digit == b'0' { 0x01 } else { digit ^ b'0' };
    c.flip_object_byte(&second, at, mask);
    c.run(&["check"]).ok();
    c.password = "second password".into();
    let out = c.run(&["snapshots"]);
    out.failed();
    out.one_line_error();
    // Damage the first as well: nothing opens, with a one-line error.
    c.password = crate::support::PASSWORD.into();
    c.flip_object_byte(&first, c.object_len(&first) / 2, 0x01);
    let out = c.run(&["snapshots"]);
    out.failed();
    out.one_line_error();
}

fn damaged_key_file_is_reported_by_its_key(backend: Backend) {
    let (mut c, _) = repo(backend);
    let first = only(&c, "keys/");
    c.run_env(
        &["key", "add"],
        &[("COFFER_NEW_PASSWORD", "second password")],
    )
    .ok();
    let second = c
        .objects("keys/")
        .into_iter()
        .find(|k| *k != first)
        .unwrap();
    let text = String::from_utf8(c.read_object(&second)).unwrap();
    let at = text.find("\"sealed\"").unwrap() + 20;
    c.flip_object_byte(
        &second,
        at,
        if text.as_bytes()[at] == b'0' {
            0x01
        } else {
            text.as_bytes()[at] ^ b'0'
        },
    );
    // check (opened with the intact key) reports the damaged one.
    let out = c.run(&["check"]);
    out.code(1);
    assert!(out.stdout.contains(&second), "{}", out.show());
    // Opening with the damaged key's password says which key is damaged.
    c.password = "second password".into();
    let out = c.run(&["snapshots"]);
    out.code(1);
    assert!(out.one_line_error().contains(&second), "{}", out.show());
}

/// The content blob ids of `file` in the latest snapshot.
fn blobs_of(c: &Coffer, file: &Path) -> Vec<String> {
    let snap = c.snapshot_ids().pop().unwrap();
    let node = tree_node(c, &snap, file);
    node["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// (pack key, offset, length) of a data blob, from the index.
fn locate(c: &Coffer, blob: &str) -> (String, usize, usize) {
    for key in c.objects("index/") {
        let index = c
            .run(&["cat", "index", key.trim_start_matches("index/")])
            .ok()
            .json();
        for p in index["packs"].as_array().unwrap() {
            for b in p["blobs"].as_array().unwrap() {
                if b["id"] == blob {
                    let id = p["id"].as_str().unwrap();
                    let pack = format!("{}/{}/{id}", p["kind"].as_str().unwrap(), &id[..2]);
                    return (
                        pack,
                        b["offset"].as_u64().unwrap() as usize,
                        b["length"].as_u64().unwrap() as usize,
                    );
                }
            }
        }
    }
    panic!("blob {blob} is in no index");
}

fn restore_names_the_damaged_file_and_restores_every_other(backend: Backend) {
    let (c, src) = repo(backend);
    let damaged = src.join("odd/file3.bin");
    let blobs = blobs_of(&c, &damaged);
    let (pack, offset, length) = locate(&c, &blobs[0]);
    c.flip_object_byte(&pack, offset + length / 2, 0x01);

    let check = c.run(&["check", "--read-data"]);
    check.code(1);
    assert!(
        check.stdout.contains(&pack) && check.stdout.contains(&blobs[0][..8]),
        "{}",
        check.show()
    );

    let target = c.path("target");
    let out = c.restore("latest", &target, &[]);
    out.code(3);
    let dst = restored(&target, &src);
    let damaged_dst = restored(&target, &damaged);
    assert!(
        out.stderr.contains(arg(&damaged_dst)),
        "restore should name {}:\n{}",
        damaged_dst.display(),
        out.show()
    );
    assert!(!out.stderr.contains("file1.bin"), "{}", out.show());
    // Everything else is back, bytes and metadata; the damaged file differs.
    let diffs = compare_trees(&src, &dst, &CompareOptions::for_current_user());
    let others: Vec<String> = diffs
        .iter()
        .filter(|d| d.path != Path::new("odd/file3.bin"))
        .map(|d| d.to_string())
        .collect();
    assert!(
        others.is_empty(),
        "only the damaged file may differ:\n{}",
        others.join("\n")
    );
    assert!(
        fs::read(&damaged_dst).map_or(true, |b| b != fs::read(&damaged).unwrap()),
        "the damaged file cannot come back whole"
    );

    // --json reports the failure too.
    let json = c.restore("latest", &c.path("target2"), &["--json"]);
    json.code(3);
    let failed = json.json()["failed"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("odd/file3.bin"),
        "{failed:?}"
    );
}

/// Export reads small files ahead, in parallel: a damaged one must still
/// fail the export (never a tar with wrong bytes) and leave no archive.
fn export_of_a_damaged_file_fails_and_leaves_no_archive(backend: Backend) {
    let (c, src) = repo(backend);
    let damaged = src.join("odd/file5.bin");
    let blobs = blobs_of(&c, &damaged);
    let (pack, offset, length) = locate(&c, &blobs[0]);
    c.flip_object_byte(&pack, offset + length / 2, 0x01);
    let dest = c.path("out.tar");
    let out = c.run(&["export", "latest", "-o", arg(&dest)]);
    out.code(1);
    assert!(out.one_line_error().contains(&pack), "{}", out.show());
    assert!(!dest.exists(), "a failed export left {}", dest.display());
    let left: Vec<_> = fs::read_dir(c.path(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("out.tar"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
}
