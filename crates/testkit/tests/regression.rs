//! Regression tests, each named after the bug it guards against.

use coffer_core::backup::{BackupOptions, backup};
use coffer_core::format::key::KdfParams;
use coffer_core::progress::NoProgress;
use coffer_core::repo::{InitOptions, Repository};
use coffer_core::restore::{RestoreOptions, restore};
use coffer_core::store::local::LocalStore;
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
