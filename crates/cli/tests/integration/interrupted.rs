//! A backup killed at any moment leaves a repository that `check` passes
//! (packs no index names are notes, not errors), and the next backup
//! completes and restores correctly.

use crate::support::{Coffer, arg, assert_restored, files_below, restored};
use coffer_testkit::fixture::{big_file_seeded, many_small_files};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Files under `data/` of the repository: (stored packs, temporary files).
fn data_files(repo: &Path) -> (usize, usize) {
    if !repo.join("data").exists() {
        return (0, 0);
    }
    let files = files_below(&repo.join("data"));
    let tmp = files
        .iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
        })
        .count();
    (files.len() - tmp, tmp)
}

/// Starts `backup src`, waits until `ready` holds (polling every
/// millisecond, at most `limit`), and kills it with SIGKILL. Panics if the
/// backup finished first: then the test would prove nothing.
fn kill_backup(c: &Coffer, src: &Path, ready: impl Fn() -> bool, limit: Duration) {
    let mut child = c
        .command(&["backup", arg(src)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn backup");
    let start = Instant::now();
    while !ready() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(1));
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(
        still_running,
        "the backup finished before it could be killed: make the tree bigger"
    );
}

#[track_caller]
fn check_passes(c: &Coffer) -> String {
    let out = c.run(&["check"]);
    out.ok();
    assert!(
        c.snapshot_ids().is_empty(),
        "a killed backup saved a snapshot"
    );
    out.stdout.clone()
}

#[test]
fn killed_backup_leaves_a_repository_that_check_passes() {
    let c = Coffer::init();
    let src = c.path("src");
    // 40 MiB in four files: more than one pack (32 MiB), so a kill can come
    // after the first pack is stored but before the backup finishes.
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..4 {
        big_file_seeded(&src.join(format!("big{i}.bin")), 10 << 20, 100 + i).unwrap();
    }
    many_small_files(&src.join("small"), 300).unwrap();

    // Killed while starting (the password's key derivation alone takes longer).
    kill_backup(&c, &src, || false, Duration::from_millis(50));
    check_passes(&c);

    // Killed while the first pack is being written (or just after).
    kill_backup(
        &c,
        &src,
        || data_files(&c.repo) != (0, 0),
        Duration::from_secs(120),
    );
    assert_ne!(
        data_files(&c.repo),
        (0, 0),
        "no pack was written within the time limit"
    );
    check_passes(&c);

    // Killed right after one more pack was stored.
    let stored = data_files(&c.repo).0;
    kill_backup(
        &c,
        &src,
        || data_files(&c.repo).0 > stored,
        Duration::from_secs(120),
    );
    assert!(
        data_files(&c.repo).0 > stored,
        "no pack was stored within the time limit"
    );
    let report = check_passes(&c);
    if c.objects("index/").is_empty() {
        assert!(
            report.contains("note:") && report.contains("data/"),
            "packs no index names should be noted:\n{report}"
        );
    }

    // The next backup completes, and what it saved restores.
    let b = c.backup(&[&src], &[]);
    assert!(b["skipped"].as_array().is_some_and(Vec::is_empty), "{b}");
    c.run(&["check"]).ok();
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
}
