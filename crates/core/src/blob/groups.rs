//! Compression groups on the read side: a grouped blob is a slice of its
//! group's plaintext, so reading one means opening the whole group. The
//! groups opened last are kept (`repo::GroupCache`, a few MiB), so the small
//! files of one group read one after another (export, single-blob reads)
//! open it once.
//!
//! Input: a sealed unit (one blob, or one group) and where the blob is in
//! it. Output: the blob's plaintext, checked against its id.

use crate::crypto::{self, Sealed};
use crate::error::{Error, Result};
use crate::format::payload;
use crate::id::BlobId;
use crate::repo::Repository;
use std::sync::Arc;

impl Repository {
    /// Opens one sealed unit of a pack (a blob or a group): decrypts and
    /// decompresses it. `what` names it in errors.
    pub fn open_unit(&self, sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        payload::decode(
            &crypto::open(&self.key().enc, Sealed::Blob, sealed, what)?,
            what,
        )
    }

    /// Checks a blob's plaintext against its id.
    pub fn check_blob(&self, id: &BlobId, plain: &[u8], what: &str) -> Result<()> {
        if self.key().blob_id(plain) != *id {
            return Err(Error::corrupt("blob does not match its id", what));
        }
        Ok(())
    }

    /// The grouped blob `id` out of its opened group: `slice` = (offset,
    /// length) in the group's plaintext; checked against `id`.
    pub fn blob_in_group(
        &self,
        id: &BlobId,
        group: &[u8],
        (at, len): (u32, u32),
        what: &str,
    ) -> Result<Vec<u8>> {
        let (at, len) = (at as usize, len as usize);
        let plain = group
            .get(at..at.saturating_add(len))
            .ok_or_else(|| Error::corrupt("blob lies outside its compression group", what))?;
        self.check_blob(id, plain, what)?;
        Ok(plain.to_vec())
    }

    /// The opened group at `offset` of the pack at `key`: kept, or opened
    /// from `sealed` (its bytes) and kept.
    pub(crate) fn group(&self, key: &str, offset: u32, sealed: &[u8]) -> Result<Arc<Vec<u8>>> {
        if let Some(g) = self.groups().get(key, offset) {
            return Ok(g);
        }
        let what = format!("{key} (compression group at {offset})");
        let g = Arc::new(self.open_unit(sealed, &what)?);
        self.groups().put(key, offset, Arc::clone(&g));
        Ok(g)
    }
}
