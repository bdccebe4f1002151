//! Stage 1: walk the requested paths in tree order (entries sorted by name
//! bytes, depth first), compare each file with the parent snapshot, open
//! the files that must be read and hand them to the readers.
//!
//! Input: the requested paths as a [`Trie`], the parent snapshot's root tree.
//! Output: [`Event`]s in exactly the order the tree builder needs them; a
//! file's content arrives later through its own channel, so reading runs in
//! parallel while order is kept.
//! Invariants: every directory is reached through its parent's descriptor
//! (openat, fstatat, never following symlinks), so depth and path length are
//! unlimited; paths are built only for messages and excludes. What cannot
//! be read is reported as [`Event::Skipped`] and the walk goes on.

use super::read::{FileError, FileJob, FileRead};
use super::{BackupOptions, Excludes};
use crate::error::Error;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::at::Dir;
use crate::fs::{Meta, Owners, read_node, unchanged};
use crate::repo::Repository;
use crossbeam_channel::{Receiver, Sender, bounded};
use rustix::fs::{Mode, OFlags};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How a file compares with the parent snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Changed,
    Unchanged,
}

pub enum Pending {
    Done,
    Reading(Receiver<Result<FileRead, FileError>>),
}

pub enum Event {
    /// A directory; its entries follow until the matching `Leave`.
    Enter(Node),
    Leave,
    /// A non-directory entry.
    Entry {
        node: Node,
        path: PathBuf,
        status: Status,
        pending: Pending,
    },
    /// Something that could not be backed up; it is left out of the snapshot.
    Skipped(PathBuf, Error),
}

/// The requested paths as a tree of names under `/`.
#[derive(Default, Debug)]
pub struct Trie {
    /// Back up everything below this node.
    pub leaf: bool,
    pub children: BTreeMap<Vec<u8>, Trie>,
}

impl Trie {
    pub fn from_paths(paths: &[PathBuf]) -> Self {
        let mut root = Trie::default();
        for p in paths {
            let mut t = &mut root;
            for c in p.components() {
                if let std::path::Component::Normal(name) = c {
                    t = t.children.entry(name.as_bytes().to_vec()).or_default();
                }
            }
            t.leaf = true;
        }
        root
    }
}

pub struct Walker<'a> {
    pub repo: &'a Repository,
    pub opts: &'a BackupOptions,
    pub excludes: &'a Excludes,
    pub owners: &'a Owners,
    pub events: Sender<Event>,
    pub jobs: Sender<FileJob>,
    /// Set when the builder went away (the backup failed): stop walking.
    pub stopped: std::cell::Cell<bool>,
}

/// Opens a regular file for reading without following a symlink, without
/// blocking (should it have become a FIFO) and, where allowed, without
/// updating its atime (O_NOATIME: only the owner or root may use it).
fn open_file(dir: &Dir, name: &OsStr) -> std::io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir.fd(), name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => rustix::fs::openat(dir.fd(), name, flags, Mode::empty()),
        r => r,
    }?;
    Ok(File::from(fd))
}

