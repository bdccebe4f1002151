//! The in-memory index: blob id -> (pack, offset, length). About 56 bytes per
//! blob plus hash-table overhead; packs are interned once.

use crate::format::index::IndexPack;
use crate::format::pack::BlobKind;
use crate::id::{BlobId, PackId};
use std::collections::HashMap;

/// Where a blob lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLoc {
    /// Position in [`Index::packs`].
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackInfo {
    pub id: PackId,
    pub kind: BlobKind,
    pub size: u64,
}

#[derive(Default)]
pub struct Index {
    blobs: HashMap<BlobId, BlobLoc>,
    packs: Vec<PackInfo>,
    pack_pos: HashMap<PackId, u32>,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every blob of a pack entry. A blob already known keeps its first
    /// location (duplicates across packs are harmless; prune removes them).
    pub fn add_pack(&mut self, p: &IndexPack) {
        let pos = *self.pack_pos.entry(p.id).or_insert_with(|| {
            self.packs.push(PackInfo {
                id: p.id,
                kind: p.kind,
                size: p.size,
            });
            (self.packs.len() - 1) as u32
        });
        for b in &p.blobs {
            self.blobs.entry(b.id).or_insert(BlobLoc {
                pack: pos,
                offset: b.offset,
                length: b.length,
                raw_length: b.raw_length,
            });
        }
    }

    pub fn get(&self, id: &BlobId) -> Option<(PackInfo, BlobLoc)> {
        self.blobs
            .get(id)
            .map(|loc| (self.packs[loc.pack as usize], *loc))
    }

    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    pub fn blobs(&self) -> impl Iterator<Item = (&BlobId, &BlobLoc)> {
        self.blobs.iter()
    }
}
