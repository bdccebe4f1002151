//! `forget`: remove snapshot objects, by retention policy or by id.
//!
//! Input: the repository, a policy (or explicit snapshot ids), how to group,
//! a filter and `now`. Output: per group, every snapshot with whether it is
//! kept and why; the snapshots removed.
//!
//! Invariants: only `snapshots/<id>` objects are deleted (the data they
//! referred to stays until `prune`); an empty policy is refused, never read
//! as "remove everything"; with `dry_run` nothing is written or deleted, not
//! even a lock. Otherwise forget holds the exclusive lock while it deletes,
//! so a check never sees snapshots vanish under it.

use super::retention::{Decision, GroupBy, GroupKey, Policy, Zone, apply_policy_in, group};
use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::repo::{Repository, SnapshotFilter, SnapshotRef};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct ForgetOptions {
    pub policy: Policy,
    pub group_by: GroupBy,
    /// Only snapshots that match are considered.
    pub filter: SnapshotFilter,
    /// Remove exactly these snapshots (ids or unique prefixes) instead of
    /// applying a policy.
    pub ids: Vec<String>,
    pub dry_run: bool,
    /// ns since the epoch (the reference for future snapshots, see retention).
    pub now: i64,
    /// The zone days, weeks, months and years are counted in.
    pub zone: Zone,
}

#[derive(Debug, Clone)]
pub struct ForgetGroup {
    pub key: GroupKey,
    /// Newest first.
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Clone, Default)]
pub struct ForgetResult {
    pub groups: Vec<ForgetGroup>,
    /// Removed (or, with `dry_run`, to be removed).
    pub removed: Vec<SnapshotId>,
}

/// The decisions for `snapshots` (pure: no I/O).
pub fn plan(snapshots: Vec<SnapshotRef>, opts: &ForgetOptions) -> Result<Vec<ForgetGroup>> {
    if opts.policy.is_empty() {
        return Err(Error::invalid(
            "no policy given: forget removes nothing without one (use --keep-last, --keep-daily, …, or name snapshots)",
        ));
    }
    let selected: Vec<SnapshotRef> = snapshots
        .into_iter()
        .filter(|s| opts.filter.matches(&s.snapshot))
        .collect();
    Ok(group(selected, opts.group_by)
        .into_iter()
        .map(|(key, list)| ForgetGroup {
            key,
            decisions: match opts.zone {
                Zone::Utc => apply_policy_in(&list, &opts.policy, opts.now, &chrono::Utc),
                Zone::Local => apply_policy_in(&list, &opts.policy, opts.now, &chrono::Local),
            },
        })
        .collect())
}

/// Applies the policy (or removes the named snapshots) to `repo`.
pub fn forget(repo: &Arc<Repository>, opts: &ForgetOptions) -> Result<ForgetResult> {
    forget_with(repo, opts, &crate::progress::NoProgress)
}

/// As [`forget`], reporting each snapshot removed to `progress`.
pub fn forget_with(
    repo: &Arc<Repository>,
    opts: &ForgetOptions,
    progress: &dyn crate::progress::Progress,
) -> Result<ForgetResult> {
    if !opts.ids.is_empty() && !opts.policy.is_empty() {
        return Err(Error::invalid(
            "give either snapshot ids or a policy to forget, not both",
        ));
    }
    let lock = if opts.dry_run {
        None
    } else {
        Some(repo.lock(true, "forget")?)
    };
    let groups = if opts.ids.is_empty() {
        plan(repo.snapshots()?, opts)?
    } else {
        by_id(repo, opts)?
    };
    let removed: Vec<SnapshotId> = groups
        .iter()
        .flat_map(|g| g.decisions.iter().filter(|d| !d.keep))
        .map(|d| d.snapshot.id)
        .collect();
    if let Some(lock) = &lock {
        progress.phase("removed", "snapshots");
        progress.totals(removed.len() as u64, 0, true);
        for id in &removed {
            lock.check()?;
            repo.delete_snapshot(*id)?;
            progress.entry_done(std::path::Path::new(&format!("snapshots/{id}")), 0, 0);
        }
    }
    Ok(ForgetResult { groups, removed })
}

/// One group of the named snapshots, all removed.
fn by_id(repo: &Repository, opts: &ForgetOptions) -> Result<Vec<ForgetGroup>> {
    let mut decisions = Vec::new();
    for sel in &opts.ids {
        if sel == "latest" {
            return Err(Error::invalid(
                "forget takes snapshot ids, not `latest` (use --keep-* to keep the newest)",
            ));
        }
        let s = repo.find_snapshot(sel, &opts.filter)?;
        if !decisions.iter().any(|d: &Decision| d.snapshot.id == s.id) {
            decisions.push(Decision {
                snapshot: s,
                keep: false,
                reasons: Vec::new(),
            });
        }
    }
    Ok(vec![ForgetGroup {
        key: GroupKey::default(),
        decisions,
    }])
}
