//! Prune removes exactly what no snapshot uses, in two phases, and a prune
//! killed part way is finished by the next one.

use crate::support::*;
use coffer_core::Kind;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{MaxUnused, PruneOptions, prune};
use coffer_core::{Store, list_all};
use std::sync::Arc;

fn forget_ids(repo: &Arc<coffer_core::Repository>, ids: &[coffer_core::id::SnapshotId]) {
    let opts = ForgetOptions {
        ids: ids.iter().map(|i| i.to_hex()).collect(),
        ..Default::default()
    };
    assert_eq!(forget(repo, &opts).unwrap().removed.len(), ids.len());
}

fn now_opts(max_unused: MaxUnused) -> PruneOptions {
    PruneOptions {
        max_unused,
        grace: None,
        ..Default::default()
    }
}

fn removes_exactly_what_it_should(store: Arc<dyn Store>) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    // Shared content in `a`; `b` only in the first snapshot.
    let a = tree(src.path(), "a", 1, 8, 20_000);
    let s1_dir = src.path().join("s1");
    let s2_dir = src.path().join("s2");
    for d in [&s1_dir, &s2_dir] {
        std::fs::create_dir_all(d).unwrap();
        copy_dir(&a, &d.join("a"));
    }
    copy_dir(&tree(src.path(), "b", 2, 8, 20_000), &s1_dir.join("b"));
    copy_dir(&tree(src.path(), "c", 3, 4, 20_000), &s2_dir.join("c"));
    let s1 = backup_of(&repo, &s1_dir);
    let s2 = backup_of(&repo, &s2_dir);
    let s3 = backup_of(&repo, &s2_dir);
    let before = pack_bytes(store.as_ref());

    // Nothing to remove: prune keeps every byte.
    let r = prune(&repo, &now_opts(MaxUnused::Percent(0.0))).unwrap();
    assert_eq!(r.packs_deleted, 0, "{r:?}");
    assert_eq!(r.packs_condemned, 0, "{r:?}");

    forget_ids(&repo, &[s1.id]);
    let dry = prune(
        &repo,
        &PruneOptions {
            dry_run: true,
            ..now_opts(MaxUnused::Percent(0.0))
        },
    )
    .unwrap();
    assert!(dry.packs_condemned + dry.packs_repacked > 0, "{dry:?}");
    assert_eq!(
        pack_bytes(store.as_ref()),
        before,
        "a dry run changes nothing"
    );
    assert_eq!(count(store.as_ref(), "prune/"), 0);

    let r = prune(&repo, &now_opts(MaxUnused::Percent(0.0))).unwrap();
    assert!(r.packs_deleted > 0, "{r:?}");
    let after = pack_bytes(store.as_ref());
    assert!(
        after < before,
        "repository not smaller: {before} -> {after}"
    );
    assert_eq!(count(store.as_ref(), "prune/"), 0, "both phases ran");
    assert_eq!(count(store.as_ref(), "locks/"), 0, "the lock is released");

    // Exactly: the index holds the used blobs and nothing else, once each.
    let repo = assert_index_is_exactly_used(&store);
    let listed: u64 = repo.index().packs().iter().map(|p| p.size).sum();
    assert_eq!(listed, after, "no pack outside the index is left");

    let report = assert_checks(&store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_restores(&repo, &s2, &s2_dir);
    assert_restores(&repo, &s3, &s2_dir);
}

fn waits_for_the_grace_period(store: Arc<dyn Store>) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    let keep_dir = tree(src.path(), "keep", 1, 4, 20_000);
    let gone_dir = tree(src.path(), "gone", 2, 6, 20_000);
    let keep = backup_of(&repo, &keep_dir);
    let gone = backup_of(&repo, &gone_dir);
    forget_ids(&repo, &[gone.id]);
    let before = pack_bytes(store.as_ref());
    let t = now_ns();
    let at = |ns| PruneOptions {
        now: ns,
        ..Default::default()
    };

    let r = prune(&repo, &at(t)).unwrap();
    assert!(r.packs_condemned > 0, "{r:?}");
    assert_eq!(r.packs_deleted, 0, "phase 1 deletes no pack");
    assert_eq!(count(store.as_ref(), "prune/"), 1);
    assert_eq!(pack_bytes(store.as_ref()), before);
    let report = assert_checks(&store);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("condemned by prune")),
        "{:?}",
        report.notes
    );
    assert_restores(&repo, &keep, &keep_dir);
    // A condemned pack that is already gone is not an error either.
    let records = repo.prune_records().unwrap();
    let first = &records[0].1.packs[0];
    store
        .delete(&coffer_core::format::pack::key(first.kind, &first.id))
        .unwrap();
    assert_checks(&store);

    let before = pack_bytes(store.as_ref());
    let r = prune(&repo, &at(t + HOUR_NS)).unwrap();
    assert_eq!(
        r.packs_deleted, 0,
        "an hour later the grace period still runs"
    );
    assert_eq!(pack_bytes(store.as_ref()), before);

    let r = prune(&repo, &at(t + 25 * HOUR_NS)).unwrap();
    assert!(r.packs_deleted > 0, "{r:?}");
    assert_eq!(r.records_deleted, 1);
    assert!(pack_bytes(store.as_ref()) < before);
    assert_eq!(count(store.as_ref(), "prune/"), 0);
    let report = assert_checks(&store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_restores(&open(&store), &keep, &keep_dir);
}

