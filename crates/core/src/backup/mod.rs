//! Backup: a directory tree becomes a snapshot.
//!
//! ```text
//! scan (lister threads: list directories, lstat, xattrs, parent trees)
//!   → walk (one thread, tree order, compares with the parent snapshot)
//!   → read + chunk + hash (reader threads) → blob writer (dedup, zstd, AEAD, pack, upload)
//!   → tree builder (this thread: trees bottom-up, in walk order)
//!   → writer.finish() (packs + index stored) → snapshot saved last
//! ```
//! Bounded channels join the stages, so memory does not grow with the size
//! of the tree. A file that cannot be read is left out and reported; the
//! snapshot is still written and the result says it is incomplete.

mod read;
mod scan;
mod stream;
mod tree;
mod walk;
mod warm;

pub use stream::{StreamOptions, backup_stream};
pub use tree::Skipped;
pub use warm::WarmUp;

use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::Result;
use crate::format::snapshot::{Snapshot, Summary};
use crate::format::tree::Tree;
use crate::fs::{Excludes, Owners};
use crate::id::{SnapshotId, TreeId};
use crate::progress::Progress;
use crate::repo::{Repository, SnapshotFilter, SnapshotRef};
use crate::store::{RequestLog, StorageClass};
use crossbeam_channel::bounded;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Absolute paths to back up.
    pub paths: Vec<PathBuf>,
    pub host: String,
    pub user: String,
    pub tags: Vec<String>,
    pub excludes: Vec<String>,
    /// Paths never backed up (the repository itself, when it is local).
    pub exclude_paths: Vec<PathBuf>,
    /// Directories holding a file of one of these names keep only that file.
    pub exclude_if_present: Vec<String>,
    /// Directories holding a valid CACHEDIR.TAG keep only that file.
    pub exclude_caches: bool,
    /// The parent snapshot; `None` picks the latest of the same host and paths.
    pub parent: Option<SnapshotId>,
    /// Read every file even if the parent says it is unchanged.
    pub force: bool,
    pub one_file_system: bool,
    /// Reader threads (chunk, hash, compress, encrypt).
    pub threads: usize,
    /// Concurrent uploads.
    pub connections: usize,
    pub data_storage_class: StorageClass,
    /// Where the store counts its requests: recorded in the snapshot.
    pub requests: Option<Arc<RequestLog>>,
    /// Size of data packs for an archive class (`GLACIER`, `DEEP_ARCHIVE`).
    pub archive_pack_size: usize,
    /// Snapshot time, ns since the epoch; `None` means now.
    pub time: Option<i64>,
}

impl BackupOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        BackupOptions {
            paths,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            user: uzers::get_current_username()
                .map(|u| u.to_string_lossy().into_owned())
                .unwrap_or_default(),
            tags: Vec::new(),
            excludes: Vec::new(),
            exclude_paths: Vec::new(),
            exclude_if_present: Vec::new(),
            exclude_caches: false,
            parent: None,
            force: false,
            one_file_system: false,
            // One reader more than the cores: a reader waiting on the disk
            // (cold cache) leaves its core to the others (measured on 2
            // cores: 21.1 s with 2 readers, 18.6 s with 3).
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                + 1,
            connections: 4,
            data_storage_class: StorageClass::Standard,
            requests: None,
            archive_pack_size: crate::blob::ARCHIVE_PACK_SIZE,
            time: None,
        }
    }
}

#[derive(Debug)]
pub struct BackupResult {
    pub id: SnapshotId,
    pub snapshot: Snapshot,
    pub parent: Option<SnapshotId>,
    /// Paths left out because they could not be read.
    pub skipped: Vec<Skipped>,
    /// Files that changed while they were read (stored as read).
    pub changed: Vec<PathBuf>,
}

