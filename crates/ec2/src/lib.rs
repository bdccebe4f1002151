//! coffer_ec2: whole-server backups on AWS with EBS snapshots.
//!
//! The way back from a broken server: a crash-consistent snapshot set of
//! its volumes -> a bootable image (HVM, with the source's architecture,
//! root device name, ENA and boot mode) -> a new instance configured like
//! the old one. And retention for the sets, with the same policy code as
//! the repository's `forget`.
//!
//! Layers, in data-flow order (a module uses only those above it):
//! - `error`: EC2 error codes -> coffer errors (kinds, exit codes);
//! - `facts`: what an image and a launch copy from the source (pure);
//! - `tags`: the tags on everything coffer creates, and reading them (pure);
//! - `wait`: bounded, visible waiting for snapshots (pure, clock passed in);
//! - `sets`: snapshot sets found by tag, choosing one (pure);
//! - `client`: the SDK client and the shared describe calls;
//! - one module per command: `snapshot`, `image`, `launch`, `forget`,
//!   `restore` (`list` is `Ec2::sets`).
//!
//! The library takes the client; only the binary reads flags and prints.

pub mod client;
pub mod error;
pub mod facts;
pub mod forget;
pub mod image;
pub mod launch;
pub mod restore;
pub mod sets;
pub mod snapshot;
pub mod tags;
pub mod wait;

pub use client::{Ec2, Ec2Settings};

/// The SDK, for callers and tests that need its types.
pub use aws_sdk_ec2;
