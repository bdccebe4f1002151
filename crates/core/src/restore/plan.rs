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

use super::dirs::{DirId, Dirs};
use super::inplace::{Action, Existing, Overwrite, decide, same_metadata, temp_name, temp_number};
mod descend;

use super::planned::{BlobTargets, pieces};
pub use super::planned::{
    Change, ChangeKind, Link, PackPlan, Plan, PlannedDir, PlannedFile, Target, blob_offsets,
    name_of,
};
use super::write::{make_special, rename_into_place};
use super::{Failed, RestoreOptions};
use crate::blob::Wanted;
use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::Excludes;
use crate::fs::at::{Dir, open_beneath};
use crate::fs::{ApplyOptions, Entry, Meta, Owners, apply_metadata, owner_ids, read_xattrs};
use crate::id::{BlobId, TreeId};
use crate::progress::Progress;
use crate::repo::Repository;
use descend::{Frame, State};
use rustix::fs::{Mode, OFlags};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Planner<'a> {
    pub repo: &'a Repository,
    include: Option<Excludes>,
    /// Each include pattern on its own, with whether it matched yet.
    patterns: Vec<(String, Excludes, bool)>,
    exclude: Excludes,
    owners: &'a Owners,
    apply: ApplyOptions,
    progress: &'a dyn Progress,
    overwrite: Overwrite,
    delete: bool,
    dry_run: bool,
    roots: Vec<PathBuf>,
    pub plan: Plan,
    /// The directories from the target to the one being planned.
    chain: Vec<Frame>,
    link_first: HashMap<(u64, u64), (PathBuf, Option<DirId>)>,
    /// pack position -> blob -> (where it is in the pack, targets)
    by_pack: HashMap<u32, HashMap<BlobId, BlobTargets>>,
    /// The trees being walked, from the root down to the current one.
    walks: Vec<Walk>,
    /// Blobs files of several batches share, once a restore needs more
    /// than one batch.
    pub shared: Option<super::shared::Shared>,
}

