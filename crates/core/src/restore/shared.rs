//! Blobs that files of several batches share (duplicate files far apart
//! in the tree): fetched once, then copied from the first file restored
//! with them. Without this, each batch that needs such a blob fetches it
//! again, and for a small file that is its whole compression group.
//!
//! Input: the snapshot's trees (counted once, when a restore turns out to
//! need more than one batch) and the files each batch restored. Output:
//! where a shared blob already is in the target. Invariants: a copy is
//! read through its directory's descriptor without following a symlink,
//! and used only if its keyed hash is the blob's id (a file changed or
//! swapped since costs a fetch, never wrong content); memory holds the
//! ids of shared blobs and one place for each, not every blob.

use super::dirs::{DirId, Dirs};
use super::planned::Plan;
use crate::error::Result;
use crate::fs::at::open_beneath;
use crate::id::{BlobId, TreeId};
use crate::repo::Repository;
use rustix::fs::{Mode, OFlags};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Where a blob was restored: a file (by its directory and name) and the
/// blob's offset in it.
#[derive(Clone)]
pub struct Copy {
    pub dir: DirId,
    pub name: Arc<OsStr>,
    pub offset: u64,
}

/// The shared blobs of a snapshot, and where those restored so far are.
#[derive(Default)]
pub struct Shared {
    ids: HashSet<BlobId>,
    places: HashMap<BlobId, Copy>,
}

impl Shared {
    /// Counts the blobs of every file below `root`; those named more than
    /// once are shared. Identical subtrees are counted once per mention.
    pub fn count(repo: &Repository, root: TreeId) -> Result<Shared> {
        let mut seen: HashMap<BlobId, bool> = HashMap::new();
        let mut todo = vec![root];
        while let Some(id) = todo.pop() {
            for node in repo.read_tree(&id)?.nodes {
                todo.extend(node.subtree);
                for b in node.content {
                    seen.entry(b)
                        .and_modify(|twice| *twice = true)
                        .or_insert(false);
                }
            }
        }
        let ids = seen.into_iter().filter(|e| e.1).map(|e| e.0).collect();
        Ok(Shared {
            ids,
            places: HashMap::new(),
        })
    }

    /// Where a shared blob restored earlier is.
    pub fn place(&self, id: &BlobId) -> Option<&Copy> {
        self.places.get(id)
    }

    /// Notes the shared blobs of the files `plan` restored (`failed`: by
    /// index, those that were not).
    pub fn note(&mut self, plan: &Plan, failed: impl Fn(usize) -> bool) {
        for (i, f) in plan.files.iter().enumerate() {
            if failed(i) {
                continue;
            }
            let name: Arc<OsStr> = Arc::from(f.name());
            for (id, &offset) in f.node.content.iter().zip(&f.offsets) {
                if self.ids.contains(id) && !self.places.contains_key(id) {
                    let copy = Copy {
                        dir: f.dir,
                        name: Arc::clone(&name),
                        offset,
                    };
                    self.places.insert(*id, copy);
                }
            }
        }
    }
}

/// The blob `id` (`len` bytes) read back from where it was restored, if it
/// is still there and still the blob.
pub fn read_copy(
    repo: &Repository,
    dirs: &Dirs,
    c: &Copy,
    id: &BlobId,
    len: u32,
) -> Option<Vec<u8>> {
    let dir = dirs.get(c.dir).ok()?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK;
    let file = std::fs::File::from(open_beneath(dir.fd(), &c.name, flags, Mode::empty()).ok()?);
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, c.offset).ok()?;
    (repo.key().blob_id(&buf) == *id).then_some(buf)
}
