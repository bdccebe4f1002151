//! Reference counts against the full walk: through random sequences of
//! snapshots added and forgotten, the blobs counted are exactly the blobs
//! a walk of the listed snapshots finds, and the counts equal those counted
//! from nothing (they depend on the set, not on the way there). The file
//! kept in the cache reads back equal, and is refused when altered or
//! opened with another repository's key.

use super::refs::{References, UpdateError};
use super::refs_file;
use crate::backup::{BackupOptions, backup};
use crate::format::key::KdfParams;
use crate::id::{SnapshotId, TreeId};
use crate::maintain::used::used_blobs;
use crate::progress::NoProgress;
use crate::repo::{InitOptions, Repository};
use crate::store::Store;
use crate::store::local::LocalStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

fn repo(dir: &Path) -> Arc<Repository> {
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.join("repo")));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    Arc::new(Repository::init(store, b"pw", opts).unwrap())
}

/// Eight snapshots of one tree that changes between them: files edited,
/// added and removed in a few of its directories, content repeated across
/// directories (a blob named by several trees), a directory emptied.
fn snapshots(dir: &Path, repo: &Arc<Repository>) -> Vec<(SnapshotId, TreeId)> {
    let src = dir.join("src");
    let mut out = Vec::new();
    for round in 0..8u64 {
        for d in 0..6u64 {
            let sub = src.join(format!("d{d}/e{}", d % 2));
            std::fs::create_dir_all(&sub).unwrap();
            for f in 0..4u64 {
                // Directory d changes in rounds where round % (d + 1) == 0.
                let version = if round % (d + 1) == 0 { round } else { 0 };
                let body = format!("file {f} v{version} {}", "x".repeat((f * 700) as usize));
                std::fs::write(sub.join(format!("f{f}")), body).unwrap();
            }
            std::fs::write(sub.join("same"), b"shared by every directory").unwrap();
        }
        if round == 5 {
            std::fs::remove_dir_all(src.join("d3")).unwrap();
        }
        let mut opts = BackupOptions::new(vec![src.clone()]);
        opts.threads = 2;
        let b = backup(Arc::clone(repo), &opts, &NoProgress).unwrap();
        out.push((b.id, b.snapshot.tree));
    }
    out
}

fn update(refs: &mut References, repo: &Repository, roots: &[(SnapshotId, TreeId)]) {
    if let Err(e) = refs.update(repo, roots, &NoProgress) {
        match e {
            UpdateError::Repo(e) => panic!("{e}"),
            UpdateError::Recount(why) => panic!("{why}"),
        }
    }
}

#[test]
fn counts_follow_any_sequence_of_snapshot_sets_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let all = snapshots(dir.path(), &repo);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let steps = prop::collection::vec(prop::collection::vec(any::<bool>(), all.len()), 1..12);
    runner
        .run(&steps, |steps| {
            let mut refs = References::default();
            for pick in steps {
                let roots: Vec<_> = all
                    .iter()
                    .zip(&pick)
                    .filter(|(_, p)| **p)
                    .map(|(r, _)| *r)
                    .collect();
                update(&mut refs, &repo, &roots);
                let walked = used_blobs(&repo, &roots).unwrap();
                let counted: HashSet<_> = refs.ids().copied().collect();
                prop_assert_eq!(&counted, &walked);
                let mut fresh = References::default();
                update(&mut fresh, &repo, &roots);
                prop_assert_eq!(&fresh, &refs);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn forgetting_one_snapshot_reads_only_the_trees_it_alone_held() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let all = snapshots(dir.path(), &repo);
    let mut refs = References::default();
    let first = refs.update(&repo, &all, &NoProgress).ok().unwrap();
    let distinct: HashSet<_> = all.iter().map(|(_, t)| *t).collect();
    assert!(first.trees_read >= distinct.len() as u64);
    // Nothing changed: nothing read.
    let again = refs.update(&repo, &all, &NoProgress).ok().unwrap();
    assert_eq!((again.added, again.removed, again.trees_read), (0, 0, 0));
    // The last snapshot shares every directory but the one that changed
    // in its round with the one before it.
    let forget_last = refs.update(&repo, &all[..7], &NoProgress).ok().unwrap();
    assert_eq!((forget_last.added, forget_last.removed), (0, 1));
    assert!(
        forget_last.trees_read > 0 && forget_last.trees_read < first.trees_read / 3,
        "{forget_last:?} of {first:?}"
    );
}

#[test]
fn the_cache_file_reads_back_and_refuses_changes_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let all = snapshots(dir.path(), &repo);
    let mut refs = References::default();
    update(&mut refs, &repo, &all[2..]);
    let state = dir.path().join("state");
    let id = repo.config().id;
    refs_file::save(&state, &id, repo.key(), &refs);
    assert_eq!(
        refs_file::load(&state, &id, repo.key()).as_ref(),
        Some(&refs)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(refs_file::path(&state))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let other = self::repo(&dir.path().join("other"));
    assert!(
        refs_file::load(&state, &id, other.key()).is_none(),
        "another key"
    );
    assert!(refs_file::load(&state, &other.config().id, repo.key()).is_none());

    let path = refs_file::path(&state);
    let good = std::fs::read(&path).unwrap();
    for at in [0, 20, 60, good.len() / 2, good.len() - 40, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(
            refs_file::load(&state, &id, repo.key()).is_none(),
            "byte {at}"
        );
    }
    for len in [0, 16, good.len() - 32, good.len() - 1] {
        std::fs::write(&path, &good[..len]).unwrap();
        assert!(
            refs_file::load(&state, &id, repo.key()).is_none(),
            "{len} bytes"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(
        refs_file::load(&state, &id, repo.key()).is_none(),
        "a byte more"
    );
}
