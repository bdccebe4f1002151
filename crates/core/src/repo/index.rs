//! The in-memory index: blob id -> (pack, offset, length). About 56 bytes per
//! blob plus hash-table overhead; packs are interned once.
//!
//! Packs that a prune condemned (named in a `prune/<id>` record, no longer
//! in the index objects) are known as a *fallback*: [`Index::get`] finds
//! their blobs, so a snapshot that a backup running across the prune saved
//! stays readable, but [`Index::contains`] does not, so no new backup
//! dedups against them (that is what lets prune delete them later).

use crate::format::index::IndexPack;
use crate::format::pack::BlobKind;
use crate::id::{BlobId, PackId};
use std::collections::{HashMap, HashSet};

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
    /// Blobs found only in condemned packs.
    fallback: HashMap<BlobId, BlobLoc>,
    condemned: HashSet<PackId>,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every blob of a pack entry. A blob already known keeps its first
    /// location (duplicates across packs are harmless; prune removes them).
    pub fn add_pack(&mut self, p: &IndexPack) {
        self.condemned.remove(&p.id);
        let pos = self.intern(p);
        for b in &p.blobs {
            self.fallback.remove(&b.id);
            self.blobs.entry(b.id).or_insert(BlobLoc {
                pack: pos,
                offset: b.offset,
                length: b.length,
                raw_length: b.raw_length,
            });
        }
    }

    /// Adds a condemned pack as a fallback (see the module documentation);
    /// a pack the index already names stays as it is.
    pub fn add_condemned(&mut self, p: &IndexPack) {
        if self.pack_pos.contains_key(&p.id) {
            return;
        }
        let pos = self.intern(p);
        self.condemned.insert(p.id);
        for b in &p.blobs {
            if !self.blobs.contains_key(&b.id) {
                self.fallback.entry(b.id).or_insert(BlobLoc {
                    pack: pos,
                    offset: b.offset,
                    length: b.length,
                    raw_length: b.raw_length,
                });
            }
        }
    }

    fn intern(&mut self, p: &IndexPack) -> u32 {
        *self.pack_pos.entry(p.id).or_insert_with(|| {
            self.packs.push(PackInfo {
                id: p.id,
                kind: p.kind,
                size: p.size,
            });
            (self.packs.len() - 1) as u32
        })
    }

    /// Where a blob is: in an indexed pack, else in a condemned one.
    pub fn get(&self, id: &BlobId) -> Option<(PackInfo, BlobLoc)> {
        self.blobs
            .get(id)
            .or_else(|| self.fallback.get(id))
            .map(|loc| (self.packs[loc.pack as usize], *loc))
    }

    /// Whether a pack is known only from a prune record.
    pub fn is_condemned(&self, id: &PackId) -> bool {
        self.condemned.contains(id)
    }

    /// Whether an indexed pack holds the blob (what backups dedup against;
    /// condemned packs do not count).
    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Every known pack, condemned ones included (see [`Index::is_condemned`]).
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// The blobs of indexed packs (not those only in condemned packs).
    pub fn blobs(&self) -> impl Iterator<Item = (&BlobId, &BlobLoc)> {
        self.blobs.iter()
    }
}
