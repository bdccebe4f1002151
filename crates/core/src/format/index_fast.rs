//! A direct decoder for index objects in the exact shape coffer writes
//! them. Every command that opens a repository decodes its whole index;
//! through serde and ciborium's generic decoder that took ~20 ms per
//! 50,000 blobs, on the path of every command.
//!
//! Input: an index object's plaintext. Output: the `IndexFile`, or `None`
//! for anything outside the shape it knows (unknown or duplicate keys,
//! indefinite lengths, tags, out-of-range numbers…): the caller then
//! decodes with serde, so what is accepted and every error message stay
//! exactly those of the serde decoder. A property test and the fuzz target
//! check that both decoders agree on everything this one accepts.

use super::cbor_read::R;
use super::index::{IndexFile, IndexPack};
use super::pack::{BlobKind, PackBlob};
use crate::id::{BlobId, IndexId, PackId};

impl R<'_> {
    fn pack_blob(&mut self) -> Option<PackBlob> {
        let fields = self.expect(5)?;
        if !(4..=5).contains(&fields) {
            return None;
        }
        let (mut id, mut offset, mut length, mut raw_length) = (None, None, None, None);
        let mut in_group = None;
        for _ in 0..fields {
            match self.text()? {
                "id" if id.is_none() => id = Some(BlobId::from_bytes(self.id()?)),
                "offset" if offset.is_none() => offset = Some(self.u32()?),
                "length" if length.is_none() => length = Some(self.u32()?),
                "raw_length" if raw_length.is_none() => raw_length = Some(self.u32()?),
                "in_group" if in_group.is_none() => in_group = Some(self.u32()?),
                _ => return None,
            }
        }
        Some(PackBlob {
            id: id?,
            offset: offset?,
            length: length?,
            raw_length: raw_length?,
            in_group,
        })
    }

    fn index_pack(&mut self) -> Option<IndexPack> {
        if self.expect(5)? != 4 {
            return None;
        }
        let (mut id, mut kind, mut size, mut blobs) = (None, None, None, None);
        for _ in 0..4 {
            match self.text()? {
                "id" if id.is_none() => id = Some(PackId::from_bytes(self.id()?)),
                "kind" if kind.is_none() => {
                    kind = Some(match self.text()? {
                        "data" => BlobKind::Data,
                        "tree" => BlobKind::Tree,
                        _ => return None,
                    })
                }
                "size" if size.is_none() => size = Some(self.uint()?),
                "blobs" if blobs.is_none() => {
                    let count = self.expect(4)?;
                    // Each blob takes at least 50 bytes: a hostile count
                    // cannot make this reserve more than the input justifies.
                    let cap = usize::try_from(count).ok()?.min(self.b.len() / 50);
                    let mut v = Vec::with_capacity(cap);
                    for _ in 0..count {
                        v.push(self.pack_blob()?);
                    }
                    blobs = Some(v);
                }
                _ => return None,
            }
        }
        Some(IndexPack {
            id: id?,
            kind: kind?,
            size: size?,
            blobs: blobs?,
        })
    }
}

/// Decodes an index object in coffer's own shape; `None` means "use serde".
pub fn decode(plain: &[u8]) -> Option<IndexFile> {
    let mut r = R { b: plain, i: 0 };
    let fields = r.expect(5)?;
    if !(2..=3).contains(&fields) {
        return None;
    }
    let (mut version, mut packs, mut supersedes) = (None, None, None);
    for _ in 0..fields {
        match r.text()? {
            "version" if version.is_none() => version = Some(r.u32()?),
            "packs" if packs.is_none() => {
                let count = r.expect(4)?;
                let cap = usize::try_from(count).ok()?.min(plain.len() / 50);
                let mut v = Vec::with_capacity(cap);
                for _ in 0..count {
                    v.push(r.index_pack()?);
                }
                packs = Some(v);
            }
            "supersedes" if supersedes.is_none() => {
                let count = r.expect(4)?;
                let cap = usize::try_from(count).ok()?.min(plain.len() / 34);
                let mut v = Vec::with_capacity(cap);
                for _ in 0..count {
                    v.push(IndexId::from_bytes(r.id()?));
                }
                supersedes = Some(v);
            }
            _ => return None,
        }
    }
    (r.i == plain.len()).then_some(())?;
    Some(IndexFile {
        version: version?,
        packs: packs?,
        supersedes: supersedes.unwrap_or_default(),
    })
}
