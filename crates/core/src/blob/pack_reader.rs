//! Reading many blobs out of packs: the one read path of restore, prune's
//! repack, export and (for whole packs) check.
//!
//! Input: the blobs wanted from one pack, by offset, or a sequence of blob
//! ids in the order they are needed (a file's content). Output: each blob
//! opened (decrypted, decompressed) and checked against its id, handed to a
//! callback in order. Wanted blobs close to each other (gaps under
//! [`MAX_GAP`]) are fetched with one ranged GET of at most [`MAX_RANGE`]
//! bytes (more only when one blob is longer), so memory per reader stays
//! bounded whatever the pack size and a pack read in full costs a few
//! requests, not one per blob.
//!
//! Errors: a range the store reports missing or damaged, or a blob that
//! does not open, is that blob's error (the caller decides what it costs: a
//! file, or the whole command); any other store error (network,
//! permissions) stops the read and is returned.

use crate::error::{Error, Kind, Result};
use crate::format::pack::{self, PackBlob};
use crate::id::BlobId;
use crate::repo::{BlobLoc, Repository};
use std::ops::Range;
use std::sync::Arc;

/// Wanted blobs of a pack closer than this are fetched in one range GET
/// (reading a gap is cheaper than another request).
pub const MAX_GAP: u64 = 1024 * 1024;
/// Longest range fetched at once (unless one blob is longer): bounds the
/// memory of each read and spreads a large pack over several requests.
pub const MAX_RANGE: u64 = 4 * 1024 * 1024;

/// Where a wanted blob lies in its pack: the sealed blob, or the sealed
/// group and the blob's slice of the group's plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub id: BlobId,
    pub offset: u32,
    pub length: u32,
    pub slice: Option<(u32, u32)>,
}

impl Wanted {
    pub fn at(id: BlobId, loc: &BlobLoc) -> Self {
        Wanted {
            id,
            offset: loc.offset,
            length: loc.length,
            slice: loc.slice(),
        }
    }

    fn end(&self) -> u64 {
        self.offset as u64 + self.length as u64
    }

    /// Whether `next` comes right after this one: later in the pack, or in
    /// the same group.
    fn followed_by(&self, next: &Wanted) -> bool {
        let same_group = self.slice.is_some() && next.slice.is_some() && self.offset == next.offset;
        same_group || next.offset as u64 >= self.end()
    }
}

impl From<&PackBlob> for Wanted {
    fn from(b: &PackBlob) -> Self {
        Wanted {
            id: b.id,
            offset: b.offset,
            length: b.length,
            slice: b.slice(),
        }
    }
}

/// Splits `wants` (sorted by offset) into runs fetched by one GET each:
/// (indexes into `wants`, byte range in the pack).
pub fn coalesce(wants: &[Wanted]) -> Vec<(Range<usize>, Range<u64>)> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < wants.len() {
        let range_start = wants[start].offset as u64;
        let mut range_end = wants[start].end();
        let mut end = start + 1;
        while end < wants.len() {
            let w = &wants[end];
            let off = w.offset as u64;
            // Only forward, close, and within the size bound.
            if off < range_start || off > range_end + MAX_GAP || w.end() > range_start + MAX_RANGE {
                break;
            }
            range_end = range_end.max(w.end());
            end += 1;
        }
        runs.push((start..end, range_start..range_end));
        start = end;
    }
    runs
}

/// The group a reader opened last: its offset in the pack, its plaintext.
type LastGroup = Option<(u32, Arc<Vec<u8>>)>;

/// The same error again, for each blob of a range that failed.
fn copy(e: &Error) -> Error {
    Error::new(e.kind(), e.to_string())
}

