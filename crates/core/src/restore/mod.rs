//! Restore: a snapshot (or part of it) becomes a directory tree again, in an
//! empty directory or onto the tree it was taken from.
//!
//! ```text
//! The first three stages run in batches of up to 100,000 files: the walk
//! stops when a batch is full, the batch is created and fetched, and the
//! walk goes on. Memory holds one batch, the trees on the current path and
//! the directory list, not the whole snapshot. A blob that files of two
//! batches share is fetched once and then copied from the first file
//! restored with it ([`shared`]).
//!
//! plan    walk the trees (this thread): decide per entry what to do with
//!         what is there (overwrite mode), remove what --delete removes,
//!         make directories, links, devices; list files and, per pack,
//!         which blobs go where
//! create  make every file, in parallel (creating 100k files costs more
//!         kernel time than decompressing them): under its own name where
//!         nothing is, else under a temporary name
//! fetch   per pack, in parallel, through the shared pack reader
//!         (`blob::Wanted`): read the needed ranges once, open and verify
//!         each blob, write it at its offsets (zeros stay holes);
//!         the write that completes a file sets its length and metadata
//!         and, if it has a temporary name, renames it into place
//! finish  hardlinks, then directory metadata deepest first (writing into
//!         a directory changes its mtime); with --verify, read every
//!         restored file back and check it against its blob ids
//! ```
//! A file whose data is damaged or missing is reported (and its old
//! version, if any, left in place); every other file is restored. An entry
//! whose owner, mode, xattrs or times cannot be applied keeps its content
//! and is reported once. Sockets are recorded in snapshots but not
//! recreated (the program that listens on one makes it): they are listed
//! in the result.
//!
//! A restore never leaves its target: every file-system call is relative
//! to a directory opened from the target down without following a symlink
//! ([`dirs`]); metadata is set through the entry's own descriptor; a
//! directory's final metadata is applied only if it is still the one this
//! restore made or opened (device and inode). Whatever another user does
//! in the target meanwhile, nothing outside it is written, removed or
//! changed.

mod dirs;
mod inplace;
mod plan;
mod planned;
mod run;
mod shared;
mod verify;
mod write;

use crate::blob::ColdOptions;
use crate::error::{Error, Result};
use crate::fs::at::Dir;
use crate::fs::{ApplyOptions, Entry, Owners, apply_metadata};
use crate::id::TreeId;
use crate::progress::{NoProgress, Progress};
use crate::repo::Repository;
use dirs::Dirs;
use plan::{Link, Plan, Planner, name_of};
use std::collections::HashSet;
use std::path::PathBuf;

pub use inplace::Overwrite;
pub use plan::{Change, ChangeKind};
pub(crate) use planned::blob_offsets;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Restore only paths matching (or below a path matching) one of these.
    pub include: Vec<String>,
    /// Never restore paths matching these (nor anything below them); with
    /// `delete`, what they match is not deleted either.
    pub exclude: Vec<String>,
    pub numeric_owner: bool,
    /// Keep setuid and setgid bits where owners are not restored (a restore
    /// by a user other than root): off, they are dropped.
    pub keep_setid: bool,
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
    /// What to do when data packs are in an archive storage class.
    pub cold: ColdOptions,
    /// Files planned and written at a time (see [`BATCH_FILES`]).
    pub batch_files: usize,
}

