//! Restore: a snapshot (or part of it) becomes a directory tree again.
//!
//! ```text
//! plan    walk the trees (this thread): make directories, links, devices;
//!         list files and, per pack, which blobs go where
//! create  make every file, in parallel (creating 100k files costs more
//!         kernel time than decompressing them)
//! fetch   per pack, in parallel: read the needed ranges once, open and
//!         verify each blob, write it at its offsets (zeros stay holes);
//!         the write that completes a file sets its length and metadata
//! finish  hardlinks, then directory metadata deepest first (writing into
//!         a directory changes its mtime)
//! ```
//! A file whose data is damaged or missing is reported (and left partial);
//! every other file is restored.

mod plan;
mod write;

use crate::error::{Error, Kind, Result};
use crate::fs::{ApplyOptions, Owners, apply_metadata};
use crate::id::TreeId;
use crate::progress::Progress;
use crate::repo::Repository;
use plan::{PackPlan, Plan, Planner};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

pub use plan::blob_offsets;

/// Needed blobs of a pack closer than this are fetched in one range GET
/// (reading a gap is cheaper than another request).
const MAX_GAP: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Restore only paths matching (or below a path matching) one of these.
    pub include: Vec<String>,
    /// Never restore paths matching these (nor anything below them).
    pub exclude: Vec<String>,
    pub numeric_owner: bool,
    /// Parallel file creation and pack fetches.
    pub threads: usize,
}

impl RestoreOptions {
    pub fn new(target: PathBuf) -> Self {
        RestoreOptions {
            target,
            include: Vec::new(),
            exclude: Vec::new(),
            numeric_owner: false,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
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
    pub files: u64,
    pub dirs: u64,
    pub other: u64,
    pub bytes: u64,
    pub failed: Vec<Failed>,
}

struct Run<'a> {
    repo: &'a Repository,
    plan: &'a Plan,
    owners: &'a Owners,
    apply: ApplyOptions,
    progress: &'a dyn Progress,
    remaining: Vec<AtomicU32>,
    file_failed: Vec<AtomicBool>,
    failed: Mutex<Vec<Failed>>,
}

/// Restores the snapshot tree `root` below `opts.target`.
pub fn restore(
    repo: &Repository,
    root: TreeId,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreResult> {
    std::fs::create_dir_all(&opts.target)
        .map_err(|e| Error::io("cannot create target directory", opts.target.display(), e))?;
    let owners = Owners::new();
    let apply = ApplyOptions {
        numeric_owner: opts.numeric_owner,
        chown: rustix::process::geteuid().is_root(),
    };
    let mut planner = Planner::new(repo, opts, &owners, apply, progress)?;
    planner.tree(root, Path::new("/"), &opts.target, false)?;
    let mut plan = planner.finish();
    let early_failures = std::mem::take(&mut plan.failed);

    let run = Run {
        repo,
        plan: &plan,
        owners: &owners,
        apply,
        progress,
        remaining: plan
            .blobs_per_file
            .iter()
            .map(|&n| AtomicU32::new(n))
            .collect(),
        file_failed: plan.files.iter().map(|_| AtomicBool::new(false)).collect(),
        failed: Mutex::new(early_failures),
    };
    let threads = opts.threads.max(1);
    parallel(threads, plan.files.len(), |i| run.create(i));
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    parallel(threads, plan.packs.len(), |i| {
        if let Err(e) = run.pack(&plan.packs[i]) {
            fatal.lock().expect("poisoned").get_or_insert(e);
        }
    });
    if let Some(e) = fatal.into_inner().expect("poisoned") {
        return Err(e);
    }
    let mut failed = run.failed.into_inner().expect("poisoned");
    let mut res = RestoreResult {
        files: plan.files.len() as u64,
        dirs: plan.dirs.len() as u64,
        other: plan.other,
        bytes: plan.files.iter().map(|f| f.node.size).sum(),
        failed: Vec::new(),
    };
    for (path, first) in &plan.links {
        match std::fs::hard_link(first, path) {
            Ok(()) => res.files += 1,
            Err(e) => failed.push(Failed {
                path: path.clone(),
                error: Error::io("cannot create hardlink", path.display(), e),
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
    res.failed = failed;
    Ok(res)
}

/// Runs `f(0..n)` on `threads` threads, each taking the next index.
fn parallel(threads: usize, n: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.min(n.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i);
                }
            });
        }
    });
}

