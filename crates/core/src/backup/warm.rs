//! Reading the tree's metadata into the kernel's caches while the
//! repository is being opened.
//!
//! Opening a repository takes a few tenths of a second before a backup can
//! walk anything: Argon2 on one core, then the index and the snapshot list.
//! On a cold cache the walk that follows waits on the disk for directory
//! blocks and inodes (a no-change backup is nearly all that). [`WarmUp`]
//! lists directories and lstats their entries meanwhile, on the cores and
//! the disk queue the key derivation leaves idle, so the walk finds them
//! cached.
//!
//! It only reads, is bounded by the time the repository takes to open
//! (dropping it stops and joins its threads within one directory), lists
//! through the same [`walk::list`] with the same excludes and
//! `--one-file-system` as the backup, keeps its work on a heap stack (no
//! recursion), and ignores every error: the backup itself reports what it
//! cannot read.

use super::BackupOptions;
use crate::format::tree::NodeKind;
use crate::fs::Meta;
use crate::fs::at::Dir;
use crate::fs::walk;
use crate::fs::{Excludes, normalize_paths};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Threads listing ahead: the disk wants several requests in flight, and
/// one core is busy opening the repository.
const THREADS: usize = 2;

/// Entries a thread lstats before it judges whether the cache is cold.
const PROBE: u32 = 2000;
/// Below this average per entry the metadata was cached already (a cached
/// lstat takes 2-6 µs, one that reads an inode from disk 20-40): warming
/// would only take CPU from the key derivation, so the thread stops.
const WARM_NS: u128 = 10_000;

/// Directories waiting to be listed, as (path, device of the backed-up
/// path), and how many are being listed (whose subdirectories may follow).
#[derive(Default)]
struct Work {
    stack: Vec<(PathBuf, u64)>,
    busy: usize,
}

#[derive(Default)]
struct Shared {
    work: Mutex<Work>,
    more: Condvar,
    stop: AtomicBool,
}

/// A running warm-up; dropping it stops it.
pub struct WarmUp {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl WarmUp {
    /// Starts listing the paths `opts` backs up. Options the backup would
    /// refuse start nothing (the backup reports them).
    pub fn start(opts: &BackupOptions) -> WarmUp {
        let shared = Arc::new(Shared::default());
        let mut threads = Vec::new();
        let (Ok(paths), Ok(excludes)) = (
            normalize_paths(&opts.paths),
            Excludes::new(&opts.excludes, opts.exclude_paths.clone())
                .and_then(|e| e.with_tags(&opts.exclude_if_present, opts.exclude_caches)),
        ) else {
            return WarmUp { shared, threads };
        };
        let roots = paths
            .into_iter()
            .rev()
            .filter_map(|p| {
                let st = Dir::open(&p).ok()?.stat(".".as_ref()).ok()?;
                Some((p, Meta::from_stat(&st).dev))
            })
            .collect();
        shared.work.lock().expect("warm-up lock").stack = roots;
        let excludes = Arc::new(excludes);
        for _ in 0..THREADS {
            let (shared, excludes) = (shared.clone(), excludes.clone());
            let one_fs = opts.one_file_system;
            let spawned = std::thread::Builder::new()
                .name("warm-up".into())
                .spawn(move || warm(&shared, &excludes, one_fs));
            threads.extend(spawned.ok());
        }
        WarmUp { shared, threads }
    }
}

impl Drop for WarmUp {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        drop(self.shared.work.lock().expect("warm-up lock"));
        self.shared.more.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Lists directories until there are none left or it is stopped, depth
/// first in name order (the walk's order), pushing subdirectories.
fn warm(shared: &Shared, excludes: &Excludes, one_fs: bool) {
    let stopped = || shared.stop.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut entries = 0u32;
    let mut probed = false;
    loop {
        if !probed && entries >= PROBE {
            probed = true;
            if started.elapsed().as_nanos() < WARM_NS * u128::from(entries) {
                return;
            }
        }
        let (path, dev) = {
            let mut work = shared.work.lock().expect("warm-up lock");
            loop {
                if stopped() {
                    return;
                }
                if let Some(next) = work.stack.pop() {
                    work.busy += 1;
                    break next;
                }
                if work.busy == 0 {
                    return;
                }
                work = shared.more.wait(work).expect("warm-up lock");
            }
        };
        let mut subdirs = Vec::new();
        if let Ok(dir) = Dir::open(&path)
            && let Ok(children) = walk::list(&dir, &path, excludes)
        {
            entries = entries.saturating_add(children.len().try_into().unwrap_or(u32::MAX));
            for child in children {
                if let Ok(meta) = child.meta
                    && meta.kind == NodeKind::Dir
                    && walk::descends(one_fs, meta.dev, dev)
                {
                    subdirs.push((child.path, dev));
                }
            }
        }
        subdirs.reverse();
        let mut work = shared.work.lock().expect("warm-up lock");
        work.stack.extend(subdirs);
        work.busy -= 1;
        drop(work);
        shared.more.notify_all();
    }
}
