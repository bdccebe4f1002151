//! THE boundary for repository bytes. Everything coffer stores goes through
//! one small trait with five verbs; hints travel in [`PutHints`].
//!
//! Keys are relative to the repository root and use `/` as separator, e.g.
//! `config`, `keys/<id>`, `data/ab/<pack-id>`.
//!
//! Contract every implementation guarantees (checked by the conformance suite
//! in `tests/store_conformance.rs`, run against every store):
//!
//! - **Atomic put**: a reader sees either no object or the whole object, never
//!   a prefix, whatever happens to the writer.
//! - **Create-only when asked**: with `PutHints::create_only`, a put onto an
//!   existing key holding different bytes fails with `Kind::AlreadyExists`
//!   where the store can tell (local: always; S3: where `If-None-Match: *`
//!   is honoured) and never silently replaces them on such stores. A key
//!   already holding exactly these bytes is success: a retried put that
//!   meets its own first attempt has done what was asked.
//! - **Read after write**: once `put` returned, `get`, `head` and `list` see it.
//! - **Distinct not-found**: a missing key is `Kind::NotFound`, never another
//!   kind, so callers can tell "absent" from "broken".
//! - **Complete listing**: `list` reports every object under the prefix
//!   exactly once, in no particular order, streamed (no full materialization).
//! - **Range reads**: `get` with a range returns exactly those bytes; a range
//!   past the end is an error, not a short read.
//!
//! The trait is blocking on purpose: the pipeline runs on threads, and stores
//! that talk to the network (S3) run their own async runtime inside.
//!
//! The S3 store is behind the default-on cargo feature `s3`; without it
//! [`open::open_store`] refuses `s3://` locations.

mod create_only;
mod locking;
pub mod request_log;
mod s3_settings;

pub mod cache;
mod direct;
pub mod local;
pub mod open;
#[cfg(feature = "s3")]
pub mod s3;

pub use locking::{LockingStore, now_secs};
pub use request_log::RequestLog;
pub use s3_settings::{ChecksumMode, S3Settings, StaticCredentials};

use crate::error::Result;
use std::ops::Range;

/// Storage class requested for an object (S3 names; the local store ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StorageClass {
    #[default]
    Standard,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
    Glacier,
    DeepArchive,
}

impl StorageClass {
    /// Every class, cheapest retrieval first.
    pub const ALL: [StorageClass; 7] = [
        StorageClass::Standard,
        StorageClass::IntelligentTiering,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::GlacierIr,
        StorageClass::Glacier,
        StorageClass::DeepArchive,
    ];

    /// The S3 name (`STANDARD_IA`).
    pub fn name(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::Glacier => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// Days S3 bills an object of this class for at least, even if it is
    /// deleted sooner (AWS's minimum storage duration).
    pub fn min_days(self) -> u32 {
        match self {
            StorageClass::Standard | StorageClass::IntelligentTiering => 0,
            StorageClass::StandardIa | StorageClass::OnezoneIa => 30,
            StorageClass::GlacierIr | StorageClass::Glacier => 90,
            StorageClass::DeepArchive => 180,
        }
    }

    /// The class of an S3 name; `None` for a name coffer does not know.
    pub fn parse(name: &str) -> Option<StorageClass> {
        StorageClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether an object of this class must be restored (thawed) before it
    /// can be read: `GLACIER` and `DEEP_ARCHIVE`.
    pub fn is_archive(self) -> bool {
        matches!(self, StorageClass::Glacier | StorageClass::DeepArchive)
    }
}

/// Where an object of an archive class stands (from HEAD's `x-amz-restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thaw {
    /// Readable now: not in an archive class.
    Hot,
    /// Archived, no restore requested (or its copy has expired).
    Frozen,
    /// Archived, a restore is under way.
    Thawing,
    /// Archived, with a restored copy readable until it expires.
    Thawed,
}

/// How fast (and at what price) S3 restores an archived object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Expedited,
    Standard,
    Bulk,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Expedited, Tier::Standard, Tier::Bulk];

    /// The S3 name (`Bulk`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Expedited => "Expedited",
            Tier::Standard => "Standard",
            Tier::Bulk => "Bulk",
        }
    }

    /// The tier of a name, in any case.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// An S3 Object Lock mode. Under both, a locked version of an object
