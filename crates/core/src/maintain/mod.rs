//! Keeping a repository healthy for years: retention (a pure function of
//! snapshots, policy and now), forget, prune, check; and looking into
//! snapshots: ls, diff, stats, find.

pub mod check;
pub mod check_data;
pub mod cost;
pub mod diff;
pub mod find;
pub mod forget;
pub mod prune;
pub(crate) mod tree_rewrite;
pub mod repair;
pub mod retention;
pub mod stats;
pub mod tag;
pub mod rewrite;
pub mod copy;
pub mod used;
