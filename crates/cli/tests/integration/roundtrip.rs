//! Backup → restore round trips: what comes back equals what went in, in
//! bytes and in metadata. The tests that go through the store run on a
//! local and on an S3 repository.

use crate::support::{
    Backend, Coffer, arg, assert_restored, restored, summary_u64, tree_node, write,
};
use coffer_testkit::compare::What;
use coffer_testkit::fixture::{
    self, Feature, Fixture, big_file, many_small_files, paths, pseudo_random,
};
use coffer_testkit::{CompareOptions, Difference, compare_trees};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

/// The generated tree of issue 2: empty files, a big file of many chunks,
/// 10,000 small files, deep directories, identical files in many places,
/// symlinks. `big_size` is the size of the big file (at least 100 MiB
/// locally). Returns (regular files, bytes of content).
fn generated_tree(root: &Path, big_size: u64) -> (u64, u64) {
    let mut files = 0u64;
    let mut bytes = 0u64;
    for i in 0..5 {
        write(&root.join(format!("empty/file{i}")), b"");
        files += 1;
    }
    fs::create_dir_all(root.join("empty/dir/inside-empty")).unwrap();

    // Not a multiple of anything: many chunks (max 4 MiB each).
    big_file(&root.join("big.bin"), big_size).unwrap();
    files += 1;
    bytes += big_size;

    bytes += many_small_files(&root.join("small"), 10_000).unwrap();
    files += 10_000;

    let mut deep = root.join("nested");
    for level in 0..24 {
        deep = deep.join(format!("level{level}"));
        write(&deep.join("here.txt"), format!("level {level}\n"));
        files += 1;
        bytes += format!("level {level}\n").len() as u64;
    }

    let same = pseudo_random(42, 300_000);
    for i in 0..40 {
        write(&root.join(format!("same/{}/copy{i}.bin", i % 7)), &same);
        files += 1;
        bytes += same.len() as u64;
    }

    fs::create_dir_all(root.join("links")).unwrap();
    symlink("../big.bin", root.join("links/relative")).unwrap();
    symlink("/etc/hostname", root.join("links/absolute")).unwrap();
    symlink("no/such/target", root.join("links/dangling")).unwrap();
    symlink("../nested", root.join("links/to-dir")).unwrap();
    (files, bytes)
}

per_store!(
    generated_tree_round_trips_bytes_and_metadata,
    fixture_tree_round_trips_every_file_kind,
    restore_into_an_existing_tree_replaces_files,
);

fn generated_tree_round_trips_bytes_and_metadata(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    // ≥ 100 MiB locally; 40 MiB on S3 keeps the suite's runtime reasonable.
    let big_size = (backend.scaled(100, 40) << 20) + 12_345;
    let (files, bytes) = generated_tree(&src, big_size);

    let b = c.backup(&[&src], &[]);
    assert_eq!(summary_u64(&b, "files_new"), files, "{b}");
    assert_eq!(summary_u64(&b, "total_bytes"), bytes, "{b}");
    assert_eq!(summary_u64(&b, "bytes_read"), bytes, "{b}");
    assert_eq!(b["skipped"].as_array().map(Vec::len), Some(0), "{b}");
    // The 40 identical copies are stored once: what is new is the content
    // minus 39 copies, plus the tree blobs (under 4 MiB for 10,000 entries).
    let same = 300_000u64;
    assert!(
        summary_u64(&b, "bytes_new") + 39 * same <= bytes + (4 << 20),
        "{b}"
    );

    let snap = b["snapshot_id"].as_str().unwrap().to_string();
    let big = tree_node(&c, &snap, &src.join("big.bin"));
    let chunks = big["content"].as_array().map(Vec::len).unwrap_or(0) as u64;
    assert!(
        chunks >= big_size.div_ceil(4 << 20),
        "a file of {big_size} bytes must be many chunks (max 4 MiB each), got {chunks}: {big}"
    );

    let target = c.path("target");
    let r = c.restore("latest", &target, &["--json"]);
    let summary = r.ok().json();
    assert_eq!(summary["files"].as_u64(), Some(files), "{summary}");
    assert_eq!(summary["bytes"].as_u64(), Some(bytes), "{summary}");
    assert_restored(&src, &restored(&target, &src));
}