fn path_strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// The latest snapshot of the same host and the same set of paths.
fn find_parent(
    repo: &Repository,
    opts: &BackupOptions,
    paths: &[String],
) -> Result<Option<SnapshotRef>> {
    if let Some(id) = opts.parent {
        return repo
            .find_snapshot(&id.to_hex(), &SnapshotFilter::default())
            .map(Some);
    }
    let filter = SnapshotFilter {
        hosts: vec![opts.host.clone()],
        ..Default::default()
    };
    Ok(repo
        .snapshots()?
        .into_iter()
        .rfind(|s| filter.matches(&s.snapshot) && s.snapshot.paths == paths))
}

/// Backs up `opts.paths` into `repo` and saves a snapshot.
pub fn backup(
    repo: Arc<Repository>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupResult> {
    let started = Instant::now();
    let writer = BlobWriter::with_archive_pack_size(
        Arc::clone(&repo),
        opts.connections,
        opts.data_storage_class,
        opts.archive_pack_size,
    );
    let built = build(&repo, opts, progress, &writer)?;
    let (id, snapshot) = crate::blob::save_snapshot(
        &repo,
        writer,
        built.snapshot,
        started,
        (opts.requests.as_deref(), opts.data_storage_class),
        progress,
    )?;
    Ok(BackupResult {
        id,
        snapshot,
        parent: built.parent,
        skipped: built.skipped,
        changed: built.changed,
    })
}

/// What a backup would do: every file is read, chunked, deduplicated,
/// compressed and encrypted as for real, but nothing is written to the
/// repository. The summary counts what a backup would add.
pub fn dry_run(
    repo: Arc<Repository>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<DryRunResult> {
    let started = Instant::now();
    let writer = BlobWriter::dry_run(Arc::clone(&repo));
    let mut built = build(&repo, opts, progress, &writer)?;
    let stats = writer.stats()?;
    crate::blob::record_stats(&mut built.snapshot.summary, &stats, started);
    Ok(DryRunResult {
        summary: built.snapshot.summary,
        parent: built.parent,
        skipped: built.skipped,
        changed: built.changed,
    })
}

/// What [`dry_run`] found.
#[derive(Debug)]
pub struct DryRunResult {
    pub summary: Summary,
    pub parent: Option<SnapshotId>,
    pub skipped: Vec<Skipped>,
    pub changed: Vec<PathBuf>,
}

/// A snapshot whose blobs went to a writer, not yet saved.
struct Built {
    snapshot: Snapshot,
    parent: Option<SnapshotId>,
    skipped: Vec<Skipped>,
    changed: Vec<PathBuf>,
}

/// Walks, reads and stores `opts.paths` through `writer`: the pipeline
/// above, up to the snapshot it would save.
fn build(
    repo: &Arc<Repository>,
    opts: &BackupOptions,
    progress: &dyn Progress,
    writer: &BlobWriter,
) -> Result<Built> {
    let time = opts
        .time
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0));
    let paths = crate::fs::normalize_paths(&opts.paths)?;
    let path_names = path_strings(&paths);
    let excludes = Excludes::new(&opts.excludes, opts.exclude_paths.clone())?
        .with_tags(&opts.exclude_if_present, opts.exclude_caches)?;
    let parent = find_parent(repo, opts, &path_names)?;
    let parent_tree = match &parent {
        Some(p) => Some(repo.read_tree(&p.snapshot.tree)?),
        None => None,
    };
    let chunker = Chunker::new(repo.config().chunker.clone(), repo.key().gear_seed);
    let owners = Owners::new();
    let trie = walk::Trie::from_paths(&paths);
    let scanner = scan::Scanner::new(scan::Limits::for_open_files(crate::fs::open_files_limit()));
    let ctx = scan::ScanCtx {
        repo,
        excludes: &excludes,
        owners: &owners,
        scanner: &scanner,
        one_file_system: opts.one_file_system,
        force: opts.force,
    };

    let mut builder = tree::TreeBuilder {
        writer,
        progress,
        summary: Summary::default(),
        skipped: Vec::new(),
        changed: Vec::new(),
    };
    let root = run_pipeline(
        &ctx,
        opts,
        &chunker,
        (&trie, parent_tree),
        &paths,
        &mut builder,
    )?;

    let tree::TreeBuilder {
        summary,
        skipped,
        changed,
        ..
    } = builder;
    let snapshot = Snapshot {
        original: None,
        image: None,
        version: crate::format::FORMAT_VERSION,
        time,
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths: path_names,
        tags: opts.tags.clone(),
        tree: root,
        parent: parent.as_ref().map(|p| p.id),
        excludes: opts.excludes.clone(),
        program_version: crate::VERSION.to_string(),
        summary,
    };
    Ok(Built {
        snapshot,
        parent: parent.map(|p| p.id),
        skipped,
        changed,
    })
}

