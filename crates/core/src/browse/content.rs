//! File contents for the view: where each blob of a file starts (holes
//! between them read as zeros, as restore writes them), and a bounded
//! cache of opened blobs shared by every file, so sequential reads of a
//! file (the kernel asks 128 KiB at a time) open each blob once, and two
//! readers of one blob wait for one fetch.

use crate::error::{Error, Kind, Result};
use crate::format::tree::Node;
use crate::id::BlobId;
use crate::repo::Repository;
use crate::restore::blob_offsets;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A file's blobs and where each starts.
pub(super) struct Layout {
    ids: Vec<BlobId>,
    starts: Vec<u64>,
    lengths: Vec<u64>,
    size: u64,
}

impl Layout {
    pub(super) fn new(repo: &Repository, node: &Node) -> Result<Layout> {
        let index = repo.index();
        let mut lengths = Vec::with_capacity(node.content.len());
        for id in &node.content {
            let (_, loc) = index
                .get(id)
                .ok_or_else(|| Error::at(Kind::NotFound, "blob is not in the index", id))?;
            lengths.push(loc.raw_length as u64);
        }
        Ok(Layout {
            ids: node.content.clone(),
            starts: blob_offsets(node, &lengths),
            lengths,
            size: node.size,
        })
    }

    /// Up to `size` bytes from `offset`: blob data where blobs are, zeros
    /// elsewhere (holes), nothing past the end.
    pub(super) fn read(
        &self,
        repo: &Repository,
        cache: &BlobCache,
        offset: u64,
        size: usize,
    ) -> Result<Vec<u8>> {
        let end = self.size.min(offset.saturating_add(size as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - offset) as usize];
        // The first blob that ends after `offset`.
        let first = self
            .starts
            .iter()
            .zip(&self.lengths)
            .position(|(s, l)| s + l > offset)
            .unwrap_or(self.ids.len());
        for i in first..self.ids.len() {
            let (start, len) = (self.starts[i], self.lengths[i]);
            if start >= end {
                break;
            }
            let blob = cache.get(repo, &self.ids[i])?;
            let from = offset.max(start);
            let to = end.min(start + len).min(start + blob.len() as u64);
            if from < to {
                out[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&blob[(from - start) as usize..(to - start) as usize]);
            }
        }
        Ok(out)
    }
}

/// One blob: filled by the first reader, while others wait on its lock.
type Slot = Arc<Mutex<Option<Arc<Vec<u8>>>>>;

/// Opened blobs, the oldest dropped past a byte budget.
pub(super) struct BlobCache {
    inner: Mutex<Slots>,
    budget: usize,
}

#[derive(Default)]
struct Slots {
    by_id: HashMap<BlobId, Slot>,
    order: VecDeque<(BlobId, usize)>,
    bytes: usize,
}

impl BlobCache {
    pub(super) fn new(budget: usize) -> BlobCache {
        BlobCache {
            inner: Mutex::new(Slots::default()),
            budget,
        }
    }

    pub(super) fn get(&self, repo: &Repository, id: &BlobId) -> Result<Arc<Vec<u8>>> {
        let slot = {
            let mut s = self.inner.lock().expect("poisoned");
            Arc::clone(s.by_id.entry(*id).or_default())
        };
        let mut filled = slot.lock().expect("poisoned");
        if let Some(b) = filled.as_ref() {
            return Ok(Arc::clone(b));
        }
        let blob = Arc::new(repo.read_blob(id)?);
        *filled = Some(Arc::clone(&blob));
        drop(filled);
        let mut s = self.inner.lock().expect("poisoned");
        s.order.push_back((*id, blob.len()));
        s.bytes += blob.len();
        while s.bytes > self.budget && s.order.len() > 1 {
            let (old, len) = s.order.pop_front().expect("not empty");
            s.by_id.remove(&old);
            s.bytes -= len;
        }
        Ok(blob)
    }
}
