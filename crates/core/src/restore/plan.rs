//! Stage 1 of a restore: walk the snapshot's trees, decide what happens to
//! each entry (see [`super::inplace`]), make directories and special files,
//! remove what `--delete` removes, and plan the content: which blobs of
//! which packs go where in which files, so that each pack is fetched once.
//!
//! Input: the snapshot's root tree and the options. Output: a [`Plan`].
//! Invariants: directories are listed parents first (their metadata is
//! applied in reverse, after everything inside is written); a directory
//! this restore created is known to be empty, so its entries are not
//! looked up; with `dry_run` nothing on disk changes and the plan only
//! lists the changes.

use super::inplace::{
    Action, Existing, Overwrite, decide, same_metadata, temp_number, temp_path, temp_path_n,
};
use super::write::{make_dir, make_special, rename_into_place};
use super::{Failed, RestoreOptions};
use crate::backup::Excludes;
use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::at::{At, Dir, remove_all};
use crate::fs::{
    ApplyOptions, Meta, Owners, apply_metadata, apply_metadata_at, owner_ids, read_xattrs,
};
use crate::id::{BlobId, TreeId};
use crate::progress::Progress;
use crate::repo::Repository;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One regular file to restore, written at [`PlannedFile::temp`] and
/// renamed to `path`, or written at `path` itself when nothing was there.
pub struct PlannedFile {
    pub path: PathBuf,
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

impl PlannedFile {
    /// The name it is written under: a temporary one, or its own.
    pub fn temp(&self) -> PathBuf {
        if self.temp_n == 0 {
            self.path.clone()
        } else {
            temp_path_n(&self.path, self.temp_n)
        }
    }
}

/// One blob to write into one place of one file.
#[derive(Clone, Copy)]
pub struct Target {
    pub file: usize,
    pub offset: u64,
}

/// Blobs to read from one pack, with where each goes.
pub struct PackPlan {
    pub pack: u32,
    /// (blob, offset in pack, sealed length, targets), sorted by offset.
    pub blobs: Vec<(BlobId, u32, u32, Vec<Target>)>,
}

/// A further name of a hardlinked file, made after the files.
pub struct Link {
    pub path: PathBuf,
    pub first: PathBuf,
    /// (dev, inode) of what is at `path` now, if anything.
    pub existing: Option<(u64, u64)>,
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

#[derive(Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Blobs each file still waits for.
    pub blobs_per_file: Vec<u32>,
    pub packs: Vec<PackPlan>,
    /// Directories in walk order (parents before children).
    pub dirs: Vec<(PathBuf, Node)>,
    pub links: Vec<Link>,
    pub other: u64,
    pub sockets: Vec<PathBuf>,
    /// Existing entries left as they were.
    pub kept: u64,
    pub deleted: u64,
    /// Only filled by a dry run.
    pub changes: Vec<Change>,
    pub failed: Vec<Failed>,
}

type BlobTargets = (u32, u32, Vec<Target>);

pub struct Planner<'a> {
    pub repo: &'a Repository,
    include: Option<Excludes>,
    exclude: Excludes,
    owners: &'a Owners,
    apply: ApplyOptions,
    progress: &'a dyn Progress,
    overwrite: Overwrite,
    delete: bool,
    dry_run: bool,
    roots: Vec<PathBuf>,
    pub plan: Plan,
    link_first: HashMap<(u64, u64), PathBuf>,
    /// pack position -> blob -> (offset, sealed length, targets)
    by_pack: HashMap<u32, HashMap<BlobId, BlobTargets>>,
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

/// A tree being planned: what is left of its entries.
struct PlanFrame {
    nodes: std::vec::IntoIter<Node>,
    snap_dir: PathBuf,
    dir: PathBuf,
    selected: bool,
    fresh: bool,
    /// Whether anything in it was selected so far.
    any: bool,
    /// For a directory walked for the include patterns only: its place in
    /// `plan.dirs`, dropped if nothing below is selected.
    unselected_at: Option<usize>,
}

fn is_dir(st: &rustix::fs::Stat) -> bool {
    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
}

impl<'a> Planner<'a> {
    pub fn new(
        repo: &'a Repository,
        opts: &RestoreOptions,
        owners: &'a Owners,
        apply: ApplyOptions,
        progress: &'a dyn Progress,
    ) -> Result<Self> {
        Ok(Planner {
            repo,
            include: if opts.include.is_empty() {
                None
            } else {
                Some(Excludes::new(&opts.include, Vec::new())?)
            },
            exclude: Excludes::new(&opts.exclude, Vec::new())?,
            owners,
            apply,
            progress,
            overwrite: opts.overwrite,
            delete: opts.delete,
            dry_run: opts.dry_run,
            roots: opts.snapshot_paths.clone(),
            plan: Plan::default(),
            link_first: HashMap::new(),
            by_pack: HashMap::new(),
        })
    }

