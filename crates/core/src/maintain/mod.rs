//! Keeping a repository healthy: check (and later forget, prune, stats, diff).

pub mod check;
pub mod ls;
