//! An image snapshot back onto a file (sparse: zero chunks stay holes), a
//! block device (refused when it is in use or smaller than the image;
//! zero chunks written as zeros) or stdout (the raw image, for tools that
//! upload one); then, with `verify`, read back and checked chunk by chunk
//! against the blob ids.

use super::source::device_size;
use crate::error::{Error, Kind, Result};
use crate::format::snapshot::ImageInfo;
use crate::format::tree::{Node, NodeKind};
use crate::id::BlobId;
use crate::repo::{Repository, SnapshotRef};
use crate::restore::blob_offsets;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct ImageRestoreOptions {
    /// A file, a block device, or `-` for stdout.
    pub to: PathBuf,
    /// Read back and check every chunk.
    pub verify: bool,
    /// Replace an existing file.
    pub force: bool,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImageRestoreResult {
    pub size: u64,
    /// Bytes of data chunks written.
    pub bytes_written: u64,
    /// Bytes of zero chunks (holes in a file, zeros on a device).
    pub zero_bytes: u64,
    pub device: bool,
    pub verified: bool,
}

/// The image's file and what the snapshot says of it.
pub(crate) fn image_file(repo: &Repository, s: &SnapshotRef) -> Result<(ImageInfo, Node)> {
    let info = s.snapshot.image.clone().ok_or_else(|| {
        Error::invalid("not an image snapshot (made by `coffer image backup`)").with_location(s.id)
    })?;
    let tree = repo.read_tree(&s.snapshot.tree)?;
    match tree.nodes.into_iter().next() {
        Some(n) if n.kind == NodeKind::File && n.size == info.size => Ok((info, n)),
        _ => Err(Error::corrupt(
            "an image snapshot without its image file",
            s.id,
        )),
    }
}

/// The size of each blob of `node`, from the index.
fn lengths(repo: &Repository, ids: &[BlobId]) -> Result<Vec<u64>> {
    let index = repo.index();
    ids.iter()
        .map(|id| {
            index
                .get(id)
                .map(|(_, loc)| loc.raw_length as u64)
                .ok_or_else(|| Error::at(Kind::NotFound, "blob is not in the index", id))
        })
        .collect()
}

/// Opens the target: the file to write, and for a file (not a device)
/// the temporary name it has until it is complete.
fn open_target(to: &Path, size: u64, force: bool) -> Result<(File, Option<PathBuf>)> {
    let shown = to.display();
    match std::fs::metadata(to) {
        Ok(m) if m.file_type().is_block_device() => {
            // O_EXCL on a block device: refused while it is mounted or
            // otherwise held (EBUSY).
            let f = OpenOptions::new()
                .write(true)
                .read(true)
                .custom_flags(libc::O_EXCL)
                .open(to)
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::EBUSY) => Error::invalid("the device is in use (mounted, or held by another program): not overwritten").with_location(&shown),
                    _ => Error::io("cannot open device", &shown, e),
                })?;
            let have =
                device_size(&f).map_err(|e| Error::io("cannot size the device", &shown, e))?;
            if have < size {
                return Err(Error::invalid(format!(
                    "the device holds {have} bytes, the image {size}: not written"
                ))
                .with_location(&shown));
            }
            Ok((f, None))
        }
        Ok(m) if m.is_file() && !force => Err(Error::invalid(
            "the file exists (give --force to replace it)",
        )
        .with_location(&shown)),
        Ok(m) if !m.is_file() => {
            Err(Error::invalid("not a file or a block device").with_location(&shown))
        }
        _ => {
            // Written under a temporary name nobody can predict or plant
            // (as archives are), renamed over `to` once complete.
            let (f, temp) = crate::archive::sink::create_temp(to)?;
            // The same file again, readable too (for --verify), without
            // going back to its name.
            use std::os::fd::AsRawFd;
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
                .map_err(|e| Error::io("cannot reopen", temp.display(), e))?;
            if let Err(e) = f.set_len(size) {
                let _ = std::fs::remove_file(&temp);
                return Err(Error::io("cannot size", &shown, e));
            }
            Ok((f, Some(temp)))
        }
    }
}

/// Writes the image of `s` to `opts.to`.
pub fn image_restore(
    repo: &Repository,
    s: &SnapshotRef,
    opts: &ImageRestoreOptions,
) -> Result<ImageRestoreResult> {
    let (info, node) = image_file(repo, s)?;
    let lengths = lengths(repo, &node.content)?;
    let zero_bytes: u64 = node.holes.iter().map(|h| h.1).sum();
    let mut result = ImageRestoreResult {
        size: info.size,
        bytes_written: lengths.iter().sum(),
        zero_bytes,
        ..Default::default()
    };
    if opts.to.as_os_str() == "-" {
        to_stdout(repo, &node, &lengths)?;
        return Ok(result);
    }
    let (file, temp) = open_target(&opts.to, info.size, opts.force)?;
    let device = temp.is_none();
    result.device = device;
    let offsets = blob_offsets(&node, &lengths);
    let written = (|| {
        write_blobs(repo, &file, &node.content, &offsets, &opts.to)?;
        finish(repo, &file, (&node, device), (&offsets, &lengths), opts)
    })();
    match (written, temp) {
        (Err(e), Some(temp)) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
        (Err(e), None) => Err(e),
        (Ok(verified), temp) => {
            if let Some(temp) = temp {
                std::fs::rename(&temp, &opts.to)
                    .map_err(|e| Error::io("cannot rename into place", opts.to.display(), e))?;
            }
            result.verified = verified;
            Ok(result)
        }
    }
}

