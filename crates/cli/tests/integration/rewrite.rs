//! `coffer rewrite`: new snapshots without what the excludes match; data
//! untouched until prune; the rest restores exactly; a rerun after a stop
//! at any point finishes without doubling a snapshot; local and S3.

use crate::support::*;
use std::path::Path;

fn sample(c: &Coffer) -> std::path::PathBuf {
    let src = c.path("src");
    write(&src.join("a.txt"), "alpha\n");
    write(&src.join("secret.txt"), "the password is hunter2\n");
    write(&src.join("sub/secret.txt"), "another secret\n");
    write(&src.join("sub/keep.txt"), "kept\n");
    // Incompressible, so the space prune frees shows.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let big: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    write(&src.join("cache/big.bin"), big);
    write(
        &src.join("deep/cache/x"),
        "a file, not the cache dir at the top\n",
    );
    src
}

/// The source without what the patterns below leave out.
fn expected(c: &Coffer, src: &Path) -> std::path::PathBuf {
    let want = c.path("want");
    std::fs::create_dir_all(&want).unwrap();
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(&want)
        .output()
        .unwrap();
    assert!(out.status.success());
    let w = want.join("src");
    std::fs::remove_file(w.join("secret.txt")).unwrap();
    std::fs::remove_file(w.join("sub/secret.txt")).unwrap();
    std::fs::remove_dir_all(w.join("cache")).unwrap();
    // A rewritten snapshot keeps its directories' times as backed up.
    for d in ["", "sub"] {
        let st = std::process::Command::new("touch")
            .arg("-r")
            .arg(src.join(d))
            .arg(w.join(d))
            .status()
            .unwrap();
        assert!(st.success());
    }
    w
}

fn roundtrip(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = sample(&c);
    c.backup(&[&src], &["--tag", "t"]);
    write(&src.join("a.txt"), "alpha, changed\n");
    c.backup(&[&src], &["--tag", "t"]);
    let before = c.snapshot_ids();
    let anchored = format!("{}/cache/", src.display());
    let out = c.run(&[
        "rewrite",
        "--json",
        "--forget",
        "-e",
        "secret.txt",
        "-e",
        &anchored,
    ]);
    out.ok();
    let r = out.json();
    let rewritten = r["rewritten"].as_array().unwrap();
    assert_eq!(rewritten.len(), 2, "{r}");
    let removed: Vec<&str> = rewritten[0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(
        removed
            .iter()
            .all(|p| p.ends_with("secret.txt") || p.ends_with("/cache"))
    );
    let after = c.snapshot_ids();
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|id| !before.contains(id)),
        "the originals were forgotten"
    );
    let cat = c.run(&["cat", "snapshot", &after[0]]);
    assert!(before.contains(&cat.json()["original"].as_str().unwrap().to_string()));

    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    let w = expected(&c, &src);
    assert_restored(&w, &restored(&target, &src));
    let find = c.run(&["find", "secret.txt"]);
    assert!(!find.stdout.contains("secret.txt"), "{}", find.stdout);

    // Prune frees the left-out data; the repository still checks clean.
    let (_, before_prune) = c.size();
    c.run(&["prune", "--now", "--max-unused", "0"]).ok();
    let (_, after_prune) = c.size();
    assert!(
        after_prune + 250_000 < before_prune,
        "prune freed {} bytes",
        before_prune.saturating_sub(after_prune)
    );
    c.run(&["check", "--read-data"]).ok();
    let again = c.path("again");
    c.restore("latest", &again, &[]).ok();
    assert_restored(&w, &restored(&again, &src));
}

#[test]
fn rewrite_leaves_out_what_matches_local() {
    roundtrip(Backend::Local);
}

#[test]
fn rewrite_leaves_out_what_matches_s3() {
    roundtrip(Backend::S3);
}

#[test]
fn a_rerun_after_a_stop_finishes_without_a_second_copy() {
    let c = Coffer::init();
    let src = sample(&c);
    c.backup(&[&src], &[]);
    let old = c.snapshot_ids()[0].clone();
    // Without --forget both stay; rerunning stores nothing new.
    c.run(&["rewrite", "-e", "secret.txt", &old]).ok();
    let two = c.snapshot_ids();
    assert_eq!(two.len(), 2);
    // Same time as its original, and listed after it: it is `latest`.
    assert_eq!(
        c.run(&["cat", "snapshot", &two[1]]).json()["original"],
        old.as_str()
    );
    let out = c.run(&["rewrite", "--json", "-e", "secret.txt", &old]);
    out.ok();
    assert_eq!(c.snapshot_ids(), two, "{}", out.stdout);
    // Killed after storing the new snapshot, before deleting the old: the
    // rerun with --forget only deletes.
    let out = c.run(&["rewrite", "--json", "--forget", "-e", "secret.txt", &old]);
    out.ok();
    let new = out.json()["rewritten"][0]["new"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(two.contains(&new));
    assert_eq!(c.snapshot_ids(), [new]);
}

#[test]
fn a_dry_run_writes_nothing_and_no_pattern_is_refused() {
    let c = Coffer::init();
    let src = sample(&c);
    c.backup(&[&src], &[]);
    let objects = [
        c.objects("snapshots/"),
        c.objects("tree/"),
        c.objects("index/"),
    ];
    let out = c.run(&["rewrite", "--dry-run", "-e", "secret.txt"]);
    out.ok();
    assert!(
        out.stdout.contains("would rewrite 1 snapshot"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("secret.txt"), "{}", out.stdout);
    let none = c.run(&["rewrite", "-e", "nothing-matches-this"]);
    none.ok();
    assert!(
        none.stdout.contains("rewrote 0 snapshot"),
        "{}",
        none.stdout
    );
    let out = c.run(&["rewrite", "latest"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    out.one_line_error();
    assert_eq!(
        [
            c.objects("snapshots/"),
            c.objects("tree/"),
            c.objects("index/")
        ],
        objects
    );
}
