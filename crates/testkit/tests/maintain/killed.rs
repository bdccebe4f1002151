//! A prune killed with SIGKILL part way through deleting: a child process
//! (this test binary, re-run on one ignored test) prunes through a store
//! that deletes slowly; the parent kills it once some packs are gone. Its
//! lock stays behind, stale because its process is gone, so the next prune
//! proceeds, reports it, and finishes the work; check passes throughout.

use crate::support::*;
use coffer_core::Store;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{PruneOptions, prune};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD: &str = "COFFER_TEST_PRUNE_CHILD";

/// The child: prunes `location` at the given time, slowly, until killed.
#[test]
#[ignore = "run by sigkill_part_way_through_phase_2 in a child process"]
fn prune_child() {
    let Ok(arg) = std::env::var(CHILD) else {
        return;
    };
    let (now, location) = arg.split_once(' ').expect("time and location");
    // Packs are deleted slowly, so the parent can kill the child mid-way.
    let slow: Arc<dyn Store> = Arc::new(Watched {
        inner: store_at(location),
        before: Box::new(|call, key| {
            if call == Call::Delete && (key.starts_with("data/") || key.starts_with("tree/")) {
                std::thread::sleep(Duration::from_millis(300));
            }
        }),
    });
    let opts = PruneOptions {
        now: now.parse().unwrap(),
        ..Default::default()
    };
    prune(&open(&slow), &opts).unwrap();
    panic!("the parent should have killed this prune before it finished");
}

fn sigkill_part_way_through_phase_2(store: Arc<dyn Store>, location: &str) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    let keep_dir = tree(src.path(), "keep", 1, 4, 20_000);
    let keep = backup_of(&repo, &keep_dir);
    let gone = backup_of(&repo, &tree(src.path(), "gone", 2, 12, 20_000));
    forget(
        &repo,
        &ForgetOptions {
            ids: vec![gone.id.to_hex()],
            ..Default::default()
        },
    )
    .unwrap();
    let t = now_ns();
    let phase1 = prune(
        &repo,
        &PruneOptions {
            now: t,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(phase1.packs_condemned >= 4, "{phase1:?}");
    let packs = count(store.as_ref(), "data/") + count(store.as_ref(), "tree/");

    let later = t + 25 * HOUR_NS;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "killed::prune_child",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{later} {location}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let now = count(store.as_ref(), "data/") + count(store.as_ref(), "tree/");
        if now + 2 <= packs {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the child deleted nothing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended on its own"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        count(store.as_ref(), "locks/"),
        1,
        "a killed prune leaves its lock"
    );
    assert!(
        count(store.as_ref(), "prune/") >= 1,
        "and its unfinished record"
    );
    assert_checks(&store);
    assert_restores(&open(&store), &keep, &keep_dir);

    let repo = open(&store);
    let r = prune(
        &repo,
        &PruneOptions {
            now: later,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        r.stale_locks.len(),
        1,
        "the dead prune's lock is reported: {r:?}"
    );
    assert!(r.stale_locks[0].contains("is gone"), "{:?}", r.stale_locks);
    assert_eq!(count(store.as_ref(), "prune/"), 0);
    assert_eq!(
        repo.remove_locks(false).unwrap().len(),
        1,
        "unlock removes it"
    );
    assert_eq!(count(store.as_ref(), "locks/"), 0);
    let report = assert_checks(&store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_restores(&open(&store), &keep, &keep_dir);
}

#[test]
fn local_prune_killed_with_sigkill_is_finished_by_the_next() {
    let d = tempfile::tempdir().unwrap();
    let location = d.path().join("repo");
    let store = local_store(d.path());
    sigkill_part_way_through_phase_2(store, location.to_str().unwrap());
}

#[test]
fn s3_prune_killed_with_sigkill_is_finished_by_the_next() {
    let location = coffer_testkit::s3::fresh_location("prune-sigkill", "repo");
    let store: Arc<dyn Store> = Arc::new(coffer_testkit::s3::store(&location));
    sigkill_part_way_through_phase_2(store, &location);
}
