//! Progress events. The library reports; the CLI renders (bars, text or JSON).
//! Every method has an empty default so a caller implements what it shows.

use std::path::Path;

/// Why a backup reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Not in the parent snapshot.
    New,
    /// In the parent snapshot, with other metadata (size, mtime, ctime, inode).
    Modified,
}

pub trait Progress: Sync {
    /// A file (or other entry) was fully processed; `bytes` of it were read.
    fn entry_done(&self, _path: &Path, _bytes_read: u64, _size: u64) {}
    /// A file or directory could not be backed up or restored; the command goes on.
    fn warning(&self, _path: &Path, _message: &str) {}
    /// `bytes` more of a file still being read (so a large file moves the
    /// progress while it is read, not only when done).
    fn reading(&self, _bytes: u64) {}
    /// A file whose reading was reported with [`reading`](Self::reading)
    /// is read: its `bytes` now count through `entry_done`.
    fn reading_done(&self, _bytes: u64) {}
    /// A backup read `path` (`size` bytes) because it is new or modified;
    /// unchanged files are not reported.
    fn file_read(&self, _path: &Path, _change: Change, _size: u64) {}
    /// A file changed while it was read (its snapshot may mix old and new bytes).
    fn changed_while_reading(&self, _path: &Path) {}
    /// Whether totals are shown: a backup then counts the files to back up
    /// while it runs (a second pass over the metadata).
    fn wants_totals(&self) -> bool {
        false
    }
    /// A new stage of a command starts (prune: trees read, then packs
    /// repacked, then packs deleted): counts and totals start again from
    /// zero and are now of `unit` ("packs"), done when `verb` ("read").
    fn phase(&self, _verb: &'static str, _unit: &'static str) {}
    /// Files and bytes the command will process, as far as known; `done`
    /// when they are final.
    fn totals(&self, _files: u64, _bytes: u64, _done: bool) {}
    /// Data packs the command needs are in an archive storage class: what
    /// they are, the restores asked for, the wait (see `ColdOptions`).
    fn cold(&self, _event: &ColdEvent) {}
}

/// Archived data packs of one storage class that a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdClass {
    /// The S3 name (`GLACIER`, `DEEP_ARCHIVE`).
    pub class: &'static str,
    pub packs: u64,
    pub bytes: u64,
    /// Of those, not restored and no restore asked for.
    pub frozen_packs: u64,
    pub frozen_bytes: u64,
    /// Of those, a restore under way.
    pub thawing_packs: u64,
}

/// What the step that makes archived data readable reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColdEvent {
    /// The archived packs needed, per class (reported once, only if any).
    Plan(Vec<ColdClass>),
    /// Restores asked for `packs` packs at `tier` (`Bulk`), readable `days` days.
    Requested {
        packs: u64,
        tier: &'static str,
        days: u32,
    },
    /// `ready` of `total` archived packs are readable.
    Waiting { ready: u64, total: u64 },
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
