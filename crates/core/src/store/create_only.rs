//! What a create-only put does when the key is already taken.
//!
//! A create-only put can meet its own earlier attempt: the PUT reached the
//! store, the answer was lost (a 500 from a proxy, a reset connection), the
//! SDK retried with `If-None-Match: *`, and the store now says the object
//! exists. Failing then would turn a successful write into a failed backup.
//! So "already exists" is checked against what we meant to write: the same
//! bytes are success (the put's promise holds), different bytes are the
//! `AlreadyExists` error the caller asked for. Content-addressed objects
//! (packs, index, snapshots) can only meet the same bytes; `config` and key
//! files get the same care.

use super::Store;
use crate::error::{Error, Kind, Result};

/// After `AlreadyExists` on a create-only put of `data` at `key`: `Ok` when
/// the stored object holds exactly `data`, the `AlreadyExists` error when it
/// differs. The size is compared first (one HEAD), the bytes only when it
/// matches; an error reading the object is returned as is (never a success).
pub fn settle_existing(store: &dyn Store, key: &str, data: &[u8], exists: Error) -> Result<()> {
    let differs = || {
        Error::at(
            Kind::AlreadyExists,
            "object already exists with different content",
            exists.location().unwrap_or(key).to_string(),
        )
    };
    if store.head(key)?.size != data.len() as u64 {
        return Err(differs());
    }
    if store.get(key, None)? != data {
        return Err(differs());
    }
    Ok(())
}