    /// Plans the whole snapshot tree `root` below `target`.
    pub fn root(&mut self, root: TreeId, target: &Path) -> Result<()> {
        let all = self.include.is_none();
        self.tree(root, Path::new("/"), target, all, false)?;
        Ok(())
    }

    pub fn finish(mut self) -> Plan {
        let mut packs: Vec<PackPlan> = self
            .by_pack
            .into_iter()
            .map(|(pack, blobs)| {
                let mut blobs: Vec<_> = blobs
                    .into_iter()
                    .map(|(id, (off, len, t))| (id, off, len, t))
                    .collect();
                blobs.sort_by_key(|b| b.1);
                PackPlan { pack, blobs }
            })
            .collect();
        packs.sort_by_key(|p| p.pack);
        self.plan.packs = packs;
        self.plan
    }

    fn fail(&mut self, path: PathBuf, error: Error) {
        self.progress.warning(&path, &error.to_string());
        self.plan.failed.push(Failed { path, error });
    }

    fn change(&mut self, kind: ChangeKind, path: &Path) {
        if self.dry_run {
            self.plan.changes.push(Change {
                kind,
                path: path.to_path_buf(),
            });
        }
    }

    /// The owner `node` gets here, if owners are restored.
    fn owner(&self, node: &Node) -> Option<(u32, u32)> {
        self.apply
            .chown
            .then(|| owner_ids(node, self.owners, self.apply.numeric_owner))
    }

    /// What is at `path` now.
    fn existing(&self, path: &Path, node: &Node) -> Option<Existing> {
        let at = At::new(path).ok()?;
        let meta = Meta::from_stat(&at.stat().ok()?);
        let target = (meta.kind == NodeKind::Symlink && node.kind == NodeKind::Symlink)
            .then(|| rustix::fs::readlinkat(at.dir(), at.name(), Vec::new()).ok())
            .flatten()
            .map(|t| t.into_bytes());
        Some(Existing { meta, target })
    }

    /// Whether the entry at `path` already matches `node` in everything
    /// that applying metadata would set (xattrs included).
    fn matches(&self, path: &Path, node: &Node, e: &Existing) -> bool {
        same_metadata(node, e, self.owner(node))
            && At::new(path)
                .ok()
                .and_then(|at| read_xattrs(&at.short_path(), path).ok())
                .is_some_and(|x| x == node.xattrs)
    }

    /// Plans the entries of tree `id` (snapshot path `snap_dir`) below `dir`.
    /// `selected`: this directory matched an include pattern (or has an
    /// ancestor that did); `fresh`: this restore made `dir`, so it is
    /// empty. Returns whether anything below was selected. Subtrees are
    /// frames on a stack of its own, so depth costs no thread stack.
    fn tree(
        &mut self,
        id: TreeId,
        snap_dir: &Path,
        dir: &Path,
        selected: bool,
        fresh: bool,
    ) -> Result<bool> {
        let top = (snap_dir.to_path_buf(), dir.to_path_buf());
        let Some(first) = self.open_tree(id, top, selected, fresh, None)? else {
            return Ok(false);
        };
        let mut stack = vec![first];
        while let Some(frame) = stack.last_mut() {
            if let Some(node) = frame.nodes.next() {
                if let Some(sub) = self.tree_entry(frame, node)? {
                    stack.push(sub);
                }
                continue;
            }
            let done = stack.pop().expect("a frame");
            let Some(parent) = stack.last_mut() else {
                return Ok(done.any);
            };
            self.tree_done(parent, done.any, done.unselected_at);
        }
        Ok(false)
    }

    /// Reads tree `id` for planning below (snapshot path, target path)
    /// `dirs`; `None` when it cannot be read (reported).
    fn open_tree(
        &mut self,
        id: TreeId,
        dirs: (PathBuf, PathBuf),
        selected: bool,
        fresh: bool,
        unselected_at: Option<usize>,
    ) -> Result<Option<PlanFrame>> {
        let (snap_dir, dir) = dirs;
        let tree = match self.repo.read_tree(&id) {
            Ok(t) => t,
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => {
                self.fail(dir, e);
                return Ok(None);
            }
        };
        if self.delete && selected && !fresh && self.below_roots(&snap_dir) {
            self.delete_extras(&tree, &snap_dir, &dir);
        }
        Ok(Some(PlanFrame {
            nodes: tree.nodes.into_iter(),
            snap_dir,
            dir,
            selected,
            fresh,
            any: false,
            unselected_at,
        }))
    }

