//! The S3 store against the real S3 server `.ci/run` started (SeaweedFS):
//! the conformance suite, multipart uploads, errors, and whole repositories.

use coffer_core::Kind;
use coffer_core::NoProgress;
use coffer_core::S3Store;
use coffer_core::format::key::KdfParams;
use coffer_core::{BackupOptions, backup};
use coffer_core::{CheckOptions, check};
use coffer_core::{InitOptions, Repository};
use coffer_core::{PutHints, Store, list_all};
use coffer_core::{RestoreOptions, restore};
use coffer_testkit::fault_proxy::{FaultProxy, Faults};
use coffer_testkit::{CompareOptions, assert_same_trees, fixture, s3};
use std::sync::Arc;

#[test]
fn s3_store_conforms() {
    let loc = s3::fresh_location("conformance", "some/prefix");
    coffer_testkit::run_conformance(&s3::store(&loc));
}

#[test]
fn bucket_root_without_prefix_conforms() {
    let loc = s3::fresh_location("root", "");
    coffer_testkit::run_conformance(&s3::store(&loc));
}

#[test]
fn large_objects_go_up_in_parts_and_come_back_whole() {
    let loc = s3::fresh_location("multipart", "r");
    let store = s3::store(&loc);
    // Above the 64 MiB multipart threshold, not a multiple of the part size.
    let data = fixture::pseudo_random(7, 70 * 1024 * 1024 + 12345);
    store
        .put("data/ab/big", &data, &PutHints::immutable())
        .unwrap();
    assert_eq!(store.head("data/ab/big").unwrap().size, data.len() as u64);
    assert_eq!(store.get("data/ab/big", None).unwrap(), data);
    let mid = 33 * 1024 * 1024..33 * 1024 * 1024 + 100;
    assert_eq!(
        store
            .get("data/ab/big", Some(mid.start as u64..mid.end as u64))
            .unwrap(),
        &data[mid]
    );
    // Create-only applies to multipart uploads too.
    let err = store
        .put(
            "data/ab/big",
            &data[..70 * 1024 * 1024],
            &PutHints::immutable(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), Kind::AlreadyExists, "{err}");
    assert_eq!(store.head("data/ab/big").unwrap().size, data.len() as u64);
}

#[test]
fn missing_bucket_is_no_repository_with_a_hint() {
    let store = s3::store("s3://ct-no-such-bucket-here/x");
    let err = store.check_bucket().unwrap_err();
    assert_eq!(err.kind(), Kind::NoRepository, "{err}");
    assert!(
        err.to_string().contains("coffer init --create-bucket"),
        "{err}"
    );
}

