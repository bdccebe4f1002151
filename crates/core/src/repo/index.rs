//! The in-memory index: blob id -> (pack, offset, length). Blobs live in an
//! array sorted by id, 52 bytes each, with a directory on the ids' first two
//! bytes (ids are keyed hashes, so evenly spread): a lookup is a short binary
//! search inside one bucket. Blobs added since the last merge wait in a
//! small hash table, merged into the array when it passes a quarter of it,
//! so the whole stays under 64 bytes per blob. Packs are interned once.
//!
//! Packs that a prune condemned (named in a `prune/<id>` record, no longer
//! in the index objects) are known as a *fallback*: [`Index::get`] finds
//! their blobs, so a snapshot that a backup running across the prune saved
//! stays readable, but [`Index::contains`] does not, so no new backup
//! dedups against them (that is what lets prune delete them later).

use crate::format::index::IndexPack;
use crate::format::pack::{BlobKind, PackBlob};
use crate::id::{BlobId, PackId};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Ids are keyed BLAKE3 hashes: their first 8 bytes are a hash already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
    fn write_usize(&mut self, _: usize) {} // the length prefix of [u8; 32]
}

type IdMap = HashMap<BlobId, BlobLoc, BuildHasherDefault<IdHasher>>;

/// Buckets of the directory: one per value of an id's first two bytes.
const BUCKETS: usize = 1 << 16;
/// Blobs that may wait in the hash table before a merge, at the least.
const MIN_RECENT: usize = 1 << 14;

fn bucket(id: &BlobId) -> usize {
    usize::from(u16::from_be_bytes([id.0[0], id.0[1]]))
}

/// Blob locations sorted by id, with a directory of bucket starts.
#[derive(Default)]
struct Sorted {
    entries: Vec<(BlobId, BlobLoc)>,
    /// `starts[b]..starts[b + 1]` holds the ids of bucket `b`; empty until
    /// the first merge.
    starts: Vec<u32>,
}

impl Sorted {
    fn get(&self, id: &BlobId) -> Option<&BlobLoc> {
        if self.entries.is_empty() {
            return None;
        }
        let b = bucket(id);
        let range = self.starts[b] as usize..self.starts[b + 1] as usize;
        let slice = &self.entries[range];
        slice
            .binary_search_by(|(k, _)| k.cmp(id))
            .ok()
            .map(|i| &slice[i].1)
    }

    /// Merges `more` (ids not in `self`) in, in place, and rebuilds the
    /// directory.
    fn merge(&mut self, more: IdMap) {
        let mut more: Vec<(BlobId, BlobLoc)> = more.into_iter().collect();
        more.sort_unstable_by_key(|e| e.0);
        let old = self.entries.len();
        self.entries.reserve_exact(more.len());
        self.entries
            .resize(old + more.len(), (BlobId::default(), BlobLoc::default()));
        // Merge from the back, so nothing is overwritten before it moves.
        let (mut i, mut j, mut k) = (old, more.len(), self.entries.len());
        while j > 0 {
            k -= 1;
            if i > 0 && self.entries[i - 1].0 > more[j - 1].0 {
                self.entries[k] = self.entries[i - 1];
                i -= 1;
            } else {
                self.entries[k] = more[j - 1];
                j -= 1;
            }
        }
        self.starts = vec![0; BUCKETS + 1];
        for (id, _) in &self.entries {
            self.starts[bucket(id) + 1] += 1;
        }
        for b in 0..BUCKETS {
            self.starts[b + 1] += self.starts[b];
        }
    }

    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(BlobId, BlobLoc)>()
            + self.starts.capacity() * 4
    }
}

/// Where a blob lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobLoc {
    /// Position in [`Index::packs`].
    pub pack: u32,
    /// The sealed blob, or the sealed group it is in.
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    /// 0 for a blob sealed alone; else 1 + its offset in its group's
    /// plaintext (see [`PackBlob`]).
    group: u32,
}

impl BlobLoc {
    pub fn new(pack: u32, b: &PackBlob) -> Self {
        BlobLoc {
            pack,
            offset: b.offset,
            length: b.length,
            raw_length: b.raw_length,
            // An offset of u32::MAX cannot be valid (a group is far
            // smaller): kept out of range, so reading it fails as corrupt.
            group: b.in_group.map_or(0, |at| at.saturating_add(1)),
        }
    }

    /// For a grouped blob, its bytes in the group's plaintext.
    pub fn slice(&self) -> Option<(u32, u32)> {
        (self.group != 0).then(|| (self.group - 1, self.raw_length))
    }