/// Backs up and restores `paths` of a fresh testkit fixture (all of it when
/// empty) with `extra` backup arguments to a repository on `backend`;
/// returns the fixture and every difference, owners included (the tests run
/// as root).
fn fixture_round_trip(
    backend: Backend,
    only: Option<&str>,
    extra: &[&str],
) -> (Coffer, Fixture, Vec<Difference>) {
    let c = Coffer::init_on(backend);
    let fx = fixture::build(&c.path("fixture")).expect("fixture builds");
    let src = only.map_or(fx.root.clone(), |rel| fx.path(rel));
    let excludes: Vec<String> = extra
        .iter()
        .map(|e| e.replace("{root}", arg(&fx.root)))
        .collect();
    let mut args = vec!["backup", "--json"];
    args.extend(excludes.iter().map(String::as_str));
    args.push(arg(&src));
    let b = c.run(&args);
    b.ok();
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    let diffs = compare_trees(
        &src,
        &restored(&target, &src),
        &CompareOptions::for_current_user(),
    );
    (c, fx, diffs)
}

#[track_caller]
fn assert_no_differences(fx: &Fixture, diffs: &[Difference]) {
    let list: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert!(
        list.is_empty(),
        "{fx}the restored fixture differs in {} places:\n{}",
        list.len(),
        list.join("\n")
    );
}

/// Every kind of file the fixture has, but the path longer than PATH_MAX
/// and the sparse file (their own tests below). Sockets are recorded but
/// not recreated: a socket is made by the process that listens on it (tar
/// and restic skip them too).
fn fixture_tree_round_trips_every_file_kind(backend: Backend) {
    let excludes = ["--exclude", "{root}/long", "--exclude", "{root}/sparse"];
    let (_c, fx, diffs) = fixture_round_trip(backend, None, &excludes);
    let left_out = [paths::LONG, "sparse", paths::SOCKET];
    let rest: Vec<Difference> = diffs
        .into_iter()
        .filter(|d| !(d.what == What::OnlyInA && left_out.iter().any(|p| d.path == Path::new(p))))
        .collect();
    assert_no_differences(&fx, &rest);
    for f in [
        Feature::Hardlinks,
        Feature::Symlinks,
        Feature::NonUtf8Names,
        Feature::Times,
        Feature::Ownership,
    ] {
        assert!(fx.has(f), "the fixture lacks {f:?}: {fx}");
    }
}

#[test]
fn fixture_path_longer_than_path_max_round_trips() {
    let (_c, fx, diffs) = fixture_round_trip(Backend::Local, Some(paths::LONG), &[]);
    assert_no_differences(&fx, &diffs);
}

#[test]
fn fixture_sparse_file_keeps_its_holes() {
    let (_c, fx, diffs) = fixture_round_trip(Backend::Local, Some("sparse"), &[]);
    assert!(fx.has(Feature::Sparse), "{fx}");
    assert_no_differences(&fx, &diffs);
}

#[test]
fn socket_is_recorded_in_the_snapshot() {
    let c = Coffer::init();
    let src = c.path("src");
    fs::create_dir_all(&src).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    c.backup(&[&src], &[]);
    let out = c.run(&["ls", "--json", "latest", arg(&src.join("sock"))]);
    let lines = out.ok().json_lines();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert_eq!(lines[0]["type"], "socket", "{}", out.stdout);
}

fn restore_into_an_existing_tree_replaces_files(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    write(&src.join("a.txt"), b"original a\n");
    write(&src.join("sub/b.txt"), b"original b\n");
    symlink("a.txt", src.join("link")).unwrap();
    c.backup(&[&src], &[]);
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    let dst = restored(&target, &src);
    // Damage the restored copy, then restore over it.
    write(&dst.join("a.txt"), b"changed, and longer than before\n");
    fs::remove_file(dst.join("sub/b.txt")).unwrap();
    fs::remove_file(dst.join("link")).unwrap();
    symlink("/elsewhere", dst.join("link")).unwrap();
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &dst);
}