/// Phase 2 stops after `allowed` deletes under `prefixes`; the next prune
/// finishes, and check passes at every step.
fn killed_part_way(store: Arc<dyn Store>, prefixes: &'static [&'static str], allowed: usize) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    let keep_dir = tree(src.path(), "keep", 1, 4, 20_000);
    let keep = backup_of(&repo, &keep_dir);
    let mut gone = Vec::new();
    for seed in 2..5 {
        gone.push(
            backup_of(
                &repo,
                &tree(src.path(), &format!("g{seed}"), seed, 4, 20_000),
            )
            .id,
        );
    }
    forget_ids(&repo, &gone);
    let t = now_ns();
    prune(
        &repo,
        &PruneOptions {
            now: t,
            max_unused: MaxUnused::Percent(0.0),
            ..Default::default()
        },
    )
    .unwrap();
    // A second round of garbage, so the killed run also writes an index.
    let extra = backup_of(&repo, &tree(src.path(), "x", 9, 4, 20_000));
    forget_ids(&repo, &[extra.id]);

    let failing = FailingStore::wrap(&store, prefixes, allowed);
    let killed = open(&failing);
    let later = PruneOptions {
        now: t + 25 * HOUR_NS,
        max_unused: MaxUnused::Percent(0.0),
        ..Default::default()
    };
    let err = prune(&killed, &later).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    drop(killed);
    assert_checks(&store);
    assert_restores(&open(&store), &keep, &keep_dir);

    // The lock of the failed run was released (its delete is not injected).
    let repo = open(&store);
    prune(&repo, &later).unwrap();
    let r = prune(
        &repo,
        &PruneOptions {
            now: t + 50 * HOUR_NS,
            ..later
        },
    )
    .unwrap();
    assert_eq!(count(store.as_ref(), "prune/"), 0, "{r:?}");
    let report = assert_checks(&store);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_restores(&open(&store), &keep, &keep_dir);
    let packs: usize = list_all(store.as_ref(), "data/").unwrap().len();
    assert_eq!(
        packs,
        open(&store)
            .index()
            .packs()
            .iter()
            .filter(|p| p.kind == coffer_core::format::pack::BlobKind::Data)
            .count()
    );
}

fn damaged_repository_is_not_pruned(store: Arc<dyn Store>) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    let dir = tree(src.path(), "d", 1, 4, 20_000);
    backup_of(&repo, &dir);
    let tree_pack = list_all(store.as_ref(), "tree/").unwrap().remove(0).key;
    store.delete(&tree_pack).unwrap();
    let before = pack_bytes(store.as_ref());
    let err = prune(&open(&store), &now_opts(MaxUnused::Percent(0.0))).unwrap_err();
    assert!(
        matches!(err.kind(), Kind::Corrupt | Kind::NotFound),
        "{err}"
    );
    assert!(err.to_string().contains("coffer check"), "{err}");
    assert_eq!(pack_bytes(store.as_ref()), before, "nothing deleted");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn local_prune_removes_exactly_what_it_should() {
    let d = tempfile::tempdir().unwrap();
    removes_exactly_what_it_should(local_store(d.path()));
}

#[test]
fn s3_prune_removes_exactly_what_it_should() {
    removes_exactly_what_it_should(s3_store("prune-exact"));
}

#[test]
fn local_prune_waits_for_the_grace_period() {
    let d = tempfile::tempdir().unwrap();
    waits_for_the_grace_period(local_store(d.path()));
}

#[test]
fn s3_prune_waits_for_the_grace_period() {
    waits_for_the_grace_period(s3_store("prune-grace"));
}

#[test]
fn local_prune_killed_while_deleting_packs() {
    let d = tempfile::tempdir().unwrap();
    killed_part_way(local_store(d.path()), &["data/", "tree/"], 1);
}

#[test]
fn local_prune_killed_while_deleting_index_objects() {
    let d = tempfile::tempdir().unwrap();
    killed_part_way(local_store(d.path()), &["index/"], 1);
}

#[test]
fn local_prune_killed_while_deleting_records() {
    let d = tempfile::tempdir().unwrap();
    killed_part_way(local_store(d.path()), &["prune/"], 0);
}

#[test]
fn s3_prune_killed_while_deleting_packs() {
    killed_part_way(s3_store("prune-killed"), &["data/", "tree/"], 2);
}

#[test]
fn local_damaged_repository_is_not_pruned() {
    let d = tempfile::tempdir().unwrap();
    damaged_repository_is_not_pruned(local_store(d.path()));
}
