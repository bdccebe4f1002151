//! What a restore plan holds: the files to write (and where each content
//! blob goes), the directories whose metadata comes last, hardlinks, and
//! the changes a dry run lists.
//!
//! Input: made by [`super::plan::Planner`]. Output: read by the later
//! stages. Invariants: every entry names the directory it is made in by
//! its [`DirId`] (reached through [`Dirs`], never by path); `path` is only
//! for messages.

use super::Failed;
use super::dirs::{DirId, Dirs};
use super::inplace::temp_name;
use crate::blob::Wanted;
use crate::format::tree::Node;
use crate::id::BlobId;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// One regular file to restore, written under a temporary name in its
/// directory and renamed to its own, or written under its own name when
/// nothing was there.
pub struct PlannedFile {
    /// Where it is restored (named in errors and progress).
    pub path: PathBuf,
    /// The directory it is written in.
    pub dir: DirId,
    /// The number of its temporary name (the name is made when needed: a
    /// plan holds every file of a snapshot, so every byte per file counts);
    /// 0 when the file is written under its own name. Writing where nothing
    /// was saves a rename per file (18 % of the kernel time of restoring
    /// 100,000 small files); a file that fails is removed all the same.
    pub temp_n: u64,
    pub node: Node,
    /// Where each content blob starts in the file, and its length.
    pub offsets: Vec<u64>,
    pub lengths: Vec<u64>,
}

/// The last component of a restore path (paths are made by joining names).
pub fn name_of(path: &Path) -> &OsStr {
    path.file_name().unwrap_or_default()
}

impl PlannedFile {
    /// Its own name in its directory.
    pub fn name(&self) -> &OsStr {
        name_of(&self.path)
    }

    /// The name it is written under: a temporary one, or its own.
    pub fn temp(&self) -> OsString {
        if self.temp_n == 0 {
            self.name().to_os_string()
        } else {
            temp_name(self.temp_n)
        }
    }
}

/// One blob to write into one place of one file.
#[derive(Clone, Copy)]
pub struct Target {
    pub file: usize,
    pub offset: u64,
}

/// Blobs to read from one pack (or from a piece of one: see
/// `plan::pieces`), with where each goes.
pub struct PackPlan {
    pub pack: u32,
    /// (where a blob is in the pack, targets), sorted by offset.
    pub blobs: Vec<(Wanted, Vec<Target>)>,
}

/// A blob wanted from a pack, and where it goes.
pub(super) type BlobTargets = (Wanted, Vec<Target>);

/// A pack's wanted blobs (sorted by offset) cut into pieces of about
/// [`PIECE`] bytes of the pack each, never between blobs of one group:
/// restore workers take pieces, so a restore reading few packs still keeps
/// every worker busy.
pub(super) fn pieces(blobs: Vec<BlobTargets>) -> impl Iterator<Item = Vec<BlobTargets>> {
    let mut out: Vec<Vec<BlobTargets>> = Vec::new();
    let mut start = 0u64;
    for b in blobs {
        let (offset, end) = (b.0.offset as u64, b.0.offset as u64 + b.0.length as u64);
        let same_unit = out
            .last()
            .and_then(|p| p.last())
            .is_some_and(|l| l.0.offset == b.0.offset);
        match out.last_mut() {
            Some(piece) if same_unit || end <= start + PIECE => piece.push(b),
            _ => {
                start = offset;
                out.push(vec![b]);
            }
        }
    }
    if out.is_empty() {
        // A dry run's note of a pack: kept, so the plan names it.
        out.push(Vec::new());
    }
    out.into_iter()
}

/// Bytes of a pack one restore worker takes at a time (a few ranged GETs).
const PIECE: u64 = 4 * crate::blob::MAX_RANGE;

/// A further name of a hardlinked file, made after the files. Directories
/// are `None` only in a dry run (one that does not exist yet).
pub struct Link {
    pub path: PathBuf,
    pub dir: Option<DirId>,
    pub first: PathBuf,
    pub first_dir: Option<DirId>,
    /// (dev, inode) of what is at `path` now, if anything.
    pub existing: Option<(u64, u64)>,
}

/// A directory whose metadata is applied at the end: `dir` is `None` when
/// it is not (a dry run, or a directory that was there already and is
/// only on the way to an `--include`d path).
pub struct PlannedDir {
    pub path: PathBuf,
    pub node: Node,
    pub dir: Option<DirId>,
}

/// What a restore changes (listed by `dry_run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Replace,
    /// Same content, other owner, mode or times.
    Update,
    Delete,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: PathBuf,
}

pub struct Plan {
    pub dirs_open: Dirs,
    pub files: Vec<PlannedFile>,
    /// Blobs an earlier batch restored: copied from there (or fetched, if
    /// the copy is no longer the blob).
    /// (where it goes, where it was restored, its id, its length)
    pub copies: Vec<(Target, super::shared::Copy, BlobId, u32)>,
    /// Blobs each file still waits for.
    pub blobs_per_file: Vec<u32>,
    pub packs: Vec<PackPlan>,
    /// Directories in walk order (parents before children).
    pub dirs: Vec<PlannedDir>,
    pub links: Vec<Link>,
    pub other: u64,
    pub sockets: Vec<PathBuf>,
    /// Existing entries left as they were.
    pub kept: u64,
    pub deleted: u64,
    /// Only filled by a dry run.
    pub changes: Vec<Change>,
    pub failed: Vec<Failed>,
    /// Entries made whose metadata could not all be applied.
    pub metadata_failed: Vec<Failed>,
    /// `--include` patterns that matched nothing in the snapshot.
    pub unmatched: Vec<String>,
}

/// Where each content blob of `node` starts in the file: blobs follow one
/// another, and a stored hole that begins at (or before) the current end
/// moves the position past it.
pub fn blob_offsets(node: &Node, lengths: &[u64]) -> Vec<u64> {
    let mut holes = node.holes.iter().peekable();
    let mut pos = 0u64;
    let mut out = Vec::with_capacity(lengths.len());
    for len in lengths {
        while let Some(&&(off, hlen)) = holes.peek() {
            if off > pos {
                break;
            }
            pos = pos.max(off + hlen);
            holes.next();
        }
        out.push(pos);
        pos += len;
    }
    out
}
