//! Stage 1a: list directories ahead of the walker, on several threads.
//!
//! Input: directories to list ([`Job`]: the open parent, a name, the parent
//! snapshot's tree for it). Output: a [`Listing`] per directory: its open
//! descriptor, its entries sorted by name with lstat, xattrs and symlink
//! targets read, excludes applied, and the parent snapshot's tree decoded.
//! That is all the metadata I/O of a backup; on a cold cache it waits on
//! the disk, so several directories are listed at once.
//!
//! Invariants: the walker takes listings in tree order, each exactly once.
//! Listing a directory queues its subdirectories, so listers run ahead by
//! many levels. Waiting jobs are taken in the walk's order (by path), so
//! listers work on what the walker needs next. A job the walker needs before a lister started it is run
//! by the walker itself, so it never waits on a queue. At most
//! [`Limits::ahead`] finished listings wait for the walker (each holds a
//! descriptor), and at most [`Limits::queued`] jobs wait for a lister (each
//! holds its parent's), so memory and open files stay bounded.

use crate::error::Error;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::fs::Excludes;
use crate::fs::at::Dir;
use crate::fs::walk;
use crate::fs::{Meta, Owners, read_node_since};
use crate::id::TreeId;
use crate::repo::Repository;
use std::collections::{BTreeMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// How far listers run ahead of the walker.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Finished listings that may wait for the walker.
    pub ahead: usize,
    /// Jobs that may wait for a lister; the last ones are left to the
    /// walker, which then lists them itself, on its own time: on a cold
    /// cache that stalls the whole backup, so the queue is long.
    pub queued: usize,
}

impl Limits {
    /// Limits that keep the descriptors they can hold (`ahead + queued`)
    /// within `open_files` less a reserve for everything else. Measured
    /// with 256 / 4096 against 64 / 256 on the 3 GiB tree: cold no-change
    /// backup 1.32-1.37 s against 1.60-1.75 s (the walker had listed
    /// ~2,000 directories itself); 1024 ahead was no better.
    pub fn for_open_files(open_files: u64) -> Limits {
        let budget = usize::try_from(open_files.saturating_sub(256)).unwrap_or(usize::MAX);
        Limits {
            ahead: (budget / 8).clamp(16, 256),
            queued: (budget / 2).clamp(64, 4096),
        }
    }
}

/// One entry of a directory listing.
pub struct Entry {
    pub name: OsString,
    pub path: PathBuf,
    /// lstat and the node read from it, or why they could not be read.
    pub read: Result<(Meta, Node), Error>,
}

/// A listed directory.
pub struct Listing {
    pub dir: Arc<Dir>,
    pub entries: Vec<Entry>,
    /// The parent snapshot's tree of this directory, when there is one and
    /// it could be read.
    pub parent: Option<Tree>,
    /// One per entry the walk goes into ([`ScanCtx::descends`]), in order:
    /// whoever lists a directory queues its subdirectories at once, so
    /// listing runs ahead of the walker by more than one level.
    pub tickets: VecDeque<Ticket>,
}

/// A directory to list: `name` in `parent`.
pub struct Job {
    pub parent: Arc<Dir>,
    pub name: OsString,
    pub path: PathBuf,
    pub parent_tree: Option<TreeId>,
    /// The device of the backed-up path it is under (`--one-file-system`).
    pub root_dev: u64,
}

/// What listing a directory gives: `Err` when it cannot be opened or read.
pub type Listed = Result<Listing, Error>;

/// What the listers need to read metadata.
pub struct ScanCtx<'a> {
    pub repo: &'a Repository,
    pub excludes: &'a Excludes,
    pub owners: &'a Owners,
    pub scanner: &'a Scanner,
    pub one_file_system: bool,
    /// `--force`: read everything, trust nothing from the parent snapshot.
    pub force: bool,
}

