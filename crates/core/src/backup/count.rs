//! Totals for progress: counts the entries (all but directories) and bytes below the
//! requested paths while the backup runs, so a display can show how much
//! is done and estimate what remains.
//!
//! Input: the requested paths, the excludes, `--one-file-system`. Output:
//! [`Progress::totals`] calls, growing, then one marked final.
//! Invariants: it runs only when the display asks for totals (it is a
//! second pass over the metadata); it changes nothing, reports no errors
//! (the walk does), and stops as soon as the backup is over. Tag-file
//! excludes are not applied, so the totals may be a little high.

use super::Excludes;
use crate::format::tree::NodeKind;
use crate::fs::Meta;
use crate::fs::at::Dir;
use crate::progress::Progress;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
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
        for path in paths {
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                continue;
            };
            if meta.is_dir() {
                if let Ok(dir) = Dir::open(path) {
                    use std::os::unix::fs::MetadataExt;
                    self.dir(&dir, path, meta.dev());
                }
            } else {
                self.file(if meta.is_file() { meta.len() } else { 0 });
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
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

    fn dir(&mut self, dir: &Dir, path: &Path, root_dev: u64) {
        let Ok(names) = dir.names() else { return };
        for name in names {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok(st) = dir.stat(&name) else { continue };
            let meta = Meta::from_stat(&st);
            let child = path.join(&name);
            if self
                .excludes
                .is_excluded(&child, meta.kind == NodeKind::Dir)
            {
                continue;
            }
            match meta.kind {
                NodeKind::File => self.file(meta.size),
                NodeKind::Dir if !self.one_file_system || meta.dev == root_dev => {
                    if let Ok(sub) = dir.child(OsStr::new(&name)) {
                        self.dir(&sub, &child, root_dev);
                    }
                }
                NodeKind::Dir => {}
                // The walk reports every other entry as done too.
                _ => self.file(0),
            }
        }
    }
}
