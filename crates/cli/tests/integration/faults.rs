//! Every command that talks to S3 run through a proxy that misbehaves like
//! a real endpoint under load (coffer_testkit::fault_proxy): each finishes
//! with exit 0, and afterwards, without the proxy, `check --read-data` is
//! clean and every snapshot restores exactly. The proxy caps faults in a
//! row per request (3), below the client's attempts (10): success is always
//! possible, so any failure here is a false failure.

use crate::support::{Backend, Coffer, Out, arg, assert_restored, restored, write};
use coffer_testkit::fault_proxy::{FAULTS, FaultProxy, Faults};
use coffer_testkit::fixture::pseudo_random;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The client's timeout in these tests, and the proxy's slow answers past it.
pub const TIMEOUT: &str = "2";
const SLOW: Duration = Duration::from_secs(3);

/// High enough that every object kind meets faults several times in one
/// run, low enough that the run stays within a few tens of seconds.
pub fn faults() -> Faults {
    Faults {
        slow_down: 0.10,
        error_after_write: 0.30,
        drop_before_response: 0.05,
        drop_during_body: 0.10,
        short_body: 0.15,
        slow: 0.02,
        slow_delay: SLOW,
        max_consecutive: 3,
        seed: 20_261_205,
    }
}

/// A small tree: a few files of several chunks, many small ones, a link.
pub fn grow(src: &Path, round: u64) {
    for i in 0..3 {
        write(
            &src.join(format!("big/{round}-{i}.bin")),
            pseudo_random(round * 10 + i, 1_500_000),
        );
    }
    for i in 0..40 {
        write(
            &src.join(format!("small/{i}.txt")),
            format!("round {round} file {i}\n"),
        );
    }
    let _ = std::os::unix::fs::symlink("big", src.join(format!("link{round}")));
}

/// A copy of the tree as backed up, to compare restores with.
pub fn keep_state(src: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn run(c: &Coffer, args: &[&str]) -> Out {
    c.run_env(args, &[("COFFER_S3_TIMEOUT", TIMEOUT)])
}

#[test]
fn every_command_survives_a_misbehaving_s3_and_loses_nothing() {
    let mut c = Coffer::on(Backend::S3);
    let upstream = c.s3.as_ref().unwrap().endpoint.clone();
    let proxy = FaultProxy::start(&upstream, faults());
    c.s3.as_mut().unwrap().endpoint = proxy.endpoint();
    let src = c.path("src");

    run(&c, &["init"]).ok();
    let mut snapshots = three_backups_count_their_retries(&c, &src);
    let (last, last_state) = snapshots.last().unwrap().clone();
    let target = c.path("restore-faulty");
    c.run_env(
        &["restore", &last, "--target", arg(&target)],
        &[("COFFER_S3_TIMEOUT", TIMEOUT)],
    )
    .ok();
    assert_restored(&last_state, &restored(&target, &src));
    run(&c, &["check", "--read-data"]).ok();
    c.run_env(
        &["key", "add"],
        &[
            ("COFFER_NEW_PASSWORD", "second password"),
            ("COFFER_S3_TIMEOUT", TIMEOUT),
        ],
    )
    .ok();
    run(&c, &["forget", "--keep-last", "2", "--prune"]).ok();
    snapshots.remove(0);
    run(&c, &["prune", "--now"]).ok();

    let repo = c.s3.as_ref().unwrap().location.clone();
    let archive = format!("{repo}-archive/src.tar.zst");
    let imported_id = archive_import_and_export_succeed(&c, &src, &archive, &last);
    every_fault_was_injected(&proxy);

    // Without the proxy: clean, and every snapshot comes back exactly.
    drop(proxy);
    c.s3.as_mut().unwrap().endpoint = upstream;
    everything_comes_back_exactly(&c, &src, &snapshots, &imported_id);
    let archive_store = coffer_testkit::s3::store(&format!("{repo}-archive"));
    coffer_core::Store::delete(&archive_store, "src.tar.zst").unwrap();
}

/// Three rounds of growing `src` and backing it up (the second with -v,
/// whose retry lines must match the count in the JSON summary). Returns
/// each snapshot's id with a copy of the tree it holds.
fn three_backups_count_their_retries(c: &Coffer, src: &Path) -> Vec<(String, PathBuf)> {
    let mut snapshots = Vec::new();
    for round in 0..3 {
        grow(src, round);
        let verbose = round == 1;
        let mut args = vec!["backup", "--json"];
        if verbose {
            args.push("-v");
        }
        args.push(arg(src));
        let out = run(c, &args);
        out.ok();
        let v = out.json();
        let id = v["snapshot_id"].as_str().expect("snapshot id").to_string();
        let state = c.path(&format!("state{round}"));
        keep_state(src, &state);
        snapshots.push((id, state));
        let total = v["retries"]["total"]
            .as_u64()
            .expect("retries in the summary");
        if verbose {
            // -v shows each retry with its cause; --json counts the same ones.
            let lines = out
                .stderr
                .lines()
                .filter(|l| l.starts_with("retry: "))
                .count();
            assert!(total > 0, "no retries at these fault rates: {v}");
            assert_eq!(lines as u64, total, "{}", out.show());
            assert!(out.stderr.contains(" after "), "{}", out.show());
        }
    }
    snapshots
}

/// `archive` to `archive`, `import` of it, and `export` of snapshot `last`
/// all succeed. Returns the imported snapshot's id.
fn archive_import_and_export_succeed(c: &Coffer, src: &Path, archive: &str, last: &str) -> String {
    run(c, &["archive", arg(src), "--to", archive]).ok();
    let out = run(c, &["import", archive, "--json"]);
    out.ok();
    let imported_id = out.json()["snapshot_id"]
        .as_str()
        .expect("imported snapshot id")
        .to_string();
    let exported = c.path("export.tar");
    run(c, &["export", last, "-o", arg(&exported)]).ok();
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(&exported)
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("small/39.txt"));
    imported_id
}

