//! A repository: its store, config, master key and in-memory index.
//! Opening reads `config`, unwraps the master key with a password (any key
//! file may open it), and loads every index object.

mod catalog;
mod compact;
mod group_cache;
mod index;
mod keys;
pub mod lock;
pub mod ls;
mod objects;
mod records;
mod resume;
mod snapshots;
pub mod wait;

pub use catalog::UNCATALOGUED_KEPT;
pub use compact::SMALL_OBJECTS_KEPT;
pub use group_cache::GroupCache;
pub use index::{BlobLoc, Index, PackInfo};
pub use keys::{CONFIG_MAC_CONTEXT, config_mac};
pub use lock::{LockGuard, LockInfo};
pub use records::PruneRecord;
pub use resume::StoredPack;
pub use snapshots::{Flushed, SnapshotFilter, SnapshotRef};

use crate::crypto::{MasterKey, Sealed};
use crate::error::{Error, Kind, Result};
use crate::format::config::Config;
use crate::format::index::IndexFile;
use crate::format::key::KdfParams;
use crate::id::{IndexId, KeyId};
use crate::store::{LockMode, LockingStore, PutHints, Store};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct Repository {
    store: Arc<dyn Store>,
    config: Config,
    /// The tag of `config`'s bytes (written into every new key file), and
    /// whether a key file's tag authenticated them at open.
    config_mac: [u8; 32],
    config_authenticated: bool,
    key: MasterKey,
    key_id: KeyId,
    index: RwLock<Index>,
    /// Index objects the last load skipped because they are damaged, with
    /// why: readers go on without them (see [`Repository::skipped_index`]).
    skipped: std::sync::Mutex<Vec<(IndexId, String)>>,
    /// How long [`Repository::lock`] waits for a conflicting lock to go
    /// (`--retry-lock`), in milliseconds; 0 fails at once.
    lock_wait_ms: std::sync::atomic::AtomicU64,
    /// Compression groups opened last (see `blob::groups`).
    groups: GroupCache,
    /// Small index objects the last load found (see [`compact`]).
    small_index: std::sync::atomic::AtomicUsize,
    /// Listed snapshots outside every catalog, at the last listing.
    uncatalogued: std::sync::atomic::AtomicUsize,
}

/// Settings chosen once at `init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub config: Config,
    pub kdf: KdfParams,
}

fn lock_of(config: &Config) -> Option<(LockMode, Duration)> {
    let l = config.object_lock.as_ref()?;
    let mode = LockMode::parse(&l.mode)?;
    Some((mode, Duration::from_secs(l.retention_secs)))
}

/// `store`, locking what it writes when `config` asks for Object Lock.
fn with_lock(store: Arc<dyn Store>, config: &Config) -> Arc<dyn Store> {
    match lock_of(config) {
        Some((mode, period)) => Arc::new(LockingStore::new(store, mode, period)),
        None => store,
    }
}

