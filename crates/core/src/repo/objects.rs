//! Whole sealed objects (index, snapshots): payload -> seal -> put under
//! `<dir>/<blake3 of the bytes>`, and back with verification.

use super::Repository;
use crate::crypto;
use crate::error::{Error, Result};
use crate::format::payload;
use crate::id::hash_object;
use crate::store::PutHints;

impl Repository {
    /// Seals `plain` and stores it as `<dir>/<id>`; returns the id bytes and
    /// the stored size.
    pub(crate) fn save_sealed(&self, dir: &str, plain: &[u8]) -> Result<([u8; 32], u64)> {
        let sealed = crypto::seal(
            &self.key().enc,
            &payload::encode(plain, self.config().compression.max(1)),
        );
        let id = hash_object(&sealed);
        let key = format!("{dir}/{}", hex::encode(id));
        self.store().put(&key, &sealed, &PutHints::immutable())?;
        Ok((id, sealed.len() as u64))
    }

    /// Loads, checks and opens a sealed object; its name must be its hash.
    pub fn load_sealed(&self, key: &str) -> Result<Vec<u8>> {
        let sealed = self.store().get(key, None)?;
        if let Some(name) = key.rsplit('/').next()
            && name.len() == 64
            && hex::encode(hash_object(&sealed)) != name
        {
            return Err(Error::corrupt("object does not match its id", key));
        }
        let p = crypto::open(&self.key().enc, &sealed, key)?;
        payload::decode(&p, key)
    }
}
