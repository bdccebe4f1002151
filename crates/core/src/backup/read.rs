//! Stage 2: read, chunk, hash, and hand each chunk to the blob writer
//! (which dedups, compresses, encrypts and packs). Runs on `threads` workers.

use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::Error;
use crate::format::pack::BlobKind;
use crate::format::tree::Node;
use crate::id::BlobId;
use crossbeam_channel::{Receiver, Sender};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct FileJob {
    pub path: PathBuf,
    /// The metadata read by the walker (before reading the content).
    pub node: Node,
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
    pub bytes_read: u64,
    /// Size, mtime or ctime differed after reading: the file changed meanwhile.
    pub changed_while_reading: bool,
}

/// Runs one reader: takes jobs until the channel closes.
pub fn reader_loop(jobs: &Receiver<FileJob>, writer: &BlobWriter, chunker: &Chunker) {
    for job in jobs.iter() {
        let r = read_file(&job.path, &job.node, writer, chunker);
        let _ = job.result.send(r);
    }
}

fn open_noatime(path: &Path) -> std::io::Result<File> {
    // O_NOATIME keeps a backup from touching atimes; only the owner (or
    // root) may use it, so fall back to a plain open.
    let flags = libc::O_NOFOLLOW | libc::O_NOATIME;
    OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .or_else(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
        })
}

fn read_file(
    path: &Path,
    node: &Node,
    writer: &BlobWriter,
    chunker: &Chunker,
) -> Result<FileRead, FileError> {
    let unreadable = FileError::Unreadable;
    let file =
        open_noatime(path).map_err(|e| unreadable(Error::io("cannot open", path.display(), e)))?;
    let mut content = Vec::new();
    let mut bytes_read = 0u64;
    let mut repo_error = None;
    let chunked = chunker.chunks(&file, node.size, &path.display(), &mut |chunk| {
        bytes_read += chunk.len() as u64;
        match writer.add(BlobKind::Data, &chunk) {
            Ok((id, _)) => {
                content.push(id);
                Ok(())
            }
            Err(e) => {
                let stop = Error::fatal("stopped by a repository error");
                repo_error = Some(e);
                Err(stop)
            }
        }
    });
    if let Err(e) = chunked {
        return Err(match repo_error {
            Some(re) => FileError::Repository(re),
            None => unreadable(e),
        });
    }
    let after = file
        .metadata()
        .map_err(|e| unreadable(Error::io("cannot stat", path.display(), e)))?;
    let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
    let changed_while_reading = after.size() != bytes_read
        || ns(after.mtime(), after.mtime_nsec()) != node.mtime
        || ns(after.ctime(), after.ctime_nsec()) != node.ctime;
    Ok(FileRead {
        content,
        bytes_read,
        changed_while_reading,
    })
}
