//! Index objects, written in parts, and kept few: every backup adds at
//! least one, so after years of nightly backups a repository would hold
//! thousands, each a GET when a cold cache opens it. Compaction merges the
//! small ones into one (in parts of at most [`MAX_BLOBS_PER_INDEX`] blobs)
//! that lists them in `supersedes`, then deletes them.
//!
//! Input: the stored index objects. Output: fewer of them, naming the same
//! packs. Invariants: the merged object is stored before anything it
//! supersedes is deleted, so a reader sees the old objects, the new one,
//! or both (duplicates are harmless), never a pack missing; only index
//! objects that a stored one supersedes are deleted, as prune does. Safe
//! beside a running prune: an object prune has just superseded may be
//! merged here too, which at worst names packs prune condemned again —
//! prune deletes a pack only if no index object names it when it does.
//!
//! The small objects are those under half a part; the large ones stay as
//! they are, so a repository holds about one object per
//! [`MAX_BLOBS_PER_INDEX`] / 2 blobs plus at most [`SMALL_OBJECTS_KEPT`]
//! small ones, whatever the number of snapshots.

use super::Repository;
use crate::crypto::Sealed;
use crate::error::{Kind, Result};
use crate::format::index::{IndexFile, IndexPack};
use crate::id::{IndexId, PackId};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// Blobs per index object written in parts (prune, repair, compaction):
/// about 10 MB of CBOR, far below the 1 GiB a reader accepts, and small
/// enough to rewrite cheaply.
pub const MAX_BLOBS_PER_INDEX: usize = 100_000;

/// Small index objects tolerated before a backup merges them.
pub const SMALL_OBJECTS_KEPT: usize = 32;

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Compaction {
    /// Index objects merged (and superseded).
    pub merged: u64,
    /// Index objects written.
    pub written: u64,
    /// Superseded index objects deleted.
    pub deleted: u64,
    /// Why deleting the superseded objects stopped, if it did (credentials
    /// that may not delete, Object Lock): they stay until a prune, and
    /// readers skip them.
    pub delete_failed: Option<String>,
}

fn blobs(f: &IndexFile) -> usize {
    f.packs.iter().map(|p| p.blobs.len()).sum()
}

/// The index objects no other supersedes that are small enough to merge.
pub(super) fn small_objects<'a>(
    files: &'a [(IndexId, IndexFile)],
    superseded: &HashSet<IndexId>,
) -> Vec<&'a (IndexId, IndexFile)> {
    files
        .iter()
        .filter(|(id, f)| !superseded.contains(id) && blobs(f) < MAX_BLOBS_PER_INDEX / 2)
        .collect()
}

impl Repository {
    /// Writes `packs` as index objects of at most [`MAX_BLOBS_PER_INDEX`]
    /// blobs, the last one superseding `supersedes` (so a crash between
    /// parts leaves duplicates, never a hole); returns how many objects
    /// were written.
    pub fn write_index(&self, packs: &[IndexPack], supersedes: Vec<IndexId>) -> Result<u64> {
        let mut parts: Vec<Vec<IndexPack>> = vec![Vec::new()];
        let mut blobs = 0;
        for p in packs {
            if blobs + p.blobs.len() > MAX_BLOBS_PER_INDEX && !parts[parts.len() - 1].is_empty() {
                parts.push(Vec::new());
                blobs = 0;
            }
            blobs += p.blobs.len();
            let last = parts.len() - 1;
            parts[last].push(p.clone());
        }
        let n = parts.len();
        for (i, packs) in parts.into_iter().enumerate() {
            let last = i + 1 == n;
            let file = IndexFile::new(packs, if last { supersedes.clone() } else { Vec::new() });
            self.save_sealed("index", Sealed::Index, &file.encode())?;
        }
        Ok(n as u64)
    }

    /// Counts `written` index objects this handle stored into the small
    /// ones it knows of, and says whether more than `keep` are stored now:
    /// what decides, without a request, that
    /// [`compact_index`](Self::compact_index) is due.
    pub fn index_compaction_due(&self, keep: usize, written: usize) -> bool {
        let before = self.small_index.fetch_add(written, Ordering::Relaxed);
        before + written > keep.max(1)
    }