/// Runs the threads of the pipeline over `paths` until the root tree is
/// stored: file readers, directory listers, the tree walker and (for
/// totals) the file counter, all feeding `builder`.
fn run_pipeline(
    ctx: &scan::ScanCtx,
    opts: &BackupOptions,
    chunker: &Chunker,
    (trie, parent_tree): (&walk::Trie, Option<Tree>),
    paths: &[PathBuf],
    builder: &mut tree::TreeBuilder,
) -> Result<TreeId> {
    let (writer, progress) = (builder.writer, builder.progress);
    // Set when the walk is over: the counter then stops counting.
    let over = std::sync::atomic::AtomicBool::new(false);
    // Events (in batches) hold metadata only; jobs wait for a reader;
    // listings wait for the walker. All are bounded.
    let (event_tx, event_rx) = bounded(16);
    let (job_tx, job_rx) = bounded(opts.threads.max(1) * 4);
    // A worker that panics (a bug) is caught: its panic becomes the
    // backup's error, and the others stop as their channels close.
    let panicked: std::sync::Mutex<Option<crate::error::Error>> = Default::default();
    let guarded = |who: &'static str, work: &mut dyn FnMut()| {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            let mut first = panicked.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert(crate::error::Error::from_panic(who, p));
            ctx.scanner.close();
        }
    };
    let guarded = &guarded;
    // A thread that cannot start is the backup's error too; what it would
    // have held (a channel end) is dropped, so the others stop.
    let not_started = |e: crate::error::Error| {
        let mut first = panicked.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(e);
        ctx.scanner.close();
    };
    let root = std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1) {
            let (jobs, chunker) = (job_rx.clone(), &chunker);
            let work = move || {
                guarded("a file reader", &mut || {
                    read::reader_loop(&jobs, writer, chunker, progress)
                })
            };
            if let Err(e) = crate::error::spawn_scoped(s, "a file reader", work) {
                not_started(e)
            }
        }
        drop(job_rx);
        // Listing waits on the disk more than on the CPU: more listers than
        // cores keep a cold disk's queue full.
        for _ in 0..(opts.threads * 2).clamp(2, 8) {
            let work = || guarded("a directory lister", &mut || ctx.scanner.lister(ctx));
            if let Err(e) = crate::error::spawn_scoped(s, "a directory lister", work) {
                not_started(e)
            }
        }
        let walker = walk::Walker {
            ctx,
            opts,
            events: event_tx,
            jobs: job_tx,
            batch: Default::default(),
            stopped: Default::default(),
        };
        let mut walk = Some((walker, parent_tree));
        let work = move || {
            guarded("the tree walker", &mut || {
                if let Some((walker, parent)) = walk.take() {
                    walker.run(trie, parent)
                }
            })
        };
        if let Err(e) = crate::error::spawn_scoped(s, "the tree walker", work) {
            not_started(e)
        }
        if progress.wants_totals() {
            let counter =
                crate::fs::count::Counter::new(ctx.excludes, opts.one_file_system, progress, &over);
            let mut counter = Some(counter);
            let work = move || {
                guarded("the file counter", &mut || {
                    if let Some(c) = counter.take() {
                        c.run(paths)
                    }
                })
            };
            if let Err(e) = crate::error::spawn_scoped(s, "the file counter", work) {
                not_started(e)
            }
        }
        let root = builder.run(&event_rx);
        over.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(event_rx); // unblocks the walker if the builder stopped early
        ctx.scanner.close(); // and the listers
        root
    });
    if let Some(e) = panicked.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    root
}