impl Walker<'_> {
    /// Walks the trie below `/`; `parent` is the parent snapshot's root tree.
    pub fn run(&self, trie: &Trie, parent: Option<&Tree>) {
        let root = Path::new("/");
        let dir = match Dir::open(root) {
            Ok(d) => d,
            Err(e) => return self.skip(root.to_path_buf(), Error::io("cannot read", "/", e)),
        };
        if trie.leaf {
            match dir.stat(OsStr::new(".")) {
                Ok(st) => self.dir_entries(&dir, root, Meta::from_stat(&st).dev, parent),
                Err(e) => self.skip(root.to_path_buf(), Error::io("cannot read", "/", e)),
            }
        } else {
            self.trie_entries(&dir, root, trie, parent);
        }
    }

    fn send(&self, e: Event) {
        // The receiver only goes away when the backup is failing anyway.
        if self.events.send(e).is_err() {
            self.stopped.set(true);
        }
    }

    fn skip(&self, path: PathBuf, e: Error) {
        self.send(Event::Skipped(path, e));
    }

    fn all_indexed(&self, ids: &[crate::id::BlobId]) -> bool {
        let index = self.repo.index();
        ids.iter().all(|id| index.contains(id))
    }

    fn parent_subtree(&self, node: Option<&Node>) -> Option<Tree> {
        let id = node?.subtree?;
        self.repo.read_tree(&id).ok()
    }

    fn stat(&self, dir: &Dir, name: &OsStr, path: &Path) -> Option<Meta> {
        match dir.stat(name) {
            Ok(st) => Some(Meta::from_stat(&st)),
            Err(e) => {
                self.skip(
                    path.to_path_buf(),
                    Error::io("cannot read", path.display(), e),
                );
                None
            }
        }
    }

    /// Intermediate directories of the requested paths: only the requested
    /// children are walked.
    fn trie_entries(&self, dir: &Dir, path: &Path, trie: &Trie, parent: Option<&Tree>) {
        for (name, child) in &trie.children {
            if self.stopped.get() {
                return;
            }
            let name = OsStr::from_bytes(name);
            let path = path.join(name);
            let Some(meta) = self.stat(dir, name, &path) else {
                continue;
            };
            let parent_node = parent.and_then(|t| t.find(name.as_bytes()));
            if child.leaf {
                self.visit(dir, name, path, meta, meta.dev, parent_node);
            } else if meta.kind != NodeKind::Dir {
                self.skip(
                    path.clone(),
                    Error::invalid("not a directory").with_location(path.display()),
                );
            } else {
                let node = match read_node(dir, name, &path, &meta, self.owners) {
                    Ok(n) => n,
                    Err(e) => {
                        self.skip(path, e);
                        continue;
                    }
                };
                let sub = self.parent_subtree(parent_node);
                self.send(Event::Enter(node));
                match dir.child(name) {
                    Ok(d) => self.trie_entries(&d, &path, child, sub.as_ref()),
                    Err(e) => self.skip(
                        path.clone(),
                        Error::io("cannot read directory", path.display(), e),
                    ),
                }
                self.send(Event::Leave);
            }
        }
    }

    /// One entry `name` of `dir` (full path `path`, lstat `meta`).
    fn visit(
        &self,
        dir: &Dir,
        name: &OsStr,
        path: PathBuf,
        meta: Meta,
        root_dev: u64,
        parent: Option<&Node>,
    ) {
        if self.excludes.is_excluded(&path, meta.kind == NodeKind::Dir) {
            return;
        }
        let node = match read_node(dir, name, &path, &meta, self.owners) {
            Ok(n) => n,
            Err(e) => return self.skip(path, e),
        };
        let status = match parent {
            None => Status::New,
            // Reuse the parent's blob ids only if the index loaded at start
            // still names them all: a prune may have condemned their packs
            // (FORMAT.md §19), and a snapshot must never refer to such a blob.
            Some(p)
                if p.kind == NodeKind::File
                    && unchanged(p, &node)
                    && !self.opts.force
                    && self.all_indexed(&p.content) =>
            {
                Status::Unchanged
            }
            Some(_) => Status::Changed,
        };
        match node.kind {
            NodeKind::Dir => {
                let sub = self.parent_subtree(parent);
                self.send(Event::Enter(node));
                if !self.opts.one_file_system || meta.dev == root_dev {
                    match dir.child(name) {
                        Ok(d) => self.dir_entries(&d, &path, root_dev, sub.as_ref()),
                        Err(e) => self.skip(
                            path.clone(),
                            Error::io("cannot read directory", path.display(), e),
                        ),
                    }
                }
                self.send(Event::Leave);
            }
            NodeKind::File if status == Status::Unchanged => {
                let mut node = node;
                let p = parent.expect("unchanged implies a parent");
                node.content = p.content.clone();
                node.holes = p.holes.clone();
                self.send(Event::Entry {
                    node,
                    path,
                    status,
                    pending: Pending::Done,
                });
            }
            NodeKind::File if node.size > 0 => {
                let file = match open_file(dir, name) {
                    Ok(f) => f,
                    Err(e) => {
                        return self
                            .skip(path.clone(), Error::io("cannot open", path.display(), e));
                    }
                };
                let (tx, rx) = bounded(1);
                let job = FileJob {
                    file,
                    path: path.clone(),
                    node: node.clone(),
                    allocated: meta.allocated,
                    result: tx,
                };
                if self.jobs.send(job).is_err() {
                    return self.stopped.set(true);
                }
                self.send(Event::Entry {
                    node,
                    path,
                    status,
                    pending: Pending::Reading(rx),
                });
            }
            _ => self.send(Event::Entry {
                node,
                path,
                status,
                pending: Pending::Done,
            }),
        }
    }

    /// Every entry of a directory, sorted by name bytes (tree order).
    fn dir_entries(&self, dir: &Dir, path: &Path, root_dev: u64, parent: Option<&Tree>) {
        let mut names = match dir.names() {
            Ok(n) => n,
            Err(e) => {
                return self.skip(
                    path.to_path_buf(),
                    Error::io("cannot read directory", path.display(), e),
                );
            }
        };
        if self.excludes.has_tags() {
            let open = |n: &OsStr| open_file(dir, n);
            if let Some(keep) = self.excludes.tag_files(&names, open) {
                names = keep;
            }
        }
        for name in names {
            if self.stopped.get() {
                return;
            }
            let child: OsString = name;
            let child_path = path.join(&child);
            if let Some(meta) = self.stat(dir, &child, &child_path) {
                let parent_node = parent.and_then(|t| t.find(child.as_bytes()));
                self.visit(dir, &child, child_path, meta, root_dev, parent_node);
            }
        }
    }
}