/// cannot be deleted or changed before its date; `Governance` lets a user
/// with `s3:BypassGovernanceRetention` do it anyway, `Compliance` nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    /// The S3 name (`COMPLIANCE`).
    pub fn name(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// The mode of a name, in any case.
    pub fn parse(name: &str) -> Option<LockMode> {
        [LockMode::Governance, LockMode::Compliance]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// Hints for a put; an implementation may ignore what it cannot honour.
#[derive(Debug, Clone, Default)]
pub struct PutHints {
    /// Fail with `AlreadyExists` instead of replacing an existing object.
    pub create_only: bool,
    pub storage_class: StorageClass,
    /// Lock the version written in this mode until this time (Unix seconds).
    pub retain: Option<(LockMode, i64)>,
}

impl PutHints {
    /// Objects that are written once and never change (packs, index, snapshots, keys).
    pub fn immutable() -> Self {
        PutHints {
            create_only: true,
            ..Default::default()
        }
    }
}

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Its storage class, where the store has classes (S3, when listing).
    pub class: Option<StorageClass>,
    /// When it was written (Unix seconds), where the store says.
    pub modified: Option<i64>,
    /// Whether it can be read now, where the store says (S3's HEAD).
    pub thaw: Option<Thaw>,
    /// Until when its current version is locked (Unix seconds), where the
    /// store says (S3's HEAD, under Object Lock).
    pub locked_until: Option<i64>,
}

impl ObjectMeta {
    /// An object of `size` bytes, nothing else known.
    pub fn new(key: impl Into<String>, size: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            class: None,
            modified: None,
            thaw: None,
            locked_until: None,
        }
    }
}

/// The five verbs (and two housekeeping calls). See the module
/// documentation for the contract.
pub trait Store: Send + Sync {
    /// Stores `data` under `key` atomically.
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()>;
    /// Reads the whole object, or exactly `range` of it.
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>>;
    /// Size of an object; `Kind::NotFound` if it does not exist.
    fn head(&self, key: &str) -> Result<ObjectMeta>;
    /// Calls `each` for every object whose key starts with `prefix`.
    /// An error returned by `each` stops the listing and is returned.
    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()>;
    /// Removes an object. Deleting a missing key is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// Where this store is, for messages (`/srv/repo`, `s3://bucket/prefix`).
    fn location(&self) -> String;
    /// Housekeeping, not a verb: removes the leftovers of puts that never
    /// finished (their writer was killed) last modified before `before`,
    /// and returns how many. Never an object, never a put still running
    /// (callers pass a time older than any put takes). Only stores whose
    /// puts can leave such fragments implement it (local: `.tmp-*` files);
    /// for the others there is nothing to remove.
    fn remove_fragments(&self, _before: std::time::SystemTime) -> Result<u64> {
        Ok(0)
    }
    /// Versions and locks, for a store that has them (S3); `None` else.
    fn versioned(&self) -> Option<&dyn Versioned> {
        None
    }
    /// A directory on this machine, private to it, where a writer may keep
    /// state about this store (the local cache of a remote one); `None`
    /// for a store without a cache. Losing it must lose nothing.
    fn state_dir(&self) -> Option<&std::path::Path> {
        None
    }
    /// Housekeeping for archive classes: asks the store to make the
    /// archived object `key` readable for `days` days at `tier`. A restore
    /// already under way is success. Only stores with archive classes
    /// implement it (S3's `RestoreObject`); nothing is ever archived in the
    /// others, so they are never asked.
    fn request_thaw(&self, key: &str, _days: u32, _tier: Tier) -> Result<()> {
        Err(crate::error::Error::at(
            crate::error::Kind::Fatal,
            "this store has no archive storage classes",
            key,
        ))
    }
}

/// One stored version of an object, in a versioned bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub key: String,
    pub version_id: String,
    /// The current version (what a GET without a version id reads).
    pub latest: bool,
    /// A delete marker: what a DELETE without a version id adds; it hides
    /// the older versions, which stay stored (and billed).
    pub delete_marker: bool,
    pub size: u64,
}

/// What only a versioned store with Object Lock does (S3): the versions a
/// delete leaves behind, and the locks that keep them.
pub trait Versioned: Send + Sync {
    /// Whether the bucket has Object Lock enabled.
    fn lock_enabled(&self) -> Result<bool>;
    /// Calls `each` for every version and delete marker under `prefix`.
    fn list_versions(
        &self,
        prefix: &str,
        each: &mut dyn FnMut(Version) -> Result<()>,
    ) -> Result<()>;
    /// Deletes one version (or delete marker) for good. `Ok(false)`: S3
    /// refused because it is still locked (or this user may not).
    fn delete_version(&self, key: &str, version_id: &str) -> Result<bool>;
    /// Locks the current version of `key` until `until` (Unix seconds) in
    /// `mode`; S3 refuses to shorten a lock.
    fn extend_lock(&self, key: &str, mode: LockMode, until: i64) -> Result<()>;
}

/// Collects a listing into a vector (for small prefixes such as `keys/`).
pub fn list_all(store: &dyn Store, prefix: &str) -> Result<Vec<ObjectMeta>> {
    let mut out = Vec::new();
    store.list(prefix, &mut |m| {
        out.push(m);
        Ok(())
    })?;
    Ok(out)
}
