//! Read-ahead for the archive walk: a thread walks the same paths in the
//! same order a little ahead of the writer and asks the kernel to start
//! reading each file (`POSIX_FADV_WILLNEED`), so a cold disk is busy while
//! the writer compresses. It also warms the directory and inode caches the
//! writer's own listing will hit.
//!
//! Input: the paths, excludes and `one_file_system` of the archive, and the
//! bytes the writer has consumed so far. Output: nothing but a warm page
//! cache. Invariants: it stays at most [`WINDOW`] bytes ahead (so it never
//! evicts what the writer has not read yet), stops when told, and ignores
//! every error (the writer reports its own).

use crate::format::tree::NodeKind;
use crate::fs::Excludes;
use crate::fs::walk::{Step, Walk};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How far ahead of the writer the read-ahead may be.
pub const WINDOW: u64 = 64 << 20;
/// What one entry counts for besides its bytes (its metadata).
pub const PER_ENTRY: u64 = 4096;

pub struct Prefetch<'a> {
    pub excludes: &'a Excludes,
    pub one_file_system: bool,
    /// Bytes (content + PER_ENTRY per entry) the writer has consumed.
    pub consumed: &'a AtomicU64,
    pub stop: &'a AtomicBool,
    ahead: u64,
}

impl<'a> Prefetch<'a> {
    pub fn new(
        excludes: &'a Excludes,
        one_file_system: bool,
        consumed: &'a AtomicU64,
        stop: &'a AtomicBool,
    ) -> Self {
        Prefetch {
            excludes,
            one_file_system,
            consumed,
            stop,
            ahead: 0,
        }
    }

    pub fn run(&mut self, paths: &[std::path::PathBuf]) {
        for step in Walk::new(paths.to_vec(), self.excludes, self.one_file_system) {
            let Step::Entry {
                dir, name, meta, ..
            } = step
            else {
                continue;
            };
            self.ahead += PER_ENTRY;
            if meta.kind != NodeKind::File {
                continue;
            }
            if !self.wait() {
                return;
            }
            if meta.size > 0
                && let Ok(f) = dir.open_file(&name)
            {
                let _ = rustix::fs::fadvise(
                    &f,
                    0,
                    std::num::NonZeroU64::new(meta.size),
                    rustix::fs::Advice::WillNeed,
                );
            }
            self.ahead += meta.size;
        }
    }

    /// Waits until the writer is close enough; false when told to stop.
    fn wait(&self) -> bool {
        while self.ahead > self.consumed.load(Ordering::Relaxed) + WINDOW {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        !self.stop.load(Ordering::Relaxed)
    }
}
