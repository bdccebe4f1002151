//! Restore: a snapshot (or part of it) becomes a directory tree again, in an
//! empty directory or onto the tree it was taken from.
//!
//! ```text
//! plan    walk the trees (this thread): decide per entry what to do with
//!         what is there (overwrite mode), remove what --delete removes,
//!         make directories, links, devices; list files and, per pack,
//!         which blobs go where
//! create  make every file, in parallel (creating 100k files costs more
//!         kernel time than decompressing them): under its own name where
//!         nothing is, else under a temporary name
//! fetch   per pack, in parallel: read the needed ranges once, open and
//!         verify each blob, write it at its offsets (zeros stay holes);
//!         the write that completes a file sets its length and metadata
//!         and, if it has a temporary name, renames it into place
//! finish  hardlinks, then directory metadata deepest first (writing into
//!         a directory changes its mtime); with --verify, read every
//!         restored file back and check it against its blob ids
//! ```
//! A file whose data is damaged or missing is reported (and its old
//! version, if any, left in place); every other file is restored. Sockets
//! are recorded in snapshots but not recreated (the program that listens
//! on one makes it): they are listed in the result.

mod inplace;
mod plan;
mod run;
mod verify;
mod write;

use crate::error::{Error, Result};
use crate::fs::{ApplyOptions, Owners, apply_metadata};
use crate::id::TreeId;
use crate::progress::Progress;
use crate::repo::Repository;
use plan::Planner;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use inplace::Overwrite;
pub use plan::{Change, ChangeKind, blob_offsets};

/// Needed blobs of a pack closer than this are fetched in one range GET
/// (reading a gap is cheaper than another request).
const MAX_GAP: u64 = 1024 * 1024;
/// Longest range fetched at once (unless one blob is longer): bounds the
/// memory of each fetch and spreads a large pack over several requests.
const MAX_RANGE: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Restore only paths matching (or below a path matching) one of these.
    pub include: Vec<String>,
    /// Never restore paths matching these (nor anything below them); with
    /// `delete`, what they match is not deleted either.
    pub exclude: Vec<String>,
    pub numeric_owner: bool,
    /// What to do with entries that already exist.
    pub overwrite: Overwrite,
    /// Remove what the target has below the snapshot's paths but the
    /// snapshot does not.
    pub delete: bool,
    /// The paths the snapshot was taken of: `delete` removes only in
    /// directories at or below these (empty: everywhere).
    pub snapshot_paths: Vec<PathBuf>,
    /// Change nothing; list what would change.
    pub dry_run: bool,
    /// Read every restored file back and check it against the snapshot.
    pub verify: bool,
    /// Parallel file creation, decryption and writing.
    pub threads: usize,
    /// Requests to the store on top of `threads`: a fetch that waits on the
    /// network leaves its core to another.
    pub connections: usize,
}

impl RestoreOptions {
    pub fn new(target: PathBuf) -> Self {
        RestoreOptions {
            target,
            include: Vec::new(),
            exclude: Vec::new(),
            numeric_owner: false,
            overwrite: Overwrite::Always,
            delete: false,
            snapshot_paths: Vec::new(),
            dry_run: false,
            verify: false,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            connections: 4,
        }
    }
}

/// A path that could not be restored (fully), and why.
#[derive(Debug)]
pub struct Failed {
    pub path: PathBuf,
    pub error: Error,
}

#[derive(Debug, Default)]
pub struct RestoreResult {
    /// Regular files written (hardlinks included).
    pub files: u64,
    pub dirs: u64,
    /// Symlinks, devices and FIFOs made.
    pub other: u64,
    pub bytes: u64,
    /// Existing entries left as they were (overwrite mode).
    pub kept: u64,
    /// Entries removed by `delete`.
    pub deleted: u64,
    /// Files read back and found equal to the snapshot (`verify`).
    pub verified: u64,
    /// Sockets in the snapshot, not recreated.
    pub sockets: Vec<PathBuf>,
    /// What would change (`dry_run` only).
    pub changes: Vec<Change>,
    pub failed: Vec<Failed>,
}

