//! Image backups: a block device or a disk image file becomes a snapshot
//! holding one file, the image, cut into fixed aligned chunks that go
//! through the same blob writer as file backups (so they deduplicate with
//! earlier images, other hosts and file backups). A chunk of zeros is not
//! stored: it is a hole of that file, so a restore to a file is sparse.
//! A second backup reads the whole source again but stores only the chunks
//! that changed; the holes of an image file (`SEEK_HOLE`) are not read.
//!
//! Input: a source path. Output: a snapshot whose `image` field says what
//! was read (FORMAT.md §11). Restore, verify and diff are in
//! [`restore`] and [`diff`].

pub mod diff;
mod freeze;
mod lvm;
pub mod restore;
mod source;

use crate::backup::BackupResult;
use crate::blob::BlobWriter;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::snapshot::{ImageInfo, Snapshot, Summary};
use crate::format::tree::{Node, NodeKind, Tree, valid_name};
use crate::fs::Owners;
use crate::id::BlobId;
use crate::repo::Repository;
use crate::store::{RequestLog, StorageClass};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

pub use freeze::Frozen;
pub use lvm::LvmSnapshot;
pub use source::Source;

/// Set by Ctrl-C or SIGTERM during an image backup: the readers stop, the
/// file system is thawed and the LVM snapshot removed before coffer exits.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Ctrl-C, SIGTERM and SIGHUP stop the read instead of the process, so the
/// guards (thaw, snapshot removal) always run.
fn stop_on_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { libc::signal(sig, handler) };
    }
}

/// Chunk size unless asked otherwise: large enough that a 1 TiB volume is
/// a million blobs, small enough that a changed block costs little.
pub const DEFAULT_CHUNK: u32 = 1 << 20;

#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub source: PathBuf,
    pub host: String,
    pub user: String,
    pub tags: Vec<String>,
    /// Power of two, 64 KiB to 16 MiB.
    pub chunk_size: u32,
    /// `fsfreeze` this mount point while reading (the file system on the
    /// source), thawed whatever happens.
    pub freeze: Option<PathBuf>,
    /// Read an LVM snapshot of this `VG/LV` (made and removed here)
    /// instead of `source`.
    pub lvm_snapshot: Option<String>,
    pub connections: usize,
    pub data_storage_class: StorageClass,
    pub archive_pack_size: usize,
    pub requests: Option<Arc<RequestLog>>,
}

/// Checks a `--chunk-size`.
pub fn check_chunk_size(n: u64) -> Result<u32> {
    if n.is_power_of_two() && (64 << 10..=16 << 20).contains(&n) {
        Ok(n as u32)
    } else {
        Err(Error::invalid(
            "the chunk size must be a power of two from 64K to 16M",
        ))
    }
}

/// Whether `b` holds only zeros (compared a page at a time: memcmp speed).
fn all_zero(b: &[u8]) -> bool {
    static ZERO: [u8; 4096] = [0; 4096];
    b.chunks(4096).all(|c| c == &ZERO[..c.len()])
}

/// Reads the chunks of `src` on several threads, storing the non-zero ones.
/// Returns one entry per chunk: its blob, or none for zeros.
fn read_chunks(
    src: &Source,
    writer: &BlobWriter,
    chunk: u64,
    threads: usize,
) -> Result<Vec<Option<BlobId>>> {
    let count = src.size.div_ceil(chunk) as usize;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<(usize, BlobId)>> {
                    let mut out = Vec::new();
                    let mut buf = vec![0u8; chunk as usize];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count || failed.load(Ordering::Relaxed) {
                            return Ok(out);
                        }
                        if STOP.load(Ordering::Relaxed) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(Error::fatal("interrupted: no snapshot saved"));
                        }
                        let at = i as u64 * chunk;
                        let len = chunk.min(src.size - at) as usize;
                        if !src.has_data(at, len as u64) {
                            continue;
                        }
                        let read = src.read_at(&mut buf[..len], at);
                        let stored = read.and_then(|()| match all_zero(&buf[..len]) {
                            true => Ok(None),
                            false => writer
                                .add(BlobKind::Data, &buf[..len])
                                .map(|(id, _)| Some(id)),
                        });
                        match stored {
                            Ok(Some(id)) => out.push((i, id)),
                            Ok(None) => {}
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("an image reader panicked"))
            .collect::<Vec<_>>()
    });
    let mut chunks = vec![None; count];
    for r in results {
        for (i, id) in r? {
            chunks[i] = Some(id);
        }
    }
    Ok(chunks)
}