impl Run<'_> {
    fn fail(&self, file: usize, error: Error) {
        if !self.file_failed[file].swap(true, Ordering::Relaxed) {
            let path = self.plan.files[file].path.clone();
            self.progress.warning(&path, &error.to_string());
            self.failed
                .lock()
                .expect("poisoned")
                .push(Failed { path, error });
        }
    }

    fn create(&self, file: usize) {
        let f = &self.plan.files[file];
        if self.plan.blobs_per_file[file] == 1 {
            return; // created with its content by `pack`, in one open
        }
        if let Err(e) = write::create_file(&f.path) {
            self.fail(file, e);
            // Nothing can be written into it: its blobs are skipped.
            self.remaining[file].store(u32::MAX, Ordering::Relaxed);
            return;
        }
        if self.plan.blobs_per_file[file] == 0 {
            self.finish_file(file, true);
        }
    }

    /// One blob of `file` is done (written or failed).
    fn blob_done(&self, file: usize) {
        if self.remaining[file].fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish_file(file, true);
        }
    }

    /// Sets the final length (unless already set) and the metadata.
    fn finish_file(&self, file: usize, set_length: bool) {
        let f = &self.plan.files[file];
        let r = if set_length {
            write::set_length(&f.path, f.node.size)
        } else {
            Ok(())
        }
        .and_then(|_| apply_metadata(&f.path, &f.node, self.owners, self.apply));
        match r {
            Ok(()) => self.progress.entry_done(&f.path, f.node.size, f.node.size),
            Err(e) => self.fail(file, e),
        }
    }

    /// Fetches the needed ranges of one pack and writes its blobs.
    fn pack(&self, p: &PackPlan) -> Result<()> {
        let info = self.repo.index().packs()[p.pack as usize];
        let key = crate::format::pack::key(info.kind, &info.id);
        let mut start = 0;
        while start < p.blobs.len() {
            // Extend the range while the next blob is close.
            let mut end = start + 1;
            let mut range_end = p.blobs[start].1 as u64 + p.blobs[start].2 as u64;
            while end < p.blobs.len() && (p.blobs[end].1 as u64) <= range_end + MAX_GAP {
                range_end = range_end.max(p.blobs[end].1 as u64 + p.blobs[end].2 as u64);
                end += 1;
            }
            let range_start = p.blobs[start].1 as u64;
            let bytes = match self.repo.store().get(&key, Some(range_start..range_end)) {
                Ok(b) => Some(b),
                // A missing or damaged pack costs the files that need it; a
                // store that fails (network, permissions) stops the restore.
                Err(e) if !matches!(e.kind(), Kind::NotFound | Kind::Corrupt) => return Err(e),
                Err(e) => {
                    for (_, _, _, targets) in &p.blobs[start..end] {
                        for t in targets {
                            let path = self.plan.files[t.file].path.display();
                            self.fail(
                                t.file,
                                Error::at(e.kind(), format!("cannot restore content ({e})"), path),
                            );
                            self.blob_done(t.file);
                        }
                    }
                    None
                }
            };
            if let Some(bytes) = bytes {
                for (id, off, len, targets) in &p.blobs[start..end] {
                    let at = (*off as u64 - range_start) as usize;
                    let sealed = &bytes[at..at + *len as usize];
                    let plain = self.repo.open_blob(id, sealed, &key);
                    for t in targets {
                        let path = &self.plan.files[t.file].path;
                        if self.remaining[t.file].load(Ordering::Relaxed) == u32::MAX {
                            continue; // never created
                        }
                        let whole = self.plan.blobs_per_file[t.file] == 1;
                        let r = match &plain {
                            Ok(data) if whole => {
                                match write::write_whole(
                                    path,
                                    data,
                                    self.plan.files[t.file].node.size,
                                ) {
                                    Ok(()) => {
                                        self.finish_file(t.file, false);
                                        continue;
                                    }
                                    Err(e) => Err(e),
                                }
                            }
                            Ok(data) => write::write_at(path, t.offset, data),
                            Err(e) => Err(Error::new(
                                e.kind(),
                                format!("cannot restore content ({e})"),
                            )
                            .with_location(path.display())),
                        };
                        if let Err(e) = r {
                            self.fail(t.file, e);
                        }
                        self.blob_done(t.file);
                    }
                }
            }
            start = end;
        }
        Ok(())
    }
}
