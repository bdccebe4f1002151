//! Turns a repository location into a store, and composes the wrappers.

use super::Store;
use super::local::LocalStore;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Opens the store named by `location`: a local path, or `s3://bucket/prefix`.
pub fn open_store(location: &str) -> Result<Arc<dyn Store>> {
    if location.starts_with("s3://") {
        return Err(Error::invalid(
            "S3 repositories are not supported by this build yet; use a local directory",
        )
        .with_location(location));
    }
    let path = location.strip_prefix("local:").unwrap_or(location);
    if path.is_empty() {
        return Err(Error::invalid("empty repository location"));
    }
    Ok(Arc::new(LocalStore::new(path)))
}
