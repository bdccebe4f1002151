//! Keeping a repository healthy: retention (a pure function of snapshots,
//! policy and now), check, and browsing snapshots.

pub mod check;
pub mod ls;
pub mod retention;
