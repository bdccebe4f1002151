//! Stage 1b: walk the requested paths in tree order (entries sorted by name
//! bytes, depth first), compare each file with the parent snapshot, open
//! the files that must be read and hand them to the readers.
//!
//! Input: the requested paths as a [`Trie`], the parent snapshot's root tree;
//! directory listings from the [`Scanner`], which reads metadata ahead.
//! Output: [`Event`]s in exactly the order the tree builder needs them, in
//! batches; a file's content arrives later through its own channel, so
//! reading runs in parallel while order is kept.
//! Invariants: every directory is reached through its parent's descriptor
//! (openat, fstatat, never following symlinks), so depth and path length are
//! unlimited; paths are built only for messages and excludes. What cannot
//! be read is reported as [`Event::Skipped`] and the walk goes on.

use super::BackupOptions;
use super::read::{FileError, FileJob, FileRead};
use super::scan::{Entry, Job, Listed, ScanCtx, Ticket};
use crate::error::Error;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::at::Dir;
use crate::fs::{Meta, read_node, unchanged};
use crossbeam_channel::{Receiver, Sender, bounded};
use rustix::fs::{Mode, OFlags};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Events sent to the builder at once: one channel operation (and at most
/// one wake-up) per batch instead of per entry.
const BATCH: usize = 256;

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

/// Opens a regular file for reading without following a symlink, without
/// blocking (should it have become a FIFO) and, where allowed, without
/// updating its atime (O_NOATIME: only the owner or root may use it).
/// Bytes of each file to read ahead when it is queued for a reader.
const PREFETCH: u64 = 1 << 20;

pub fn open_file(dir: &Dir, name: &OsStr) -> std::io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir.fd(), name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => rustix::fs::openat(dir.fd(), name, flags, Mode::empty()),
        r => r,
    }?;
    Ok(File::from(fd))
}

pub struct Walker<'a> {
    pub ctx: &'a ScanCtx<'a>,
    pub opts: &'a BackupOptions,
    pub events: Sender<Vec<Event>>,
    pub jobs: Sender<FileJob>,
    /// Events not sent yet.
    pub batch: RefCell<Vec<Event>>,
    /// Set when the builder went away (the backup failed): stop walking.
    pub stopped: Cell<bool>,
}

