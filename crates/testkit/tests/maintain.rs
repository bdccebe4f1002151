//! forget, prune, locks and check against real stores: the local directory
//! store and the S3 server `.ci/run` started (SeaweedFS). Every scenario is
//! one function taking a store, run once per backend.

#[path = "maintain/support.rs"]
mod support;

#[path = "maintain/forget.rs"]
mod forget;
#[path = "maintain/inspect.rs"]
mod inspect;
#[path = "maintain/killed.rs"]
mod killed;
#[path = "maintain/locks.rs"]
mod locks;
#[path = "maintain/progress.rs"]
mod progress;
#[path = "maintain/prune.rs"]
mod prune;
#[path = "maintain/prune_counts.rs"]
mod prune_counts;
#[path = "maintain/prune_races.rs"]
mod prune_races;
#[path = "maintain/resume.rs"]
mod resume;
#[path = "maintain/scale.rs"]
mod scale;