/// After the blobs: zeros over the holes of a device, sync, and the
/// read-back check; whether it was checked.
fn finish(
    repo: &Repository,
    file: &File,
    (node, device): (&Node, bool),
    (offsets, lengths): (&[u64], &[u64]),
    opts: &ImageRestoreOptions,
) -> Result<bool> {
    if device {
        let zeros = vec![0u8; 1 << 20];
        for &(off, len) in &node.holes {
            let mut at = off;
            while at < off + len {
                let n = (off + len - at).min(zeros.len() as u64) as usize;
                file.write_all_at(&zeros[..n], at)
                    .map_err(|e| Error::io("cannot write", opts.to.display(), e))?;
                at += n as u64;
            }
        }
    }
    file.sync_all()
        .map_err(|e| Error::io("cannot sync", opts.to.display(), e))?;
    if opts.verify {
        verify(repo, file, (node, device), (offsets, lengths), &opts.to)?;
    }
    Ok(opts.verify)
}

/// Writes the blobs at their offsets, a share of them per thread, each
/// share read in order (consecutive blobs in one ranged GET).
fn write_blobs(
    repo: &Repository,
    file: &File,
    ids: &[BlobId],
    offsets: &[u64],
    to: &Path,
) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let share = ids.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .chunks(share)
            .zip(offsets.chunks(share))
            .map(|(ids, offsets)| {
                scope.spawn(move || {
                    let mut k = 0;
                    repo.read_blobs_in_order(ids, |blob| {
                        file.write_all_at(&blob, offsets[k])
                            .map_err(|e| Error::io("cannot write", to.display(), e))?;
                        k += 1;
                        Ok(())
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("an image writer panicked"))
    })
}

/// The raw image on stdout: blobs in order, zeros for the holes.
fn to_stdout(repo: &Repository, node: &Node, lengths: &[u64]) -> Result<()> {
    let offsets = blob_offsets(node, lengths);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out.lock());
    let zeros = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    let fill = |out: &mut std::io::BufWriter<_>, to: u64, pos: &mut u64| -> Result<()> {
        while *pos < to {
            let n = (to - *pos).min(zeros.len() as u64) as usize;
            out.write_all(&zeros[..n])
                .map_err(|e| Error::io("cannot write", "stdout", e))?;
            *pos += n as u64;
        }
        Ok(())
    };
    let mut k = 0;
    repo.read_blobs_in_order(&node.content, |blob| {
        fill(&mut out, offsets[k], &mut pos)?;
        out.write_all(&blob)
            .map_err(|e| Error::io("cannot write", "stdout", e))?;
        pos += blob.len() as u64;
        k += 1;
        Ok(())
    })?;
    fill(&mut out, node.size, &mut pos)?;
    out.flush()
        .map_err(|e| Error::io("cannot write", "stdout", e))
}

/// Reads the target back: each blob's bytes must hash to its id, each
/// hole must read as zeros.
fn verify(
    repo: &Repository,
    file: &File,
    (node, device): (&Node, bool),
    (offsets, lengths): (&[u64], &[u64]),
    to: &Path,
) -> Result<()> {
    let shown = to.display();
    let mut buf = Vec::new();
    for ((id, &at), &len) in node.content.iter().zip(offsets).zip(lengths) {
        buf.resize(len as usize, 0);
        file.read_exact_at(&mut buf, at)
            .map_err(|e| Error::io("cannot read back", &shown, e))?;
        if repo.key().blob_id(&buf) != *id {
            return Err(Error::corrupt(
                format!("bytes at offset {at} differ from the snapshot's after writing"),
                &shown,
            ));
        }
    }
    // In a file, only what is data inside a hole needs reading: a hole of
    // the file reads as zeros by definition.
    let data = match device {
        true => vec![(0, node.size)],
        false => crate::fs::sparse::data_regions(file)
            .map_err(|e| Error::io("cannot find the holes of", &shown, e))?,
    };
    for &(off, len) in &node.holes {
        for &(d, dl) in &data {
            let (from, to) = (off.max(d), (off + len).min(d + dl));
            let mut at = from;
            while at < to {
                let n = (to - at).min(1 << 20) as usize;
                buf.resize(n, 0);
                file.read_exact_at(&mut buf, at)
                    .map_err(|e| Error::io("cannot read back", &shown, e))?;
                if !super::all_zero(&buf) {
                    return Err(Error::corrupt(
                        format!("bytes at offset {at} should be zeros"),
                        &shown,
                    ));
                }
                at += n as u64;
            }
        }
    }
    Ok(())
}