    /// A subtree is planned: what it means for its parent `frame`.
    fn tree_done(&mut self, frame: &mut PlanFrame, any: bool, unselected_at: Option<usize>) {
        match unselected_at {
            Some(_) if any => frame.any = true,
            // Walked for the include patterns only and nothing below was
            // selected: the directory is not restored.
            Some(index) => self.plan.dirs.truncate(index),
            None => {}
        }
    }

    /// Plans one entry of `frame`; returns the frame of a subtree to plan
    /// next.
    fn tree_entry(&mut self, frame: &mut PlanFrame, node: Node) -> Result<Option<PlanFrame>> {
        let name = OsStr::from_bytes(&node.name);
        let snap_path = frame.snap_dir.join(name);
        let is_dir = node.kind == NodeKind::Dir;
        if self.exclude.is_excluded(&snap_path, is_dir) {
            return Ok(None);
        }
        let sel = frame.selected
            || self
                .include
                .as_ref()
                .is_none_or(|inc| inc.is_excluded(&snap_path, is_dir));
        let path = frame.dir.join(name);
        if is_dir {
            let sub = node.subtree.expect("decoder checks dirs have subtrees");
            if sel {
                frame.any = true;
                return match self.dir(&path, node, frame.fresh) {
                    Some(child_fresh) => {
                        self.open_tree(sub, (snap_path, path), true, child_fresh, None)
                    }
                    None => Ok(None),
                };
            }
            // Walked for the include patterns only.
            let index = self.plan.dirs.len();
            self.plan.dirs.push((path.clone(), node));
            let sub = self.open_tree(sub, (snap_path, path), false, frame.fresh, Some(index))?;
            if sub.is_none() {
                self.plan.dirs.truncate(index); // nothing selected below
            }
            return Ok(sub);
        }
        if !sel {
            return Ok(None);
        }
        if !frame.any && !frame.selected && !self.dry_run {
            // Reached only through include patterns: the directory may not exist yet.
            if let Err(e) = make_dir(&frame.dir) {
                self.fail(frame.dir.clone(), e);
                frame.any = true;
                frame.nodes = Vec::new().into_iter(); // the rest of it is left out
                return Ok(None);
            }
        }
        frame.any = true;
        self.entry(path, node, frame.fresh);
        Ok(None)
    }

    /// A selected directory: makes it if needed. Returns whether its
    /// entries are to be restored and whether it is fresh (`None`: skip it).
    fn dir(&mut self, path: &Path, node: Node, fresh: bool) -> Option<bool> {
        let existing = if fresh {
            None
        } else {
            self.existing(path, &node)
        };
        let action = decide(&node, existing.as_ref(), self.overwrite);
        let child_fresh = match action {
            Action::Keep
                if existing
                    .as_ref()
                    .is_some_and(|e| e.meta.kind != NodeKind::Dir) =>
            {
                self.plan.kept += 1;
                return None;
            }
            Action::Keep => {
                self.plan.kept += 1;
                return Some(false);
            }
            Action::Metadata => {
                if self.dry_run
                    && !existing
                        .as_ref()
                        .is_some_and(|e| same_metadata(&node, e, self.owner(&node)))
                {
                    self.change(ChangeKind::Update, path);
                }
                false
            }
            Action::Create | Action::Replace => {
                let kind = if action == Action::Create {
                    ChangeKind::New
                } else {
                    ChangeKind::Replace
                };
                self.change(kind, path);
                if !self.dry_run {
                    let made = if action == Action::Replace {
                        remove_all(path)
                            .map_err(|e| Error::io("cannot replace", path.display(), e))
                            .and_then(|_| make_dir(path))
                    } else {
                        make_dir(path)
                    };
                    if let Err(e) = made {
                        self.fail(path.to_path_buf(), e);
                        return None;
                    }
                }
                true
            }
        };
        self.plan.dirs.push((path.to_path_buf(), node));
        Some(child_fresh)
    }

    /// Whether `snap_dir` is one of the snapshot's paths or below one.
    fn below_roots(&self, snap_dir: &Path) -> bool {
        self.roots.is_empty() || self.roots.iter().any(|r| snap_dir.starts_with(r))
    }

    /// `--delete`: removes what `dir` holds but `tree` does not (leaving
    /// what the exclude patterns protect).
    fn delete_extras(&mut self, tree: &Tree, snap_dir: &Path, dir: &Path) {
        let d = match Dir::open(dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                return self.fail(
                    dir.to_path_buf(),
                    Error::io("cannot read directory", dir.display(), e),
                );
            }
        };
        let names = match d.names() {
            Ok(n) => n,
            Err(e) => {
                return self.fail(
                    dir.to_path_buf(),
                    Error::io("cannot read directory", dir.display(), e),
                );
            }
        };
        for name in names {
            if tree.find(name.as_bytes()).is_some() {
                continue;
            }
            let entry_is_dir = d.stat(&name).is_ok_and(|st| is_dir(&st));
            if self
                .exclude
                .is_excluded(&snap_dir.join(&name), entry_is_dir)
            {
                continue;
            }
            let path = dir.join(&name);
            self.plan.deleted += 1;
            self.change(ChangeKind::Delete, &path);
            if !self.dry_run
                && let Err(e) = remove_all(&path)
            {
                self.fail(path.clone(), Error::io("cannot delete", path.display(), e));
            }
        }
    }