impl ScanCtx<'_> {
    /// Lists the directory `job` names.
    pub fn run(&self, job: Job) -> Listed {
        let dir = job
            .parent
            .child(&job.name)
            .map_err(|e| Error::io("cannot read directory", job.path.display(), e))?;
        let parent = self.parent_tree(job.parent_tree);
        self.list(Arc::new(dir), &job.path, parent, job.root_dev)
    }

    /// The parent snapshot's tree `id`; one that cannot be read only means
    /// reading every file below it.
    pub fn parent_tree(&self, id: Option<TreeId>) -> Option<Tree> {
        id.and_then(|id| self.repo.read_tree(&id).ok())
    }

    /// Whether the walk goes into `entry`: a readable directory on an
    /// allowed file system.
    pub fn descends(&self, entry: &Entry, root_dev: u64) -> bool {
        matches!(&entry.read, Ok((meta, _))
            if meta.kind == NodeKind::Dir
                && walk::descends(self.one_file_system, meta.dev, root_dev))
    }

    /// The entry `name` of `dir` (full path `path`) from its lstat;
    /// `None` when it is excluded. `last` is the parent snapshot's node of
    /// the same path, whose target and xattrs are reused when it is
    /// unchanged ([`read_node_since`]).
    pub fn entry(
        &self,
        dir: &Dir,
        name: &OsStr,
        path: PathBuf,
        stat: std::io::Result<Meta>,
        last: Option<&Node>,
    ) -> Option<Entry> {
        if let Ok(meta) = &stat
            && self.excludes.is_excluded(&path, meta.kind == NodeKind::Dir)
        {
            return None;
        }
        Some(self.read(dir, name.to_os_string(), path, stat, last))
    }

    /// The entry `name` of `dir`, not excluded, from its lstat.
    fn read(
        &self,
        dir: &Dir,
        name: OsString,
        path: PathBuf,
        stat: std::io::Result<Meta>,
        last: Option<&Node>,
    ) -> Entry {
        let meta = match stat {
            Ok(m) => m,
            Err(e) => {
                let read = Err(Error::io("cannot read", path.display(), e));
                return Entry { name, path, read };
            }
        };
        let last = last.filter(|_| !self.force);
        let read = read_node_since(dir, &name, &path, &meta, self.owners, last).map(|n| (meta, n));
        Entry { name, path, read }
    }

    /// Lists the open directory `dir` (full path `path`).
    pub fn list(&self, dir: Arc<Dir>, path: &Path, parent: Option<Tree>, root_dev: u64) -> Listed {
        // Names in byte order, tag files and excludes applied.
        let children = walk::list(&dir, path, self.excludes)
            .map_err(|e| Error::io("cannot read directory", path.display(), e))?;
        let mut entries = Vec::with_capacity(children.len());
        for c in children {
            let last = parent.as_ref().and_then(|t| t.find(c.name.as_bytes()));
            entries.push(self.read(&dir, c.name, c.path, c.meta, last));
        }
        debug_assert!(entries.is_sorted_by(|a, b| a.name.as_bytes() <= b.name.as_bytes()));
        let jobs: Vec<Job> = entries
            .iter()
            .filter(|e| self.descends(e, root_dev))
            .map(|e| Job {
                parent: Arc::clone(&dir),
                name: e.name.clone(),
                path: e.path.clone(),
                parent_tree: parent
                    .as_ref()
                    .and_then(|t| t.find(e.name.as_bytes()))
                    .and_then(|n| n.subtree),
                root_dev,
            })
            .collect();
        let tickets = self.scanner.ahead(jobs).into();
        Ok(Listing {
            dir,
            entries,
            parent,
            tickets,
        })
    }
}

enum State {
    /// Waiting for a lister (or for the walker to take it over).
    Queued(Job),
    Running,
    Done(Listed),
    /// The walker has it.
    Taken,
}

pub struct Slot {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct Queue {
    /// By path: component-wise path order is the walk's order (depth
    /// first, names by bytes), so the first is the one needed first.
    jobs: BTreeMap<PathBuf, Arc<Slot>>,
    /// Finished listings the walker has not taken yet.
    ahead: usize,
    closed: bool,
}

/// Listers running ahead of the walker.
#[derive(Clone)]
pub struct Scanner {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    limits: Limits,
}

/// A listing asked for: taken later with [`Scanner::take`].
pub enum Ticket {
    Ahead(Arc<Slot>),
    Now(Job),
}

impl Scanner {
    pub fn new(limits: Limits) -> Scanner {
        Scanner {
            queue: Arc::default(),
            limits,
        }
    }

