//! The store conformance suite against the local directory store.

use coffer_core::LocalStore;
use coffer_core::{PutHints, Store, list_all};
use coffer_testkit::store_suite::run_conformance;
use std::fs;

#[test]
fn local_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    run_conformance(&LocalStore::new(dir.path().join("repo")));
}

/// A crash between writing a temporary file and renaming it leaves a
/// `.tmp-*` file; it is not an object.
#[test]
fn leftover_temporary_files_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    store
        .put("data/ab/object", b"real", &PutHints::immutable())
        .unwrap();
    fs::write(
        dir.path().join("data/ab/.tmp-0123456789abcdef"),
        b"half written",
    )
    .unwrap();
    fs::write(dir.path().join(".tmp-fedcba9876543210"), b"half written").unwrap();

    for prefix in ["", "data/", "data/ab/", "data/ab/.tmp", ".tmp"] {
        let keys: Vec<String> = list_all(&store, prefix)
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        let want: &[&str] = if "data/ab/object".starts_with(prefix) {
            &["data/ab/object"]
        } else {
            &[]
        };
        assert_eq!(keys, want, "list {prefix:?}");
    }
}
