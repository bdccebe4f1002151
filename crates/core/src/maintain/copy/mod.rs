//! `copy`: snapshots from one repository into another (another disk, a
//! bucket elsewhere, another password), deduplicated with what the
//! destination holds.
//!
//! Blob ids are keyed hashes, so the same bytes have other ids in the
//! destination: every file a snapshot holds is read from the source (a
//! file's blobs in order, through the shared pack reader) and cut again by
//! the destination's chunker, data region by data region (a blob never
//! spans a hole), so its blobs dedup with the destination's own backups.
//! Only blobs the destination lacks are stored. Trees are rewritten
//! bottom-up (`tree_rewrite`) with the new content and subtree ids, and
//! the snapshot is saved last, with `original` naming the snapshot it
//! copies.
//!
//! What is not read again: a snapshot already copied (a destination
//! snapshot's `original` names it) is skipped before anything is read; a
//! directory tree met twice is rewritten once; a file whose content was
//! copied before (in this run, or in the destination's copy of an earlier
//! snapshot of the same host and paths) takes the content it got then,
//! once every blob of it is found in the destination's index. Copying
//! tonight's snapshot after last night's reads only what changed.
//!
//! Killed at any point: packs stored so far are resumed by the next
//! writer, each snapshot is saved after its data, so a rerun copies only
//! what is missing.

use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::maintain::tree_rewrite::{Judge, Outcome, rewrite_tree};
use crate::repo::{Repository, SnapshotFilter, SnapshotRef};
use crate::store::StorageClass;
use cut::{Cut, rechunk};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

mod cut;

#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Snapshots of the source (ids, prefixes or `latest`); none: every
    /// snapshot `filter` matches.
    pub ids: Vec<String>,
    pub filter: SnapshotFilter,
    /// Only say which snapshots would be copied; read and write nothing.
    pub dry_run: bool,
    /// Concurrent uploads into the destination.
    pub connections: usize,
    /// Storage class of the destination's new data packs.
    pub data_class: StorageClass,
}

/// One snapshot of the source and its copy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Copied {
    pub source: SnapshotId,
    /// Its copy in the destination (none in a dry run).
    pub copy: Option<SnapshotId>,
    pub time: i64,
    pub host: String,
    pub paths: Vec<String>,
    /// Whether the copy was made earlier (nothing read).
    pub already: bool,
}

/// What a copy read and stored.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyTotals {
    /// Files whose content was read from the source and cut again.
    pub files_read: u64,
    /// Their bytes (plaintext).
    pub bytes_read: u64,
    /// Files whose content was copied before (nothing read).
    pub files_reused: u64,
    /// Blobs new to the destination, their plaintext bytes, and the bytes
    /// of packs and index objects stored.
    pub blobs_new: u64,
    pub bytes_new: u64,
    pub bytes_stored: u64,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CopyResult {
    pub snapshots: Vec<Copied>,
    pub totals: CopyTotals,
}

/// What a file's content became in the destination, by the hash of its
/// source blob ids; `true` once known to be stored (written by this run,
/// or found in the destination's index), `false` while only read from an
/// earlier copy's trees.
type Contents = HashMap<[u8; 32], (Vec<BlobId>, bool)>;

/// Files cut again together, by as many threads as the machine has.
const BATCH: usize = 256;

/// The key a snapshot is known by across copies: the first of its chain.
fn identity(s: &SnapshotRef) -> SnapshotId {
    s.snapshot.original.unwrap_or(s.id)
}

fn content_key(ids: &[BlobId], cut: &Cut) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&cut.tag().to_le_bytes());
    for id in ids {
        h.update(&id.0);
    }
    *h.finalize().as_bytes()
}

pub fn copy(source: &Repository, dest: &Arc<Repository>, opts: &CopyOptions) -> Result<CopyResult> {
    if source.config().id == dest.config().id {
        return Err(Error::invalid(
            "the source and the destination are the same repository",
        ));
    }
    let all = source.snapshots()?;
    let mut targets = super::tag::select(source, (&opts.ids, &opts.filter), &all)?;
    targets.sort_by_key(|s| (s.snapshot.time, s.id));
    let mut dest_all = dest.snapshots()?;
    // The destination's copies, by the identity of what they copy.
    let mut copies: HashMap<SnapshotId, SnapshotRef> = HashMap::new();
    for d in &dest_all {
        copies.entry(identity(d)).or_insert_with(|| d.clone());
    }
    let mut run = Run {
        source,
        dest,
        chunker: Cut::Chunker(Chunker::new(
            dest.config().chunker.clone(),
            dest.key().gear_seed,
        )),
        cut: None,
        contents: Contents::new(),
        trees: HashMap::new(),
        seeded: HashSet::new(),
        threads: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)),
        files: 0,
        totals: CopyTotals::default(),
    };
    let mut result = CopyResult::default();
    for s in targets {
        let done = copies.get(&identity(&s)).map(|d| d.id);
        let mut entry = Copied {
            source: s.id,
            copy: done,
            time: s.snapshot.time,
            host: s.snapshot.host.clone(),
            paths: s.snapshot.paths.clone(),
            already: done.is_some(),
        };
        if done.is_none() && !opts.dry_run {
            run.cut = s
                .snapshot
                .image
                .as_ref()
                .map(|i| Cut::Fixed(i.chunk_size as u64));
            run.seed(&s, &all, &copies)?;
            let snapshot = run.one(&s, opts, &copies, &dest_all)?;
            let id = snapshot.id;
            copies.insert(identity(&s), snapshot.clone());
            dest_all.push(snapshot);
            entry.copy = Some(id);
        }
        result.snapshots.push(entry);
    }
    run.totals.files_reused = run.files.saturating_sub(run.totals.files_read);
    result.totals = run.totals;
    Ok(result)
}