    /// Queues `jobs`, the first needed first. Returns a ticket per job.
    pub fn ahead(&self, jobs: Vec<Job>) -> Vec<Ticket> {
        let slots: Vec<(PathBuf, Arc<Slot>)> = jobs
            .into_iter()
            .map(|job| {
                let path = job.path.clone();
                let slot = Slot {
                    state: Mutex::new(State::Queued(job)),
                    done: Condvar::new(),
                };
                (path, Arc::new(slot))
            })
            .collect();
        if slots.is_empty() {
            return Vec::new();
        }
        let (lock, cv) = &*self.queue;
        let mut q = lock.lock().expect("scanner lock");
        q.jobs.extend(slots.iter().cloned());
        while q.jobs.len() > self.limits.queued {
            // Needed last; the walker lists it itself when it gets there.
            q.jobs.pop_last();
        }
        drop(q);
        // Wake only as many listers as there is work for.
        for _ in 0..slots.len().min(8) {
            cv.notify_one();
        }
        slots.into_iter().map(|(_, s)| Ticket::Ahead(s)).collect()
    }

    /// The listing of a ticket; lists it here if no lister has started it.
    pub fn take(&self, ctx: &ScanCtx, ticket: Ticket) -> Listed {
        let slot = match ticket {
            Ticket::Now(job) => return ctx.run(job),
            Ticket::Ahead(slot) => slot,
        };
        let mut state = slot.state.lock().expect("slot lock");
        loop {
            match std::mem::replace(&mut *state, State::Taken) {
                State::Queued(job) => {
                    drop(state);
                    return ctx.run(job);
                }
                State::Running => {
                    *state = State::Running;
                    state = slot.done.wait(state).expect("slot lock");
                }
                State::Done(listed) => {
                    drop(state);
                    let (lock, cv) = &*self.queue;
                    let mut q = lock.lock().expect("scanner lock");
                    q.ahead -= 1;
                    if q.ahead + 1 == self.limits.ahead {
                        // A lister may be waiting for room.
                        cv.notify_one();
                    }
                    return listed;
                }
                State::Taken => unreachable!("a ticket is taken once"),
            }
        }
    }

    /// Runs one lister until [`Scanner::close`].
    pub fn lister(&self, ctx: &ScanCtx) {
        let (lock, cv) = &*self.queue;
        loop {
            let slot = {
                let mut q = lock.lock().expect("scanner lock");
                loop {
                    if q.closed {
                        return;
                    }
                    if q.ahead < self.limits.ahead
                        && let Some((_, slot)) = q.jobs.pop_first()
                    {
                        break slot;
                    }
                    q = cv.wait(q).expect("scanner lock");
                }
            };
            let job = {
                let mut state = slot.state.lock().expect("slot lock");
                match std::mem::replace(&mut *state, State::Running) {
                    State::Queued(job) => job,
                    other => {
                        // The walker took it over.
                        *state = other;
                        continue;
                    }
                }
            };
            // A panic must not leave the slot Running: the walker would
            // wait for it forever. It gets an error, then the panic goes on
            // to the backup's guard, which reports it.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.run(job)));
            let (listed, panic) = match run {
                Ok(listed) => (listed, None),
                Err(p) => (Err(Error::fatal("a directory lister panicked")), Some(p)),
            };
            lock.lock().expect("scanner lock").ahead += 1;
            *slot.state.lock().expect("slot lock") = State::Done(listed);
            slot.done.notify_all();
            if let Some(p) = panic {
                std::panic::resume_unwind(p);
            }
        }
    }

    /// Stops the listers; queued jobs are dropped.
    pub fn close(&self) {
        let (lock, cv) = &*self.queue;
        let mut q = lock.lock().expect("scanner lock");
        q.closed = true;
        q.jobs.clear();
        cv.notify_all();
    }
}
