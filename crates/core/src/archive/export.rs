//! A snapshot (or a path in it) as a standard tar stream: what `restore`
//! would write, as an archive any `tar` extracts.
//!
//! Input: a repository, a snapshot's root tree, a start path. Output: pax
//! members in tree order, named by their path in the snapshot without the
//! leading `/` (so `tar -x -C /` puts them back where they were).
//! Invariants: file content is the snapshot's blobs, checked (decrypted and
//! hashed) as they are read, so a damaged repository fails the export
//! instead of producing a wrong archive; sparse files keep their holes;
//! names that share (dev, inode) become hardlinks; sockets are skipped.

use super::write::{Follows, TarWriter, member_name, sink_err};
use crate::blob::ColdOptions;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::id::{BlobId, TreeId};
use crate::progress::Progress;
use crate::repo::ls::ls;
use crate::repo::{PackInfo, Repository};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExportCounts {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub other: u64,
    pub content_bytes: u64,
    pub sockets_skipped: u64,
}

/// The data regions of a file with `holes` (sorted, inside `size`).
pub fn data_regions(holes: &[(u64, u64)], size: u64) -> Vec<(u64, u64)> {
    let mut regions = Vec::new();
    let mut at = 0;
    for &(o, l) in holes {
        if o > at {
            regions.push((at, o - at));
        }
        at = o + l;
    }
    if at < size {
        regions.push((at, size - at));
    }
    regions
}

/// Files up to this size are read ahead, in parallel, while the tar is
/// written in order; larger ones are read in place, chunk run by chunk run.
const PREFETCH_MAX: u64 = 4 * 1024 * 1024;
/// Files read ahead at once (each at most [`PREFETCH_MAX`] in memory): on
/// S3, where a small file costs one request, this hides the latency.
const PREFETCH_FILES: usize = 16;

/// One entry for the tar writer, in tree order, with its content when it
/// was read ahead.
type Item = (PathBuf, Node, Option<Receiver<Result<Vec<u8>>>>);

/// Writes the tree at `start` of the snapshot `root` into `tar` (going to
/// `dest`, named in errors). The trees are walked on one thread, small
/// files read ahead on [`PREFETCH_FILES`] others, and the tar written here
/// in tree order.
pub fn export<W: Write>(
    repo: &Repository,
    root: TreeId,
    start: &Path,
    tar: &mut TarWriter<W>,
    dest: &str,
    progress: &dyn Progress,
) -> Result<ExportCounts> {
    let (item_tx, item_rx) = bounded::<Item>(PREFETCH_FILES);
    let (job_tx, job_rx) = bounded::<(Vec<BlobId>, Sender<Result<Vec<u8>>>)>(PREFETCH_FILES);
    std::thread::scope(|s| {
        for _ in 0..PREFETCH_FILES {
            let jobs = job_rx.clone();
            crate::error::spawn_scoped(s, "an export reader", move || {
                for (ids, done) in jobs.iter() {
                    let mut content = Vec::new();
                    let r = repo.read_blobs_in_order(&ids, |data| {
                        content.extend_from_slice(&data);
                        Ok(())
                    });
                    let _ = done.send(r.map(|_| content));
                }
            })?;
        }
        drop(job_rx);
        let walker = crate::error::spawn_scoped(s, "the export walker", move || {
            ls(repo, root, start, true, &mut |path: &Path, node: &Node| {
                let ahead = (node.kind == NodeKind::File
                    && !node.content.is_empty()
                    && node.size <= PREFETCH_MAX)
                    .then(|| {
                        let (tx, rx) = bounded(1);
                        job_tx
                            .send((node.content.clone(), tx))
                            .map(|_| rx)
                            .map_err(|_| Error::fatal("export readers stopped"))
                    })
                    .transpose()?;
                // The writer gone (it failed) ends the walk quietly.
                item_tx
                    .send((path.to_path_buf(), node.clone(), ahead))
                    .map_err(|_| Error::fatal("export stopped"))
            })
        })?;
        let written = write_items(repo, &item_rx, tar, dest, progress);
        drop(item_rx);
        let walked = walker
            .join()
            .unwrap_or_else(|_| Err(Error::fatal("the export walker panicked")));
        // The writer's error is the cause when both failed.
        let counts = written?;
        walked?;
        Ok(counts)
    })
}

