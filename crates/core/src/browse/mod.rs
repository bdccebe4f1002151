//! A read-only view of a repository's snapshots as one directory tree, for
//! `mount`: `snapshots/<name>/…` (each snapshot's own tree), `hosts/<host>/`,
//! `tags/<tag>/` and `ids/<short id>` (symlinks into `snapshots/`), and
//! `latest`. File system glue (FUSE) lives in the command; this module
//! answers by inode number and knows nothing of it.
//!
//! Inodes are numbered as they are first met (1 is the root): a directory
//! of a snapshot is read from its tree when first looked into, and its
//! entries get numbers then. Names of one file (hardlinks, same device and
//! inode in one snapshot) share one number, as they did on the disk backed
//! up. File contents are read on demand through [`content`].
//!
//! The snapshot list is the one the view was made with (at mount time).

mod content;

use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Xattr};
use crate::id::TreeId;
use crate::repo::{Repository, SnapshotRef};
use content::{BlobCache, Layout};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    Char,
    Block,
    Fifo,
    Socket,
}

/// An entry's attributes, as stored (times in ns since the epoch).
#[derive(Debug, Clone)]
pub struct Attr {
    pub ino: u64,
    pub kind: EntryKind,
    /// Permission bits (with setuid, setgid, sticky).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte blocks the content takes (holes take none).
    pub blocks: u64,
    pub nlink: u32,
    pub rdev: u64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
}

/// Where an inode is.
#[derive(Clone)]
enum Place {
    /// A directory coffer makes (root, `snapshots`, `hosts/web1`, …).
    Made,
    /// A symlink coffer makes, and its target.
    Link(Vec<u8>),
    /// The top of a snapshot: the directory its tree describes.
    Snapshot { tree: TreeId, time: i64 },
    /// An entry of a snapshot.
    Node { snapshot: usize, node: Arc<Node> },
}

struct Inode {
    place: Place,
    /// Entries by name, once known.
    children: Option<Arc<BTreeMap<Vec<u8>, u64>>>,
    /// A file's blobs and where each starts, once opened.
    layout: Option<Arc<Layout>>,
}

/// The view of one repository.
pub struct View {
    repo: Arc<Repository>,
    inodes: RwLock<Vec<Inode>>,
    /// Hardlinked files: (snapshot, dev, inode) to their inode number.
    links: Mutex<HashMap<(usize, u64, u64), u64>>,
    blobs: BlobCache,
    /// Owner and times of the directories and links coffer makes.
    owner: (u32, u32),
    made_time: i64,
}

/// The entries made for a list of snapshots, each with its directory name.
type Named<'a> = &'a [(String, SnapshotRef)];

impl View {
    /// The view of `snapshots` (oldest first), each named by its entry of
    /// `snapshots/`. Up to `cache_bytes` of file content stays in memory.
    pub fn new(repo: Arc<Repository>, snapshots: Named<'_>, cache_bytes: usize) -> View {
        let owner = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let made_time = snapshots.last().map_or(0, |(_, s)| s.snapshot.time);
        let view = View {
            repo,
            inodes: RwLock::new(Vec::new()),
            links: Mutex::new(HashMap::new()),
            blobs: BlobCache::new(cache_bytes),
            owner,
            made_time,
        };
        view.build(snapshots);
        view
    }

    fn add(&self, place: Place, children: Option<BTreeMap<Vec<u8>, u64>>) -> u64 {
        let mut inodes = self.inodes.write().expect("poisoned");
        inodes.push(Inode {
            place,
            children: children.map(Arc::new),
            layout: None,
        });
        inodes.len() as u64
    }

    fn set_children(&self, ino: u64, children: BTreeMap<Vec<u8>, u64>) {
        self.inodes.write().expect("poisoned")[ino as usize - 1].children =
            Some(Arc::new(children));
    }