    /// The entry a pack header or index object would hold for it.
    pub fn entry(&self, id: BlobId) -> PackBlob {
        PackBlob {
            id,
            offset: self.offset,
            length: self.length,
            raw_length: self.raw_length,
            in_group: self.slice().map(|s| s.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackInfo {
    pub id: PackId,
    pub kind: BlobKind,
    pub size: u64,
}

#[derive(Default)]
pub struct Index {
    sorted: Sorted,
    /// Added since the last merge; no id is in both.
    recent: IdMap,
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
            if self.sorted.get(&b.id).is_none() {
                self.recent.entry(b.id).or_insert(BlobLoc::new(pos, b));
            }
        }
        if self.recent.len() > MIN_RECENT.max(self.sorted.entries.len() / 4) {
            self.compact();
        }
    }

    /// Moves the blobs added lately into the sorted array.
    pub fn compact(&mut self) {
        if !self.recent.is_empty() {
            self.sorted.merge(std::mem::take(&mut self.recent));
        }
    }

    /// Bytes of memory the blob table takes (for measuring; packs and
    /// fallback left out).
    pub fn heap_bytes(&self) -> usize {
        self.sorted.heap_bytes()
            + self.recent.capacity() * (std::mem::size_of::<(BlobId, BlobLoc)>() + 1)
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
            if !self.contains(&b.id) {
                self.fallback.entry(b.id).or_insert(BlobLoc::new(pos, b));
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
        self.sorted
            .get(id)
            .or_else(|| self.recent.get(id))
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
        self.sorted.get(id).is_some() || self.recent.contains_key(id)
    }

    pub fn blob_count(&self) -> usize {
        self.sorted.entries.len() + self.recent.len()
    }

    /// How many blobs of indexed packs are trees.
    pub fn tree_blobs(&self) -> u64 {
        self.blobs()
            .filter(|(_, loc)| self.packs[loc.pack as usize].kind == BlobKind::Tree)
            .count() as u64
    }

    /// Every known pack, condemned ones included (see [`Index::is_condemned`]).
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// The blobs of indexed packs (not those only in condemned packs).
    pub fn blobs(&self) -> impl Iterator<Item = (&BlobId, &BlobLoc)> {
        let sorted = self.sorted.entries.iter().map(|(id, loc)| (id, loc));
        sorted.chain(self.recent.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::PackBlob;
    use proptest::prelude::*;

    fn pack(ids: &[BlobId], seed: u32) -> IndexPack {
        IndexPack {
            id: PackId::random(),
            kind: BlobKind::Data,
            size: 1000,
            blobs: ids
                .iter()
                .enumerate()
                .map(|(i, id)| PackBlob {
                    id: *id,
                    offset: i as u32 * 10,
                    length: 10,
                    raw_length: seed,
                    // Odd batches are grouped blobs.
                    in_group: (seed % 2 == 1).then_some(i as u32 * 7),
                })
                .collect(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever the order of adds and merges, the index answers as a
        /// plain map that keeps each id's first location.
        #[test]
        fn answers_as_a_map(
            batches in prop::collection::vec(
                prop::collection::vec(any::<[u8; 32]>(), 0..300), 1..12),
            compact_after in prop::collection::vec(any::<bool>(), 12),
        ) {
            let mut index = Index::new();
            let mut model: HashMap<BlobId, u32> = HashMap::new();
            let mut all = Vec::new();
            for (n, batch) in batches.iter().enumerate() {
                // Every other batch repeats ids seen before.
                let mut ids: Vec<BlobId> = batch.iter().map(|b| BlobId(*b)).collect();
                if n % 2 == 1 {
                    ids.extend(all.iter().take(20).copied());
                }
                index.add_pack(&pack(&ids, n as u32));
                for id in &ids {
                    model.entry(*id).or_insert(n as u32);
                }
                all.extend(ids);
                if compact_after[n] {
                    index.compact();
                }
            }
            prop_assert_eq!(index.blob_count(), model.len());
            for (id, seed) in &model {
                prop_assert!(index.contains(id));
                let (_, loc) = index.get(id).expect("indexed");
                prop_assert_eq!(loc.raw_length, *seed);
                prop_assert_eq!(loc.slice().is_some(), seed % 2 == 1);
                prop_assert_eq!(loc.entry(*id).slice(), loc.slice());
            }
            let listed: HashSet<BlobId> = index.blobs().map(|(id, _)| *id).collect();
            prop_assert_eq!(listed.len(), model.len());
            prop_assert!(!index.contains(&BlobId::random()));
        }
    }

    /// The target of the speed issue: at most 64 bytes per blob, measured
    /// on a million blobs loaded as a repository's index is.
    #[test]
    fn a_million_blobs_take_under_64_bytes_each() {
        let mut index = Index::new();
        let n = 1_000_000;
        for _ in 0..n / 5000 {
            let ids: Vec<BlobId> = (0..5000).map(|_| BlobId::random()).collect();
            index.add_pack(&pack(&ids, 0));
        }
        index.compact();
        assert_eq!(index.blob_count(), n);
        let per_blob = index.heap_bytes() as f64 / n as f64;
        assert!(per_blob <= 64.0, "{per_blob:.1} bytes per blob");
        // And in the middle of a backup, with blobs waiting to be merged.
        let ids: Vec<BlobId> = (0..200_000).map(|_| BlobId::random()).collect();
        index.add_pack(&pack(&ids, 0));
        let per_blob = index.heap_bytes() as f64 / index.blob_count() as f64;
        assert!(
            per_blob <= 64.0,
            "{per_blob:.1} bytes per blob with recent adds"
        );
    }
}
