//! Totals for progress: counts the entries (all but directories) and bytes below the
//! requested paths while a backup or an archive runs, so a display can show
//! how much is done and estimate what remains.
//!
//! Input: the requested paths, the excludes, `--one-file-system`. Output:
//! [`Progress::totals`] calls, growing, then one marked final.
//! Invariants: it runs only when the display asks for totals (it is a
//! second pass over the metadata, through the same walker and excludes);
//! it changes nothing, reports no errors (the backup does), and stops as
//! soon as the backup is over.

use super::Excludes;
use super::walk::{Step, Walk};
use crate::format::tree::NodeKind;
use crate::progress::Progress;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Reports totals every this many files.
const EVERY: u64 = 1000;

pub struct Counter<'a> {
    pub excludes: &'a Excludes,
    pub one_file_system: bool,
    pub progress: &'a dyn Progress,
    pub stop: &'a AtomicBool,
    files: u64,
    bytes: u64,
}

impl<'a> Counter<'a> {
    pub fn new(
        excludes: &'a Excludes,
        one_file_system: bool,
        progress: &'a dyn Progress,
        stop: &'a AtomicBool,
    ) -> Self {
        Counter {
            excludes,
            one_file_system,
            progress,
            stop,
            files: 0,
            bytes: 0,
        }
    }

    /// Counts below every path, then reports the final totals.
    pub fn run(mut self, paths: &[PathBuf]) {
        for step in Walk::new(paths.to_vec(), self.excludes, self.one_file_system) {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            match step {
                Step::Entry { meta, .. } => match meta.kind {
                    NodeKind::File => self.file(meta.size),
                    NodeKind::Dir => {}
                    // The walk reports every other entry as done too.
                    _ => self.file(0),
                },
                Step::Error { .. } => {}
            }
        }
        self.progress.totals(self.files, self.bytes, true);
    }

    fn file(&mut self, size: u64) {
        self.files += 1;
        self.bytes += size;
        if self.files.is_multiple_of(EVERY) {
            self.progress.totals(self.files, self.bytes, false);
        }
    }
}
