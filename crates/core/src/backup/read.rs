//! Stage 2: read, chunk, hash, and hand each chunk to the blob writer
//! (which dedups, compresses, encrypts and packs). Runs on `threads` workers.
//!
//! Input: files the walker opened, with the metadata it read. Output: the
//! content blob ids in order, the holes, and whether the file changed while
//! it was read.
//! Invariants: a file whose allocated blocks are fewer than its size is read
//! region by region (SEEK_DATA/SEEK_HOLE): holes are recorded, not read, and
//! each data region is chunked on its own, so no blob spans a hole and the
//! blobs, placed one after another skipping the holes, rebuild the file.
//! The recorded holes and size always agree with what was actually read.

use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::tree::Node;
use crate::fs::sparse;
use crate::id::BlobId;
use crate::progress::Progress;
use crossbeam_channel::{Receiver, Sender};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct FileJob {
    /// Opened by the walker (through its directory, so any depth works).
    pub file: File,
    pub path: PathBuf,
    /// The metadata read by the walker (before reading the content).
    pub node: Node,
    /// Allocated bytes at that time (fewer than the size: maybe sparse).
    pub allocated: u64,
    pub result: Sender<Result<FileRead, FileError>>,
}

/// Why a file could not be stored: the file's fault (the backup goes on
/// without it) or the repository's (the backup stops).
pub enum FileError {
    Unreadable(Error),
    Repository(Error),
}

pub struct FileRead {
    pub content: Vec<BlobId>,
    /// Holes as (offset, length), sorted; empty for a dense file.
    pub holes: Vec<(u64, u64)>,
    /// Apparent size: data read plus holes.
    pub size: u64,
    pub bytes_read: u64,
    /// Size, mtime or ctime differed after reading: the file changed meanwhile.
    pub changed_while_reading: bool,
}

/// Runs one reader: takes jobs until the channel closes.
pub fn reader_loop(
    jobs: &Receiver<FileJob>,
    writer: &BlobWriter,
    chunker: &Chunker,
    progress: &dyn Progress,
) {
    for job in jobs.iter() {
        let counted = Counted {
            inner: progress,
            bytes: AtomicU64::new(0),
        };
        let r = read_file(&job, writer, chunker, &counted);
        // Whether read or not, what it reported while reading now goes:
        // a read file counts through entry_done, a failed one not at all.
        progress.reading_done(counted.bytes.load(Ordering::Relaxed));
        let _ = job.result.send(r);
    }
}

/// Passes `reading` on, and counts it, for one file.
struct Counted<'a> {
    inner: &'a dyn Progress,
    bytes: AtomicU64,
}

impl Progress for Counted<'_> {
    fn reading(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.reading(bytes);
    }
}

/// Chunks what `reader` yields into blobs, appending their ids to `content`.
fn store(
    reader: impl Read,
    len: u64,
    path: &Path,
    (writer, chunker, progress): (&BlobWriter, &Chunker, &dyn Progress),
    content: &mut Vec<BlobId>,
) -> Result<u64, FileError> {
    let mut read = 0u64;
    let mut repo_error = None;
    let chunked = chunker.chunks(reader, len, &path.display(), &mut |chunk| {
        read += chunk.len() as u64;
        progress.reading(chunk.len() as u64);
        match writer.add(BlobKind::Data, &chunk) {
            Ok((id, _)) => {
                content.push(id);
                Ok(())
            }
            Err(e) => {
                repo_error = Some(e);
                Err(Error::fatal("stopped by a repository error"))
            }
        }
    });
    match (chunked, repo_error) {
        (Ok(()), _) => Ok(read),
        (Err(_), Some(re)) => Err(FileError::Repository(re)),
        (Err(e), None) => Err(FileError::Unreadable(e)),
    }
}

fn read_file(
    job: &FileJob,
    writer: &BlobWriter,
    chunker: &Chunker,
    progress: &dyn Progress,
) -> Result<FileRead, FileError> {
    let parts = (writer, chunker, progress);
    let (file, path, node) = (&job.file, job.path.as_path(), &job.node);
    let unreadable = |what: &str, e| FileError::Unreadable(Error::io(what, path.display(), e));
    let mut content = Vec::new();
    let mut bytes_read = 0u64;
    let mut holes = Vec::new();
    let size;
    let regions = if sparse::may_have_holes(node.size, job.allocated) {
        Some(sparse::data_regions(file).map_err(|e| unreadable("cannot find holes in", e))?)
    } else {
        None
    };
    match regions {
        Some(regions) if regions != [(0, node.size)] => {
            // What was read, as regions: a region that came up short (the
            // file shrank) leaves a hole where its missing bytes were.
            let mut read_regions = Vec::with_capacity(regions.len());
            for (offset, len) in regions {
                let mut f = file;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| unreadable("cannot read", e))?;
                let n = store(f.take(len), len, path, parts, &mut content)?;
                read_regions.push((offset, n));
                bytes_read += n;
            }
            let end = read_regions.last().map_or(0, |&(o, n)| o + n);
            size = node.size.max(end);
            holes = sparse::holes(&read_regions, size);
        }
        _ => {
            bytes_read = store(file, node.size, path, parts, &mut content)?;
            size = bytes_read;
        }
    }
    let after = file.metadata().map_err(|e| unreadable("cannot stat", e))?;
    let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
    let changed_while_reading = after.size() != size
        || ns(after.mtime(), after.mtime_nsec()) != node.mtime
        || ns(after.ctime(), after.ctime_nsec()) != node.ctime;
    Ok(FileRead {
        content,
        holes,
        size,
        bytes_read,
        changed_while_reading,
    })
}
