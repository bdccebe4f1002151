//! What changed between two image snapshots: the chunks whose blobs
//! differ, merged into extents.

use super::restore::image_file;
use crate::error::{Error, Result};
use crate::format::tree::Node;
use crate::id::BlobId;
use crate::repo::{Repository, SnapshotRef};

/// One blob per chunk, or none for a chunk of zeros.
fn chunks(node: &Node, chunk: u64) -> Vec<Option<BlobId>> {
    let count = node.size.div_ceil(chunk) as usize;
    let mut out = Vec::with_capacity(count);
    let mut content = node.content.iter();
    let mut holes = node.holes.iter().peekable();
    for i in 0..count {
        let at = i as u64 * chunk;
        while holes.peek().is_some_and(|h| h.0 + h.1 <= at) {
            holes.next();
        }
        let in_hole = holes.peek().is_some_and(|h| h.0 <= at);
        out.push(if in_hole {
            None
        } else {
            content.next().copied()
        });
    }
    out
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageDiff {
    pub size_before: u64,
    pub size_after: u64,
    pub chunk_size: u32,
    /// Changed byte ranges of the second image: (offset, length).
    pub extents: Vec<(u64, u64)>,
    pub bytes_changed: u64,
}

pub fn image_diff(repo: &Repository, a: &SnapshotRef, b: &SnapshotRef) -> Result<ImageDiff> {
    let (ia, na) = image_file(repo, a)?;
    let (ib, nb) = image_file(repo, b)?;
    if ia.chunk_size != ib.chunk_size {
        return Err(Error::invalid(format!(
            "the images were cut in chunks of {} and {} bytes: not comparable chunk by chunk",
            ia.chunk_size, ib.chunk_size
        )));
    }
    let chunk = ib.chunk_size as u64;
    let (ca, cb) = (chunks(&na, chunk), chunks(&nb, chunk));
    let mut extents: Vec<(u64, u64)> = Vec::new();
    for (i, c) in cb.iter().enumerate() {
        if ca.get(i) == Some(c) {
            continue;
        }
        let at = i as u64 * chunk;
        let len = chunk.min(ib.size - at);
        match extents.last_mut() {
            Some(e) if e.0 + e.1 == at => e.1 += len,
            _ => extents.push((at, len)),
        }
    }
    Ok(ImageDiff {
        size_before: ia.size,
        size_after: ib.size,
        chunk_size: ib.chunk_size,
        bytes_changed: extents.iter().map(|e| e.1).sum(),
        extents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_back_from_content_and_holes() {
        let id = |b: u8| Some(BlobId([b; 32]));
        let list = [
            id(1),
            None,
            None,
            id(2),
            None,
            id(3),
            id(3),
            None,
            None,
            None,
            None,
        ];
        let node = super::super::image_node(b"d".to_vec(), 43, 4, &list);
        assert_eq!(chunks(&node, 4), list.to_vec());
    }
}
