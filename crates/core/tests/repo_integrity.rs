//! A repository against a store an attacker or a disk has touched
//! (docs/FORMAT.md §6, §18):
//!
//! - a sealed box only opens as the kind of object it was sealed as, so a
//!   blob copied to `index/<hash>` or `snapshots/<hash>` is corrupt.

use coffer_core::Kind;
use coffer_core::blob::BlobWriter;
use coffer_core::crypto::Sealed;
use coffer_core::format::FORMAT_VERSION;
use coffer_core::format::index::IndexFile;
use coffer_core::format::key::KdfParams;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::snapshot::{Snapshot, Summary};
use coffer_core::id::{IndexId, TreeId, hash_object};
use coffer_core::maintain::check::{CheckOptions, check};
use coffer_core::repo::{InitOptions, Repository};
use coffer_core::store::local::LocalStore;
use coffer_core::store::{PutHints, StorageClass, Store};
use std::sync::Arc;

fn init(dir: &tempfile::TempDir, password: &[u8]) -> Repository {
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..InitOptions::default()
    };
    Repository::init(store, password, opts).unwrap()
}

/// Stores `bytes` under `<dir>/<blake3 of bytes>`, as a writer would.
fn put_named(store: &dyn Store, dir: &str, bytes: &[u8]) -> String {
    let key = format!("{dir}/{}", hex::encode(hash_object(bytes)));
    store.put(&key, bytes, &PutHints::immutable()).unwrap();
    key
}

#[test]
fn a_sealed_blob_stored_as_index_or_snapshot_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(init(&dir, b"pw"));

    // A first backup, so there is a real index object to hide.
    let writer = BlobWriter::new(Arc::clone(&repo), 1, StorageClass::Standard);
    writer.add(BlobKind::Data, b"real data").unwrap();
    writer.finish().unwrap();

    // Blobs whose plaintexts are a valid index (hiding every real index
    // object) and a valid snapshot: what an attacker who gets a file backed
    // up could craft.
    let real: Vec<IndexId> = repo
        .load_index_files()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let forged_index = IndexFile {
        version: FORMAT_VERSION,
        packs: Vec::new(),
        supersedes: real,
    }
    .encode();
    let forged_snapshot = Snapshot {
        version: FORMAT_VERSION,
        time: 0,
        host: "forged".into(),
        user: "forged".into(),
        paths: vec!["/".into()],
        tags: Vec::new(),
        tree: TreeId([1; 32]),
        parent: None,
        excludes: Vec::new(),
        program_version: "0".into(),
        summary: Summary::default(),
    }
    .encode();
    let writer = BlobWriter::new(Arc::clone(&repo), 1, StorageClass::Standard);
    let (index_blob, _) = writer.add(BlobKind::Data, &forged_index).unwrap();
    let (snapshot_blob, _) = writer.add(BlobKind::Data, &forged_snapshot).unwrap();
    writer.finish().unwrap();

    // The sealed blobs as stored in their pack.
    let store = repo.store().as_ref();
    let sealed_blob = |id| {
        let (pack, loc) = repo.index().get(&id).unwrap();
        let start = loc.offset as u64;
        let key = coffer_core::format::pack::key(pack.kind, &pack.id);
        store
            .get(&key, Some(start..start + loc.length as u64))
            .unwrap()
    };
    assert_eq!(repo.read_blob(&index_blob).unwrap(), forged_index);
    let index_key = put_named(store, "index", &sealed_blob(index_blob));
    let snapshot_key = put_named(store, "snapshots", &sealed_blob(snapshot_blob));

    for (kind, key) in [
        (Sealed::Index, &index_key),
        (Sealed::Snapshot, &snapshot_key),
    ] {
        let e = repo.load_sealed(kind, key).unwrap_err();
        assert_eq!(e.kind(), Kind::Corrupt, "{e}");
        assert!(e.to_string().contains(key.as_str()), "{e}");
    }
    let e = repo.load_index_files().unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    let e = repo.snapshots().unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");

    // check reports both and still reads the real index.
    let report = check(&repo, CheckOptions { read_data: true }).unwrap();
    assert!(
        report.errors.iter().any(|e| e.contains(&index_key)),
        "{report:?}"
    );
    assert!(
        report.errors.iter().any(|e| e.contains(&snapshot_key)),
        "{report:?}"
    );
    assert!(repo.index().contains(&index_blob));
}
