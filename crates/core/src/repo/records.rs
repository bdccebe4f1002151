//! Prune records: `prune/<id>`, the packs a prune condemned and when.
//!
//! Phase 1 of a prune writes a record and then an index that no longer names
//! the condemned packs; phase 2, a later prune after a grace period, deletes
//! them (or puts them back in the index if a snapshot needs them after all)
//! and then the record. Until then, readers know the condemned packs as an
//! index fallback ([`super::Index::add_condemned`]), so a snapshot saved by
//! a backup that started before phase 1 stays readable.
//!
//! A record is a sealed box (kind [`Sealed::PruneRecord`]) of a CBOR
//! [`PruneRecord`]; its name is the BLAKE3 of its bytes. A pack that no
//! index named when it was condemned (left by an interrupted backup) is
//! listed with an empty `blobs`.

use super::Repository;
use crate::crypto::Sealed;
use crate::error::{Kind, Result};
use crate::format::index::IndexPack;
use crate::format::{check_version, from_cbor, to_cbor};
use crate::id::PruneRecordId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneRecord {
    pub version: u32,
    /// When the packs were condemned (phase 1), ns since the epoch.
    pub time: i64,
    /// The condemned packs, as the index described them.
    pub packs: Vec<IndexPack>,
}

impl PruneRecord {
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let r: PruneRecord = from_cbor(plain, what)?;
        check_version(r.version, what)?;
        Ok(r)
    }
}

impl Repository {
    /// Every prune record. One deleted while we list (a prune finished it)
    /// is skipped.
    pub fn prune_records(&self) -> Result<Vec<(PruneRecordId, PruneRecord)>> {
        let mut out = Vec::new();
        for meta in crate::store::list_all(self.store().as_ref(), "prune/")? {
            let Some(id) = meta
                .key
                .strip_prefix("prune/")
                .and_then(|h| PruneRecordId::parse(h).ok())
            else {
                continue;
            };
            match self.load_sealed(Sealed::PruneRecord, &meta.key) {
                Ok(plain) => out.push((id, PruneRecord::decode(&plain, &meta.key)?)),
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|(id, r)| (r.time, *id));
        Ok(out)
    }

    /// Stores a prune record.
    pub fn save_prune_record(&self, r: &PruneRecord) -> Result<PruneRecordId> {
        let (id, _) = self.save_sealed("prune", Sealed::PruneRecord, &r.encode())?;
        Ok(PruneRecordId(id))
    }
}