/// Every fault was injected, and every object kind met faults.
fn every_fault_was_injected(proxy: &FaultProxy) {
    let stats = proxy.stats();
    for f in FAULTS {
        assert!(
            stats.faults.get(f).copied().unwrap_or(0) > 0,
            "{f} never injected: {stats:?}"
        );
    }
    // Object kinds with many requests met faults several times (keys and
    // snapshots, with few, are covered one by one in the next test).
    for kind in ["config", "data", "tree", "index", "locks", "list"] {
        assert!(
            stats.by_object.get(kind).copied().unwrap_or(0) >= 2,
            "{kind} met fewer than 2 faults: {stats:?}"
        );
    }
}

/// `check --read-data` is clean, every snapshot restores to the tree it was
/// taken of, and the imported one has the archived files' bytes.
fn everything_comes_back_exactly(
    c: &Coffer,
    src: &Path,
    snapshots: &[(String, PathBuf)],
    imported_id: &str,
) {
    c.run(&["check", "--read-data"]).ok();
    for (id, state) in snapshots {
        let target = c.path(&format!("restore-{id}"));
        c.restore(id, &target, &[]).ok();
        assert_restored(state, &restored(&target, src));
    }
    // A tar archive carries bytes, modes and mtimes: those are compared.
    let imported = c.path("restore-imported");
    c.restore(imported_id, &imported, &[]).ok();
    for rel in ["big/2-0.bin", "big/0-2.bin", "small/39.txt"] {
        assert_eq!(
            std::fs::read(restored(&imported, src).join(rel)).unwrap(),
            std::fs::read(src.join(rel)).unwrap(),
            "imported {rel}"
        );
    }
}

/// Where success is impossible (every write answered 500, however often it
/// is retried), a command fails: exit 1, one line naming the object and
/// the cause, no panic, nothing reported as done. Afterwards, without the
/// proxy, the repository is as before and `check` passes.
#[test]
fn a_store_that_never_answers_well_fails_the_command_cleanly() {
    let mut c = Coffer::on(Backend::S3);
    let src = c.path("src");
    grow(&src, 0);
    c.run(&["init"]).ok();
    let first = c.backup(&[&src], &[]);
    let before = c.snapshot_ids();
    let upstream = c.s3.as_ref().unwrap().endpoint.clone();
    let mut f = Faults::only("error_after_write", 1.0);
    f.max_consecutive = u32::MAX;
    let proxy = FaultProxy::start(&upstream, f);
    c.s3.as_mut().unwrap().endpoint = proxy.endpoint();
    grow(&src, 1);
    let out = c.run_env(
        &["backup", "--json", arg(&src)],
        &[("COFFER_S3_TIMEOUT", TIMEOUT), ("COFFER_S3_ATTEMPTS", "3")],
    );
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(!out.stdout.contains("\"summary\""), "{}", out.show());
    let err = out.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{}", out.show());
    assert!(err.contains("s3://"), "names the object: {}", out.show());
    assert!(err.contains("500"), "says why: {}", out.show());
    assert!(!err.contains("panicked"), "{}", out.show());
    assert!(proxy.stats().faults["error_after_write"] >= 3);
    drop(proxy);
    c.s3.as_mut().unwrap().endpoint = upstream;
    assert_eq!(c.snapshot_ids(), before);
    c.run(&["check", "--read-data"]).ok();
    let id = first["snapshot_id"].as_str().unwrap();
    let target = c.path("restore");
    c.restore(id, &target, &[]).ok();
    assert_eq!(
        std::fs::read(restored(&target, &src).join("big/0-1.bin")).unwrap(),
        pseudo_random(1, 1_500_000)
    );
}

/// Every write reaches the server and its first answer is lost (500): the
/// retry, create-only, finds the object already there. Each kind of object
/// (config, key files, packs, index, snapshots, locks) meets this on every
/// write, and every command still succeeds with the right result.
#[test]
fn a_write_whose_answer_was_lost_is_a_success() {
    let mut c = Coffer::on(Backend::S3);
    let upstream = c.s3.as_ref().unwrap().endpoint.clone();
    let mut f = Faults::only("error_after_write", 1.0);
    f.max_consecutive = 1;
    let proxy = FaultProxy::start(&upstream, f);
    c.s3.as_mut().unwrap().endpoint = proxy.endpoint();
    let src = c.path("src");
    grow(&src, 0);
    run(&c, &["init"]).ok();
    let out = run(&c, &["backup", "--json", arg(&src)]);
    out.ok();
    let id = out.json()["snapshot_id"].as_str().unwrap().to_string();
    c.run_env(
        &["key", "add"],
        &[("COFFER_NEW_PASSWORD", "second password")],
    )
    .ok();
    run(&c, &["check"]).ok();
    let stats = proxy.stats();
    for kind in [
        "config",
        "keys",
        "data",
        "tree",
        "index",
        "snapshots",
        "locks",
    ] {
        assert!(
            stats.by_object.get(kind).copied().unwrap_or(0) >= 1,
            "no lost answer to a write of {kind}: {stats:?}"
        );
    }
    drop(proxy);
    c.s3.as_mut().unwrap().endpoint = upstream;
    assert_eq!(c.snapshot_ids(), vec![id.clone()]);
    c.run(&["check", "--read-data"]).ok();
    let target = c.path("restore");
    c.restore(&id, &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
    let second = c.run_env(&["snapshots"], &[("COFFER_PASSWORD", "second password")]);
    second.ok();
}