impl Walker<'_> {
    /// Walks the trie below `/`; `parent` is the parent snapshot's root tree.
    pub fn run(&self, trie: &Trie, parent: Option<Tree>) {
        self.walk_root(trie, parent);
        self.flush();
        self.ctx.scanner.close();
    }

    fn walk_root(&self, trie: &Trie, parent: Option<Tree>) {
        let root = Path::new("/");
        let dir = match Dir::open(root) {
            Ok(d) => Arc::new(d),
            Err(e) => return self.skip(root.to_path_buf(), Error::io("cannot read", "/", e)),
        };
        if trie.leaf {
            match dir.stat(OsStr::new(".")) {
                Ok(st) => {
                    let dev = Meta::from_stat(&st).dev;
                    let listed = self.ctx.list(dir, root, parent, dev);
                    self.dir_entries(listed, root, dev);
                }
                Err(e) => self.skip(root.to_path_buf(), Error::io("cannot read", "/", e)),
            }
        } else {
            self.trie_entries(&dir, root, trie, parent.as_ref());
        }
    }

    fn send(&self, e: Event) {
        let mut batch = self.batch.borrow_mut();
        batch.push(e);
        if batch.len() >= BATCH {
            drop(batch);
            self.flush();
        }
    }

    fn flush(&self) {
        let batch = std::mem::take(&mut *self.batch.borrow_mut());
        // The receiver only goes away when the backup is failing anyway.
        if !batch.is_empty() && self.events.send(batch).is_err() {
            self.stopped.set(true);
        }
    }

    fn skip(&self, path: PathBuf, e: Error) {
        self.send(Event::Skipped(path, e));
    }

    fn all_indexed(&self, ids: &[crate::id::BlobId]) -> bool {
        let index = self.ctx.repo.index();
        ids.iter().all(|id| index.contains(id))
    }

    /// Intermediate directories of the requested paths: only the requested
    /// children are walked.
    fn trie_entries(&self, dir: &Arc<Dir>, path: &Path, trie: &Trie, parent: Option<&Tree>) {
        for (name, child) in &trie.children {
            if self.stopped.get() {
                return;
            }
            let name = OsStr::from_bytes(name);
            let path = path.join(name);
            let meta = match dir.stat(name) {
                Ok(st) => Meta::from_stat(&st),
                Err(e) => {
                    self.skip(path.clone(), Error::io("cannot read", path.display(), e));
                    continue;
                }
            };
            let parent_node = parent.and_then(|t| t.find(name.as_bytes()));
            if child.leaf {
                let Some(entry) = self.ctx.entry(dir, name, path, Ok(meta), parent_node) else {
                    continue;
                };
                let ticket = self.ctx.descends(&entry, meta.dev).then(|| {
                    Ticket::Now(Job {
                        parent: Arc::clone(dir),
                        name: entry.name.clone(),
                        path: entry.path.clone(),
                        parent_tree: parent_node.and_then(|n| n.subtree),
                        root_dev: meta.dev,
                    })
                });
                self.visit(dir, entry, meta.dev, parent_node, ticket);
            } else if meta.kind != NodeKind::Dir {
                self.skip(
                    path.clone(),
                    Error::invalid("not a directory").with_location(path.display()),
                );
            } else {
                let node = match read_node(dir, name, &path, &meta, self.ctx.owners) {
                    Ok(n) => n,
                    Err(e) => {
                        self.skip(path, e);
                        continue;
                    }
                };
                let sub = self.ctx.parent_tree(parent_node.and_then(|n| n.subtree));
                self.send(Event::Enter(node));
                match dir.child(name) {
                    Ok(d) => self.trie_entries(&Arc::new(d), &path, child, sub.as_ref()),
                    Err(e) => self.skip(
                        path.clone(),
                        Error::io("cannot read directory", path.display(), e),
                    ),
                }
                self.send(Event::Leave);
            }
        }
    }

    /// One entry of `dir`; `ticket` lists it when it is a directory the walk
    /// goes into.
    fn visit(
        &self,
        dir: &Dir,
        entry: Entry,
        root_dev: u64,
        parent: Option<&Node>,
        ticket: Option<Ticket>,
    ) {
        let Entry { name, path, read } = entry;
        let (meta, node) = match read {
            Ok(r) => r,
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
                self.send(Event::Enter(node));
                if let Some(ticket) = ticket {
                    let listed = self.ctx.scanner.take(self.ctx, ticket);
                    self.dir_entries(listed, &path, root_dev);
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
                let file = match open_file(dir, &name) {
                    Ok(f) => f,
                    Err(e) => {
                        return self
                            .skip(path.clone(), Error::io("cannot open", path.display(), e));
                    }
                };
                // Ask the kernel to start reading now: the job waits in a
                // queue of several files before a reader takes it, so its
                // first megabytes are usually cached by then (the reader's
                // own sequential read-ahead covers the rest of a big file).
                let _ = rustix::fs::fadvise(
                    &file,
                    0,
                    std::num::NonZeroU64::new(node.size.min(PREFETCH)),
                    rustix::fs::Advice::WillNeed,
                );
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

    /// Every entry of a listed directory (`path`), in tree order.
    fn dir_entries(&self, listed: Listed, path: &Path, root_dev: u64) {
        let mut listing = match listed {
            Ok(l) => l,
            Err(e) => return self.skip(path.to_path_buf(), e),
        };
        let parent = listing.parent.as_ref();
        for entry in listing.entries {
            if self.stopped.get() {
                return;
            }
            let node = parent.and_then(|t| t.find(entry.name.as_bytes()));
            let ticket = if self.ctx.descends(&entry, root_dev) {
                listing.tickets.pop_front()
            } else {
                None
            };
            self.visit(&listing.dir, entry, root_dev, node, ticket);
        }
    }
}
