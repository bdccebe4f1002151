//! coffer_core: cheap, fast, trustworthy backups to local disks and S3.
//!
//! The order of the `mod` lines is the data flow and the allowed direction of
//! dependencies: a module uses only those declared above it.

pub mod error;
pub mod id;
pub mod store;
pub mod format;
pub mod crypto;
pub mod chunk;
pub mod fs;
pub mod repo;
pub mod blob;
pub mod progress;
pub mod backup;
pub mod restore;
pub mod maintain;

pub use error::{Error, Kind, Result};

/// The version recorded in snapshots.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
