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
//! (openat, fstatat, never following symlinks), and the directories being
//! walked are an explicit stack of frames (no recursion), so depth and path
//! length are bounded by memory and open files, never by a thread's stack;
//! paths are built only for messages and excludes. What cannot
//! be read is reported as [`Event::Skipped`] and the walk goes on.

use super::BackupOptions;
use super::read::{FileError, FileJob, FileRead};
use super::scan::{Entry, Job, Listing, ScanCtx, Ticket};
use crate::error::Error;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::at::Dir;
use crate::fs::{Meta, read_node, unchanged};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::OsStr;
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

/// Bytes of each file to read ahead when it is queued for a reader.
const PREFETCH: u64 = 1 << 20;

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

/// A directory being walked, on the walker's own stack: depth costs heap
/// memory and one open descriptor per level, never thread stack.
enum Frame<'t> {
    /// A directory above or at a requested path: only the requested
    /// children are walked.
    Trie {
        dir: Arc<Dir>,
        path: PathBuf,
        children: std::collections::btree_map::Iter<'t, Vec<u8>, Trie>,
        parent: Option<Tree>,
    },
    /// A listed directory: every entry is walked.
    Listed { listing: ListingLeft, root_dev: u64 },
}

/// What is left of a listing.
struct ListingLeft {
    dir: Arc<Dir>,
    entries: std::vec::IntoIter<Entry>,
    parent: Option<Tree>,
    tickets: std::collections::VecDeque<Ticket>,
}

impl From<Listing> for ListingLeft {
    fn from(l: Listing) -> Self {
        ListingLeft {
            dir: l.dir,
            entries: l.entries.into_iter(),
            parent: l.parent,
            tickets: l.tickets,
        }
    }
}

impl<'t> Walker<'_> {
    /// Walks the trie below `/`; `parent` is the parent snapshot's root tree.
    pub fn run(&self, trie: &'t Trie, parent: Option<Tree>) {
        if let Some(root) = self.root(trie, parent) {
            self.walk(root);
        }
        self.flush();
        self.ctx.scanner.close();
    }

