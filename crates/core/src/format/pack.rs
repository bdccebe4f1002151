//! Pack files: `data/<xx>/<pack-id>` and `tree/<xx>/<pack-id>`.
//!
//! ```text
//! blob_0 ‖ blob_1 ‖ … ‖ blob_n-1 ‖ header ‖ header_len (u32 LE)
//! ```
//! Each `blob_i` is a sealed box of a payload (flag ‖ body). `header` is a
//! sealed box of a payload of the CBOR [`PackHeader`], which repeats what the
//! index says about this pack so a lost index can be rebuilt from packs
//! alone. The pack id is the BLAKE3 of all these bytes.

use super::{check_version, from_cbor, to_cbor};
use crate::error::{Error, Result};
use crate::id::BlobId;
use serde::{Deserialize, Serialize};

/// Which kind of blobs a pack holds; data and tree packs are kept apart so
/// browsing and listing never touch (possibly cold) data packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    Data,
    Tree,
}

impl BlobKind {
    /// The top-level folder of this kind's packs.
    pub fn dir(self) -> &'static str {
        match self {
            BlobKind::Data => "data",
            BlobKind::Tree => "tree",
        }
    }
}

/// Where one blob sits in its pack.
///
/// A blob is sealed alone, or with other small blobs in a *compression
/// group*: then `offset` and `length` are the group's (every member has the
/// same), and `in_group` is where the blob's plaintext starts in the group's
/// plaintext (`raw_length` bytes from there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackBlob {
    pub id: BlobId,
    /// Byte offset of the sealed blob (or group) in the pack.
    pub offset: u32,
    /// Length of the sealed blob or group (payload + 40 bytes of nonce and tag).
    pub length: u32,
    /// Length of the blob's plaintext, before compression.
    pub raw_length: u32,
    /// For a blob in a group: its offset in the group's plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_group: Option<u32>,
}

impl PackBlob {
    /// For a grouped blob, its bytes in the group's plaintext.
    pub fn slice(&self) -> Option<(u32, u32)> {
        self.in_group.map(|at| (at, self.raw_length))
    }
}

/// The version a pack header or index object naming `blobs` is written
/// with: the first one that describes all of them.
pub fn version_for<'a>(blobs: impl IntoIterator<Item = &'a PackBlob>) -> u32 {
    if blobs.into_iter().any(|b| b.in_group.is_some()) {
        super::GROUPS_VERSION
    } else {
        super::FORMAT_VERSION
    }
}

/// The stored bytes each blob of a pack accounts for: its sealed length
/// alone, or its share of its group's (by plaintext length), so that
/// summing over a pack's blobs counts each group once.
pub fn stored_shares(blobs: &[PackBlob]) -> Vec<u64> {
    let mut group_raw: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for b in blobs.iter().filter(|b| b.in_group.is_some()) {
        *group_raw.entry(b.offset).or_default() += b.raw_length as u64;
    }
    blobs
        .iter()
        .map(|b| match b.in_group {
            None => b.length as u64,
            Some(_) => {
                let total = group_raw[&b.offset].max(1);
                (b.length as u64 * b.raw_length as u64).div_ceil(total)
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackHeader {
    pub version: u32,
    pub kind: BlobKind,
    pub blobs: Vec<PackBlob>,
}

impl PackHeader {
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let h: PackHeader = from_cbor(plain, what)?;
        check_version(h.version, what)?;
        Ok(h)
    }
}

/// Appends the sealed header and its length, completing a pack. Refuses a
/// header of 4 GiB or more, whose length the u32 trailer cannot hold.
pub fn finish(mut body: Vec<u8>, sealed_header: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(sealed_header.len())
        .map_err(|_| Error::fatal("pack header is too large (4 GiB or more)"))?;
    body.reserve_exact(sealed_header.len() + 4);
    body.extend_from_slice(sealed_header);
    body.extend_from_slice(&len.to_le_bytes());
    Ok(body)
}

/// Finds the sealed header at the end of a pack: returns its byte range.
pub fn header_range(pack_len: u64, trailer: [u8; 4], what: &str) -> Result<std::ops::Range<u64>> {
    let hlen = u32::from_le_bytes(trailer) as u64;
    if pack_len < 4 || hlen > pack_len - 4 {
        return Err(Error::corrupt("pack header length is out of range", what));
    }
    let end = pack_len - 4;
    Ok(end - hlen..end)
}

/// Checks that the blobs a header lists lie inside the pack and do not overlap the header.
pub fn check_layout(h: &PackHeader, header_start: u64, what: &str) -> Result<()> {
    for b in &h.blobs {
        if b.offset as u64 + b.length as u64 > header_start {
            return Err(Error::corrupt(
                "pack header lists a blob outside the pack",
                what,
            ));
        }
    }
    Ok(())
}

/// The store key of a pack: `<dir>/<first two hex digits>/<id>`.
pub fn key(kind: BlobKind, id: &crate::id::PackId) -> String {
    let hex = id.to_hex();
    format!("{}/{}/{}", kind.dir(), &hex[..2], hex)
}