/// Restores the snapshot tree `root` below `opts.target`.
pub fn restore(
    repo: &Repository,
    root: TreeId,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreResult> {
    if !opts.dry_run {
        std::fs::create_dir_all(&opts.target)
            .map_err(|e| Error::io("cannot create target directory", opts.target.display(), e))?;
    }
    let owners = Owners::new();
    let apply = ApplyOptions {
        numeric_owner: opts.numeric_owner,
        chown: rustix::process::geteuid().is_root(),
    };
    let mut planner = Planner::new(repo, opts, &owners, apply, progress)?;
    planner.root(root, &opts.target)?;
    let mut plan = planner.finish();
    let mut res = RestoreResult {
        files: plan.files.len() as u64,
        dirs: plan.dirs.len() as u64,
        other: plan.other,
        bytes: plan.files.iter().map(|f| f.node.size).sum(),
        kept: plan.kept,
        deleted: plan.deleted,
        sockets: std::mem::take(&mut plan.sockets),
        changes: std::mem::take(&mut plan.changes),
        ..Default::default()
    };
    let mut failed = std::mem::take(&mut plan.failed);
    if opts.dry_run {
        for l in &plan.links {
            let kind = match l.existing {
                None => ChangeKind::New,
                Some(there) if is_linked(&l.first, there) => continue,
                Some(_) => ChangeKind::Replace,
            };
            res.changes.push(Change {
                kind,
                path: l.path.clone(),
            });
        }
        res.files += plan.links.len() as u64;
        res.failed = failed;
        return Ok(res);
    }

    progress.totals(res.files, res.bytes, true);
    let run = run::Run::new(repo, &plan, &owners, apply, progress);
    run.run(opts.threads.max(1), opts.connections)?;
    failed.extend(run.failed.into_inner().expect("poisoned"));
    for l in &plan.links {
        match link(&l.first, &l.path, l.existing) {
            Ok(()) => res.files += 1,
            Err(error) => failed.push(Failed {
                path: l.path.clone(),
                error,
            }),
        }
    }
    // Deepest first, so setting a directory's times is never undone by a child.
    for (path, node) in plan.dirs.iter().rev() {
        if let Err(error) = apply_metadata(path, node, &owners, apply) {
            failed.push(Failed {
                path: path.clone(),
                error,
            });
        }
    }
    if opts.verify {
        let skip: HashSet<PathBuf> = failed.iter().map(|f| f.path.clone()).collect();
        let bad = verify::verify(repo, &plan.files, &skip, opts.threads.max(1));
        res.verified = (plan.files.len() - skip.len().min(plan.files.len()) - bad.len()) as u64;
        for f in &bad {
            progress.warning(&f.path, &f.error.to_string());
        }
        failed.extend(bad);
    }
    res.failed = failed;
    Ok(res)
}

/// Makes `path` a hardlink of `first`, unless it already is one; what is
/// there otherwise is replaced atomically (link under a temporary name,
/// rename over).
fn link(first: &Path, path: &Path, existing: Option<(u64, u64)>) -> Result<()> {
    if existing.is_some_and(|there| is_linked(first, there)) {
        return Ok(());
    }
    let temp = inplace::temp_path(path);
    write::hard_link(first, &temp, path)?;
    write::rename_into_place(&temp, path).inspect_err(|_| write::discard(&temp))
}

/// Whether `first` is the inode `(dev, inode)`.
fn is_linked(first: &Path, (dev, inode): (u64, u64)) -> bool {
    crate::fs::at::At::new(first)
        .and_then(|a| a.stat())
        .map(|st| crate::fs::Meta::from_stat(&st))
        .is_ok_and(|m| (m.dev, m.inode) == (dev, inode))
}
