//! coffer_testkit: what coffer's tests share (a dev-dependency only).
//!
//! - [`fixture`]: builds a tree with every kind of file a Linux system has,
//!   and generators of big files and of many small files.
//! - [`compare`]: compares two trees in everything a restore must bring
//!   back, reporting each difference on one line.
//! - [`store_suite`]: the one conformance suite every store passes.
//! - [`s3`]: buckets on the S3 server `.ci/run` started on 127.0.0.1.
//! - [`tree_gen`]: reproducible trees of any size (scale tests, `bench/scale`).
//! - [`fault_proxy`]: a loopback proxy in front of that server that answers
//!   like a misbehaving S3 (503s, 500 after writes, dropped connections,
//!   bodies cut short, slow answers) at set rates with a fixed seed.

mod at;
pub mod compare;
pub mod fault_proxy;
pub mod fixture;
pub mod s3;
pub mod store_suite;
pub mod tree_gen;

pub use compare::{CompareOptions, Difference, assert_same_trees, compare_trees};
pub use store_suite::run_conformance;