/// The state of one copy run, shared by its snapshots.
struct Run<'a> {
    source: &'a Repository,
    dest: &'a Arc<Repository>,
    chunker: Cut,
    /// How the snapshot being copied is cut: fixed chunks for an image.
    cut: Option<Cut>,
    contents: Contents,
    /// Source trees already rewritten, across snapshots.
    trees: HashMap<TreeId, Outcome>,
    /// Source snapshots whose copies were read into `contents`.
    seeded: HashSet<SnapshotId>,
    /// Files cut again at the same time.
    threads: usize,
    /// Files with content met in the copied snapshots.
    files: u64,
    totals: CopyTotals,
}

impl Run<'_> {
    /// Copies one snapshot: its data, its trees, then the snapshot itself.
    fn one(
        &mut self,
        s: &SnapshotRef,
        opts: &CopyOptions,
        copies: &HashMap<SnapshotId, SnapshotRef>,
        dest_all: &[SnapshotRef],
    ) -> Result<SnapshotRef> {
        let writer = BlobWriter::new(
            Arc::clone(self.dest),
            opts.connections.max(1),
            opts.data_class,
        );
        self.prefetch(&writer, s.snapshot.tree)?;
        let mut trees = std::mem::take(&mut self.trees);
        let source = self.source;
        let outcome = {
            let mut judge = Rekey {
                run: self,
                writer: &writer,
            };
            rewrite_tree(
                source,
                Some(&writer),
                s.snapshot.tree,
                &mut judge,
                &mut trees,
            )
        };
        self.trees = trees;
        let tree = match outcome? {
            Outcome::Kept { id, .. } => id,
            Outcome::Lost(why) => {
                return Err(Error::corrupt(
                    format!("its root tree cannot be read ({why})"),
                    s.id,
                ));
            }
        };
        let (flushed, stats) = writer.finish()?;
        self.totals.blobs_new += stats.blobs_new;
        self.totals.bytes_new += stats.bytes_new;
        self.totals.bytes_stored += stats.bytes_stored;
        let snapshot = Snapshot {
            tree,
            parent: s.snapshot.parent.and_then(|p| copies.get(&p).map(|d| d.id)),
            original: Some(identity(s)),
            ..s.snapshot.clone()
        };
        let id = self
            .dest
            .save_snapshot_once(&flushed, dest_all, &snapshot)?;
        Ok(SnapshotRef { id, snapshot })
    }

    /// Learns the contents of the latest earlier snapshot of the same host
    /// and paths that the destination already holds a copy of, so its
    /// unchanged files are not read again.
    fn seed(
        &mut self,
        s: &SnapshotRef,
        all: &[SnapshotRef],
        copies: &HashMap<SnapshotId, SnapshotRef>,
    ) -> Result<()> {
        let parent = all
            .iter()
            .filter(|p| p.id != s.id && p.snapshot.time <= s.snapshot.time)
            .filter(|p| p.snapshot.host == s.snapshot.host && p.snapshot.paths == s.snapshot.paths)
            .filter_map(|p| copies.get(&identity(p)).map(|d| (p, d)))
            .max_by_key(|(p, _)| (p.snapshot.time, p.id));
        let Some((p, d)) = parent else {
            return Ok(());
        };
        if !self.seeded.insert(p.id) {
            return Ok(());
        }
        let mut stack = vec![(p.snapshot.tree, d.snapshot.tree)];
        let mut seen = HashSet::new();
        while let Some((from, to)) = stack.pop() {
            if !seen.insert(from) {
                continue;
            }
            let (Some(a), Some(b)) = (
                tree_or_none(self.source, from)?,
                tree_or_none(self.dest, to)?,
            ) else {
                continue; // only a hint: a lost tree is copied in full
            };
            for n in &a.nodes {
                let Some(m) = b.find(&n.name).filter(|m| m.kind == n.kind) else {
                    continue;
                };
                match (n.kind, n.subtree, m.subtree) {
                    (NodeKind::Dir, Some(x), Some(y)) => stack.push((x, y)),
                    (NodeKind::File, ..) if !n.content.is_empty() && m.size == n.size => {
                        let key = content_key(&n.content, self.cutter());
                        self.contents
                            .entry(key)
                            .or_insert((m.content.clone(), false));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// How the snapshot being copied is cut.
    fn cutter(&self) -> &Cut {
        self.cut.as_ref().unwrap_or(&self.chunker)
    }

    /// Whether the destination's content for `key` is known and stored:
    /// content learnt from an earlier copy counts once every blob of it is
    /// in the destination's index (else it is forgotten, and cut again).
    fn known(&mut self, key: &[u8; 32]) -> bool {
        let Some((ids, stored)) = self.contents.get_mut(key) else {
            return false;
        };
        if !*stored {
            let index = self.dest.index();
            *stored = ids.iter().all(|id| index.contains(id));
        }
        let stored = *stored;
        if !stored {
            self.contents.remove(key);
        }
        stored
    }

    /// Cuts again, in parallel, every file of the tree `root` whose
    /// content is not known yet (trees copied earlier in this run are not
    /// walked again), a batch at a time so memory stays bounded.
    fn prefetch(&mut self, writer: &BlobWriter, root: TreeId) -> Result<()> {
        let mut stack = vec![(root, b"/".to_vec())];
        let mut walked = HashSet::new();
        let mut batch: Vec<([u8; 32], String, Node)> = Vec::new();
        while let Some((id, path)) = stack.pop() {
            if self.trees.contains_key(&id) || !walked.insert(id) {
                continue;
            }
            let Some(tree) = tree_or_none(self.source, id)? else {
                continue; // the rewrite reports it
            };
            for n in tree.nodes {
                let mut at = path.clone();
                if at.len() > 1 {
                    at.push(b'/');
                }
                at.extend_from_slice(&n.name);
                match (n.kind, n.subtree) {
                    (NodeKind::Dir, Some(sub)) => stack.push((sub, at)),
                    (NodeKind::File, _) if !n.content.is_empty() => {
                        let key = content_key(&n.content, self.cutter());
                        if self.known(&key) || batch.iter().any(|b| b.0 == key) {
                            continue;
                        }
                        batch.push((key, String::from_utf8_lossy(&at).into_owned(), n));
                        if batch.len() == BATCH {
                            self.cut_batch(writer, std::mem::take(&mut batch))?;
                        }
                    }
                    _ => {}
                }
            }
        }
        self.cut_batch(writer, batch)
    }

    /// Cuts the files of `batch` again on `threads` threads.
    fn cut_batch(
        &mut self,
        writer: &BlobWriter,
        batch: Vec<([u8; 32], String, Node)>,
    ) -> Result<()> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        let (source, chunker) = (self.source, self.cutter());
        let results = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.threads.min(batch.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((key, what, node)) = batch.get(i) else {
                                return Ok(out);
                            };
                            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                                return Ok(out);
                            }
                            match rechunk(source, chunker, writer, node, what) {
                                Ok((ids, read)) => out.push((*key, ids, read)),
                                Err(e) => {
                                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a copy thread panicked"))
                .collect::<Vec<Result<Vec<_>>>>()
        });
        for r in results {
            for (key, ids, read) in r? {
                self.totals.files_read += 1;
                self.totals.bytes_read += read;
                self.contents.insert(key, (ids, true));
            }
        }
        Ok(())
    }

    /// The destination's content for a file: known (cut by
    /// [`prefetch`](Self::prefetch), or copied before), else cut now.
    fn content(&mut self, writer: &BlobWriter, path: &[u8], node: &Node) -> Result<Vec<BlobId>> {
        self.files += 1;
        let key = content_key(&node.content, self.cutter());
        if self.known(&key) {
            return Ok(self.contents[&key].0.clone());
        }
        let what = String::from_utf8_lossy(path).into_owned();
        let (new, read) = rechunk(self.source, self.cutter(), writer, node, &what)?;
        self.totals.files_read += 1;
        self.totals.bytes_read += read;
        self.contents.insert(key, (new.clone(), true));
        Ok(new)
    }
}

/// A tree, or none if it is lost (not in the index, or damaged).
fn tree_or_none(repo: &Repository, id: TreeId) -> Result<Option<crate::format::tree::Tree>> {
    match repo.read_tree(&id) {
        Ok(t) => Ok(Some(t)),
        Err(e) if matches!(e.kind(), Kind::NotFound | Kind::Corrupt) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The judge of a copy: keeps everything, maps each file's content.
struct Rekey<'r, 'a> {
    run: &'r mut Run<'a>,
    writer: &'r BlobWriter,
}

impl Judge for Rekey<'_, '_> {
    fn leave_out(&mut self, _path: &[u8], _node: &Node) -> bool {
        false
    }

    fn by_id(&self) -> bool {
        true // a tree's copy depends on the tree alone
    }

    fn lost_tree(&mut self, path: &[u8], why: &str) -> Result<()> {
        Err(Error::corrupt(
            format!("a tree of the snapshot cannot be read ({why}); run `coffer check`"),
            String::from_utf8_lossy(path),
        ))
    }

    fn rekeys(&self) -> bool {
        true
    }

    fn map(&mut self, path: &[u8], node: &mut Node) -> Result<()> {
        if node.kind == NodeKind::File && !node.content.is_empty() {
            node.content = self.run.content(self.writer, path, node)?;
        }
        Ok(())
    }
}
