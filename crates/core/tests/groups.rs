//! Compression groups (docs/FORMAT.md §9): small data blobs are sealed
//! together, each read back as a slice of its group, by every reader; a
//! damaged group fails its blobs and `check --read-data` names it once; and
//! the point of it: small similar files take about what one zstd stream of
//! them takes, not what each compressed alone does.

use coffer_core::BlobWriter;
use coffer_core::LocalStore;
use coffer_core::format::config::Config;
use coffer_core::format::key::KdfParams;
use coffer_core::format::pack::BlobKind;
use coffer_core::id::BlobId;
use coffer_core::{CheckOptions, check};
use coffer_core::{InitOptions, Repository};
use coffer_core::{StorageClass, Store};
use std::sync::Arc;

fn init(dir: &tempfile::TempDir, compression: i32) -> Arc<Repository> {
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
    let mut config = Config::new();
    config.compression = compression;
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        config,
    };
    Arc::new(Repository::init(store, b"pw", opts).unwrap())
}

/// `n` small files that look alike (a config file per host, say), each
/// different.
fn small_files(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = String::new();
            for line in 0..60 {
                f.push_str(&format!(
                    "host{i}.example.org setting_{line} = value {} # managed\n",
                    (i * 31 + line * 7) % 1000
                ));
            }
            f.into_bytes()
        })
        .collect()
}

fn write(repo: &Arc<Repository>, blobs: &[Vec<u8>]) -> Vec<BlobId> {
    let w = BlobWriter::new(Arc::clone(repo), 2, StorageClass::Standard);
    let ids = blobs
        .iter()
        .map(|b| w.add(BlobKind::Data, b).unwrap().0)
        .collect();
    w.finish().unwrap();
    ids
}

fn data_bytes(dir: &tempfile::TempDir) -> u64 {
    walk(&dir.path().join("data"))
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn check_data(repo: &Repository) -> coffer_core::CheckReport {
    let opts = CheckOptions {
        read_data: true,
        ..Default::default()
    };
    check(repo, opts).unwrap()
}

#[test]
fn small_blobs_are_grouped_and_every_reader_gets_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, 3);
    let mut blobs = small_files(400);
    blobs.push(vec![7u8; 300 * 1024]); // large: sealed alone
    let ids = write(&repo, &blobs);

    let reopened = Repository::open(repo.store().clone(), b"pw").unwrap();
    let index = reopened.index();
    let groups: std::collections::HashSet<(u32, u32)> = ids[..400]
        .iter()
        .map(|id| {
            let (_, loc) = index.get(id).unwrap();
            assert!(loc.slice().is_some(), "a small blob is in a group");
            (loc.pack, loc.offset)
        })
        .collect();
    assert!(
        groups.len() < 40,
        "{} groups for 400 small blobs",
        groups.len()
    );
    assert!(index.get(&ids[400]).unwrap().1.slice().is_none());
    drop(index);

    // One at a time (through the kept groups), and in order (a file's way).
    for (id, want) in ids.iter().zip(&blobs) {
        assert_eq!(&reopened.read_blob(id).unwrap(), want);
    }
    let mut got = Vec::new();
    reopened
        .read_blobs_in_order(&ids, |b| {
            got.push(b);
            Ok(())
        })
        .unwrap();
    assert_eq!(got, blobs);
    let report = check_data(&reopened);
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.blobs_read, 401);
}

#[test]
fn a_damaged_group_fails_its_blobs_and_check_names_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, 3);
    let blobs = small_files(20);
    let ids = write(&repo, &blobs);
    let (pack, loc) = repo.index().get(&ids[0]).unwrap();
    let key = coffer_core::format::pack::key(pack.kind, &pack.id);
    let path = dir.path().join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[loc.offset as usize + 100] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    let reopened = Repository::open(repo.store().clone(), b"pw").unwrap();
    for id in &ids {
        let e = reopened.read_blob(id).unwrap_err();
        assert_eq!(e.kind(), coffer_core::Kind::Corrupt, "{e}");
    }
    let report = check_data(&reopened);
    let about_group: Vec<_> = report
        .errors
        .iter()
        .filter(|e| e.contains("compression group"))
        .collect();
    assert_eq!(about_group.len(), 1, "{report:?}");
}

#[test]
fn small_similar_files_take_about_one_zstd_stream() {
    let blobs = small_files(600);
    let stream = zstd::bulk::compress(&blobs.concat(), 3).unwrap().len() as u64;
    let alone: u64 = blobs
        .iter()
        .map(|b| zstd::bulk::compress(b, 3).unwrap().len() as u64 + 41)
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, 3);
    write(&repo, &blobs);
    let stored = data_bytes(&dir);
    assert!(
        stored * 10 < stream * 13,
        "stored {stored} bytes; one zstd stream is {stream}, blobs compressed alone {alone}"
    );
    // The pack header (an entry per blob) is part of `stored`.
    assert!(stored * 5 < alone * 4, "stored {stored}, alone {alone}");
}

#[test]
fn without_compression_blobs_are_not_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let repo = init(&dir, 0);
    let ids = write(&repo, &small_files(10));
    for id in &ids {
        assert!(repo.index().get(id).unwrap().1.slice().is_none());
    }
}