    /// Makes the directories and links above the snapshots.
    fn build(&self, snapshots: Named<'_>) {
        let root = self.add(Place::Made, None);
        let link =
            |target: String| self.add(Place::Link(target.into_bytes()), Some(BTreeMap::new()));
        let mut top = BTreeMap::new();
        let mut by_name = BTreeMap::new();
        let mut hosts: BTreeMap<String, BTreeMap<Vec<u8>, u64>> = BTreeMap::new();
        let mut tags: BTreeMap<String, BTreeMap<Vec<u8>, u64>> = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for (name, s) in snapshots {
            let place = Place::Snapshot {
                tree: s.snapshot.tree,
                time: s.snapshot.time,
            };
            by_name.insert(name.clone().into_bytes(), self.add(place, None));
            let host = hosts.entry(s.snapshot.host.clone()).or_default();
            host.insert(
                name.clone().into_bytes(),
                link(format!("../../snapshots/{name}")),
            );
            for t in &s.snapshot.tags {
                let tag = tags.entry(t.clone()).or_default();
                tag.insert(
                    name.clone().into_bytes(),
                    link(format!("../../snapshots/{name}")),
                );
            }
            ids.insert(
                s.id.short().into_bytes(),
                link(format!("../snapshots/{name}")),
            );
        }
        let group = |members: BTreeMap<String, BTreeMap<Vec<u8>, u64>>| {
            let dirs = members
                .into_iter()
                .filter(|(k, _)| !k.is_empty() && !k.contains('/'))
                .map(|(k, v)| (k.into_bytes(), self.add(Place::Made, Some(v))))
                .collect();
            self.add(Place::Made, Some(dirs))
        };
        top.insert(b"hosts".to_vec(), group(hosts));
        top.insert(b"tags".to_vec(), group(tags));
        top.insert(b"ids".to_vec(), self.add(Place::Made, Some(ids)));
        if let Some((name, _)) = snapshots.last() {
            top.insert(b"latest".to_vec(), link(format!("snapshots/{name}")));
        }
        top.insert(b"snapshots".to_vec(), self.add(Place::Made, Some(by_name)));
        self.set_children(root, top);
    }

    fn place(&self, ino: u64) -> Result<Place> {
        let inodes = self.inodes.read().expect("poisoned");
        match ino.checked_sub(1).and_then(|i| inodes.get(i as usize)) {
            Some(i) => Ok(i.place.clone()),
            None => Err(Error::at(Kind::NotFound, "no such inode", ino)),
        }
    }

    /// The attributes of `ino`.
    pub fn attr(&self, ino: u64) -> Result<Attr> {
        let made = |kind, perm, size| Attr {
            ino,
            kind,
            perm,
            uid: self.owner.0,
            gid: self.owner.1,
            size,
            blocks: 0,
            nlink: if kind == EntryKind::Dir { 2 } else { 1 },
            rdev: 0,
            atime: self.made_time,
            mtime: self.made_time,
            ctime: self.made_time,
        };
        Ok(match self.place(ino)? {
            Place::Made => made(EntryKind::Dir, 0o555, 0),
            Place::Link(t) => made(EntryKind::Symlink, 0o777, t.len() as u64),
            Place::Snapshot { time, .. } => Attr {
                atime: time,
                mtime: time,
                ctime: time,
                ..made(EntryKind::Dir, 0o555, 0)
            },
            Place::Node { node, .. } => node_attr(ino, &node),
        })
    }

    /// The entry `name` of the directory `parent`.
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<Attr> {
        let children = self.children(parent)?;
        match children.get(name) {
            Some(&ino) => self.attr(ino),
            None => Err(Error::at(
                Kind::NotFound,
                "no such entry",
                String::from_utf8_lossy(name),
            )),
        }
    }

    /// The entries of the directory `ino`, by name.
    pub fn list(&self, ino: u64) -> Result<Vec<(Vec<u8>, u64, EntryKind)>> {
        let children = self.children(ino)?;
        let mut out = Vec::with_capacity(children.len());
        for (name, &child) in children.iter() {
            out.push((name.clone(), child, self.attr(child)?.kind));
        }
        Ok(out)
    }

    /// The entries of a directory: known, or read from its tree now.
    fn children(&self, ino: u64) -> Result<Arc<BTreeMap<Vec<u8>, u64>>> {
        let place = {
            let inodes = self.inodes.read().expect("poisoned");
            let Some(i) = ino.checked_sub(1).and_then(|i| inodes.get(i as usize)) else {
                return Err(Error::at(Kind::NotFound, "no such inode", ino));
            };
            if let Some(c) = &i.children {
                return Ok(Arc::clone(c));
            }
            i.place.clone()
        };
        let (snapshot, tree) = match &place {
            Place::Snapshot { tree, .. } => (self.snapshot_index(ino), *tree),
            Place::Node { snapshot, node } => match (node.kind, node.subtree) {
                (NodeKind::Dir, Some(t)) => (*snapshot, t),
                _ => return Err(Error::at(Kind::InvalidInput, "not a directory", ino)),
            },
            _ => return Err(Error::at(Kind::InvalidInput, "not a directory", ino)),
        };
        let tree = self.repo.read_tree(&tree).map_err(stored)?;
        let mut children = BTreeMap::new();
        let mut links = self.links.lock().expect("poisoned");
        for node in tree.nodes {
            let name = node.name.clone();
            let linked = (node.kind == NodeKind::File && node.links > 1)
                .then_some((snapshot, node.dev, node.inode));
            let child = match linked.and_then(|k| links.get(&k).copied()) {
                Some(known) => known,
                None => {
                    let node = Arc::new(node);
                    let child = self.add(Place::Node { snapshot, node }, None);
                    if let Some(k) = linked {
                        links.insert(k, child);
                    }
                    child
                }
            };
            children.insert(name, child);
        }
        drop(links);
        // Another thread may have read it meanwhile: keep the first.
        let mut inodes = self.inodes.write().expect("poisoned");
        let slot = &mut inodes[ino as usize - 1].children;
        Ok(Arc::clone(slot.get_or_insert_with(|| Arc::new(children))))
    }