/// Makes the data an [`export`] of `start` reads readable (archived packs,
/// as `cold` says), before anything is written: the packs come from a walk
/// of the trees, made only for repositories with archived data.
pub fn thaw_export(
    repo: &Repository,
    root: TreeId,
    start: &Path,
    cold: &ColdOptions,
    progress: &dyn Progress,
) -> Result<()> {
    repo.thaw_for_read(|| needed_packs(repo, root, start), cold, progress)
}

/// The packs holding the content of the files at `start`.
fn needed_packs(repo: &Repository, root: TreeId, start: &Path) -> Result<Vec<PackInfo>> {
    let mut ids = HashSet::new();
    ls(repo, root, start, true, &mut |_, node: &Node| {
        ids.extend(node.content.iter().copied());
        Ok(())
    })?;
    let index = repo.index();
    let packs: HashSet<u32> = ids
        .iter()
        .filter_map(|id| index.get(id).map(|(_, loc)| loc.pack))
        .collect();
    Ok(packs
        .into_iter()
        .map(|i| index.packs()[i as usize])
        .collect())
}

/// The tar writer's side of [`export`].
fn write_items<W: Write>(
    repo: &Repository,
    items: &Receiver<Item>,
    tar: &mut TarWriter<W>,
    dest: &str,
    progress: &dyn Progress,
) -> Result<ExportCounts> {
    let mut c = ExportCounts::default();
    for (path, node, ahead) in items.iter() {
        let path = path.as_path();
        let node = &node;
        let name = member_name(path, node.kind == NodeKind::Dir);
        match node.kind {
            NodeKind::Socket => {
                progress.warning(path, "socket skipped (tar cannot hold sockets)");
                c.sockets_skipped += 1;
                continue;
            }
            NodeKind::Dir => c.dirs += 1,
            _ => {}
        }
        let regions = (!node.holes.is_empty()).then(|| data_regions(&node.holes, node.size));
        match tar
            .begin(&name, node, regions.as_deref())
            .map_err(|e| sink_err(dest, e))?
        {
            Follows::Data(_) => {
                let mut n = 0u64;
                match ahead {
                    Some(rx) => {
                        let data = rx
                            .recv()
                            .map_err(|_| Error::fatal("an export reader stopped"))??;
                        n = data.len() as u64;
                        tar.data(&data).map_err(|e| sink_err(dest, e))?;
                    }
                    None => repo.read_blobs_in_order(&node.content, |data| {
                        n += data.len() as u64;
                        tar.data(&data).map(|_| ()).map_err(|e| sink_err(dest, e))
                    })?,
                }
                let short = tar.end().map_err(|e| sink_err(dest, e))?;
                if short > 0 {
                    return Err(Error::corrupt(
                        format!("file content is {short} bytes shorter than its recorded size"),
                        path.display(),
                    ));
                }
                c.files += 1;
                c.content_bytes += n;
                progress.entry_done(path, n, node.size);
            }
            Follows::Nothing => {
                tar.end().map_err(|e| sink_err(dest, e))?;
                match node.kind {
                    NodeKind::Dir => {}
                    NodeKind::File => c.links += 1,
                    _ => c.other += 1,
                }
                progress.entry_done(path, 0, 0);
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::data_regions;

    #[test]
    fn regions_are_the_complement_of_holes() {
        assert_eq!(data_regions(&[], 10), vec![(0, 10)]);
        assert_eq!(data_regions(&[(0, 4)], 10), vec![(4, 6)]);
        assert_eq!(data_regions(&[(2, 3), (7, 3)], 10), vec![(0, 2), (5, 2)]);
        assert_eq!(data_regions(&[(0, 10)], 10), Vec::<(u64, u64)>::new());
    }
}
