//! A local cache in front of a remote store, for objects that never change
//! and are read on every run: index objects, snapshots, snapshot catalogs
//! and tree packs.
//!
//! Each of these is named by the BLAKE3 of its bytes, so a cached copy is
//! verified against its name before use: a damaged, truncated or stale
//! cache file is dropped and fetched again, never an error. Range reads of a
//! tree pack fetch the whole pack once (tree packs are small and a backup
//! reads many trees of each). Data packs are never cached. Deleting the
//! cache directory at any time is safe. Like a local repository, the cache
//! is private whatever the umask (directories 0700, files 0600): it holds
//! the repository's index, snapshots and trees.

use super::{ObjectMeta, PutHints, Store};
use crate::error::Result;
use crate::id::hash_object;
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct CachedStore {
    inner: Arc<dyn Store>,
    dir: PathBuf,
    /// Cached files already verified by this process: their ranges are read
    /// straight from the file (a backup reads thousands of trees out of a
    /// few packs; hashing the whole pack for each was quadratic).
    verified: Mutex<HashSet<String>>,
}

/// Whether objects under `key` are cached.
fn cacheable(key: &str) -> bool {
    ["index/", "snapshots/", "catalog/", "tree/"]
        .iter()
        .any(|p| key.starts_with(p))
}

/// Exactly `r` of a cached file, if it is there and long enough.
fn read_range(path: &Path, r: &Range<u64>) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let f = fs::File::open(path).ok()?;
    let mut buf = vec![0u8; r.end.checked_sub(r.start)? as usize];
    f.read_exact_at(&mut buf, r.start).ok()?;
    Some(buf)
}

impl CachedStore {
    /// Caches `inner`'s immutable objects under `dir` (created on demand).
    pub fn new(inner: Arc<dyn Store>, dir: PathBuf) -> Self {
        CachedStore {
            inner,
            dir,
            verified: Mutex::new(HashSet::new()),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The cached bytes of `key`, if present and matching their name.
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        let name = key.rsplit('/').next()?;
        if hex::encode(hash_object(&bytes)) == name {
            Some(bytes)
        } else {
            let _ = fs::remove_file(&path);
            None
        }
    }

    /// Best effort: a cache that cannot be written is just not used.
    fn save(&self, key: &str, bytes: &[u8]) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        if super::local::create_private_dir(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!(".tmp-{:016x}", rand::random::<u64>()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::local::PRIVATE_FILE)
            .open(&tmp)
            .and_then(|mut f| f.write_all(bytes));
        if written.is_ok() && fs::rename(&tmp, &path).is_ok() {
            return;
        }
        let _ = fs::remove_file(&tmp);
    }

    fn fetch(&self, key: &str) -> Result<Vec<u8>> {
        if let Some(b) = self.load(key) {
            self.verified
                .lock()
                .expect("poisoned")
                .insert(key.to_string());
            return Ok(b);
        }
        let bytes = self.inner.get(key, None)?;
        // Only what matches its name is kept (a damaged download is the
        // caller's to detect and report; it must not stick in the cache).
        if key.rsplit('/').next() == Some(hex::encode(hash_object(&bytes)).as_str()) {
            self.save(key, &bytes);
            self.verified
                .lock()
                .expect("poisoned")
                .insert(key.to_string());
        }
        Ok(bytes)
    }
}

impl Store for CachedStore {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        self.inner.put(key, data, hints)?;
        if cacheable(key) {
            self.save(key, data);
            self.verified
                .lock()
                .expect("poisoned")
                .insert(key.to_string());
        }
        Ok(())
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        if !cacheable(key) {
            return self.inner.get(key, range);
        }
        if let Some(r) = &range
            && self.verified.lock().expect("poisoned").contains(key)
            && let Some(b) = read_range(&self.path(key), r)
        {
            return Ok(b);
        }
        let bytes = self.fetch(key)?;
        match range {
            None => Ok(bytes),
            Some(r) => match bytes.get(r.start as usize..r.end as usize) {
                Some(slice) => Ok(slice.to_vec()),
                None => self.inner.get(key, Some(r)),
            },
        }
    }

    fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key)
    }

    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        self.inner.list(prefix, each)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)?;
        let _ = fs::remove_file(self.path(key));
        Ok(())
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn remove_fragments(&self, before: std::time::SystemTime) -> Result<u64> {
        self.inner.remove_fragments(before)
    }

    fn versioned(&self) -> Option<&dyn super::Versioned> {
        self.inner.versioned()
    }

    fn state_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn request_thaw(&self, key: &str, days: u32, tier: super::Tier) -> Result<()> {
        self.inner.request_thaw(key, days, tier)
    }
}
