//! Packs that no index names: what an interrupted backup uploaded before its
//! next index checkpoint, or what a damaged index object named. Every pack
//! ends with a sealed header that repeats its index entry, so such a pack
//! is *adopted* by reading its header alone (ranged reads of its end) —
//! a backup then dedups against it instead of uploading it again, and
//! `repair index` names it in the new index.
//!
//! Packs that a prune condemned (known from its records) are never adopted:
//! that would undo the prune.

use super::Repository;
use crate::error::{Error, Result};
use crate::format::index::IndexPack;
use crate::format::pack::{self, BlobKind};
use crate::id::PackId;
use crate::store::{StorageClass, list_all};

/// A stored pack: its kind, id and size, and where the store says, its
/// storage class and when it was written (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPack {
    pub kind: BlobKind,
    pub id: PackId,
    pub size: u64,
    pub class: Option<StorageClass>,
    pub modified: Option<i64>,
}

impl StoredPack {
    pub fn key(&self) -> String {
        pack::key(self.kind, &self.id)
    }
}

impl Repository {
    /// Every pack in the store (names that are not pack keys are skipped).
    pub fn stored_packs(&self) -> Result<Vec<StoredPack>> {
        let mut out = Vec::new();
        for kind in [BlobKind::Data, BlobKind::Tree] {
            for m in list_all(self.store().as_ref(), &format!("{}/", kind.dir()))? {
                let Some(id) = m.key.rsplit('/').next().and_then(|h| PackId::parse(h).ok()) else {
                    continue;
                };
                if pack::key(kind, &id) == m.key {
                    out.push(StoredPack {
                        kind,
                        id,
                        size: m.size,
                        class: m.class,
                        modified: m.modified,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Stored packs that the in-memory index does not know, condemned
    /// ones included (load the index and prune records first).
    pub fn unindexed_packs(&self) -> Result<Vec<StoredPack>> {
        let stored = self.stored_packs()?;
        let index = self.index();
        let known: std::collections::HashSet<PackId> = index.packs().iter().map(|p| p.id).collect();
        Ok(stored
            .into_iter()
            .filter(|p| !known.contains(&p.id))
            .collect())
    }

    /// Reads the headers of `packs` and adds them to the in-memory index.
    /// Returns the index entries of the packs adopted and the errors of
    /// those whose header could not be read (damaged, or in a cold storage
    /// class); those stay unindexed.
    pub fn adopt_packs(&self, packs: &[StoredPack]) -> (Vec<IndexPack>, Vec<Error>) {
        let mut adopted = Vec::new();
        let mut failed = Vec::new();
        for p in packs {
            match self.read_pack_header(p.kind, p.id, p.size) {
                Ok(entry) => {
                    self.index_mut().add_pack(&entry);
                    adopted.push(entry);
                }
                Err(e) => failed.push(e),
            }
        }
        self.index_mut().compact();
        (adopted, failed)
    }
}
