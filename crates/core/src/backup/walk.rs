//! Stage 1: walk the requested paths in tree order (entries sorted by name
//! bytes, depth first), compare each file with the parent snapshot, and send
//! files that must be read to the readers. Emits events in the exact order
//! the tree builder needs them; a file's result arrives later through its
//! own channel, so reading runs in parallel while order is kept.

use super::read::{FileError, FileJob, FileRead};
use super::{BackupOptions, Excludes};
use crate::error::Error;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::{Owners, read_node, unchanged};
use crate::repo::Repository;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
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

impl Walker<'_> {
    /// Walks the trie below `/`; `parent` is the parent snapshot's root tree.
    pub fn run(&self, trie: &Trie, parent: Option<&Tree>) {
        if trie.leaf {
            match std::fs::symlink_metadata("/") {
                Ok(meta) => self.dir_entries(Path::new("/"), meta.dev(), parent),
                Err(e) => self.skip(PathBuf::from("/"), Error::io("cannot read", "/", e)),
            }
        } else {
            self.trie_entries(Path::new("/"), trie, parent);
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

    fn parent_subtree(&self, node: Option<&Node>) -> Option<Tree> {
        let id = node?.subtree?;
        self.repo.read_tree(&id).ok()
    }

    /// Intermediate directories of the requested paths: only the requested
    /// children are walked.
    fn trie_entries(&self, dir: &Path, trie: &Trie, parent: Option<&Tree>) {
        for (name, child) in &trie.children {
            if self.stopped.get() {
                return;
            }
            let path = dir.join(OsStr::from_bytes(name));
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(path.clone(), Error::io("cannot read", path.display(), e));
                    continue;
                }
            };
            let parent_node = parent.and_then(|t| t.find(name));
            if child.leaf {
                let dev = meta.dev();
                self.visit(path, meta, dev, parent_node);
            } else if !meta.is_dir() {
                self.skip(
                    path.clone(),
                    Error::invalid("not a directory").with_location(path.display()),
                );
            } else {
                let node = match read_node(&path, &meta, self.owners) {
                    Ok(n) => n,
                    Err(e) => {
                        self.skip(path, e);
                        continue;
                    }
                };
                let sub = self.parent_subtree(parent_node);
                self.send(Event::Enter(node));
                self.trie_entries(&path, child, sub.as_ref());
                self.send(Event::Leave);
            }
        }
    }

    fn visit(&self, path: PathBuf, meta: std::fs::Metadata, root_dev: u64, parent: Option<&Node>) {
        if self.excludes.is_excluded(&path) {
            return;
        }
        let node = match read_node(&path, &meta, self.owners) {
            Ok(n) => n,
            Err(e) => return self.skip(path, e),
        };
        let status = match parent {
            None => Status::New,
            Some(p) if p.kind == NodeKind::File && unchanged(p, &node) && !self.opts.force => {
                Status::Unchanged
            }
            Some(_) => Status::Changed,
        };
        match node.kind {
            NodeKind::Dir => {
                let sub = self.parent_subtree(parent);
                self.send(Event::Enter(node));
                if !self.opts.one_file_system || meta.dev() == root_dev {
                    self.dir_entries(&path, root_dev, sub.as_ref());
                }
                self.send(Event::Leave);
            }
            NodeKind::File if status == Status::Unchanged => {
                let mut node = node;
                node.content = parent.expect("unchanged implies a parent").content.clone();
                self.send(Event::Entry {
                    node,
                    path,
                    status,
                    pending: Pending::Done,
                });
            }
            NodeKind::File if node.size > 0 => {
                let (tx, rx) = bounded(1);
                let job = FileJob {
                    path: path.clone(),
                    node: node.clone(),
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
    fn dir_entries(&self, dir: &Path, root_dev: u64, parent: Option<&Tree>) {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                return self.skip(
                    dir.to_path_buf(),
                    Error::io("cannot read directory", dir.display(), e),
                );
            }
        };
        let mut names = Vec::new();
        for entry in rd {
            match entry {
                Ok(e) => names.push(e.file_name()),
                Err(e) => {
                    return self.skip(
                        dir.to_path_buf(),
                        Error::io("cannot read directory", dir.display(), e),
                    );
                }
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            if self.stopped.get() {
                return;
            }
            let path = dir.join(&name);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) => self.visit(
                    path,
                    meta,
                    root_dev,
                    parent.and_then(|t| t.find(name.as_bytes())),
                ),
                Err(e) => self.skip(path.clone(), Error::io("cannot read", path.display(), e)),
            }
        }
    }
}
