//! The one integration test binary of the `coffer` command: every test
//! drives the real binary (as root) on real temporary directories, with the
//! password in `COFFER_PASSWORD`. Modules live in `tests/integration/`.
//! The round-trip, dedup, incremental, selection and corruption tests run
//! once on a local repository and once on the S3 test server (`…::local`
//! and `…::s3`, see `per_store!`).

#[path = "integration/support.rs"]
#[macro_use]
mod support;

#[path = "integration/archive.rs"]
mod archive;
#[path = "integration/cold.rs"]
mod cold;
#[path = "integration/copy.rs"]
mod copy;
#[path = "integration/corruption.rs"]
mod corruption;
#[path = "integration/dedup.rs"]
mod dedup;
#[path = "integration/cost.rs"]
mod cost;
#[path = "integration/deep.rs"]
mod deep;
#[path = "integration/defaults.rs"]
mod defaults;
#[path = "integration/dry_run.rs"]
mod dry_run;
#[path = "integration/ec2.rs"]
mod ec2;
#[path = "integration/errors.rs"]
mod errors;
#[path = "integration/export_import.rs"]
mod export_import;
#[path = "integration/faults.rs"]
mod faults;
#[path = "integration/hooks.rs"]
mod hooks;
#[path = "integration/image.rs"]
mod image;
#[path = "integration/init.rs"]
mod init;
#[path = "integration/interrupted.rs"]
mod interrupted;
#[path = "integration/json.rs"]
mod json;
#[path = "integration/keys.rs"]
mod keys;
#[path = "integration/reliability.rs"]
mod reliability;
#[path = "integration/repair.rs"]
mod repair;
#[path = "integration/requests.rs"]
mod requests;
#[path = "integration/restore.rs"]
mod restore;
#[path = "integration/rewrite.rs"]
mod rewrite;
#[path = "integration/tag.rs"]
mod tag;
#[path = "integration/roundtrip.rs"]
mod roundtrip;
#[path = "integration/limits.rs"]
mod limits;
#[path = "integration/many_writers.rs"]
mod many_writers;
#[path = "integration/meta.rs"]
mod meta;
#[path = "integration/metrics.rs"]
mod metrics;
#[path = "integration/mount.rs"]
mod mount;
#[path = "integration/object_lock.rs"]
mod object_lock;
#[path = "integration/profiles.rs"]
mod profiles;
#[path = "integration/prune_counts.rs"]
mod prune_counts;
#[path = "integration/schedule.rs"]
mod schedule;
#[path = "integration/select.rs"]
mod select;
#[path = "integration/streams.rs"]
mod streams;
#[path = "integration/tar_members.rs"]
mod tar_members;
