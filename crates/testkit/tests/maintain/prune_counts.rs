//! Prune with the reference counts kept in the cache between runs: it
//! reads only the trees of snapshots added or forgotten since, and keeps
//! exactly what a prune counting from nothing keeps — also when another
//! host pruned in between (the forgotten snapshots' trees are gone), and
//! when the counts file was altered.

use crate::support::*;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{MaxUnused, PruneOptions, PruneReport, Repository, prune};
use coffer_core::{Store, id::SnapshotId};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn forget_id(repo: &Arc<Repository>, id: SnapshotId) {
    let opts = ForgetOptions {
        ids: vec![id.to_hex()],
        ..Default::default()
    };
    assert_eq!(forget(repo, &opts).unwrap().removed.len(), 1);
}

fn prune_now(repo: &Arc<Repository>, state: Option<&Path>) -> PruneReport {
    let opts = PruneOptions {
        max_unused: MaxUnused::Percent(0.0),
        grace: None,
        state_dir: state.map(Path::to_path_buf),
        ..Default::default()
    };
    prune(repo, &opts).unwrap()
}

/// The index holds exactly the blobs the snapshots use, `check` is clean.
fn assert_exact(store: &Arc<dyn Store>) {
    assert_index_is_exactly_used(store);
    let report = assert_checks(store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

/// Directories `d0..d5`, each of 3 files; `round` rewrites the files of
/// directory `round % 6`.
fn source(root: &Path, round: u64) -> PathBuf {
    let src = root.join("src");
    for d in 0..6u64 {
        let dir = src.join(format!("d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        let version = if round > 0 && d == round % 6 {
            round
        } else {
            0
        };
        for f in 0..3u64 {
            let body = coffer_testkit::fixture::pseudo_random(d * 100 + f + version * 7919, 9_000);
            std::fs::write(dir.join(format!("f{f}")), body).unwrap();
        }
    }
    src
}

fn counts_kept_between_prunes(store: Arc<dyn Store>) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("cache");
    let repo = init(&store);
    let mut snaps = Vec::new();
    for round in 0..4 {
        let src = source(tmp.path(), round);
        snaps.push((backup_of(&repo, &src), round));
    }

    let first = prune_now(&repo, Some(&state));
    assert!(!first.counts_reused && first.trees_read > 0, "{first:?}");
    let again = prune_now(&repo, Some(&state));
    assert!(again.counts_reused, "{again:?}");
    assert_eq!(again.trees_read, 0, "nothing changed, nothing read");

    // Forget the oldest: only the trees it alone held are read.
    forget_id(&repo, snaps[0].0.id);
    let r = prune_now(&repo, Some(&state));
    assert!(r.counts_reused && r.packs_deleted > 0, "{r:?}");
    assert!(
        r.trees_read > 0 && r.trees_read < first.trees_read,
        "{r:?} {first:?}"
    );
    assert_exact(&store);

    // A new snapshot and another forgotten, in one prune.
    let src = source(tmp.path(), 4);
    snaps.push((backup_of(&repo, &src), 4));
    forget_id(&repo, snaps[1].0.id);
    let r = prune_now(&repo, Some(&state));
    assert!(r.counts_reused && r.packs_deleted > 0, "{r:?}");
    assert_exact(&store);

    // Another host forgets and prunes (without these counts): the trees
    // of the snapshot it forgot are gone when this host's counts are
    // brought up to date, so they are counted again from nothing.
    forget_id(&repo, snaps[2].0.id);
    let elsewhere = prune_now(&repo, None);
    assert!(elsewhere.packs_deleted > 0, "{elsewhere:?}");
    let r = prune_now(&repo, Some(&state));
    assert!(!r.counts_reused, "{r:?}");
    assert_eq!(r.packs_deleted, 0, "{r:?}");
    assert_exact(&store);

    // An altered counts file is not used.
    let file = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap() == "prune-references")
        .expect("the counts are kept");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    forget_id(&repo, snaps[3].0.id);
    let r = prune_now(&repo, Some(&state));
    assert!(!r.counts_reused && r.packs_deleted > 0, "{r:?}");
    assert_exact(&store);

    // What is left restores exactly (the source is as the last backup saw it).
    let repo = open(&store);
    let (last, _) = snaps.last().unwrap();
    assert_restores(&repo, last, &tmp.path().join("src"));
}

#[test]
fn local_prune_keeps_counts_between_runs() {
    let d = tempfile::tempdir().unwrap();
    counts_kept_between_prunes(local_store(d.path()));
}

#[test]
fn s3_prune_keeps_counts_between_runs() {
    counts_kept_between_prunes(s3_store("prune-counts"));
}