impl RestoreOptions {
    pub fn new(target: PathBuf) -> Self {
        RestoreOptions {
            target,
            include: Vec::new(),
            exclude: Vec::new(),
            numeric_owner: false,
            keep_setid: false,
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
            cold: ColdOptions::default(),
            batch_files: BATCH_FILES,
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
    /// Regular files restored (hardlinks included; failed ones not).
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
    /// Entries not restored (or not completely).
    pub failed: Vec<Failed>,
    /// Entries restored with their content, but not all their metadata
    /// (owner, mode, xattrs, times).
    pub metadata_failed: Vec<Failed>,
    /// `--include` patterns that matched nothing (when others did).
    pub unmatched: Vec<String>,
}

/// Restores the snapshot tree `root` below `opts.target`. An `--include`
/// that matches nothing at all is an error (nothing is restored).
pub fn restore(
    repo: &Repository,
    root: TreeId,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreResult> {
    let owners = Owners::new();
    let root_user = rustix::process::geteuid().is_root();
    let apply = ApplyOptions {
        numeric_owner: opts.numeric_owner,
        chown: root_user,
        keep_setid: opts.keep_setid,
    };
    if !opts.dry_run {
        thaw(repo, root, opts, &owners, apply, progress)?;
    }
    let target = open_target(opts)?;
    crate::fs::raise_open_files_limit();
    let mut planner = Planner::new(repo, opts, target, &owners, apply, progress)?;
    planner.start(root)?;
    let mut res = RestoreResult::default();
    let mut failed = Vec::new();
    let mut metadata_failed = Vec::new();
    let batch = Batch {
        repo,
        opts,
        owners: &owners,
        apply,
        progress,
    };
    // Plan and write in batches: memory holds one batch of files, not the
    // snapshot (a batch ends at a whole entry; hardlinks and directory
    // metadata wait for the end).
    let max_files = if opts.dry_run {
        usize::MAX
    } else {
        opts.batch_files.max(1)
    };
    while planner.advance(max_files)? {
        if planner.shared.is_none() {
            // More than one batch: blobs files of two batches share are
            // fetched once, then copied (see `shared`).
            planner.shared = Some(shared::Shared::count(repo, root)?);
        }
        planner.seal_packs();
        let plan = &planner.plan;
        let lost = batch.write(plan, false, &mut res, &mut failed, &mut metadata_failed)?;
        if let Some(s) = planner.shared.as_mut() {
            s.note(&planner.plan, |i| lost[i]);
        }
        planner.clear_batch();
    }
    let mut plan = planner.finish();
    if !opts.include.is_empty() && plan.unmatched.len() == opts.include.len() {
        return Err(Error::invalid(format!(
            "--include matches nothing in the snapshot: {}",
            plan.unmatched.join(", ")
        )));
    }
    counts(&mut plan, &mut res, opts.dry_run);
    // Failures found while planning come first, as they happened first.
    failed.splice(0..0, std::mem::take(&mut plan.failed));
    metadata_failed.splice(0..0, std::mem::take(&mut plan.metadata_failed));
    if opts.dry_run {
        res.files = plan.files.len() as u64;
        res.bytes = plan.files.iter().map(|f| f.node.size).sum();
        link_changes(&plan, &mut res);
        res.failed = failed;
        return Ok(res);
    }
    batch.write(&plan, true, &mut res, &mut failed, &mut metadata_failed)?;
    for l in &plan.links {
        match link(&plan.dirs_open, l) {
            Ok(()) => res.files += 1,
            Err(error) => failed.push(Failed {
                path: l.path.clone(),
                error,
            }),
        }
    }
    dir_metadata(
        &plan,
        &owners,
        apply,
        progress,
        &mut failed,
        &mut metadata_failed,
    );
    res.failed = failed;
    res.metadata_failed = metadata_failed;
    Ok(res)
}

/// The summary's counts the whole plan gives.
fn counts(plan: &mut Plan, res: &mut RestoreResult, dry_run: bool) {
    // Directories below a path that could not be reached were never made.
    res.dirs = plan
        .dirs
        .iter()
        .filter(|d| dry_run || d.dir.is_some())
        .count() as u64;
    res.other = plan.other;
    res.kept = plan.kept;
    res.deleted = plan.deleted;
    res.sockets = std::mem::take(&mut plan.sockets);
    res.changes = std::mem::take(&mut plan.changes);
    res.unmatched = std::mem::take(&mut plan.unmatched);
}

/// Files planned and written at a time: bounds a restore's memory (about
/// 1 KiB a planned file, ~100 MiB a batch) whatever the number of files in
/// the snapshot. Larger batches read fewer pieces of packs twice: a blob
/// that files of two batches share (duplicate files) is fetched once per
/// batch, which for blobs in compression groups means the whole group.
pub const BATCH_FILES: usize = 100_000;

/// What writing a batch of planned files needs.
struct Batch<'a> {
    repo: &'a Repository,
    opts: &'a RestoreOptions,
    owners: &'a Owners,
    apply: ApplyOptions,
    progress: &'a dyn Progress,
}

impl Batch<'_> {
    /// Creates and fills the files of `plan` (and, with `verify`, reads
    /// them back); counts them into `res` (`last`: no batch follows).
    /// Returns, by file, whether it failed.
    fn write(
        &self,
        plan: &Plan,
        last: bool,
        res: &mut RestoreResult,
        failed: &mut Vec<Failed>,
        metadata_failed: &mut Vec<Failed>,
    ) -> Result<Vec<bool>> {
        res.files += plan.files.len() as u64;
        res.bytes += plan.files.iter().map(|f| f.node.size).sum::<u64>();
        self.progress.totals(res.files, res.bytes, last);
        let run = run::Run::new(self.repo, plan, self.owners, self.apply, self.progress);
        let threads = self.opts.threads.max(1);
        run.run(threads, self.opts.connections)?;
        let lost: Vec<bool> = (0..plan.files.len()).map(|i| run.has_failed(i)).collect();
        for (f, _) in plan.files.iter().zip(&lost).filter(|(_, lost)| **lost) {
            res.files -= 1;
            res.bytes -= f.node.size;
        }
        let failed_before = failed.len();
        failed.extend(run.failed.into_inner().expect("poisoned"));
        metadata_failed.extend(run.metadata_failed.into_inner().expect("poisoned"));
        if self.opts.verify {
            // Files that failed while planned (missing data) or written.
            let skip: HashSet<PathBuf> = (plan.failed.iter())
                .chain(&failed[failed_before..])
                .map(|f| f.path.clone())
                .collect();
            let bad = verify::verify(self.repo, &plan.dirs_open, &plan.files, &skip, threads);
            let good = plan.files.len() - skip.len().min(plan.files.len()) - bad.len();
            res.verified += good as u64;
            for f in &bad {
                self.progress.warning(&f.path, &f.error.to_string());
            }
            res.files -= bad.len() as u64;
            failed.extend(bad);
        }
        Ok(lost)
    }
}

/// Opens (outside a dry run, first creates) the target directory. It is
/// opened as named (symlinks in its own path are the user's choice);
/// everything below it is reached without following one. `None`: a dry
/// run into a target that does not exist yet.
/// Makes the archived data packs the restore reads readable first (as
/// `opts.cold` says), so a restore that stops for them has written
/// nothing. The packs come from a dry-run plan, made only when the
/// repository holds archived packs at all.
fn thaw(
    repo: &Repository,
    root: TreeId,
    opts: &RestoreOptions,
    owners: &Owners,
    apply: ApplyOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let needed = || {
        let dry = RestoreOptions {
            dry_run: true,
            ..opts.clone()
        };
        let mut planner = Planner::new(repo, &dry, open_target(&dry)?, owners, apply, &NoProgress)?;
        planner.root(root)?;
        let index = repo.index();
        let packs = index.packs();
        let mut needed: Vec<u32> = planner.finish().packs.iter().map(|p| p.pack).collect();
        needed.dedup(); // a pack's pieces are together
        Ok(needed.into_iter().map(|p| packs[p as usize]).collect())
    };
    repo.thaw_for_read(needed, &opts.cold, progress)
}

fn open_target(opts: &RestoreOptions) -> Result<Option<Dir>> {
    let cannot_open = |e| Error::io("cannot open target directory", opts.target.display(), e);
    if opts.dry_run {
        return match Dir::open(&opts.target) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(cannot_open(e)),
        };
    }
    std::fs::create_dir_all(&opts.target)
        .map_err(|e| Error::io("cannot create target directory", opts.target.display(), e))?;
    Ok(Some(Dir::open(&opts.target).map_err(cannot_open)?))
}

