//! `index/<id>`: which blobs live in which pack. Sealed payload of CBOR.
//! Written after the packs it names are stored (checkpoints during a long
//! backup, and once at the end); `supersedes` lets prune replace old index
//! objects atomically from a reader's point of view.

use super::pack::{BlobKind, PackBlob};
use super::{check_version, from_cbor, to_cbor};
use crate::error::Result;
use crate::id::{IndexId, PackId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPack {
    pub id: PackId,
    pub kind: BlobKind,
    /// Size of the pack object in bytes.
    pub size: u64,
    pub blobs: Vec<PackBlob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IndexFile {
    pub version: u32,
    pub packs: Vec<IndexPack>,
    /// Index objects this one replaces (written by prune; empty otherwise).
    #[serde(default)]
    pub supersedes: Vec<IndexId>,
}

impl IndexFile {
    /// An index object naming `packs`, with the version they need.
    pub fn new(packs: Vec<IndexPack>, supersedes: Vec<IndexId>) -> Self {
        let version = super::pack::version_for(packs.iter().flat_map(|p| &p.blobs));
        IndexFile {
            version,
            packs,
            supersedes,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let i: IndexFile = match super::index_fast::decode(plain) {
            Some(i) => i,
            None => from_cbor(plain, what)?,
        };
        check_version(i.version, what)?;
        Ok(i)
    }
}
