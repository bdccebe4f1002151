//! `--verify`: after a restore, read every restored file back and check it
//! against the snapshot.
//!
//! Input: the planned files (final paths, nodes, blob offsets and lengths).
//! Output: one failure per file that does not match.
//! Invariants: a file matches when its size is the node's, every content
//! blob's bytes at its offset hash (keyed, as in the repository) to the
//! blob's id, and everything between the blobs (the holes) reads as zeros.
//! Files run in parallel; nothing is written.

use super::Failed;
use super::dirs::Dirs;
use super::plan::PlannedFile;
use crate::error::parallel;
use crate::error::{Error, Kind, Result};
use crate::fs::at::open_beneath;
use crate::repo::Repository;
use rustix::fs::{Mode, OFlags, SeekFrom};
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

/// Checks every file of `files` not in `skip` (those already reported).
pub fn verify(
    repo: &Repository,
    dirs: &Dirs,
    files: &[PlannedFile],
    skip: &HashSet<PathBuf>,
    threads: usize,
) -> Vec<Failed> {
    let failed = Mutex::new(Vec::new());
    parallel(threads, files.len(), |i| {
        let f = &files[i];
        if skip.contains(&f.path) {
            return;
        }
        if let Err(error) = verify_file(repo, dirs, f) {
            failed.lock().expect("poisoned").push(Failed {
                path: f.path.clone(),
                error,
            });
        }
    });
    failed.into_inner().expect("poisoned")
}

fn mismatch(f: &PlannedFile, what: String) -> Error {
    Error::at(
        Kind::Corrupt,
        format!("verify failed: {what}"),
        f.path.display(),
    )
}

fn verify_file(repo: &Repository, dirs: &Dirs, f: &PlannedFile) -> Result<()> {
    let io = |e: std::io::Error| Error::io("cannot verify", f.path.display(), e);
    let dir = dirs.get(f.dir).map_err(io)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK;
    let file = File::from(open_beneath(dir.fd(), f.name(), flags, Mode::empty()).map_err(io)?);
    let zero_err = |e: std::result::Result<u64, std::io::Error>| match e {
        Ok(at) => mismatch(f, format!("byte {at} should be zero (a hole)")),
        Err(e) => io(e),
    };
    let size = file.metadata().map_err(io)?.len();
    if size != f.node.size {
        return Err(mismatch(
            f,
            format!("size {size}, snapshot has {}", f.node.size),
        ));
    }
    let mut buf = Vec::new();
    let mut pos = 0u64;
    for ((id, &offset), &len) in f.node.content.iter().zip(&f.offsets).zip(&f.lengths) {
        zeros_between(&file, pos, offset).map_err(zero_err)?;
        buf.resize(len as usize, 0);
        file.read_exact_at(&mut buf, offset).map_err(io)?;
        if repo.key().blob_id(&buf) != *id {
            return Err(mismatch(
                f,
                format!(
                    "bytes {offset}..{} differ from blob {}",
                    offset + len,
                    id.short()
                ),
            ));
        }
        pos = offset + len;
    }
    zeros_between(&file, pos, size).map_err(zero_err)
}

/// Checks that `start..end` of `file` reads as zeros, reading only the data
/// regions there (holes are zeros). `Err(Ok(offset))`: a non-zero byte.
fn zeros_between(
    file: &File,
    start: u64,
    end: u64,
) -> std::result::Result<(), std::result::Result<u64, std::io::Error>> {
    let mut pos = start;
    let mut buf = vec![0u8; 1 << 20];
    while pos < end {
        pos = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(p) => p,
            Err(rustix::io::Errno::NXIO) => return Ok(()),
            Err(_) => pos, // no SEEK_DATA: read it all
        };
        if pos >= end {
            return Ok(());
        }
        let n = ((end - pos) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], pos).map_err(Err)?;
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Err(Ok(pos + i as u64));
        }
        pos += n as u64;
    }
    Ok(())
}
