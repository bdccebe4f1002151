//! coffer_core: cheap, fast, trustworthy backups to local disks and S3.
//!
//! The order of the `mod` lines is the data flow and the allowed direction of
//! dependencies: a module uses only those declared above it (rustfmt keeps
//! this order, `reorder_modules = false`, and `tests/module_order.rs`
//! fails the build's tests when a module reaches below itself).

// Foundations: errors, ids, progress reporting, the byte formats.
pub mod error;
pub mod id;
pub mod progress;
pub mod format;
pub mod crypto;
pub mod chunk;
// Where bytes live: object stores, and the local file system.
pub mod store;
pub mod fs;
// The repository: objects, keys, index, snapshots, locks; blobs in packs.
pub mod repo;
pub mod blob;
// The pipelines, each reading only the layers above.
pub mod backup;
pub mod restore;
pub mod maintain;
pub mod archive;

pub use error::{Error, Kind, Result};

/// The version recorded in snapshots.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
