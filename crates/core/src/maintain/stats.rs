//! `stats`: how big snapshots are, three ways.
//!
//! Input: snapshots (their root trees) and a [`StatsMode`]. Output: [`Stats`].
//! - **restore-size**: what a restore of each snapshot writes, summed over
//!   the snapshots: files, directories, other entries, and bytes of file
//!   content (the names of a hard-linked file count once per name, its
//!   bytes once per snapshot). Subtree totals are computed once per tree
//!   id, so unchanged directories shared by many snapshots cost nothing.
//! - **deduplicated**: the distinct blobs (content and trees) the snapshots
//!   use together, and their plaintext bytes: the data after dedup.
//! - **raw**: the same blobs as stored (compressed, encrypted), plus the
//!   size of every pack the index names, so the share of the repository
//!   these snapshots account for is visible.

use super::used::used_blobs;
use crate::error::Result;
use crate::format::tree::{Node, NodeKind};
use crate::id::{SnapshotId, TreeId};
use crate::repo::Repository;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatsMode {
    RestoreSize,
    Deduplicated,
    Raw,
}

impl StatsMode {
    pub fn parse(s: &str) -> Result<StatsMode> {
        match s {
            "restore-size" => Ok(StatsMode::RestoreSize),
            "deduplicated" => Ok(StatsMode::Deduplicated),
            "raw" | "raw-data" => Ok(StatsMode::Raw),
            _ => Err(crate::Error::invalid(
                "unknown stats mode (restore-size, deduplicated or raw)",
            )
            .with_location(s)),
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub snapshots: u64,
    /// restore-size
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_size: Option<u64>,
    /// deduplicated and raw
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduplicated_size: Option<u64>,
    /// raw
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_packs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_size: Option<u64>,
}

/// Counts `roots` in `mode` (see the module documentation).
pub fn stats(repo: &Repository, roots: &[(SnapshotId, TreeId)], mode: StatsMode) -> Result<Stats> {
    let mut s = Stats {
        snapshots: roots.len() as u64,
        ..Default::default()
    };
    if mode == StatsMode::RestoreSize {
        let mut memo = HashMap::new();
        let (mut files, mut dirs, mut other, mut bytes) = (0, 0, 0, 0);
        for (_, root) in roots {
            let t = subtree(repo, *root, &mut memo)?;
            files += t.files;
            dirs += t.dirs;
            other += t.other;
            bytes += t.bytes;
            let mut seen = HashSet::new();
            for (dev, inode, size) in &t.links {
                if seen.insert((dev, inode)) {
                    bytes += size;
                }
            }
        }
        s.files = Some(files);
        s.dirs = Some(dirs);
        s.other = Some(other);
        s.restore_size = Some(bytes);
        return Ok(s);
    }
    let used = used_blobs(repo, roots)?;
    let index = repo.index();
    let (mut raw, mut stored) = (0u64, 0u64);
    // A compression group is counted once, whichever of its blobs are used.
    let mut groups = HashSet::new();
    for id in &used {
        if let Some((_, loc)) = index.get(id) {
            raw += loc.raw_length as u64;
            if loc.slice().is_none() || groups.insert((loc.pack, loc.offset)) {
                stored += loc.length as u64;
            }
        }
    }
    s.blobs = Some(used.len() as u64);
    s.deduplicated_size = Some(raw);
    if mode == StatsMode::Raw {
        let live = index.packs().iter().filter(|p| !index.is_condemned(&p.id));
        let (n, size) = live.fold((0, 0), |(n, size), p| (n + 1, size + p.size));
        s.stored_size = Some(stored);
        s.repository_packs = Some(n);
        s.repository_size = Some(size);
    }
    Ok(s)
}

/// What restoring one tree writes.
#[derive(Default)]
struct Subtree {
    files: u64,
    dirs: u64,
    other: u64,
    /// Bytes of files that are not hard-linked.
    bytes: u64,
    /// Hard-linked files: (device, inode, size), counted once per snapshot.
    links: Vec<(u64, u64, u64)>,
}

/// What restoring tree `id` writes. Subtrees are summed bottom-up on a
/// stack of their own (depth costs no thread stack); each distinct one is
/// read once.
fn subtree(
    repo: &Repository,
    id: TreeId,
    memo: &mut HashMap<TreeId, Rc<Subtree>>,
) -> Result<Rc<Subtree>> {
    if let Some(t) = memo.get(&id) {
        return Ok(Rc::clone(t));
    }
    let open = |id: TreeId| -> Result<(TreeId, std::vec::IntoIter<Node>, Subtree)> {
        Ok((
            id,
            repo.read_tree(&id)?.nodes.into_iter(),
            Subtree::default(),
        ))
    };
    let mut stack = vec![open(id)?];
    loop {
        let (_, nodes, t) = stack.last_mut().expect("a frame");
        let Some(n) = nodes.next() else {
            let (done_id, _, done) = stack.pop().expect("a frame");
            let done = Rc::new(done);
            memo.insert(done_id, Rc::clone(&done));
            match stack.last_mut() {
                Some((_, _, parent)) => parent.add(&done),
                None => return Ok(done),
            }
            continue;
        };
        match n.kind {
            NodeKind::File if n.links > 1 => {
                t.files += 1;
                t.links.push((n.dev, n.inode, n.size));
            }
            NodeKind::File => {
                t.files += 1;
                t.bytes += n.size;
            }
            NodeKind::Dir => {
                t.dirs += 1;
                if let Some(sub) = n.subtree {
                    match memo.get(&sub) {
                        Some(s) => t.add(&Rc::clone(s)),
                        None => stack.push(open(sub)?),
                    }
                }
            }
            _ => t.other += 1,
        }
    }
}

impl Subtree {
    /// Adds what a subtree below writes.
    fn add(&mut self, s: &Subtree) {
        self.files += s.files;
        self.dirs += s.dirs;
        self.other += s.other;
        self.bytes += s.bytes;
        self.links.extend_from_slice(&s.links);
    }
}
