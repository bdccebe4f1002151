//! Regression tests, each named after the bug it guards against.

use coffer_core::LocalStore;
use coffer_core::NoProgress;
use coffer_core::Store;
use coffer_core::format::key::KdfParams;
use coffer_core::format::pack::BlobKind;
use coffer_core::{BackupOptions, backup};
use coffer_core::{InitOptions, Repository};
use coffer_core::{RestoreOptions, restore};
use std::sync::Arc;

/// A one-blob file whose last blocks are zeros was restored short: the
/// zero blocks were skipped as holes and the length was not set after.
#[test]
fn single_blob_file_ending_in_zeros_keeps_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut data = coffer_testkit::fixture::pseudo_random(5, 65_536);
    data.extend(std::iter::repeat_n(0u8, 3_584)); // 69,120 bytes like the cursor files that broke
    std::fs::write(src.join("ends-in-zeros"), &data).unwrap();
    let mut small = b"x".repeat(100);
    small.extend([0u8; 8192]);
    std::fs::write(src.join("small-then-zeros"), &small).unwrap();

    let store = Arc::new(LocalStore::new(dir.path().join("repo")));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    let repo = Arc::new(Repository::init(store, b"pw", opts).unwrap());
    let snap = backup(
        Arc::clone(&repo),
        &BackupOptions::new(vec![src.clone()]),
        &NoProgress,
    )
    .unwrap();
    let out = dir.path().join("out");
    let res = restore(
        &repo,
        snap.snapshot.tree,
        &RestoreOptions::new(out.clone()),
        &NoProgress,
    )
    .unwrap();
    assert!(res.failed.is_empty(), "{:?}", res.failed);
    let restored = out.join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("ends-in-zeros")).unwrap(), data);
    assert_eq!(
        std::fs::read(restored.join("small-then-zeros")).unwrap(),
        small
    );
}

/// A backup reused the parent's blob ids for unchanged files without
/// checking that the index still names them; after a prune condemned their
/// packs (or an index was lost) the new snapshot referred to blobs no index
/// names. Now such files are read again.
#[test]
fn unchanged_files_are_read_again_when_the_index_lost_their_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("a"),
        coffer_testkit::fixture::pseudo_random(9, 200_000),
    )
    .unwrap();
    let store = Arc::new(LocalStore::new(dir.path().join("repo")));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    let repo = Arc::new(Repository::init(store.clone(), b"pw", opts).unwrap());
    backup(
        Arc::clone(&repo),
        &BackupOptions::new(vec![src.clone()]),
        &NoProgress,
    )
    .unwrap();

    // The index this backup loads no longer names the data packs, and the
    // packs are out of sight while it runs (a data pack in the store would
    // be adopted from its header by the next backup, and rightly reused);
    // the tree packs stay, so the parent is found.
    let repo = Arc::new(Repository::open(store.clone(), b"pw").unwrap());
    let mut files = repo.load_index_files().unwrap();
    for (_, f) in &mut files {
        f.packs.retain(|p| p.kind == BlobKind::Tree);
    }
    repo.replace_index(&files);
    let mut hidden = Vec::new();
    for pack in coffer_core::list_all(store.as_ref(), "data/").unwrap() {
        hidden.push((pack.key.clone(), store.get(&pack.key, None).unwrap()));
        store.delete(&pack.key).unwrap();
    }
    let second = backup(
        Arc::clone(&repo),
        &BackupOptions::new(vec![src.clone()]),
        &NoProgress,
    )
    .unwrap();
    assert!(second.parent.is_some());
    assert_eq!(second.snapshot.summary.files_unchanged, 0);
    assert_eq!(second.snapshot.summary.bytes_read, 200_000);
    for (key, bytes) in hidden {
        store.put(&key, &bytes, &Default::default()).unwrap();
    }
    // Every blob the new snapshot names is in a pack an index names.
    let repo = Arc::new(Repository::open(repo.store().clone(), b"pw").unwrap());
    let report = coffer_core::check(&repo, Default::default()).unwrap();
    assert!(report.ok(), "{:?}", report.errors);
}