impl Repository {
    /// Whether a repository exists in `store` (its `config` is there).
    pub fn exists(store: &dyn Store) -> Result<bool> {
        match store.head("config") {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == Kind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates a repository. The key file is written first and `config`
    /// last, so a repository exists only once it can be opened.
    pub fn init(store: Arc<dyn Store>, password: &[u8], opts: InitOptions) -> Result<Repository> {
        if Self::exists(store.as_ref())? {
            return Err(Error::at(
                Kind::AlreadyExists,
                "a repository already exists",
                store.location(),
            ));
        }
        if password.is_empty() {
            return Err(Error::invalid("an empty password is not allowed"));
        }
        let store = with_lock(store, &opts.config);
        let key = MasterKey::generate();
        let config_bytes = opts.config.encode();
        let config_mac = keys::config_mac(&key, &config_bytes);
        let key_id = keys::add_key(store.as_ref(), &key, config_mac, password, opts.kdf)?;
        store.put("config", &config_bytes, &PutHints::immutable())?;
        Ok(Repository {
            store,
            config: opts.config,
            config_mac,
            config_authenticated: true,
            key,
            key_id,
            index: RwLock::new(Index::new()),
            lock_wait_ms: Default::default(),
            groups: Default::default(),
            skipped: Default::default(),
            small_index: Default::default(),
            uncatalogued: Default::default(),
        })
    }

    /// Opens a repository with a password and loads its index.
    pub fn open(store: Arc<dyn Store>, password: &[u8]) -> Result<Repository> {
        let repo = Self::open_without_index(store, password)?;
        repo.reload_index()?;
        Ok(repo)
    }

    /// Opens a repository with a password; the index stays empty (for
    /// commands that only need snapshots or keys).
    pub fn open_without_index(store: Arc<dyn Store>, password: &[u8]) -> Result<Repository> {
        let config_bytes = match store.get("config", None) {
            Ok(b) => b,
            Err(e) if e.kind() == Kind::NotFound => {
                return Err(Error::at(
                    Kind::NoRepository,
                    "no repository here (run `coffer init` first)",
                    store.location(),
                ));
            }
            Err(e) => return Err(e),
        };
        let config = Config::decode(&config_bytes)?;
        let (key_id, key, file) = keys::unlock(store.as_ref(), password)?;
        let config_authenticated =
            keys::verify_config(store.as_ref(), &key, &key_id, &file, &config_bytes)?;
        Ok(Repository {
            store: with_lock(store, &config),
            config,
            config_mac: keys::config_mac(&key, &config_bytes),
            config_authenticated,
            key,
            key_id,
            index: RwLock::new(Index::new()),
            lock_wait_ms: Default::default(),
            groups: Default::default(),
            skipped: Default::default(),
            small_index: Default::default(),
            uncatalogued: Default::default(),
        })
    }

    /// Another handle on the same repository with an empty in-memory index
    /// of its own: prune works on one, so that what it does to its index
    /// (leaving condemned packs out while it repacks) never changes what a
    /// backup sharing this handle deduplicates against.
    pub fn detached(&self) -> Repository {
        Repository {
            store: Arc::clone(&self.store),
            config: self.config.clone(),
            config_mac: self.config_mac,
            config_authenticated: self.config_authenticated,
            key: self.key.clone(),
            key_id: self.key_id,
            index: RwLock::new(Index::new()),
            lock_wait_ms: Default::default(),
            groups: Default::default(),
            skipped: Default::default(),
            small_index: Default::default(),
            uncatalogued: Default::default(),
        }
    }

    pub(crate) fn groups(&self) -> &GroupCache {
        &self.groups
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Object Lock every object is written with, if `config` asks
    /// for one: mode and retention.
    pub fn object_lock(&self) -> Option<(LockMode, Duration)> {
        lock_of(&self.config)
    }

    /// Whether a key file's tag authenticated `config` at open; `false` for
    /// a repository whose key files all predate config authentication (the
    /// next `key add` or `key passwd` adds the tag).
    pub fn config_authenticated(&self) -> bool {
        self.config_authenticated
    }

    pub fn key(&self) -> &MasterKey {
        &self.key
    }

    /// The key file this session was opened with.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().expect("index lock poisoned")
    }

    pub(crate) fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().expect("index lock poisoned")
    }

    /// (Re)loads every index object. Objects listed in another's
    /// `supersedes` are skipped; packs in prune records that no index names
    /// are known as a fallback for reading (see [`Index::add_condemned`]).
    pub fn reload_index(&self) -> Result<()> {
        let files = self.load_index_files()?;
        let records = self.prune_records()?;
        let condemned: Vec<_> = records.into_iter().flat_map(|(_, r)| r.packs).collect();
        self.replace_index_with(&files, &condemned);
        Ok(())
    }

    /// Replaces the in-memory index with the given index objects, leaving
    /// out those another one supersedes (check builds it from the objects
    /// that decoded).
    pub fn replace_index(&self, files: &[(IndexId, IndexFile)]) {
        self.replace_index_with(files, &[]);
    }

    /// As [`replace_index`](Self::replace_index), with condemned packs as
    /// a fallback for reading.
    pub fn replace_index_with(
        &self,
        files: &[(IndexId, IndexFile)],
        condemned: &[crate::format::index::IndexPack],
    ) {
        let superseded: HashSet<IndexId> = files
            .iter()
            .flat_map(|(_, f)| f.supersedes.iter().copied())
            .collect();
        let small = compact::small_objects(files, &superseded).len();
        self.small_index
            .store(small, std::sync::atomic::Ordering::Relaxed);
        let mut index = Index::new();
        for (_, f) in files.iter().filter(|(id, _)| !superseded.contains(id)) {
            for p in &f.packs {
                index.add_pack(p);
            }
        }
        for p in condemned {
            index.add_condemned(p);
        }
        index.compact();
        *self.index_mut() = index;
    }

    /// Every index object that decodes. A damaged one (it does not match
    /// its id, does not open or does not decode) is skipped and remembered
    /// (see [`skipped_index`](Self::skipped_index)), so one damaged object
    /// does not stop every command: the blobs only it names are unknown
    /// until `coffer repair index` rebuilds the index from pack headers.
    /// An object of a newer format is still refused.
    ///
    /// Prune deletes index objects once the index that supersedes them is
    /// stored; one that vanishes between the listing and its read means
    /// exactly that, so the listing starts again (it now holds the new one).
    pub fn load_index_files(&self) -> Result<Vec<(IndexId, IndexFile)>> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            match self.load_index_files_once() {
                Err(e) if e.kind() == Kind::NotFound && attempt < ATTEMPTS => attempt += 1,
                r => return r,
            }
        }
    }

    /// The index objects the last load skipped as damaged, each with the
    /// one-line error that names it.
    pub fn skipped_index(&self) -> Vec<(IndexId, String)> {
        self.skipped.lock().expect("poisoned").clone()
    }

    fn load_index_files_once(&self) -> Result<Vec<(IndexId, IndexFile)>> {
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        for meta in crate::store::list_all(self.store.as_ref(), "index/")? {
            let Some(id) = meta
                .key
                .strip_prefix("index/")
                .and_then(|h| IndexId::parse(h).ok())
            else {
                continue;
            };
            match self
                .load_sealed(Sealed::Index, &meta.key)
                .and_then(|plain| IndexFile::decode(&plain, &meta.key))
            {
                Ok(f) => out.push((id, f)),
                Err(e) if e.kind() == Kind::Corrupt => skipped.push((id, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        *self.skipped.lock().expect("poisoned") = skipped;
        Ok(out)
    }
}