#[test]
fn repository_round_trip_on_s3() {
    let loc = s3::fresh_location("roundtrip", "servers/web1");
    let store: Arc<dyn Store> = Arc::new(s3::store(&loc));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    drop(Repository::init(Arc::clone(&store), b"pw", opts).unwrap());

    // The store is what is under test here; every file kind is the
    // fidelity tests' job (on the local store).
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("tree");
    fixture::many_small_files(&root.join("many"), 300).unwrap();
    fixture::big_file(&root.join("big"), 20 * 1024 * 1024).unwrap();
    std::fs::write(root.join("same-1"), b"identical").unwrap();
    std::fs::write(root.join("same-2"), b"identical").unwrap();
    std::os::unix::fs::symlink("many", root.join("link")).unwrap();
    std::fs::hard_link(root.join("same-1"), root.join("hard")).unwrap();

    let repo = Arc::new(Repository::open(Arc::clone(&store), b"pw").unwrap());
    let first = backup(
        Arc::clone(&repo),
        &BackupOptions::new(vec![root.clone()]),
        &NoProgress,
    )
    .unwrap();
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    // Nothing changed: a second backup reads nothing and adds only a snapshot and an index.
    let repo = Arc::new(Repository::open(Arc::clone(&store), b"pw").unwrap());
    let second = backup(
        Arc::clone(&repo),
        &BackupOptions::new(vec![root.clone()]),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(second.parent, Some(first.id));
    assert_eq!(second.snapshot.summary.bytes_read, 0);
    // Only trees of the directories above the backed-up path may differ
    // (/tmp changes all the time): at most the root tree and /tmp's.
    assert!(
        second.snapshot.summary.blobs_new <= 2,
        "{:?}",
        second.snapshot.summary
    );

    // Packs and trees live under the prefix, nothing else in the bucket.
    let keys = list_all(store.as_ref(), "").unwrap();
    assert!(keys.iter().any(|k| k.key.starts_with("data/")));
    assert!(keys.iter().any(|k| k.key.starts_with("tree/")));

    let report = check(
        &repo,
        CheckOptions {
            read_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(report.ok(), "{:?}", report.errors);

    let out = tempfile::tempdir().unwrap();
    let res = restore(
        &repo,
        second.snapshot.tree,
        &RestoreOptions::new(out.path().to_path_buf()),
        &NoProgress,
    )
    .unwrap();
    let failed: Vec<String> = res.failed.iter().map(|f| f.error.to_string()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_same_trees(&root, &restored, &CompareOptions::for_current_user());
}

#[test]
fn backup_writes_every_object_create_only() {
    // Two repositories' worth of identical packs: the second writer of a
    // pack with the same bytes gets AlreadyExists and carries on.
    let loc = s3::fresh_location("createonly", "r");
    let store = s3::store(&loc);
    store
        .put("index/x", b"one", &PutHints::immutable())
        .unwrap();
    let err = store
        .put("index/x", b"two", &PutHints::immutable())
        .unwrap_err();
    assert_eq!(err.kind(), Kind::AlreadyExists);
    assert_eq!(store.get("index/x", None).unwrap(), b"one");
}

#[test]
fn data_packs_take_the_requested_storage_class_metadata_stays_standard() {
    let loc = s3::fresh_location("storageclass", "r");
    let s3store = Arc::new(s3::store(&loc));
    let store: Arc<dyn Store> = s3store.clone();
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    let repo = Arc::new(Repository::init(Arc::clone(&store), b"pw", opts).unwrap());
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a"), fixture::pseudo_random(1, 100_000)).unwrap();
    let mut bo = BackupOptions::new(vec![src.path().to_path_buf()]);
    bo.data_storage_class = coffer_core::StorageClass::StandardIa;
    backup(Arc::clone(&repo), &bo, &NoProgress).unwrap();
    let keys = list_all(store.as_ref(), "").unwrap();
    let mut seen_data = false;
    for k in keys {
        let class = s3store.storage_class(&k.key).unwrap();
        if k.key.starts_with("data/") {
            seen_data = true;
            assert_eq!(class, "STANDARD_IA", "{}", k.key);
        } else {
            assert_eq!(class, "STANDARD", "{}", k.key);
        }
    }
    assert!(seen_data);
}

/// A store on the test server through a fault proxy that damages every
/// answer the same way (`max_consecutive` faults in a row per request).
fn through_proxy(fault: &str, max_consecutive: u32) -> (String, FaultProxy, S3Store) {
    let location = s3::fresh_location("answers-damaged", "repo");
    let mut settings = s3::settings();
    let mut f = Faults::only(fault, 1.0);
    f.max_consecutive = max_consecutive;
    let proxy = FaultProxy::start(settings.endpoint.as_deref().unwrap(), f);
    settings.endpoint = Some(proxy.endpoint());
    settings.max_attempts = Some(3);
    let store = coffer_core::connect_s3(&location, &settings).unwrap();
    (location, proxy, store)
}

/// A body cut short (connection closed, or a `Content-Length` rewritten to
/// match the cut) is read again: whole and ranged GETs return the exact
/// bytes. When every answer is damaged the read fails as transient and
/// never returns the truncated bytes as data.
#[test]
fn damaged_answers_are_read_again_never_returned() {
    let data = fixture::pseudo_random(7, 300_000);
    for fault in ["short_body", "drop_during_body"] {
        let (location, proxy, store) = through_proxy(fault, 2);
        s3::store(&location)
            .put("data/ob/obj", &data, &PutHints::immutable())
            .unwrap();
        assert_eq!(store.get("data/ob/obj", None).unwrap(), data, "{fault}");
        assert_eq!(
            store.get("data/ob/obj", Some(1000..250_000)).unwrap(),
            &data[1000..250_000],
            "{fault}"
        );
        assert!(
            proxy.stats().faults[fault] >= 4,
            "{fault}: {:?}",
            proxy.stats()
        );
        drop(proxy);

        let (location, proxy, store) = through_proxy(fault, u32::MAX);
        s3::store(&location)
            .put("data/ob/obj", &data, &PutHints::immutable())
            .unwrap();
        for range in [None, Some(1000..250_000)] {
            let e = store.get("data/ob/obj", range.clone()).unwrap_err();
            assert!(e.is_transient(), "{fault} {range:?}: {e}");
            assert!(
                e.to_string().contains("data/ob/obj"),
                "names the object: {e}"
            );
        }
        assert!(proxy.stats().faults[fault] >= 3, "{fault}");
    }
}
