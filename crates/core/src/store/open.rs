//! Turns a repository location into a store, and composes the wrappers.

use super::Store;
use super::local::LocalStore;
use super::s3::{S3Settings, connect};
use crate::error::{Error, Result};
use std::sync::Arc;

/// Opens the store named by `location`: `s3://bucket/prefix`, or a local
/// directory (optionally written `local:/path`).
pub fn open_store(location: &str, s3: &S3Settings) -> Result<Arc<dyn Store>> {
    if location.starts_with("s3://") {
        return Ok(Arc::new(connect(location, s3)?));
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
