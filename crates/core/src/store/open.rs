//! Turns a repository location into a store, and composes the wrappers.

use super::Store;
use super::cache::CachedStore;
use super::local::LocalStore;
use super::s3::{S3Settings, connect};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// How to open a store: the S3 settings and the cache.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub s3: S3Settings,
    /// Cache directory for remote repositories (a subdirectory per
    /// location is used); `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

/// Opens the store named by `location`: `s3://bucket/prefix`, or a local
/// directory (optionally written `local:/path`). Remote stores get the
/// local cache in front of them; a local store needs none.
pub fn open_store(location: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    if location.starts_with("s3://") {
        let s3: Arc<dyn Store> = Arc::new(connect(location, &opts.s3)?);
        return Ok(match &opts.cache_dir {
            Some(dir) => {
                let sub = hex::encode(&crate::id::hash_object(location.as_bytes())[..8]);
                Arc::new(CachedStore::new(s3, dir.join(sub)))
            }
            None => s3,
        });
    }
    if let Some((scheme, _)) = location.split_once("://") {
        return Err(Error::invalid(format!(
            "unknown repository scheme {scheme:?}: use a local path or s3://bucket/prefix"
        ))
        .with_location(location));
    }
    let path = location.strip_prefix("local:").unwrap_or(location);
    if path.is_empty() {
        return Err(Error::invalid("empty repository location"));
    }
    if let Ok(md) = std::fs::metadata(path)
        && !md.is_dir()
    {
        return Err(Error::invalid("repository location is not a directory").with_location(path));
    }
    Ok(Arc::new(LocalStore::new(path)))
}
