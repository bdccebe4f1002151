//! Sparse files: where the data of a file is, and writing data so that
//! zeros stay holes.
//!
//! Input: an open regular file. Output: its data regions as (offset,
//! length), found with SEEK_DATA/SEEK_HOLE; or a buffer written at an
//! offset without its all-zero blocks.
//! Invariants: regions are sorted, disjoint and separated by holes of at
//! least [`MIN_HOLE`] bytes (smaller holes are read as zeros: tiny data
//! regions would make tiny chunks that dedup badly, and restore leaves
//! their zeros unwritten anyway); a file whose filesystem cannot tell
//! holes is one region.

use rustix::fs::SeekFrom;
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Holes shorter than this are read and stored as data.
pub const MIN_HOLE: u64 = 64 << 10;
/// The unit of zero detection when writing: a filesystem block on every
/// common Linux filesystem, so each skipped block stays unallocated.
const BLOCK: u64 = 4096;

/// Whether a file of `size` bytes with `allocated` bytes on disk may have
/// holes worth finding (only then is SEEK_DATA asked).
pub fn may_have_holes(size: u64, allocated: u64) -> bool {
    allocated < size && size >= MIN_HOLE
}

/// The data regions of `file`, up to its current end.
pub fn data_regions(file: &File) -> io::Result<Vec<(u64, u64)>> {
    let mut regions: Vec<(u64, u64)> = Vec::new();
    let mut pos = 0u64;
    loop {
        let start = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(s) => s,
            // No data after `pos`: the rest is a hole.
            Err(Errno::NXIO) => break,
            // No SEEK_DATA here: all of it is data.
            Err(Errno::INVAL) | Err(Errno::OPNOTSUPP) if pos == 0 => {
                let len = file.metadata()?.len();
                return Ok(if len == 0 { Vec::new() } else { vec![(0, len)] });
            }
            Err(e) => return Err(e.into()),
        };
        let end = rustix::fs::seek(file, SeekFrom::Hole(start))?;
        if end <= start {
            break;
        }
        match regions.last_mut() {
            Some((s, l)) if start - (*s + *l) < MIN_HOLE => *l = end - *s,
            // A short hole at the start is read as data too.
            None if start < MIN_HOLE => regions.push((0, end)),
            _ => regions.push((start, end - start)),
        }
        pos = end;
    }
    Ok(regions)
}

/// The holes of a file of `size` bytes whose data is `regions`.
pub fn holes(regions: &[(u64, u64)], size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &(off, len) in regions {
        if off > pos {
            out.push((pos, off - pos));
        }
        pos = pos.max(off + len);
    }
    if size > pos {
        out.push((pos, size - pos));
    }
    out
}

/// Writes `data` at `offset` of a file that is a hole there (new, or just
/// truncated), leaving its all-zero blocks unwritten so they stay holes.
/// Returns where the last byte it wrote ends (`offset` if none): past it,
/// the file is as long as it was.
pub fn write_sparse(file: &File, offset: u64, data: &[u8]) -> io::Result<u64> {
    let end = offset + data.len() as u64;
    let mut pos = offset;
    // Start of a run of non-zero blocks not yet written.
    let mut run: Option<u64> = None;
    let mut written_end = offset;
    while pos < end {
        // Block boundaries in file coordinates, so skipped blocks are whole.
        let next = ((pos / BLOCK + 1) * BLOCK).min(end);
        let block = &data[(pos - offset) as usize..(next - offset) as usize];
        let zero = block.iter().all(|&b| b == 0);
        match (zero, run) {
            (false, None) => run = Some(pos),
            (true, Some(s)) => {
                file.write_all_at(&data[(s - offset) as usize..(pos - offset) as usize], s)?;
                written_end = pos;
                run = None;
            }
            _ => {}
        }
        pos = next;
    }
    match run {
        Some(s) => {
            file.write_all_at(&data[(s - offset) as usize..], s)?;
            Ok(end)
        }
        None => Ok(written_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn holes_are_the_complement_of_regions() {
        assert_eq!(holes(&[], 10), vec![(0, 10)]);
        assert_eq!(holes(&[(0, 10)], 10), vec![]);
        assert_eq!(
            holes(&[(5, 5), (20, 5)], 30),
            vec![(0, 5), (10, 10), (25, 5)]
        );
    }

    #[test]
    fn finds_data_regions_and_writes_zeros_as_holes() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        let f = File::create(&p).unwrap();
        f.set_len(16 << 20).unwrap();
        f.write_all_at(&[1u8; 8192], 4 << 20).unwrap();
        f.write_all_at(&[2u8; 100], 12 << 20).unwrap();
        let f = File::open(&p).unwrap();
        let md = f.metadata().unwrap();
        assert!(may_have_holes(md.len(), md.blocks() * 512));
        let r = data_regions(&f).unwrap();
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].0 <= 4 << 20 && r[0].0 + r[0].1 >= (4 << 20) + 8192);
        assert_eq!(holes(&r, 16 << 20).len(), 3);

        // Zeros inside data are not written: the copy allocates less.
        let q = tmp.path().join("g");
        let g = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&q)
            .unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[5000] = 7;
        data[900_000] = 9;
        write_sparse(&g, 3, &data).unwrap();
        g.set_len(3 + (1 << 20)).unwrap();
        assert!(g.metadata().unwrap().blocks() * 512 <= 4 * BLOCK);
        let mut back = vec![0u8; data.len()];
        g.read_exact_at(&mut back, 3).unwrap();
        assert_eq!(back, data);
    }
}
