//! coffer_core: cheap, fast, trustworthy backups to local disks and S3.
//!
//! The order of the `mod` lines is the data flow and the allowed direction of
//! dependencies: a module uses only those declared above it.

pub mod archive;
pub mod backup;
pub mod blob;
pub mod chunk;
pub mod crypto;
pub mod error;
pub mod format;
pub mod fs;
pub mod id;
pub mod maintain;
pub mod progress;
pub mod repo;
pub mod restore;
pub mod store;

pub use error::{Error, Kind, Result};

/// The version recorded in snapshots.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
