//! `catalog/<id>`: many snapshot objects in one, so that listing ten
//! thousand snapshots costs a LIST and a few GETs, not ten thousand GETs.
//!
//! A catalog is a copy, never the authority: a snapshot exists exactly when
//! `snapshots/<id>` is listed, and a catalog entry whose snapshot is not
//! listed (forgotten) is ignored. Each entry is the sealed snapshot object
//! byte for byte as it is stored, so its id is the BLAKE3 of the entry and
//! a reader checks it as it checks a GET. `supersedes` names the catalogs
//! this one replaces (their entries it still needs are copied in).

use super::{check_version, from_cbor, to_cbor};
use crate::error::Result;
use crate::id::CatalogId;
use serde::{Deserialize, Serialize};

/// The catalog format's version.
pub const CATALOG_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Catalog {
    pub version: u32,
    /// Sealed snapshot objects, as stored under `snapshots/<id>`.
    pub snapshots: Vec<serde_bytes::ByteBuf>,
    #[serde(default)]
    pub supersedes: Vec<CatalogId>,
}

impl Catalog {
    pub fn new(snapshots: Vec<Vec<u8>>, supersedes: Vec<CatalogId>) -> Self {
        Catalog {
            version: CATALOG_VERSION,
            snapshots: snapshots
                .into_iter()
                .map(serde_bytes::ByteBuf::from)
                .collect(),
            supersedes,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let c: Catalog = from_cbor(plain, what)?;
        check_version(c.version, what)?;
        Ok(c)
    }
}
