//! `repair`: bring a damaged repository back to one `check` passes,
//! keeping everything still readable.
//!
//! - [`index`](index::repair_index): rebuild the index from what is stored.
//!   Entries of readable index objects are kept for packs that are still
//!   stored with their size; every other stored pack is read by its header
//!   alone (ranged reads of its end); packs that are gone are dropped. The
//!   new index supersedes every index object listed, damaged ones included,
//!   which are then deleted.
//! - [`snapshots`](snapshots::repair_snapshots): rewrite each snapshot whose
//!   trees refer to blobs the index does not have (after `repair index`:
//!   blobs of lost packs). A file missing any content blob and a directory
//!   whose tree is lost are left out and named; every other entry is kept
//!   as it was. The new snapshot carries the tag `repaired` and replaces
//!   the old one.
//!
//! Both take the exclusive lock, like prune (backups, which take none, may
//! go on: they only add). Input: the repository; output: a report naming
//! what was dropped. Invariant: nothing is deleted before what replaces it
//! is stored.

pub mod index;
pub mod snapshots;

pub use index::{RepairIndexReport, repair_index};
pub use snapshots::{RepairSnapshotsOptions, RepairSnapshotsReport, repair_snapshots};

/// The tag a snapshot rewritten by `repair snapshots` carries.
pub const REPAIRED_TAG: &str = "repaired";
