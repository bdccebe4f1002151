//! Turns a repository location into a store, and composes the wrappers.

use super::cache::CachedStore;
use super::local::LocalStore;
use super::{S3Settings, Store};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
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
        let s3 = connect_s3(location, &opts.s3)?;
        return Ok(match cache_dir_for(location, opts.cache_dir.as_deref()) {
            Some(dir) => Arc::new(CachedStore::new(s3, dir)),
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

/// The repository at `location`'s own directory below the cache directory
/// `cache`: where an S3 repository's objects are cached, and what commands
/// keep between runs (prune's reference counts). A local repository is
/// named by its absolute path, so `repo` and `./repo` share one.
pub fn cache_dir_for(location: &str, cache: Option<&Path>) -> Option<PathBuf> {
    let cache = cache?;
    let name = if location.starts_with("s3://") {
        location.to_string()
    } else {
        let path = location.strip_prefix("local:").unwrap_or(location);
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
        format!("local:{}", abs.display())
    };
    let sub = hex::encode(&crate::id::hash_object(name.as_bytes())[..8]);
    Some(cache.join(sub))
}

#[cfg(feature = "s3")]
fn connect_s3(location: &str, settings: &S3Settings) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(super::s3::connect(location, settings)?))
}

/// Built without the `s3` feature (the fuzz targets): S3 locations are refused.
#[cfg(not(feature = "s3"))]
fn connect_s3(location: &str, _settings: &S3Settings) -> Result<Arc<dyn Store>> {
    Err(
        Error::invalid("this build of coffer has no S3 support (built without the `s3` feature)")
            .with_location(location),
    )
}