    /// Snapshots are told apart by the inode of their top directory (the
    /// hardlink map must not join files of two snapshots).
    fn snapshot_index(&self, ino: u64) -> usize {
        ino as usize
    }

    /// The target of the symlink `ino`.
    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        match self.place(ino)? {
            Place::Link(t) => Ok(t),
            Place::Node { node, .. } if node.kind == NodeKind::Symlink => {
                Ok(node.target.clone().unwrap_or_default())
            }
            _ => Err(Error::at(Kind::InvalidInput, "not a symlink", ino)),
        }
    }

    /// The extended attributes of `ino` (ACLs and capabilities among them).
    pub fn xattrs(&self, ino: u64) -> Result<Vec<Xattr>> {
        match self.place(ino)? {
            Place::Node { node, .. } => Ok(node.xattrs.clone()),
            _ => Ok(Vec::new()),
        }
    }

    /// Up to `size` bytes of the file `ino` from `offset` (fewer at its end).
    pub fn read(&self, ino: u64, offset: u64, size: usize) -> Result<Vec<u8>> {
        let layout = self.layout(ino)?;
        layout
            .read(&self.repo, &self.blobs, offset, size)
            .map_err(stored)
    }

    /// A file's layout, made on its first read.
    fn layout(&self, ino: u64) -> Result<Arc<Layout>> {
        {
            let inodes = self.inodes.read().expect("poisoned");
            if let Some(l) = ino
                .checked_sub(1)
                .and_then(|i| inodes.get(i as usize))
                .and_then(|i| i.layout.as_ref())
            {
                return Ok(Arc::clone(l));
            }
        }
        let Place::Node { node, .. } = self.place(ino)? else {
            return Err(Error::at(Kind::InvalidInput, "not a file", ino));
        };
        if node.kind != NodeKind::File {
            return Err(Error::at(Kind::InvalidInput, "not a file", ino));
        }
        let layout = Arc::new(Layout::new(&self.repo, &node).map_err(stored)?);
        self.inodes.write().expect("poisoned")[ino as usize - 1].layout = Some(Arc::clone(&layout));
        Ok(layout)
    }
}

/// A failure to read what the repository should hold (a tree or blob
/// missing from it is damage, not an entry that is not there).
fn stored(e: Error) -> Error {
    match e.kind() {
        Kind::NotFound => Error::new(Kind::Corrupt, e.to_string()),
        _ => e,
    }
}

fn node_attr(ino: u64, node: &Node) -> Attr {
    let kind = match node.kind {
        NodeKind::Dir => EntryKind::Dir,
        NodeKind::File => EntryKind::File,
        NodeKind::Symlink => EntryKind::Symlink,
        NodeKind::Chardev => EntryKind::Char,
        NodeKind::Blockdev => EntryKind::Block,
        NodeKind::Fifo => EntryKind::Fifo,
        NodeKind::Socket => EntryKind::Socket,
    };
    let size = match node.kind {
        NodeKind::File => node.size,
        NodeKind::Symlink => node.target.as_ref().map_or(0, |t| t.len() as u64),
        _ => 0,
    };
    let holes: u64 = node.holes.iter().map(|h| h.1).sum();
    Attr {
        ino,
        kind,
        perm: node.mode & 0o7777,
        uid: node.uid,
        gid: node.gid,
        size,
        blocks: size.saturating_sub(holes).div_ceil(512),
        nlink: match node.kind {
            NodeKind::Dir => 2,
            _ => node.links.clamp(1, u32::MAX as u64) as u32,
        },
        rdev: node.rdev,
        atime: node.atime,
        mtime: node.mtime,
        ctime: node.ctime,
    }
}
