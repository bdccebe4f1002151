//! Whole sealed objects (index, snapshots): payload -> seal -> put under
//! `<dir>/<blake3 of the bytes>`, and back with verification. The kind of
//! object is sealed in as associated data, so an object only opens as the
//! kind it was written as.

use super::Repository;
use crate::crypto::{self, Sealed};
use crate::error::{Error, Result};
use crate::format::payload;
use crate::id::hash_object;
use crate::store::PutHints;

impl Repository {
    /// Seals `plain` as a box of `kind` and stores it as `<dir>/<id>`;
    /// returns the id bytes and the stored size.
    pub(crate) fn save_sealed(
        &self,
        dir: &str,
        kind: Sealed,
        plain: &[u8],
    ) -> Result<([u8; 32], u64)> {
        let sealed = crypto::seal(
            &self.key().enc,
            kind,
            &payload::encode(plain, self.config().compression.max(1)),
        );
        let id = hash_object(&sealed);
        let key = format!("{dir}/{}", hex::encode(id));
        self.store().put(&key, &sealed, &PutHints::immutable())?;
        Ok((id, sealed.len() as u64))
    }

    /// Loads, checks and opens a sealed object of `kind`; its name must be
    /// its hash.
    pub fn load_sealed(&self, kind: Sealed, key: &str) -> Result<Vec<u8>> {
        let sealed = self.store().get(key, None)?;
        if let Some(name) = key.rsplit('/').next()
            && name.len() == 64
            && hex::encode(hash_object(&sealed)) != name
        {
            return Err(Error::corrupt("object does not match its id", key));
        }
        let p = crypto::open(&self.key().enc, kind, &sealed, key)?;
        payload::decode(&p, key)
    }
}
