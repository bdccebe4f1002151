//! Backups take no lock: prune must be safe while they run. A backup that
//! loaded the index before phase 1 may save a snapshot using blobs of packs
//! that phase 1 condemned; readers still find them, and phase 2 puts those
//! packs back into the index instead of deleting them.

use crate::support::*;
use coffer_core::Store;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{PruneOptions, prune};
use std::path::PathBuf;
use std::sync::Arc;

struct Setup {
    _src: tempfile::TempDir,
    repo: Arc<coffer_core::Repository>,
    old: coffer_core::BackupResult,
    old_dir: PathBuf,
    /// Holds the content of the forgotten snapshot and more.
    new_dir: PathBuf,
}

/// `old` stays; a snapshot of `gone` is forgotten, so its blobs are unused
/// — until a backup of `new_dir`, which holds the same files, reuses them.
fn setup(store: &Arc<dyn Store>, extra_files: usize) -> Setup {
    let src = tempfile::tempdir().unwrap();
    let repo = init(store);
    let old_dir = tree(src.path(), "old", 1, 4, 20_000);
    let gone_dir = tree(src.path(), "gone", 2, 6, 20_000);
    let old = backup_of(&repo, &old_dir);
    let gone = backup_of(&repo, &gone_dir);
    let opts = ForgetOptions {
        ids: vec![gone.id.to_hex()],
        ..Default::default()
    };
    forget(&repo, &opts).unwrap();
    let new_dir = src.path().join("new");
    std::fs::create_dir_all(&new_dir).unwrap();
    for e in std::fs::read_dir(&gone_dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), new_dir.join(e.file_name())).unwrap();
    }
    tree(&new_dir, "more", 3, extra_files, 3_000);
    Setup {
        _src: src,
        repo,
        old,
        old_dir,
        new_dir,
    }
}

fn at(ns: i64) -> PruneOptions {
    PruneOptions {
        now: ns,
        ..Default::default()
    }
}

fn finish_and_verify(store: &Arc<dyn Store>, s: &Setup, new: &coffer_core::BackupResult, t: i64) {
    let r = prune(&s.repo, &at(t + 25 * HOUR_NS)).unwrap();
    assert_eq!(r.records_deleted, 1, "{r:?}");
    let report = assert_checks(store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let repo = open(store);
    assert_restores(&repo, &s.old, &s.old_dir);
    assert_restores(&repo, new, &s.new_dir);
    assert_eq!(count(store.as_ref(), "prune/"), 0);
}

fn backup_straddling_phase_1(store: Arc<dyn Store>) {
    let s = setup(&store, 3);
    // The backup starts: it loads the index, which lists the forgotten blobs.
    let early = open(&store);
    let t = now_ns();
    let r = prune(&s.repo, &at(t)).unwrap();
    assert!(r.packs_condemned > 0, "{r:?}");
    // It ends after phase 1, having deduplicated against condemned blobs.
    let new = backup_of(&early, &s.new_dir);
    let report = assert_checks(&store);
    // One note for the snapshot, however many of its blobs it concerns.
    let condemned = |n: &&String| n.contains("only in a pack condemned");
    assert_eq!(
        report.notes.iter().filter(condemned).count(),
        1,
        "{:?}",
        report.notes
    );
    assert_restores(&open(&store), &new, &s.new_dir);

    let r = prune(&s.repo, &at(t + 2 * HOUR_NS)).unwrap();
    assert!(
        r.packs_resurrected > 0,
        "needed packs go back into the index: {r:?}"
    );
    assert_eq!(r.packs_deleted, 0, "{r:?}");
    finish_and_verify(&store, &s, &new, t);
}

fn backup_in_another_thread(store: Arc<dyn Store>) {
    let s = setup(&store, 300);
    let early = open(&store);
    let dir = s.new_dir.clone();
    let running = std::thread::spawn(move || backup_of(&early, &dir));
    let t = now_ns();
    let r = prune(&s.repo, &at(t)).unwrap();
    assert_eq!(r.packs_deleted, 0, "{r:?}");
    let new = running.join().unwrap();
    finish_and_verify(&store, &s, &new, t);
}

#[test]
fn local_backup_straddling_prune_phase_1() {
    let d = tempfile::tempdir().unwrap();
    backup_straddling_phase_1(local_store(d.path()));
}

#[test]
fn s3_backup_straddling_prune_phase_1() {
    backup_straddling_phase_1(s3_store("race-straddle"));
}

#[test]
fn local_backup_in_another_thread_while_prune_runs() {
    let d = tempfile::tempdir().unwrap();
    backup_in_another_thread(local_store(d.path()));
}

#[test]
fn s3_backup_in_another_thread_while_prune_runs() {
    backup_in_another_thread(s3_store("race-thread"));
}

/// A backup that saves its snapshot while prune is between reading the
/// index and listing the snapshots (the moment a concurrent backup made
/// prune fail with "blob is not in the index"): prune succeeds, and the
/// snapshot restores.
#[test]
fn a_snapshot_saved_while_prune_reads_the_repository_does_not_stop_it() {
    let d = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let s = setup(&store, 20);
    // Once armed, the first listing of snapshots/ first runs a whole
    // backup to its end.
    let result = Arc::new(std::sync::Mutex::new(None));
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook = {
        let (store, dir, result, armed) = (
            Arc::clone(&store),
            s.new_dir.clone(),
            Arc::clone(&result),
            Arc::clone(&armed),
        );
        let once = std::sync::Once::new();
        move |call: Call, prefix: &str| {
            if call == Call::List
                && prefix == "snapshots/"
                && armed.load(std::sync::atomic::Ordering::SeqCst)
            {
                once.call_once(|| {
                    *result.lock().unwrap() = Some(backup_of(&open(&store), &dir));
                });
            }
        }
    };
    let watched: Arc<dyn Store> = Arc::new(Watched {
        inner: Arc::clone(&store),
        before: Box::new(hook),
    });
    let pruner = open(&watched);
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let t = now_ns();
    prune(&pruner, &at(t)).unwrap();
    let new = result
        .lock()
        .unwrap()
        .take()
        .expect("the backup ran during prune");
    finish_and_verify(&store, &s, &new, t);
}
