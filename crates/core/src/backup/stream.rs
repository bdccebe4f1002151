//! A stream becomes a snapshot holding one file: a database dump read from
//! stdin or from a command's output (`backup --stdin`,
//! `--stdin-from-command`).
//!
//! The stream is chunked like any file, so a dump that changed little
//! since the last one adds only its changed chunks. Nothing is known about
//! the stream's end until it comes: an error while reading it (the reader
//! reports a dump command that failed as an error at its end) stops the
//! backup before the snapshot is saved, so a broken dump never becomes a
//! snapshot. Packs already uploaded stay unreferenced until prune.

use super::BackupResult;
use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::snapshot::{Snapshot, Summary};
use crate::format::tree::{Node, NodeKind, Tree, valid_name};
use crate::fs::Owners;
use crate::id::TreeId;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::store::StorageClass;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Where the file appears in the snapshot: `db.sql`, `dumps/db.sql`
    /// (below `/`).
    pub filename: String,
    pub host: String,
    pub user: String,
    pub tags: Vec<String>,
    /// Snapshot time, ns since the epoch; `None` means now.
    pub time: Option<i64>,
    pub connections: usize,
    pub data_storage_class: StorageClass,
    /// Where the store counts its requests: recorded in the snapshot.
    pub requests: Option<std::sync::Arc<crate::store::RequestLog>>,
    /// Size of data packs for an archive class (`GLACIER`, `DEEP_ARCHIVE`).
    pub archive_pack_size: usize,
    /// Names the stream in errors (`stdin`, the command line).
    pub source: String,
}

/// The file name's components, each one a name a tree may hold.
fn components(filename: &str) -> Result<Vec<Vec<u8>>> {
    let comps: Vec<Vec<u8>> = filename
        .split('/')
        .filter(|c| !c.is_empty())
        .map(|c| c.as_bytes().to_vec())
        .collect();
    if comps.is_empty() || comps.iter().any(|c| !valid_name(c) || c.len() > 255) {
        return Err(Error::invalid(
            "--stdin-filename must be a relative file name without `.` or `..` components",
        )
        .with_location(filename));
    }
    Ok(comps)
}

/// The snapshot of a stream stored as one file (`comps` its path) of
/// `size` bytes under the root tree `root`.
fn stream_snapshot(
    opts: &StreamOptions,
    comps: &[Vec<u8>],
    time: i64,
    root: TreeId,
    size: u64,
) -> Snapshot {
    let path = format!(
        "/{}",
        comps
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("/")
    );
    Snapshot {
        original: None,
        image: None,
        version: crate::format::FORMAT_VERSION,
        time,
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths: vec![path],
        tags: opts.tags.clone(),
        tree: root,
        parent: None,
        excludes: Vec::new(),
        program_version: crate::VERSION.to_string(),
        summary: Summary {
            files_new: 1,
            dirs: comps.len() as u64 - 1,
            total_bytes: size,
            bytes_read: size,
            ..Summary::default()
        },
    }
}

/// Stores everything `input` yields as one file of a new snapshot.
pub fn backup_stream(
    repo: Arc<Repository>,
    input: &mut dyn Read,
    opts: &StreamOptions,
    progress: &dyn Progress,
) -> Result<BackupResult> {
    let started = Instant::now();
    let comps = components(&opts.filename)?;
    let time = opts
        .time
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0));
    let chunker = Chunker::new(repo.config().chunker.clone(), repo.key().gear_seed);
    let writer = BlobWriter::with_archive_pack_size(
        Arc::clone(&repo),
        opts.connections,
        opts.data_storage_class,
        opts.archive_pack_size,
    );
    let owners = Owners::new();
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let owned = |kind: NodeKind, name: Vec<u8>, mode: u32| Node {
        name,
        kind,
        mode,
        uid,
        gid,
        user: owners.user_name(uid),
        group: owners.group_name(gid),
        mtime: time,
        ctime: time,
        links: 1,
        ..Node::default()
    };

    let mut file = owned(NodeKind::File, comps.last().expect("one").clone(), 0o600);
    let mut content = Vec::new();
    let mut size = 0u64;
    let shown = std::path::PathBuf::from(&opts.filename);
    chunker.chunks(input, u64::MAX, &opts.source, &mut |chunk| {
        size += chunk.len() as u64;
        let (id, _) = writer.add(BlobKind::Data, &chunk)?;
        content.push(id);
        Ok(())
    })?;
    file.size = size;
    file.content = content;
    progress.entry_done(&shown, size, size);

    // The trees from the file up to the root, each holding one entry.
    let mut entry = file;
    for name in comps[..comps.len() - 1].iter().rev() {
        let tree = Tree::new(vec![entry]).encode_checked(&opts.source)?;
        let (id, _) = writer.add(BlobKind::Tree, &tree)?;
        let mut dir = owned(NodeKind::Dir, name.clone(), 0o755);
        dir.subtree = Some(id.tree());
        entry = dir;
    }
    let tree = Tree::new(vec![entry]).encode_checked(&opts.source)?;
    let (root, _) = writer.add(BlobKind::Tree, &tree)?;

    let snapshot = stream_snapshot(opts, &comps, time, root.tree(), size);
    let (id, snapshot) = crate::blob::save_snapshot(
        &repo,
        writer,
        snapshot,
        started,
        (opts.requests.as_deref(), opts.data_storage_class),
        progress,
    )?;
    Ok(BackupResult {
        id,
        snapshot,
        parent: None,
        skipped: Vec::new(),
        changed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn file_names_are_relative_and_clean() {
        assert_eq!(components("db.sql").unwrap(), vec![b"db.sql".to_vec()]);
        assert_eq!(
            components("/dumps//db.sql").unwrap(),
            vec![b"dumps".to_vec(), b"db.sql".to_vec()]
        );
        for bad in ["", "/", "a/../b", ".", "x/./y"] {
            assert!(components(bad).is_err(), "{bad:?}");
        }
    }
}
