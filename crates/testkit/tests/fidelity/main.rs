//! System fidelity: what a backup and restore must keep for a restored
//! Linux system to be the same system, checked through the library (no
//! CLI) and, where one exists, by an independent referee (rsync, getfacl,
//! getcap, chroot).
//!
//! These tests run as root (CI does): owners, devices, `trusted.*` xattrs
//! and capabilities need it, and they fail rather than skip without it.

mod batches;
mod confined;
mod incremental;
mod inplace;
mod nonroot;
mod report;
mod roundtrip;
mod select;
mod support;
mod unreadable;
