//! Whole sealed objects (index, snapshots): payload -> seal -> put under
//! `<dir>/<blake3 of the bytes>`, and back with verification. The kind of
//! object is sealed in as associated data, so an object only opens as the
//! kind it was written as. And pack headers, read by range from a pack's end.

use super::Repository;
use crate::crypto::{self, Sealed};
use crate::error::{Error, Result};
use crate::format::index::IndexPack;
use crate::format::pack::{self, BlobKind, PackHeader};
use crate::format::payload;
use crate::id::{PackId, hash_object};
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
        self.open_sealed(kind, key, &self.store().get(key, None)?)
    }

    /// Checks and opens the bytes of a sealed object of `kind` stored as
    /// `key` (read from the store, or a copy of them); its name must be
    /// its hash.
    pub(crate) fn open_sealed(&self, kind: Sealed, key: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if let Some(name) = key.rsplit('/').next()
            && name.len() == 64
            && hex::encode(hash_object(sealed)) != name
        {
            return Err(Error::corrupt("object does not match its id", key));
        }
        let p = crypto::open(&self.key().enc, kind, sealed, key)?;
        payload::decode(&p, key)
    }
}

/// Bytes read from a pack's end at first: the trailer and, for all but
/// packs of very many small blobs, the whole header (about 80 bytes a blob).
const HEADER_PROBE: u64 = 64 * 1024;

impl Repository {
    /// Reads a pack's header with ranged reads of its end only (one read,
    /// two when the header is longer than [`HEADER_PROBE`]), checks it and
    /// returns what an index says about the pack. `size` is the stored
    /// size, from a listing. Repair and resume use this: a pack's header
    /// repeats its index entry, so a lost index is rebuilt from headers.
    pub fn read_pack_header(&self, kind: BlobKind, id: PackId, size: u64) -> Result<IndexPack> {
        let key = pack::key(kind, &id);
        if size < 4 {
            return Err(Error::corrupt("pack is too short", &key));
        }
        let probe = size.min(HEADER_PROBE);
        let tail = self.store().get(&key, Some(size - probe..size))?;
        let trailer: [u8; 4] = tail[tail.len() - 4..].try_into().expect("4 bytes");
        let range = pack::header_range(size, trailer, &key)?;
        let sealed = if range.start >= size - probe {
            let from = (range.start - (size - probe)) as usize;
            tail[from..tail.len() - 4].to_vec()
        } else {
            self.store().get(&key, Some(range.clone()))?
        };
        let plain = payload::decode(
            &crypto::open(&self.key().enc, Sealed::PackHeader, &sealed, &key)?,
            &key,
        )?;
        let h = PackHeader::decode(&plain, &key)?;
        pack::check_layout(&h, range.start, &key)?;
        if h.kind != kind {
            return Err(Error::corrupt("pack header names the wrong kind", &key));
        }
        Ok(IndexPack {
            id,
            kind,
            size,
            blobs: h.blobs,
        })
    }
}
