//! Pure encode/decode of every repository object; no I/O, no keys.
//! docs/FORMAT.md describes the same bytes; `tests/format_vectors.rs` pins them.
//!
//! Encrypted objects carry a *payload* inside their sealed box (see
//! [`payload`]): one flag byte saying whether the body is zstd-compressed,
//! then the body. Structured bodies (trees, index, snapshots, pack headers)
//! are CBOR (RFC 8949) maps with the field names given in each struct.

pub mod catalog;
mod cbor_read;
pub mod config;
pub mod index;
pub mod index_fast;
pub mod key;
pub mod pack;
pub mod payload;
pub mod snapshot;
pub mod tree;
pub mod tree_fast;

use crate::error::{Error, Result};

/// The repository format version this build writes into every object that
/// does not need a later one.
pub const FORMAT_VERSION: u32 = 1;
/// Version 2 adds compression groups (several small blobs sealed as one
/// unit, docs/FORMAT.md §9). Pack headers and index objects that name a
/// grouped blob carry it, so an older coffer refuses them ("upgrade coffer")
/// instead of reading a group as if it were one blob.
pub const GROUPS_VERSION: u32 = 2;
/// The newest version this build reads.
pub const READS_VERSION: u32 = GROUPS_VERSION;

/// Encodes a structure as CBOR.
pub fn to_cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("CBOR encoding into a Vec cannot fail");
    out
}

/// Decodes CBOR; `what` names the object for the error. A body that does not
/// decode but names a version newer than this build's is refused as
/// unsupported, not corrupt: a newer layout gets the "upgrade" message.
pub fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| {
        newer_version(ciborium::from_reader::<VersionOnly, _>(bytes).ok(), what)
            .unwrap_or_else(|| Error::corrupt(format!("cannot decode ({e})"), what))
    })
}

/// The one field every versioned object shares, read alone.
#[derive(serde::Deserialize)]
pub(crate) struct VersionOnly {
    pub version: u32,
}

/// The "upgrade coffer" error if `v` names a version newer than this build's.
pub(crate) fn newer_version(v: Option<VersionOnly>, what: &str) -> Option<Error> {
    v.filter(|v| v.version > READS_VERSION)
        .and_then(|v| check_version(v.version, what).err())
}

/// Refuses a version newer than this build understands ("upgrade coffer"),
/// and version 0, which no coffer ever wrote (the object is damaged).
pub fn check_version(version: u32, what: &str) -> Result<()> {
    if version == 0 {
        return Err(Error::corrupt(
            "format version 0 does not exist (the object is damaged)",
            what,
        ));
    }
    if version > READS_VERSION {
        return Err(Error::at(
            crate::error::Kind::Unsupported,
            format!(
                "format version {version} is not supported by this coffer (it reads up to version {READS_VERSION}); upgrade coffer"
            ),
            what,
        ));
    }
    Ok(())
}
