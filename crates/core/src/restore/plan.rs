//! Stage 1 of a restore: walk the snapshot's trees, make directories and
//! special files, and plan the content: which blobs of which packs go where
//! in which files, so that each pack is fetched once.

use super::{Failed, RestoreOptions};
use crate::backup::Excludes;
use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind};
use crate::fs::{ApplyOptions, Owners, apply_metadata};
use crate::id::{BlobId, TreeId};
use crate::progress::Progress;
use crate::repo::Repository;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One regular file to restore.
pub struct PlannedFile {
    pub path: PathBuf,
    pub node: Node,
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

#[derive(Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Blobs each file still waits for.
    pub blobs_per_file: Vec<u32>,
    pub packs: Vec<PackPlan>,
    /// Directories in walk order (parents before children).
    pub dirs: Vec<(PathBuf, Node)>,
    /// (new name, existing name) for hardlinks, made after the files.
    pub links: Vec<(PathBuf, PathBuf)>,
    pub other: u64,
    pub failed: Vec<Failed>,
}

type BlobTargets = (u32, u32, Vec<Target>);

pub struct Planner<'a> {
    pub repo: &'a Repository,
    pub include: Option<Excludes>,
    pub exclude: Excludes,
    pub owners: &'a Owners,
    pub apply: ApplyOptions,
    pub progress: &'a dyn Progress,
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
            plan: Plan::default(),
            link_first: HashMap::new(),
            by_pack: HashMap::new(),
        })
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

    /// Plans the entries of tree `id` (snapshot path `snap_dir`) below `dir`.
    /// `selected`: an ancestor matched an include pattern. Returns whether
    /// anything below was selected.
    pub fn tree(
        &mut self,
        id: TreeId,
        snap_dir: &Path,
        dir: &Path,
        selected: bool,
    ) -> Result<bool> {
        let tree = match self.repo.read_tree(&id) {
            Ok(t) => t,
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => {
                self.fail(dir.to_path_buf(), e);
                return Ok(false);
            }
        };
        let mut any = false;
        for node in tree.nodes {
            let name = OsStr::from_bytes(&node.name);
            let snap_path = snap_dir.join(name);
            if self.exclude.is_excluded(&snap_path) {
                continue;
            }
            let sel = selected
                || self
                    .include
                    .as_ref()
                    .is_none_or(|inc| inc.is_excluded(&snap_path));
            let path = dir.join(name);
            if node.kind == NodeKind::Dir {
                if sel {
                    make_dir(&path)?;
                }
                let sub = node.subtree.expect("decoder checks dirs have subtrees");
                let index = self.plan.dirs.len();
                self.plan.dirs.push((path.clone(), node));
                if self.tree(sub, &snap_path, &path, sel)? || sel {
                    any = true;
                } else {
                    self.plan.dirs.truncate(index); // nothing selected below
                }
                continue;
            }
            if !sel {
                continue;
            }
            if !any && !selected {
                // Reached only through include patterns: the directory may not exist yet.
                make_dir(dir)?;
            }
            any = true;
            self.entry(path, node);
        }
        Ok(any)
    }

    fn entry(&mut self, path: PathBuf, node: Node) {
        if node.kind == NodeKind::File && node.links > 1 {
            if let Some(first) = self.link_first.get(&(node.dev, node.inode)) {
                self.plan.links.push((path, first.clone()));
                return;
            }
            self.link_first.insert((node.dev, node.inode), path.clone());
        }
        if node.kind == NodeKind::File {
            return self.file(path, node);
        }
        self.plan.other += 1;
        let r = super::write::make_special(&path, &node).and_then(|made| {
            if made {
                apply_metadata(&path, &node, self.owners, self.apply)
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            self.fail(path, e);
        }
    }

    fn file(&mut self, path: PathBuf, node: Node) {
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
        for ((id, loc), offset) in node.content.iter().zip(&locs).zip(offsets) {
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
        self.plan.files.push(PlannedFile { path, node });
    }
}

fn make_dir(path: &Path) -> Result<()> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(_) => std::fs::create_dir_all(path)
            .map_err(|e| Error::io("cannot create directory", path.display(), e)),
    }
}
