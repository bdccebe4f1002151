//! `snapshots/<id>`: one sealed object per snapshot, written last.

use super::{check_version, from_cbor, to_cbor};
use crate::error::Result;
use crate::id::{SnapshotId, TreeId};
use serde::{Deserialize, Serialize};

/// What a backup did, stored with its snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unchanged: u64,
    pub dirs: u64,
    pub other_entries: u64,
    /// Files or directories that could not be read (listed by the backup).
    pub errors: u64,
    /// Bytes of file content in the snapshot.
    pub total_bytes: u64,
    /// Bytes actually read from disk (unchanged files are not read).
    pub bytes_read: u64,
    /// Plaintext bytes of blobs new to the repository.
    pub bytes_new: u64,
    /// Bytes added to the repository (packs + index + snapshot, after compression).
    pub bytes_stored: u64,
    pub blobs_new: u64,
    pub duration_ns: u64,
    /// The S3 requests the backup made (absent: none, or written before
    /// coffer recorded them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Requests>,
}

/// The S3 requests a backup made up to and including its snapshot's PUT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests by the kind S3 bills (`PUT`, `GET`, `HEAD`, `LIST`, `POST`,
    /// `DELETE`), retries included.
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// The storage class its data packs were written in (S3 name).
    pub data_class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// Start of the backup, ns since the Unix epoch (UTC).
    pub time: i64,
    pub host: String,
    pub user: String,
    /// Absolute paths given to the backup, as given (lossy UTF-8 for display).
    pub paths: Vec<String>,
    pub tags: Vec<String>,
    pub tree: TreeId,
    pub parent: Option<SnapshotId>,
    pub excludes: Vec<String>,
    pub program_version: String,
    pub summary: Summary,
    /// For a snapshot that replaced another without a new backup (`tag`):
    /// the id of the first one of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<SnapshotId>,
    /// For an image of a block device or disk image file (`image backup`):
    /// what was read, and in which chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
}

/// What an image snapshot holds: one file, the image, cut into aligned
/// chunks of `chunk_size` bytes (the last one shorter); chunks of zeros
/// are holes of that file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The device or file read, as given.
    pub source: String,
    /// Its size in bytes.
    pub size: u64,
    pub chunk_size: u32,
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let s: Snapshot = from_cbor(plain, what)?;
        check_version(s.version, what)?;
        Ok(s)
    }
}
