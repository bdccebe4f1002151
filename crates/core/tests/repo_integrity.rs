//! A repository against a store an attacker or a disk has touched
//! (docs/FORMAT.md §5, §6, §18):
//!
//! - a sealed box only opens as the kind of object it was sealed as, so a
//!   blob copied to `index/<hash>` or `snapshots/<hash>` is corrupt;
//! - opening tries every key file: damaged ones (undecodable, refused
//!   parameters, bytes that do not match the name) are skipped and named.

use coffer_core::BlobWriter;
use coffer_core::Kind;
use coffer_core::LocalStore;
use coffer_core::crypto::Sealed;
use coffer_core::format::FORMAT_VERSION;
use coffer_core::format::index::IndexFile;
use coffer_core::format::key::KdfParams;
use coffer_core::format::key::KeyFile;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::snapshot::Snapshot;
use coffer_core::format::snapshot::Summary;
use coffer_core::id::IndexId;
use coffer_core::id::TreeId;
use coffer_core::id::hash_object;
use coffer_core::{CheckOptions, check};
use coffer_core::{InitOptions, Repository};
use coffer_core::{PutHints, StorageClass, Store};
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
        supersedes: real.clone(),
    }
    .encode();
    let forged_snapshot = Snapshot {
        original: None,
        image: None,
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
    // Loading the index skips the forged object and names it; the real
    // index still loads.
    let files = repo.load_index_files().unwrap();
    assert!(real.iter().all(|r| files.iter().any(|(id, _)| id == r)));
    let skipped = repo.skipped_index();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].1.contains(index_key.as_str()), "{skipped:?}");
    let e = repo.snapshots().unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");

    // check reports both and still reads the real index.
    let report = check(
        &repo,
        CheckOptions {
            read_data: true,
            ..Default::default()
        },
    )
    .unwrap();
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

/// Three kinds of damaged key file, each stored under the name a reader
/// expects (the hash of its bytes) unless the damage is the name itself.
fn add_damaged_keys(store: &dyn Store, good_key: &str) -> Vec<String> {
    let mut names = vec![put_named(store, "keys", b"{ not a key file")];
    let good = store.get(good_key, None).unwrap();
    let mut huge = KeyFile::decode(&good, good_key).unwrap();
    huge.params.m_cost = u32::MAX; // refused before Argon2 allocates
    names.push(put_named(store, "keys", &huge.encode()));
    // A valid key file under another key file's name.
    let wrong_name = format!("keys/{}", hex::encode([0xab; 32]));
    store
        .put(&wrong_name, &good, &PutHints::immutable())
        .unwrap();
    names.push(wrong_name);
    names
}

fn r_first(store: &Arc<dyn Store>) -> Repository {
    Repository::open(Arc::clone(store), b"first").unwrap()
}

#[test]
fn damaged_key_files_are_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, b"first");
    let second = repo.add_key(b"second", KdfParams::insecure_fast()).unwrap();
    let store = Arc::clone(repo.store());
    let damaged = add_damaged_keys(store.as_ref(), &format!("keys/{}", repo.key_id()));

    // Every password that has a key still opens, whatever order the
    // key files are listed in.
    for (password, id) in [(&b"first"[..], repo.key_id()), (b"second", second)] {
        let r = Repository::open_without_index(Arc::clone(&store), password).unwrap();
        assert_eq!(r.key_id(), id);
        assert_eq!(r.key(), repo.key());
    }

    // A wrong password is still a wrong password, and the damage is named.
    let e = Repository::open_without_index(Arc::clone(&store), b"wrong")
        .err()
        .unwrap();
    assert_eq!(e.kind(), Kind::WrongPassword, "{e}");
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("3 key files are damaged"), "{msg}");
    for name in &damaged {
        assert!(msg.contains(name.as_str()), "{name} not in {msg}");
    }

    // check names every damaged key file (as a note: the data is intact).
    let report = check(&r_first(&store), CheckOptions::default()).unwrap();
    for name in &damaged {
        assert!(
            report.notes.iter().any(|e| e.contains(name.as_str())),
            "{name}: {report:?}"
        );
    }

    // A damaged key file can be found by its id and removed.
    let id = repo.find_key(&damaged[0]["keys/".len()..]).unwrap();
    repo.remove_key(id).unwrap();
    assert!(store.head(&damaged[0]).is_err());
}

#[test]
fn only_damaged_key_files_is_corrupt_not_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, b"pw");
    let store = Arc::clone(repo.store());
    let good = format!("keys/{}", repo.key_id());
    add_damaged_keys(store.as_ref(), &good);
    store.delete(&good).unwrap();
    let e = Repository::open_without_index(Arc::clone(&store), b"pw")
        .err()
        .unwrap();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().contains("3 key files are damaged"), "{e}");
}
