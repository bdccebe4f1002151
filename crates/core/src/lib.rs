//! coffer_core: cheap, fast, trustworthy backups to local disks and S3.
//!
//! The order of the `mod` lines is the data flow and the allowed direction of
//! dependencies: a module uses only those declared above it (rustfmt keeps
//! this order, `reorder_modules = false`, and `tests/module_order.rs`
//! fails the build's tests when a module reaches below itself).
//!
//! The public API is the `pub use` list below, plus three modules kept public
//! whole: `format`, `id` and `crypto` are the on-disk format (docs/FORMAT.md),
//! which the format vectors and the fuzz targets drive directly. Every other
//! module is private, so an item not listed is reachable only inside the
//! crate.

// Foundations: errors, ids, progress reporting, the byte formats.
mod error;
pub mod id;
mod progress;
pub mod format;
pub mod crypto;
mod chunk;
// Where bytes live: object stores, and the local file system.
mod store;
mod fs;
// The repository: objects, keys, index, snapshots, locks; blobs in packs.
mod repo;
mod blob;
// The pipelines, each reading only the layers above.
mod backup;
mod restore;
mod browse;
mod maintain;
mod archive;
mod image;

// The public API, in the same order.
// Foundations.
pub use chunk::Chunker;
pub use error::{EXIT_INCOMPLETE, Error, Kind, Result};
pub use progress::{Change as FileChange, ColdClass, ColdEvent, NoProgress, Progress};
// Stores and the file system.
pub use store::cache::CachedStore;
pub use store::local::LocalStore;
pub use store::open::{StoreOptions, cache_dir_for, open_store};
#[cfg(feature = "s3")]
pub use store::s3::{S3Store, connect as connect_s3};
pub use store::{
    ChecksumMode, LockMode, ObjectMeta, PutHints, RequestLog, S3Settings, StaticCredentials,
    StorageClass, Store, Thaw, Tier, Version, Versioned, list_all,
};
// The directory walker and descriptor-relative directories (tests build
// trees deeper than PATH_MAX with them).
pub use fs::at::Dir;
pub use fs::walk::{All as WalkAll, Step as WalkStep, Walk};
pub use fs::{SERVER_EXCLUDES, raise_open_files_limit, swap_files};
// The repository.
pub use blob::{BlobWriter, ColdOptions};
pub use repo::lock::{Holder as LockHolder, LockFile};
pub use repo::ls::ls;
pub use repo::wait::parse_duration;
pub use repo::{
    CONFIG_MAC_CONTEXT, InitOptions, LockInfo, PruneRecord, Repository, SMALL_OBJECTS_KEPT,
    SnapshotFilter, SnapshotRef, UNCATALOGUED_KEPT, config_mac,
};
// Backup.
pub use backup::{
    BackupOptions, BackupResult, Skipped, StreamOptions, WarmUp, backup, backup_stream,
    dry_run as backup_dry_run,
};
// Restore.
pub use browse::{Attr as BrowseAttr, EntryKind as BrowseKind, View as BrowseView};
pub use restore::{ChangeKind, Overwrite, RestoreOptions, RestoreResult, restore};
// Maintenance.
pub use maintain::check::{CheckOptions, CheckReport, check, check_with};
pub use maintain::check_data::DataSubset;
pub use maintain::copy::{Copied, CopyOptions, CopyResult, CopyTotals, copy};
pub use maintain::cost::{Bill, ClassBill, ClassPrice, LastBackup, Prices, repository_bill};
pub use maintain::diff::{Change as DiffChange, DiffTotals, diff};
pub use maintain::find::{Pattern, find};
pub use maintain::forget::{ForgetGroup, ForgetOptions, ForgetResult, forget, forget_with};
pub use maintain::prune::{LockReport, MaxUnused, PruneOptions, PruneReport, prune, prune_with};
pub use maintain::repair::{
    RepairIndexReport, RepairSnapshotsOptions, RepairSnapshotsReport, repair_index,
    repair_snapshots,
};
pub use maintain::retention::{
    Decision, GroupBy, GroupKey, Policy, Retained, Span, Zone, apply_policy,
};
pub use maintain::rewrite::{RewriteOptions, RewriteResult, Rewritten, rewrite};
pub use maintain::stats::{StatsMode, stats};
pub use maintain::tag::{Retagged, TagOptions, TagResult, tag};
pub use maintain::used::used_blobs;
// Tar archives: write, export, import, read.
pub use archive::export::{export, thaw_export};
pub use archive::import::{ImportOptions, components as tar_components, import};
pub use archive::read::TarReader;
pub use archive::{
    ArchiveOptions, Destination as ArchiveDestination, Format as ArchiveFormat,
    Target as ArchiveTarget, archive, choose_format, cleanup as archive_cleanup,
    open_source as open_archive_source, stream as archive_stream,
};
pub use format::snapshot::ImageInfo;
pub use image::diff::{ImageDiff, image_diff};
pub use image::restore::{ImageRestoreOptions, ImageRestoreResult, image_restore};
pub use image::{DEFAULT_CHUNK, ImageOptions, check_chunk_size, image_backup};

/// The version recorded in snapshots.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