    fn entry(&mut self, path: PathBuf, node: Node, fresh: bool) {
        if node.kind == NodeKind::Socket {
            self.plan.sockets.push(path);
            return;
        }
        let existing = if fresh {
            None
        } else {
            self.existing(&path, &node)
        };
        let action = decide(&node, existing.as_ref(), self.overwrite);
        let unchanged = existing
            .as_ref()
            .is_some_and(|e| same_metadata(&node, e, self.owner(&node)));
        match action {
            Action::Keep => self.plan.kept += 1,
            Action::Create => self.change(ChangeKind::New, &path),
            Action::Replace if !unchanged => self.change(ChangeKind::Replace, &path),
            Action::Metadata if !unchanged => self.change(ChangeKind::Update, &path),
            Action::Replace | Action::Metadata => {}
        }
        if node.kind == NodeKind::File && node.links > 1 {
            let key = (node.dev, node.inode);
            if let Some(first) = self.link_first.get(&key) {
                if action != Action::Keep {
                    let existing = existing.map(|e| (e.meta.dev, e.meta.inode));
                    let first = first.clone();
                    self.plan.links.push(Link {
                        path,
                        first,
                        existing,
                    });
                }
                return;
            }
            self.link_first.insert(key, path.clone());
        }
        if self.dry_run {
            return;
        }
        match action {
            Action::Keep => {}
            Action::Metadata => {
                let e = existing.expect("metadata only for what exists");
                if !self.matches(&path, &node, &e)
                    && let Err(err) = apply_metadata(&path, &node, self.owners, self.apply)
                {
                    self.fail(path, err);
                }
            }
            Action::Create | Action::Replace if node.kind == NodeKind::File => {
                self.file(path, node, action == Action::Create)
            }
            Action::Create | Action::Replace => self.special(path, node, action),
        }
    }

    /// Makes a symlink, device or FIFO: in place when nothing is there,
    /// else under a temporary name renamed over what is there.
    fn special(&mut self, path: PathBuf, node: Node, action: Action) {
        self.plan.other += 1;
        let at = if action == Action::Create {
            path.clone()
        } else {
            temp_path(&path)
        };
        let r = make_special(&at, &path, &node)
            .and_then(|_| apply_metadata_at(&at, &path, &node, self.owners, self.apply))
            .and_then(|_| {
                if at != path {
                    rename_into_place(&at, &path)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = r {
            if at != path {
                super::write::discard(&at);
            }
            self.fail(path, e);
        }
    }

    /// Plans a regular file; `nothing_there` writes it under its own name.
    fn file(&mut self, path: PathBuf, node: Node, nothing_there: bool) {
        let file = self.plan.files.len();
        let index = self.repo.index();
        let mut lengths = Vec::with_capacity(node.content.len());
        let mut locs = Vec::with_capacity(node.content.len());
        let mut missing = None;
        for id in &node.content {
            match index.get(id) {
                Some((_, loc)) => {
                    lengths.push(loc.raw_length as u64);
                    locs.push(Some(loc));
                }
                None => {
                    missing.get_or_insert(*id);
                    lengths.push(0);
                    locs.push(None);
                }
            }
        }
        drop(index);
        let offsets = blob_offsets(&node, &lengths);
        let mut waiting = 0;
        for ((id, loc), &offset) in node.content.iter().zip(&locs).zip(&offsets) {
            let Some(loc) = loc else { continue };
            let slot = self
                .by_pack
                .entry(loc.pack)
                .or_default()
                .entry(*id)
                .or_insert((loc.offset, loc.length, Vec::new()));
            slot.2.push(Target { file, offset });
            waiting += 1;
        }
        if let Some(id) = missing {
            let e = Error::at(
                Kind::Corrupt,
                format!(
                    "data blob {} is missing from the repository; file restored partially",
                    id.short()
                ),
                path.display(),
            );
            self.fail(path.clone(), e);
        }
        self.plan.blobs_per_file.push(waiting);
        self.plan.files.push(PlannedFile {
            path,
            temp_n: if nothing_there { 0 } else { temp_number() },
            node,
            offsets,
            lengths,
        });
    }
}