    /// The frame of `/`.
    fn root(&self, trie: &'t Trie, parent: Option<Tree>) -> Option<Frame<'t>> {
        let root = Path::new("/");
        let dir = match Dir::open(root) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                self.skip(root.to_path_buf(), Error::io("cannot read", "/", e));
                return None;
            }
        };
        if !trie.leaf {
            return Some(Frame::Trie {
                dir,
                path: root.to_path_buf(),
                children: trie.children.iter(),
                parent,
            });
        }
        let listed = match dir.stat(OsStr::new(".")) {
            Ok(st) => {
                let dev = Meta::from_stat(&st).dev;
                self.ctx.list(dir, root, parent, dev).map(|l| (l, dev))
            }
            Err(e) => Err(Error::io("cannot read", "/", e)),
        };
        match listed {
            Ok((listing, root_dev)) => Some(Frame::Listed {
                listing: listing.into(),
                root_dev,
            }),
            Err(e) => {
                self.skip(root.to_path_buf(), e);
                None
            }
        }
    }

    /// Walks depth first from `root`: each step takes the next entry of
    /// the innermost directory; a directory it enters is pushed, one done
    /// is popped (and left).
    fn walk(&self, root: Frame<'t>) {
        let mut stack = vec![root];
        while let Some(frame) = stack.last_mut() {
            if self.stopped.get() {
                return;
            }
            let step = match frame {
                Frame::Trie {
                    dir,
                    path,
                    children,
                    parent,
                } => children
                    .next()
                    .map(|(name, child)| self.trie_entry(dir, path, name, child, parent.as_ref())),
                Frame::Listed { listing, root_dev } => listing.entries.next().map(|entry| {
                    let node = listing
                        .parent
                        .as_ref()
                        .and_then(|t| t.find(entry.name.as_bytes()));
                    let ticket = if self.ctx.descends(&entry, *root_dev) {
                        listing.tickets.pop_front()
                    } else {
                        None
                    };
                    self.visit(&listing.dir, entry, *root_dev, node, ticket)
                }),
            };
            match step {
                Some(Some(sub)) => stack.push(sub),
                Some(None) => {}
                None => {
                    stack.pop();
                    if !stack.is_empty() {
                        self.send(Event::Leave);
                    }
                }
            }
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

    /// A requested child `name` of the directory `dir` (at `path`); the
    /// frame to push when the walk goes into it.
    fn trie_entry(
        &self,
        dir: &Arc<Dir>,
        path: &Path,
        name: &[u8],
        child: &'t Trie,
        parent: Option<&Tree>,
    ) -> Option<Frame<'t>> {
        let name = OsStr::from_bytes(name);
        let path = path.join(name);
        let meta = match dir.stat(name) {
            Ok(st) => Meta::from_stat(&st),
            Err(e) => {
                self.skip(path.clone(), Error::io("cannot read", path.display(), e));
                return None;
            }
        };
        let parent_node = parent.and_then(|t| t.find(name.as_bytes()));
        if child.leaf {
            let entry = self.ctx.entry(dir, name, path, Ok(meta), parent_node)?;
            let ticket = self.ctx.descends(&entry, meta.dev).then(|| {
                Ticket::Now(Job {
                    parent: Arc::clone(dir),
                    name: entry.name.clone(),
                    path: entry.path.clone(),
                    parent_tree: parent_node.and_then(|n| n.subtree),
                    root_dev: meta.dev,
                })
            });
            return self.visit(dir, entry, meta.dev, parent_node, ticket);
        }
        if meta.kind != NodeKind::Dir {
            self.skip(
                path.clone(),
                Error::invalid("not a directory").with_location(path.display()),
            );
            return None;
        }
        let node = match read_node(dir, name, &path, &meta, self.ctx.owners) {
            Ok(n) => n,
            Err(e) => {
                self.skip(path, e);
                return None;
            }
        };
        let sub = self.ctx.parent_tree(parent_node.and_then(|n| n.subtree));
        self.send(Event::Enter(node));
        match dir.child(name) {
            Ok(d) => Some(Frame::Trie {
                dir: Arc::new(d),
                path,
                children: child.children.iter(),
                parent: sub,
            }),
            Err(e) => {
                self.skip(
                    path.clone(),
                    Error::io("cannot read directory", path.display(), e),
                );
                self.send(Event::Leave);
                None
            }
        }
    }

    /// One entry of `dir`; `ticket` lists it when it is a directory the walk
    /// goes into. Returns the frame to push for a directory entered (its
    /// `Leave` is sent when that frame is done).
    fn visit(
        &self,
        dir: &Dir,
        entry: Entry,
        root_dev: u64,
        parent: Option<&Node>,
        ticket: Option<Ticket>,
    ) -> Option<Frame<'t>> {
        let Entry { name, path, read } = entry;
        let (meta, node) = match read {
            Ok(r) => r,
            Err(e) => {
                self.skip(path, e);
                return None;
            }
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
                    match self.ctx.scanner.take(self.ctx, ticket) {
                        Ok(listing) => {
                            return Some(Frame::Listed {
                                listing: listing.into(),
                                root_dev,
                            });
                        }
                        Err(e) => self.skip(path, e),
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
                self.queue_read(dir, &name, path, node, meta.allocated, status)
            }
            _ => self.send(Event::Entry {
                node,
                path,
                status,
                pending: Pending::Done,
            }),
        }
        None
    }

    /// Opens a changed or new file and queues it for a reader; its entry
    /// goes to the builder with the reader's answer pending.
    fn queue_read(
        &self,
        dir: &Dir,
        name: &OsStr,
        path: PathBuf,
        node: Node,
        allocated: u64,
        status: Status,
    ) {
        let file = match dir.open_file(name) {
            Ok(f) => f,
            Err(e) => {
                self.skip(path.clone(), Error::io("cannot open", path.display(), e));
                return;
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
            allocated,
            result: tx,
        };
        if self.jobs.send(job).is_err() {
            self.stopped.set(true);
            return;
        }
        self.send(Event::Entry {
            node,
            path,
            status,
            pending: Pending::Reading(rx),
        });
    }
}