/// A tree being planned: what is left of its entries.
struct Walk {
    nodes: std::vec::IntoIter<Node>,
    snap_dir: PathBuf,
    selected: bool,
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
        target: Option<Dir>,
        owners: &'a Owners,
        apply: ApplyOptions,
        progress: &'a dyn Progress,
    ) -> Result<Self> {
        let exists = target.is_some();
        let dirs = Dirs::new(target)
            .map_err(|e| Error::io("cannot open target", opts.target.display(), e))?;
        let mut patterns = Vec::new();
        for p in &opts.include {
            patterns.push((
                p.clone(),
                Excludes::new(std::slice::from_ref(p), Vec::new())?,
                false,
            ));
        }
        Ok(Planner {
            repo,
            include: if opts.include.is_empty() {
                None
            } else {
                Some(Excludes::new(&opts.include, Vec::new())?)
            },
            patterns,
            exclude: Excludes::new(&opts.exclude, Vec::new())?,
            owners,
            apply,
            progress,
            overwrite: opts.overwrite,
            delete: opts.delete,
            dry_run: opts.dry_run,
            roots: opts.snapshot_paths.clone(),
            plan: Plan {
                dirs_open: dirs,
                files: Vec::new(),
                copies: Vec::new(),
                blobs_per_file: Vec::new(),
                packs: Vec::new(),
                dirs: Vec::new(),
                links: Vec::new(),
                other: 0,
                sockets: Vec::new(),
                kept: 0,
                deleted: 0,
                changes: Vec::new(),
                failed: Vec::new(),
                metadata_failed: Vec::new(),
                unmatched: Vec::new(),
            },
            chain: vec![Frame {
                path: opts.target.clone(),
                state: if exists {
                    State::Open(0)
                } else {
                    State::Absent
                },
                fresh: !exists,
                planned: None,
            }],
            link_first: HashMap::new(),
            by_pack: HashMap::new(),
            walks: Vec::new(),
            shared: None,
        })
    }

    /// Plans the whole snapshot tree `root` below the target.
    pub fn root(&mut self, root: TreeId) -> Result<()> {
        self.start(root)?;
        self.advance(usize::MAX)?;
        Ok(())
    }

    /// Starts the walk of the snapshot tree `root` below the target; each
    /// [`advance`](Self::advance) plans the next part of it.
    pub fn start(&mut self, root: TreeId) -> Result<()> {
        let all = self.include.is_none();
        if let Some(first) = self.open_walk(root, PathBuf::from("/"), all, None)? {
            self.walks.push(first);
        }
        Ok(())
    }

    /// Plans entries until `max_files` files wait in the plan or the walk
    /// is done; returns whether entries are left. Memory then holds the
    /// batch, the trees on the current path and the directories so far,
    /// not the whole snapshot. Subtrees are walks on a stack of their own
    /// (each with its directory on `chain`), so depth costs no thread stack.
    pub fn advance(&mut self, max_files: usize) -> Result<bool> {
        while let Some(mut walk) = self.walks.pop() {
            if let Some(node) = walk.nodes.next() {
                let sub = self.tree_entry(&mut walk, node)?;
                self.walks.push(walk);
                self.walks.extend(sub);
                if self.plan.files.len() >= max_files {
                    return Ok(true);
                }
                continue;
            }
            let Some(mut parent) = self.walks.pop() else {
                return Ok(false);
            };
            // The subtree's directory leaves the walk's current path.
            self.chain.pop();
            self.walk_done(&mut parent, &walk);
            self.walks.push(parent);
        }
        Ok(false)
    }

    /// Moves the blobs planned so far into `plan.packs`, per pack (each
    /// fetched once per batch) in pieces.
    pub fn seal_packs(&mut self) {
        let mut packs: Vec<PackPlan> = self
            .by_pack
            .drain()
            .flat_map(|(pack, blobs)| {
                let mut blobs: Vec<_> = blobs.into_values().collect();
                blobs.sort_by_key(|b| (b.0.offset, b.0.slice));
                pieces(blobs).map(move |blobs| PackPlan { pack, blobs })
            })
            .collect();
        packs.sort_by_key(|p| (p.pack, p.blobs.first().map(|b| b.0.offset)));
        self.plan.packs = packs;
    }

    /// Forgets the files and packs of a batch that was written.
    pub fn clear_batch(&mut self) {
        self.plan.files.clear();
        self.plan.copies.clear();
        self.plan.blobs_per_file.clear();
        self.plan.packs.clear();
    }

    pub fn finish(mut self) -> Plan {
        self.seal_packs();
        self.plan.unmatched = self
            .patterns
            .into_iter()
            .filter(|p| !p.2)
            .map(|p| p.0)
            .collect();
        self.plan
    }

    fn fail(&mut self, path: PathBuf, error: Error) {
        self.progress.warning(&path, &error.to_string());
        self.plan.failed.push(Failed { path, error });
    }

    /// The entry is there, but not all of its metadata.
    fn fail_metadata(&mut self, path: PathBuf, error: Error) {
        self.progress.warning(&path, &error.to_string());
        self.plan.metadata_failed.push(Failed { path, error });
    }

    fn change(&mut self, kind: ChangeKind, path: &Path) {
        if self.dry_run {
            self.plan.changes.push(Change {
                kind,
                path: path.to_path_buf(),
            });
        }
    }

    /// A dry run's note of the packs a file's content is in (so the plan
    /// names every pack a restore would read, each with no blobs to write).
    fn note_packs(&mut self, node: &Node) {
        let index = self.repo.index();
        for id in &node.content {
            if let Some((_, loc)) = index.get(id) {
                self.by_pack.entry(loc.pack).or_default();
            }
        }
    }

    /// The owner `node` gets here, if owners are restored.
    fn owner(&self, node: &Node) -> Option<(u32, u32)> {
        self.apply
            .chown
            .then(|| owner_ids(node, self.owners, self.apply.numeric_owner))
    }

    /// Marks the include patterns that match `snap_path`.
    fn matched(&mut self, snap_path: &Path, is_dir: bool) {
        for p in self.patterns.iter_mut().filter(|p| !p.2) {
            p.2 = p.1.is_excluded(snap_path, is_dir);
        }
    }

    fn dir_of(&self, id: DirId, path: &Path) -> Result<std::sync::Arc<Dir>> {
        self.plan
            .dirs_open
            .get(id)
            .map_err(|e| Error::io("cannot open directory", path.display(), e))
    }

    /// What is `name` in `dir` now.
    fn existing(&self, dir: DirId, name: &OsStr, node: &Node) -> Option<Existing> {
        let d = self.plan.dirs_open.get(dir).ok()?;
        let meta = Meta::from_stat(&d.stat(name).ok()?);
        let target = (meta.kind == NodeKind::Symlink && node.kind == NodeKind::Symlink)
            .then(|| d.readlink(name).ok())
            .flatten();
        Some(Existing { meta, target })
    }

    /// Whether `name` in `dir` already matches `node` in everything that
    /// applying metadata would set (xattrs included).
    fn matches(&self, dir: DirId, name: &OsStr, node: &Node, e: &Existing) -> bool {
        same_metadata(node, e, self.owner(node))
            && self
                .plan
                .dirs_open
                .get(dir)
                .ok()
                .and_then(|d| read_xattrs(&d.proc_path(name), Path::new(name)).ok())
                .is_some_and(|x| x == node.xattrs)
    }

    /// Reads tree `id` for the directory on top of `chain`; `None` when it
    /// cannot be read (reported) and that directory has left `chain`.
    /// `unselected_at`: the directory was walked for the include patterns
    /// only, at that place in `plan.dirs`.
    fn open_walk(
        &mut self,
        id: TreeId,
        snap_dir: PathBuf,
        selected: bool,
        unselected_at: Option<usize>,
    ) -> Result<Option<Walk>> {
        let tree = match self.repo.read_tree(&id) {
            Ok(t) => t,
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => {
                self.fail(self.top().path.clone(), e);
                if let Some(index) = unselected_at {
                    self.plan.dirs.truncate(index); // nothing selected below
                }
                return Ok(None);
            }
        };
        if self.delete
            && selected
            && !self.top().fresh
            && self.below_roots(&snap_dir)
            && let State::Open(d) = self.top().state
        {
            self.delete_extras(&tree, &snap_dir, d);
        }
        Ok(Some(Walk {
            nodes: tree.nodes.into_iter(),
            snap_dir,
            selected,
            any: false,
            unselected_at,
        }))
    }

    /// A subtree is planned: what it means for its parent `walk`.
    fn walk_done(&mut self, walk: &mut Walk, done: &Walk) {
        match done.unselected_at {
            Some(_) if done.any => walk.any = true,
            // Walked for the include patterns only and nothing below was
            // selected: the directory is not restored.
            Some(index) => self.plan.dirs.truncate(index),
            None => {}
        }
    }

    /// Plans one entry of `walk`; returns the walk of a subtree to plan
    /// next (its directory pushed on `chain`).
    fn tree_entry(&mut self, walk: &mut Walk, node: Node) -> Result<Option<Walk>> {
        let name = OsStr::from_bytes(&node.name);
        let snap_path = walk.snap_dir.join(name);
        let is_dir = node.kind == NodeKind::Dir;
        if self.exclude.is_excluded(&snap_path, is_dir) {
            return Ok(None);
        }
        let sel = walk.selected
            || self
                .include
                .as_ref()
                .is_none_or(|inc| inc.is_excluded(&snap_path, is_dir));
        if sel && self.patterns.iter().any(|p| !p.2) {
            self.matched(&snap_path, is_dir);
        }
        let path = self.top().path.join(name);
        if is_dir {
            let sub = node.subtree.expect("decoder checks dirs have subtrees");
            if sel {
                walk.any = true;
                let Some(frame) = self.dir(path, node) else {
                    return Ok(None);
                };
                self.chain.push(frame);
                let opened = self.open_walk(sub, snap_path, true, None)?;
                if opened.is_none() {
                    self.chain.pop();
                }
                return Ok(opened);
            }
            // Walked for the include patterns only.
            let index = self.plan.dirs.len();
            self.plan.dirs.push(PlannedDir {
                path: path.clone(),
                node,
                dir: None,
            });
            let fresh = self.top().fresh;
            self.chain.push(Frame {
                path,
                state: State::Pending,
                fresh,
                planned: Some(index),
            });
            let opened = self.open_walk(sub, snap_path, false, Some(index))?;
            if opened.is_none() {
                self.chain.pop();
            }
            return Ok(opened);
        }
        if !sel {
            return Ok(None);
        }
        walk.any = true;
        if let Ok(dir) = self.ensure() {
            let fresh = self.top().fresh;
            self.entry(dir, path, node, fresh);
        }
        Ok(None)
    }

    /// Whether `snap_dir` is one of the snapshot's paths or below one.
    fn below_roots(&self, snap_dir: &Path) -> bool {
        self.roots.is_empty() || self.roots.iter().any(|r| snap_dir.starts_with(r))
    }

    /// `--delete`: removes what directory `dir` holds but `tree` does not
    /// (leaving what the exclude patterns protect).
    fn delete_extras(&mut self, tree: &Tree, snap_dir: &Path, dir: DirId) {
        let path = self.top().path.clone();
        let read = self.dir_of(dir, &path).and_then(|d| {
            d.names()
                .map(|n| (d, n))
                .map_err(|e| Error::io("cannot read directory", path.display(), e))
        });
        let (d, names) = match read {
            Ok(r) => r,
            Err(e) => return self.fail(path, e),
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
            let path = path.join(&name);
            self.plan.deleted += 1;
            self.change(ChangeKind::Delete, &path);
            if !self.dry_run
                && let Err(e) = d.remove_all(&name)
            {
                self.fail(path.clone(), Error::io("cannot delete", path.display(), e));
            }
        }
    }

    /// One selected non-directory entry, in directory `dir` (`None`: in a
    /// dry run, one that does not exist).
    fn entry(&mut self, dir: Option<DirId>, path: PathBuf, node: Node, fresh: bool) {
        if node.kind == NodeKind::Socket {
            self.plan.sockets.push(path);
            return;
        }
        let name = name_of(&path).to_os_string();
        let existing = match dir {
            Some(d) if !fresh => self.existing(d, &name, &node),
            _ => None,
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
            if let Some((first, first_dir)) = self.link_first.get(&key) {
                if action != Action::Keep {
                    let existing = existing.map(|e| (e.meta.dev, e.meta.inode));
                    let (first, first_dir) = (first.clone(), *first_dir);
                    self.plan.links.push(Link {
                        path,
                        dir,
                        first,
                        first_dir,
                        existing,
                    });
                }
                return;
            }
            self.link_first.insert(key, (path.clone(), dir));
        }
        if self.dry_run {
            if node.kind == NodeKind::File && matches!(action, Action::Create | Action::Replace) {
                self.note_packs(&node);
            }
            return;
        }
        let dir = dir.expect("only a dry run has absent directories");
        match action {
            Action::Keep => {}
            Action::Metadata => {
                let e = existing.expect("metadata only for what exists");
                if !self.matches(dir, &name, &node, &e) {
                    self.metadata_only(dir, &name, path, &node);
                }
            }
            Action::Create | Action::Replace if node.kind == NodeKind::File => {
                self.file(dir, path, node, action == Action::Create)
            }
            Action::Create | Action::Replace => self.special(dir, path, node, action),
        }
    }

    /// Applies `node`'s metadata to the entry that already has its content:
    /// a regular file through its own descriptor, others by name.
    fn metadata_only(&mut self, dir: DirId, name: &OsStr, path: PathBuf, node: &Node) {
        let r = self.dir_of(dir, &path).and_then(|d| {
            if node.kind != NodeKind::File {
                return apply_metadata(&Entry::At(&d, name), &path, node, self.owners, self.apply);
            }
            let flags = OFlags::RDONLY | OFlags::NONBLOCK;
            let f = open_beneath(d.fd(), name, flags, Mode::empty())
                .map(std::fs::File::from)
                .map_err(|e| Error::io("cannot open file", path.display(), e))?;
            apply_metadata(&Entry::Fd(&f), &path, node, self.owners, self.apply)
        });
        if let Err(e) = r {
            self.fail_metadata(path, e);
        }
    }

    /// Makes a symlink, device or FIFO: in place when nothing is there,
    /// else under a temporary name renamed over what is there.
    fn special(&mut self, dir: DirId, path: PathBuf, node: Node, action: Action) {
        self.plan.other += 1;
        let d = match self.dir_of(dir, &path) {
            Ok(d) => d,
            Err(e) => return self.fail(path, e),
        };
        let name = name_of(&path);
        let temp = (action != Action::Create).then(|| temp_name(temp_number()));
        let at = temp.as_deref().unwrap_or(name);
        if let Err(e) = make_special(&d, at, &path, &node) {
            return self.fail(path, e);
        }
        let meta = apply_metadata(&Entry::At(&d, at), &path, &node, self.owners, self.apply);
        if let Some(temp) = &temp
            && let Err(e) = rename_into_place(&d, temp, name, &path)
        {
            super::write::discard(&d, temp);
            return self.fail(path, e);
        }
        if let Err(e) = meta {
            self.fail_metadata(path, e);
        }
    }

    /// Plans a regular file; `nothing_there` writes it under its own name.
    fn file(&mut self, dir: DirId, path: PathBuf, node: Node, nothing_there: bool) {
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
            waiting += 1;
            let target = Target { file, offset };
            if let Some(copy) = self.shared.as_ref().and_then(|s| s.place(id)) {
                let want = (target, copy.clone(), *id, loc.raw_length);
                self.plan.copies.push(want);
                continue;
            }
            let slot = self
                .by_pack
                .entry(loc.pack)
                .or_default()
                .entry(*id)
                .or_insert((Wanted::at(*id, loc), Vec::new()));
            slot.1.push(target);
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
            dir,
            temp_n: if nothing_there { 0 } else { temp_number() },
            node,
            offsets,
            lengths,
        });
    }
}