impl Repository {
    /// Reads `wants` (sorted by offset) from the pack at `key` and calls
    /// `each(i, blob)` for each in order; `each` returning an error stops
    /// the read with it. See the module documentation for errors. A group
    /// is opened once for its members among `wants` (which come together:
    /// they share an offset) and not kept after: a reader of whole packs
    /// (restore, prune) does not come back to it.
    pub fn read_pack_blobs(
        &self,
        key: &str,
        wants: &[Wanted],
        each: impl FnMut(usize, Result<Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        self.read_pack_blobs_keeping(key, wants, false, each)
    }

    /// [`read_pack_blobs`](Self::read_pack_blobs); with `keep`, groups are
    /// taken from and kept in the repository's group cache (for readers
    /// that come back to a group: a file at a time).
    fn read_pack_blobs_keeping(
        &self,
        key: &str,
        wants: &[Wanted],
        keep: bool,
        mut each: impl FnMut(usize, Result<Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        let mut last: LastGroup = None;
        for (blobs, range) in coalesce(wants) {
            // Groups opened lately need no GET.
            let kept: Option<Vec<_>> = wants[blobs.clone()]
                .iter()
                .map(|w| w.slice.and_then(|_| self.groups().get(key, w.offset)))
                .collect();
            if let Some(groups) = kept.filter(|_| keep) {
                for (i, group) in blobs.zip(groups) {
                    let w = &wants[i];
                    let what = format!("{key} (blob {})", w.id.short());
                    let slice = w.slice.expect("a grouped blob");
                    each(i, self.blob_in_group(&w.id, &group, slice, &what))?;
                }
                continue;
            }
            let bytes = match self.store().get(key, Some(range.clone())) {
                Ok(b) => b,
                Err(e) if matches!(e.kind(), Kind::NotFound | Kind::Corrupt) => {
                    for i in blobs {
                        each(i, Err(copy(&e)))?;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for i in blobs {
                let w = &wants[i];
                let at = (w.offset as u64 - range.start) as usize;
                let blob = match bytes.get(at..at + w.length as usize) {
                    Some(sealed) if w.slice.is_some() => {
                        let cache = if keep { Ok(()) } else { Err(&mut last) };
                        self.grouped(key, w, sealed, cache)
                    }
                    Some(sealed) => self.open_blob(&w.id, sealed, key),
                    None => Err(Error::corrupt(
                        format!("blob {} lies outside its pack", w.id.short()),
                        key,
                    )),
                };
                each(i, blob)?;
            }
        }
        Ok(())
    }

    /// A grouped blob: its group opened from `sealed`, unless it is the
    /// one opened `last` (`Err`: reading without the cache) or kept in the
    /// cache (`Ok`).
    fn grouped(
        &self,
        key: &str,
        w: &Wanted,
        sealed: &[u8],
        last: std::result::Result<(), &mut LastGroup>,
    ) -> Result<Vec<u8>> {
        let what = format!("{key} (blob {})", w.id.short());
        let group = match last {
            Ok(()) => self.group(key, w.offset, sealed)?,
            Err(last) => match last.as_ref().filter(|(at, _)| *at == w.offset) {
                Some((_, g)) => Arc::clone(g),
                None => {
                    let opened = Arc::new(self.open_unit(sealed, &what)?);
                    *last = Some((w.offset, Arc::clone(&opened)));
                    opened
                }
            },
        };
        self.blob_in_group(&w.id, &group, w.slice.expect("a grouped blob"), &what)
    }

    /// Reads the blobs `ids` in this order (a file's content), each checked,
    /// and hands them to `each`. Consecutive ids stored next to each other
    /// in one pack (as a file's chunks usually are) come in one ranged GET.
    /// Any error, a missing blob included, stops the read.
    pub fn read_blobs_in_order(
        &self,
        ids: &[BlobId],
        mut each: impl FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let mut start = 0;
        while start < ids.len() {
            // The run: ids in the same pack, each after the previous.
            let index = self.index();
            let locate = |id: &BlobId| {
                index
                    .get(id)
                    .ok_or_else(|| Error::at(Kind::NotFound, "blob is not in the index", id))
            };
            let (pack, first) = locate(&ids[start])?;
            let mut wants = vec![Wanted::at(ids[start], &first)];
            let mut end = start + 1;
            while end < ids.len() && end - start < 1024 {
                let Some((p, loc)) = index.get(&ids[end]) else {
                    break;
                };
                let last = wants[wants.len() - 1];
                let w = Wanted::at(ids[end], &loc);
                if p.id != pack.id
                    || !last.followed_by(&w)
                    || w.offset as u64 > last.end() + MAX_GAP
                    || w.end() > first.offset as u64 + MAX_RANGE
                {
                    break;
                }
                wants.push(w);
                end += 1;
            }
            drop(index);
            let key = pack::key(pack.kind, &pack.id);
            self.read_pack_blobs_keeping(&key, &wants, true, |_, blob| each(blob?))?;
            start = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(offset: u32, length: u32) -> Wanted {
        Wanted {
            id: BlobId([offset as u8; 32]),
            offset,
            length,
            slice: None,
        }
    }

    #[test]
    fn close_blobs_share_a_range_and_far_ones_do_not() {
        let mb = 1 << 20;
        let wants = [w(0, 100), w(200, 100), w(3 * mb, 100), w(3 * mb + 100, 50)];
        let runs = coalesce(&wants);
        assert_eq!(
            runs,
            [(0..2, 0..300), (2..4, 3 * mb as u64..3 * mb as u64 + 150)]
        );
    }

    #[test]
    fn a_range_stays_under_the_bound_unless_one_blob_is_longer() {
        let mb = 1u32 << 20;
        let wants = [w(0, 3 * mb), w(3 * mb, 2 * mb), w(5 * mb, 9 * mb)];
        let runs = coalesce(&wants);
        assert_eq!(runs.len(), 3, "{runs:?}");
        for (blobs, range) in runs {
            assert!(range.end - range.start <= MAX_RANGE || blobs.len() == 1);
        }
    }

    #[test]
    fn every_wanted_blob_is_in_exactly_one_run_in_order() {
        let wants: Vec<Wanted> = (0..200u32).map(|i| w(i * 70_000, 60_000)).collect();
        let runs = coalesce(&wants);
        let covered: Vec<usize> = runs.iter().flat_map(|(b, _)| b.clone()).collect();
        assert_eq!(covered, (0..200).collect::<Vec<_>>());
        for (blobs, range) in &runs {
            for i in blobs.clone() {
                assert!(range.start <= wants[i].offset as u64 && wants[i].end() <= range.end);
            }
        }
    }
}