/// The image as a file node: its non-zero chunks as content, runs of zero
/// chunks as holes.
pub(crate) fn image_node(name: Vec<u8>, size: u64, chunk: u64, chunks: &[Option<BlobId>]) -> Node {
    let mut node = Node {
        name,
        kind: NodeKind::File,
        mode: 0o600,
        size,
        links: 1,
        ..Node::default()
    };
    for (i, c) in chunks.iter().enumerate() {
        let at = i as u64 * chunk;
        let len = chunk.min(size - at);
        match c {
            Some(id) => node.content.push(*id),
            None => match node.holes.last_mut() {
                Some(h) if h.0 + h.1 == at => h.1 += len,
                _ => node.holes.push((at, len)),
            },
        }
    }
    node
}

/// The name of the image's file in the snapshot: the source's file name.
fn file_name(source: &std::path::Path) -> Result<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let name = source
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"image".to_vec());
    match valid_name(&name) {
        true => Ok(name),
        false => {
            Err(Error::invalid("the source has no usable file name")
                .with_location(source.display()))
        }
    }
}

/// Backs up the image at `opts.source` into a new snapshot.
pub fn image_backup(repo: Arc<Repository>, opts: &ImageOptions) -> Result<BackupResult> {
    let started = Instant::now();
    let time = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    stop_on_signals();
    let name = file_name(&opts.source)?;
    let lvm = match &opts.lvm_snapshot {
        Some(vg_lv) => Some(LvmSnapshot::create(vg_lv)?),
        None => None,
    };
    let src = Source::open(lvm.as_ref().map_or(&opts.source, |l| &l.device))?;
    let writer = BlobWriter::with_archive_pack_size(
        Arc::clone(&repo),
        opts.connections.max(1),
        opts.data_storage_class,
        opts.archive_pack_size,
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let chunk = opts.chunk_size as u64;
    let chunks = {
        let _frozen = match &opts.freeze {
            Some(m) => Some(Frozen::freeze(m)?),
            None => None,
        };
        read_chunks(&src, &writer, chunk, threads)?
        // thawed here, before anything else can fail
    };
    let size = src.size;
    drop(src);
    drop(lvm); // removed before the snapshot is saved
    let mut file = image_node(name, size, chunk, &chunks);
    let owners = Owners::new();
    let (uid, gid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    file.uid = uid;
    file.gid = gid;
    file.user = owners.user_name(uid);
    file.group = owners.group_name(gid);
    file.mtime = time;
    file.ctime = time;
    let stored_bytes: u64 = chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_some())
        .map(|(i, _)| chunk.min(size - i as u64 * chunk))
        .sum();
    let tree = Tree::new(vec![file]).encode_checked(&opts.source.display().to_string())?;
    let (root, _) = writer.add(BlobKind::Tree, &tree)?;
    let source = opts.source.display().to_string();
    let snapshot = Snapshot {
        version: crate::format::FORMAT_VERSION,
        time,
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths: vec![source.clone()],
        tags: opts.tags.clone(),
        tree: root.tree(),
        parent: None,
        excludes: Vec::new(),
        program_version: crate::VERSION.to_string(),
        summary: Summary {
            files_new: 1,
            total_bytes: size,
            bytes_read: stored_bytes,
            ..Summary::default()
        },
        original: None,
        image: Some(ImageInfo {
            source,
            size,
            chunk_size: opts.chunk_size,
        }),
    };
    let (id, snapshot) = crate::blob::save_snapshot(
        &repo,
        writer,
        snapshot,
        started,
        (opts.requests.as_deref(), opts.data_storage_class),
        &crate::progress::NoProgress,
    )?;
    Ok(BackupResult {
        id,
        snapshot,
        parent: None,
        skipped: Vec::new(),
        changed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_chunks_become_holes_and_runs_merge() {
        let id = |b: u8| Some(BlobId([b; 32]));
        let n = image_node(
            b"d".to_vec(),
            10 * 4 + 3,
            4,
            &[
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
            ],
        );
        assert_eq!(n.content.len(), 4);
        assert_eq!(n.holes, vec![(4, 8), (16, 4), (28, 15)]);
        let lengths = vec![4, 4, 4, 4];
        assert_eq!(
            crate::restore::blob_offsets(&n, &lengths),
            vec![0, 12, 20, 24]
        );
    }

    #[test]
    fn chunk_sizes_are_checked() {
        assert!(check_chunk_size(1 << 20).is_ok());
        assert!(check_chunk_size(3 << 20).is_err());
        assert!(check_chunk_size(32 << 20).is_err());
        assert!(check_chunk_size(4096).is_err());
        assert!(all_zero(&[0; 10000]) && !all_zero(&[0, 0, 1]));
    }
}
