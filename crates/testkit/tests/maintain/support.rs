//! What the maintenance tests share: repositories with small chunks and
//! packs (so a few hundred KiB make many packs), backups of generated
//! trees, restores compared byte for byte, and a store that fails on demand.

use coffer_core::LocalStore;
use coffer_core::NoProgress;
use coffer_core::format::config::ChunkerParams;
use coffer_core::format::config::Config;
use coffer_core::format::key::KdfParams;
use coffer_core::{BackupOptions, BackupResult, backup};
use coffer_core::{CheckOptions, CheckReport, check};
use coffer_core::{Error, Result};
use coffer_core::{InitOptions, Repository};
use coffer_core::{ObjectMeta, PutHints, Store, list_all};
use coffer_core::{RestoreOptions, restore};
use coffer_testkit::{CompareOptions, assert_same_trees, fixture, s3};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const PASSWORD: &[u8] = b"maintenance";
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// The backends every scenario runs on.
pub fn local_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(LocalStore::new(dir.join("repo")))
}

pub fn s3_store(test: &str) -> Arc<dyn Store> {
    let loc = s3::fresh_location(test, "repo");
    Arc::new(s3::store(&loc))
}

/// A repository whose chunks average 4 KiB and whose packs close at 16 KiB.
pub fn init(store: &Arc<dyn Store>) -> Arc<Repository> {
    let mut config = Config::new();
    config.chunker = ChunkerParams {
        min_size: 1024,
        avg_size: 4096,
        max_size: 16384,
    };
    config.pack_size = 16 * 1024;
    let opts = InitOptions {
        config,
        kdf: KdfParams::insecure_fast(),
    };
    drop(Repository::init(Arc::clone(store), PASSWORD, opts).unwrap());
    open(store)
}

pub fn open(store: &Arc<dyn Store>) -> Arc<Repository> {
    Arc::new(Repository::open(Arc::clone(store), PASSWORD).unwrap())
}

/// A directory of `files` pseudo-random files of `size` bytes from `seed`.
pub fn tree(root: &Path, name: &str, seed: u64, files: usize, size: usize) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..files {
        let data = fixture::pseudo_random(seed * 1000 + i as u64, size);
        std::fs::write(dir.join(format!("f{i}")), data).unwrap();
    }
    dir
}

pub fn backup_of(repo: &Arc<Repository>, dir: &Path) -> BackupResult {
    backup_at(repo, dir, None)
}

/// A backup whose snapshot time is `time` (ns; `None`: now).
pub fn backup_at(repo: &Arc<Repository>, dir: &Path, time: Option<i64>) -> BackupResult {
    let mut opts = BackupOptions::new(vec![dir.to_path_buf()]);
    opts.threads = 2;
    opts.time = time;
    backup(Arc::clone(repo), &opts, &NoProgress).unwrap()
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Restores `b` and compares it with the directory it was taken of.
pub fn assert_restores(repo: &Repository, b: &BackupResult, src: &Path) {
    let out = tempfile::tempdir().unwrap();
    let res = restore(
        repo,
        b.snapshot.tree,
        &RestoreOptions::new(out.path().to_path_buf()),
        &NoProgress,
    )
    .unwrap();
    let failed: Vec<String> = res.failed.iter().map(|f| f.error.to_string()).collect();
    assert!(failed.is_empty(), "restore of {}: {failed:?}", b.id.short());
    let restored = out.path().join(src.strip_prefix("/").unwrap());
    assert_same_trees(src, &restored, &CompareOptions::for_current_user());
}

/// `check --read-data` on a freshly opened repository; must pass.
pub fn assert_checks(store: &Arc<dyn Store>) -> CheckReport {
    let repo = open(store);
    let r = check(
        &repo,
        CheckOptions {
            read_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.ok(), "check failed: {:?}", r.errors);
    r
}

/// The index of the repository in `store` holds exactly the blobs its
/// snapshots use, once each (what prune must leave); returns the repository.
pub fn assert_index_is_exactly_used(store: &Arc<dyn Store>) -> Arc<Repository> {
    let repo = open(store);
    let roots: Vec<_> = repo
        .snapshots()
        .unwrap()
        .iter()
        .map(|s| (s.id, s.snapshot.tree))
        .collect();
    let used = coffer_core::used_blobs(&repo, &roots).unwrap();
    let indexed: std::collections::HashSet<_> = repo.index().blobs().map(|(id, _)| *id).collect();
    assert_eq!(indexed, used);
    repo
}

/// Bytes of all packs in the store.
pub fn pack_bytes(store: &dyn Store) -> u64 {
    ["data/", "tree/"]
        .iter()
        .flat_map(|p| list_all(store, p).unwrap())
        .map(|m| m.size)
        .sum()
}

pub fn count(store: &dyn Store, prefix: &str) -> usize {
    list_all(store, prefix).unwrap().len()
}

/// A store whose deletes of keys under `prefixes` fail after `allowed` of
/// them succeeded: a prune killed part way.
pub struct FailingStore {
    pub inner: Arc<dyn Store>,
    pub prefixes: &'static [&'static str],
    pub allowed: usize,
    pub deleted: AtomicUsize,
}

impl FailingStore {
    pub fn wrap(
        inner: &Arc<dyn Store>,
        prefixes: &'static [&'static str],
        allowed: usize,
    ) -> Arc<dyn Store> {
        Arc::new(FailingStore {
            inner: Arc::clone(inner),
            prefixes,
            allowed,
            deleted: AtomicUsize::new(0),
        })
    }
}

impl Store for FailingStore {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        self.inner.put(key, data, hints)
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        self.inner.get(key, range)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key)
    }
    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        self.inner.list(prefix, each)
    }
    fn delete(&self, key: &str) -> Result<()> {
        if self.prefixes.iter().any(|p| key.starts_with(p))
            && self.deleted.fetch_add(1, Ordering::SeqCst) >= self.allowed
        {
            return Err(Error::fatal("injected failure: the process was killed").with_location(key));
        }
        self.inner.delete(key)
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

/// What a [`Watched`] store is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Put,
    List,
    Delete,
}

/// Called before a [`Watched`] store passes a call on.
pub type BeforeCall = Box<dyn Fn(Call, &str) + Send + Sync>;

/// A store that calls `before(call, key or prefix)` before each put, list
/// and delete it passes on: to slow some down, or to run something at an
/// exact moment of a command.
pub struct Watched {
    pub inner: Arc<dyn Store>,
    pub before: BeforeCall,
}

impl Store for Watched {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        (self.before)(Call::Put, key);
        self.inner.put(key, data, hints)
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        self.inner.get(key, range)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key)
    }
    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        (self.before)(Call::List, prefix);
        self.inner.list(prefix, each)
    }
    fn delete(&self, key: &str) -> Result<()> {
        (self.before)(Call::Delete, key);
        self.inner.delete(key)
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn state_dir(&self) -> Option<&std::path::Path> {
        self.inner.state_dir()
    }
}

/// The store of a repository location given to a child process.
pub fn store_at(location: &str) -> Arc<dyn Store> {
    if location.starts_with("s3://") {
        Arc::new(s3::store(location))
    } else {
        Arc::new(LocalStore::new(location))
    }
}
