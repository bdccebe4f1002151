//! The shared write and read paths of blobs.
//!
//! Write: plaintext -> keyed id -> dedup (stop if known) -> (a small data
//! blob: into the open compression group, sealed as one unit once it holds
//! 1 MiB) -> zstd (skipped when it does not shrink) -> AEAD -> appended to a
//! pack of its kind -> pack
//! uploaded by one of N uploader threads -> index checkpoint every few packs.
//! The writer is a scope: [`BlobWriter::finish`] flushes the open packs, waits
//! for every upload, writes the index, and only then hands out the
//! [`crate::repo::Flushed`] proof that saving a snapshot requires.
//!
//! Read: index lookup -> range GET of the sealed blob (or its group) -> open
//! -> decompress -> (a grouped blob: its slice of the group) -> re-hash and
//! compare with the id (a mismatch is corruption, never silent).

mod groups;
mod pack_reader;
mod reader;
mod thaw;
mod unfinished;
mod writer;

pub use pack_reader::{MAX_RANGE, Wanted};
pub use thaw::ColdOptions;
pub use writer::{ARCHIVE_PACK_SIZE, BlobWriter, WriterStats};

use crate::error::Result;
use crate::format::snapshot::{Requests, Snapshot, Summary};
use crate::id::SnapshotId;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::store::{RequestLog, StorageClass};
use std::collections::BTreeMap;
use std::time::Instant;

/// Puts what a writer added, and the time since `started`, into a
/// snapshot's summary (a backup's, or a dry run's).
pub(crate) fn record_stats(summary: &mut Summary, stats: &WriterStats, started: Instant) {
    summary.blobs_new = stats.blobs_new;
    summary.bytes_new = stats.bytes_new;
    summary.bytes_stored = stats.bytes_stored;
    summary.duration_ns = started.elapsed().as_nanos() as u64;
}

/// Finishes `writer` (its packs and index stored), completes the
/// snapshot's summary with what was written and the time since `started`,
/// and saves the snapshot, last. Shared by backup and tar import.
pub(crate) fn save_snapshot(
    repo: &Repository,
    writer: BlobWriter,
    mut snapshot: Snapshot,
    started: Instant,
    (requests, class): (Option<&RequestLog>, StorageClass),
    progress: &dyn Progress,
) -> Result<(SnapshotId, Snapshot)> {
    let (flushed, stats) = writer.finish()?;
    record_stats(&mut snapshot.summary, &stats, started);
    if let Some(log) = requests {
        let mut by_kind: BTreeMap<String, u64> = log
            .by_kind()
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        if !by_kind.is_empty() {
            // And the snapshot's own PUT, about to be made.
            *by_kind.entry("PUT".into()).or_default() += 1;
            snapshot.summary.requests = Some(Requests {
                by_kind,
                data_class: class.name().to_string(),
            });
        }
    }
    let (id, size) = repo.save_snapshot(&flushed, &snapshot)?;
    snapshot.summary.bytes_stored += size;
    upkeep(repo, stats.index_objects as usize, progress);
    Ok((id, snapshot))
}

/// After a snapshot is saved: merges the small index objects once there
/// are too many (see `repo::compact`), and writes a snapshot catalog once
/// enough snapshots are outside one (see `repo::catalog`). Never fails the
/// command that saved the snapshot; what goes wrong is a warning, and the
/// next one tries again.
fn upkeep(repo: &Repository, written: usize, progress: &dyn Progress) {
    let keep = crate::repo::SMALL_OBJECTS_KEPT;
    let warn = |at: &str, msg: String| progress.warning(std::path::Path::new(at), &msg);
    if repo.index_compaction_due(keep, written) {
        match repo.compact_index(keep) {
            Ok(Some(c)) => {
                if let Some(why) = c.delete_failed {
                    let n = c.merged - c.deleted.min(c.merged);
                    warn(
                        "index/",
                        format!("{n} merged index objects stay until the next prune: {why}"),
                    );
                }
            }
            Ok(None) => {}
            Err(e) => warn("index/", format!("index objects not merged: {e}")),
        }
    }
    if repo.catalog_due(crate::repo::UNCATALOGUED_KEPT) {
        match repo.write_catalog(false) {
            Ok(Some(c)) => {
                if let Some(why) = c.delete_failed {
                    warn(
                        "catalog/",
                        format!("merged snapshot catalogs stay until the next prune: {why}"),
                    );
                }
            }
            Ok(None) => {}
            Err(e) => warn("catalog/", format!("snapshot catalog not written: {e}")),
        }
    }
}