    /// Merges the small index objects when more than `keep` of them are
    /// stored (see the module documentation); `None` when there was
    /// nothing to do. Superseded objects still stored (a delete that
    /// failed before) are deleted too.
    pub fn compact_index(&self, keep: usize) -> Result<Option<Compaction>> {
        let files = self.load_index_files()?;
        let superseded: HashSet<IndexId> = files
            .iter()
            .flat_map(|(_, f)| f.supersedes.iter().copied())
            .collect();
        let small = small_objects(&files, &superseded);
        if small.len() <= keep.max(1) {
            return Ok(None);
        }
        let mut seen: HashSet<PackId> = HashSet::new();
        let packs: Vec<IndexPack> = small
            .iter()
            .flat_map(|(_, f)| &f.packs)
            .filter(|p| seen.insert(p.id))
            .cloned()
            .collect();
        let stale = files
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| superseded.contains(id));
        let gone: Vec<IndexId> = small.iter().map(|(id, _)| *id).chain(stale).collect();
        let mut report = Compaction {
            merged: small.len() as u64,
            written: self.write_index(&packs, gone.clone())?,
            ..Default::default()
        };
        self.small_index
            .store(report.written as usize, Ordering::Relaxed);
        (report.deleted, report.delete_failed) = self.delete_superseded("index", &gone);
        Ok(Some(report))
    }

    /// Deletes `<dir>/<id>` for each of `ids`, objects that a stored one
    /// supersedes (one already gone is fine); returns how many it deleted
    /// and, if a delete failed, why it stopped there.
    pub(super) fn delete_superseded<I: std::fmt::Display>(
        &self,
        dir: &str,
        ids: &[I],
    ) -> (u64, Option<String>) {
        let mut deleted = 0;
        for id in ids {
            match self.store().delete(&format!("{dir}/{id}")) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) => return (deleted, Some(e.to_string())),
            }
        }
        (deleted, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalStore;
    use crate::format::pack::{BlobKind, PackBlob};
    use crate::id::BlobId;
    use crate::store::Store;
    use std::sync::Arc;

    fn pack(blobs: usize) -> IndexPack {
        IndexPack {
            id: PackId::random(),
            kind: BlobKind::Data,
            size: 100,
            blobs: (0..blobs)
                .map(|i| PackBlob {
                    id: BlobId::random(),
                    offset: i as u32,
                    length: 1,
                    raw_length: 1,
                    in_group: None,
                })
                .collect(),
        }
    }

    fn repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path().join("r")));
        let opts = super::super::InitOptions {
            kdf: crate::format::key::KdfParams::insecure_fast(),
            ..Default::default()
        };
        let repo = Repository::init(store, b"pw", opts).unwrap();
        (dir, repo)
    }

    fn live(repo: &Repository) -> (usize, HashSet<PackId>) {
        repo.reload_index().unwrap();
        let index = repo.index();
        let packs = index.packs().iter().map(|p| p.id).collect();
        (repo.load_index_files().unwrap().len(), packs)
    }

    #[test]
    fn small_objects_merge_into_one_and_nothing_is_lost() {
        let (_d, repo) = repo();
        let big = pack(MAX_BLOBS_PER_INDEX / 2);
        repo.write_index(std::slice::from_ref(&big), Vec::new())
            .unwrap();
        for _ in 0..40 {
            repo.write_index(&[pack(3), pack(2)], Vec::new()).unwrap();
        }
        let (objects, before) = live(&repo);
        assert_eq!(objects, 41);
        assert_eq!(repo.compact_index(64).unwrap(), None);
        let done = repo.compact_index(8).unwrap().expect("compacted");
        assert_eq!((done.merged, done.written, done.deleted), (40, 1, 40));
        assert_eq!(done.delete_failed, None);
        let (objects, after) = live(&repo);
        assert_eq!(objects, 2, "the large object stays, the small ones are one");
        assert_eq!(before, after);
        assert!(after.contains(&big.id));
        assert_eq!(repo.compact_index(0).unwrap(), None);
    }
}