/// What a dry run reports for hardlinks: new, or replacing what is there
/// (a link that is already in place is no change).
fn link_changes(plan: &Plan, res: &mut RestoreResult) {
    for l in &plan.links {
        let kind = match l.existing {
            None => ChangeKind::New,
            Some(there) if is_linked(&plan.dirs_open, l, there) => continue,
            Some(_) => ChangeKind::Replace,
        };
        res.changes.push(Change {
            kind,
            path: l.path.clone(),
        });
    }
    res.files += plan.links.len() as u64;
}

/// Sets each restored directory's metadata, deepest first so setting a
/// directory's times is never undone by a child. A directory that is no
/// longer the one created (replaced meanwhile) is a failure; metadata that
/// cannot be set is a metadata failure.
fn dir_metadata(
    plan: &Plan,
    owners: &Owners,
    apply: ApplyOptions,
    progress: &dyn Progress,
    failed: &mut Vec<Failed>,
    metadata_failed: &mut Vec<Failed>,
) {
    for d in plan.dirs.iter().rev() {
        let Some(id) = d.dir else { continue };
        let applied = match plan.dirs_open.reopen_checked(id) {
            Ok(dir) => apply_metadata(
                &Entry::Fd(&dir.into_file()),
                &d.path,
                &d.node,
                owners,
                apply,
            )
            .map_err(|e| (e, false)),
            Err(e) => Err((
                Error::io("directory metadata not applied", d.path.display(), e),
                true,
            )),
        };
        match applied {
            Ok(()) => {}
            Err((error, replaced)) => {
                progress.warning(&d.path, &error.to_string());
                let f = Failed {
                    path: d.path.clone(),
                    error,
                };
                if replaced {
                    failed.push(f)
                } else {
                    metadata_failed.push(f)
                }
            }
        }
    }
}

/// Makes `l.path` a hardlink of `l.first`, unless it already is one; what
/// is there otherwise is replaced atomically (link under a temporary name,
/// rename over).
fn link(dirs: &Dirs, l: &Link) -> Result<()> {
    if l.existing.is_some_and(|there| is_linked(dirs, l, there)) {
        return Ok(());
    }
    let open = |d: Option<dirs::DirId>| {
        dirs.get(d.expect("set outside a dry run"))
            .map_err(|e| Error::io("cannot open directory", l.path.display(), e))
    };
    let (first_dir, dir) = (open(l.first_dir)?, open(l.dir)?);
    let temp = inplace::temp_name(inplace::temp_number());
    write::hard_link((&first_dir, name_of(&l.first)), (&dir, &temp), &l.path)?;
    write::rename_into_place(&dir, &temp, name_of(&l.path), &l.path)
        .inspect_err(|_| write::discard(&dir, &temp))
}

/// Whether the first name of `l` is the inode `(dev, inode)`.
fn is_linked(dirs: &Dirs, l: &Link, (dev, inode): (u64, u64)) -> bool {
    l.first_dir
        .and_then(|d| dirs.get(d).ok())
        .and_then(|d| d.stat(name_of(&l.first)).ok())
        .map(|st| crate::fs::Meta::from_stat(&st))
        .is_some_and(|m| (m.dev, m.inode) == (dev, inode))
}
