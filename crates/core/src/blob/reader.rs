use crate::crypto::{self, Sealed};
use crate::error::{Error, Kind, Result};
use crate::format::pack::{self, BlobKind, PackHeader};
use crate::format::payload;
use crate::format::tree::Tree;
use crate::id::{BlobId, TreeId};
use crate::repo::Repository;

impl Repository {
    /// Reads, decrypts and verifies one blob.
    pub fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let (pack_info, loc) = self
            .index()
            .get(id)
            .ok_or_else(|| Error::at(Kind::NotFound, "blob is not in the index", id))?;
        let key = pack::key(pack_info.kind, &pack_info.id);
        let what = format!("{key} (blob {})", id.short());
        let fetch = || {
            let start = loc.offset as u64;
            self.store()
                .get(&key, Some(start..start + loc.length as u64))
        };
        match loc.slice() {
            None => self.open_blob(id, &fetch()?, &key),
            Some(slice) => {
                let group = match self.groups().get(&key, loc.offset) {
                    Some(g) => g,
                    None => self.group(&key, loc.offset, &fetch()?)?,
                };
                self.blob_in_group(id, &group, slice, &what)
            }
        }
    }

    /// Opens a blob sealed alone, read from `key`, and checks it against `id`.
    pub fn open_blob(&self, id: &BlobId, sealed: &[u8], key: &str) -> Result<Vec<u8>> {
        let what = format!("{key} (blob {})", id.short());
        let plain = self.open_unit(sealed, &what)?;
        self.check_blob(id, &plain, &what)?;
        Ok(plain)
    }

    /// Reads and decodes a tree blob.
    pub fn read_tree(&self, id: &TreeId) -> Result<Tree> {
        let plain = self.read_blob(&id.blob())?;
        Tree::decode(&plain, &format!("tree {id}"))
    }
}

impl Repository {
    /// Decodes and checks the header at the end of a whole pack's bytes.
    pub fn decode_pack_header(
        &self,
        bytes: &[u8],
        key: &str,
        kind: BlobKind,
    ) -> Result<PackHeader> {
        let trailer: [u8; 4] = bytes
            .get(bytes.len().saturating_sub(4)..)
            .and_then(|t| t.try_into().ok())
            .ok_or_else(|| Error::corrupt("pack is too short", key))?;
        let range = pack::header_range(bytes.len() as u64, trailer, key)?;
        let sealed = &bytes[range.start as usize..range.end as usize];
        let plain = payload::decode(
            &crypto::open(&self.key().enc, Sealed::PackHeader, sealed, key)?,
            key,
        )?;
        let h = PackHeader::decode(&plain, key)?;
        pack::check_layout(&h, range.start, key)?;
        if h.kind != kind {
            return Err(Error::corrupt("pack header names the wrong kind", key));
        }
        Ok(h)
    }
}
