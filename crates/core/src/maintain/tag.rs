//! `tag`: changes the tags of snapshots without touching their data. A
//! snapshot object cannot change (its name is its hash), so each changed
//! snapshot is replaced: the new object (same tree, same summary, the new
//! tags, and `original` naming the first snapshot of the chain) is stored
//! first, then the old one removed. Killed between the two, a rerun finds
//! the new object already there and only removes the old one, so a
//! snapshot is never lost and never doubled.
//!
//! Runs under the exclusive lock, as forget does (it removes snapshot
//! objects; a prune must not list one that is about to go).

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::{Flushed, Repository, SnapshotFilter, SnapshotRef};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct TagOptions {
    /// Snapshots (ids, prefixes or `latest`); none: every snapshot `filter`
    /// matches.
    pub ids: Vec<String>,
    pub filter: SnapshotFilter,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Replace all tags with these (not with `add` or `remove`).
    pub set: Option<Vec<String>>,
    pub dry_run: bool,
}

/// One snapshot whose tags changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retagged {
    pub old: SnapshotId,
    /// The replacing snapshot (none in a dry run).
    pub new: Option<SnapshotId>,
    pub original: SnapshotId,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct TagResult {
    pub changed: Vec<Retagged>,
    /// Snapshots that already had the tags asked for.
    pub unchanged: Vec<SnapshotId>,
}

impl TagOptions {
    fn check(&self) -> Result<()> {
        if self.set.is_some() && !(self.add.is_empty() && self.remove.is_empty()) {
            return Err(Error::invalid(
                "--set replaces every tag: give it without --add or --remove",
            ));
        }
        if self.set.is_none() && self.add.is_empty() && self.remove.is_empty() {
            return Err(Error::invalid(
                "nothing to do: give --add, --remove or --set",
            ));
        }
        let all = self
            .add
            .iter()
            .chain(&self.remove)
            .chain(self.set.iter().flatten());
        for t in all {
            if t.is_empty() || t.contains(',') || t.trim() != t {
                return Err(Error::invalid(format!(
                    "`{t}` is not a tag: tags are non-empty, without commas or surrounding spaces"
                )));
            }
        }
        Ok(())
    }

    /// The tags `old` gets: the set, or `old` without the removed ones and
    /// with the added ones at the end (each once, order kept).
    pub fn apply(&self, old: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let base = match &self.set {
            Some(set) => set.iter().collect::<Vec<_>>(),
            None => old
                .iter()
                .filter(|t| !self.remove.contains(t))
                .chain(&self.add)
                .collect(),
        };
        for t in base {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

pub fn tag(repo: &Arc<Repository>, opts: &TagOptions) -> Result<TagResult> {
    opts.check()?;
    let lock = match opts.dry_run {
        true => None,
        false => Some(repo.lock(true, "tag")?),
    };
    let all = repo.snapshots()?;
    let targets = select(repo, (&opts.ids, &opts.filter), &all)?;
    let mut result = TagResult::default();
    for old in targets {
        let tags = opts.apply(&old.snapshot.tags);
        if tags == old.snapshot.tags {
            result.unchanged.push(old.id);
            continue;
        }
        let original = old.snapshot.original.unwrap_or(old.id);
        let wanted = Snapshot {
            tags: tags.clone(),
            original: Some(original),
            ..old.snapshot.clone()
        };
        let new = match &lock {
            None => None,
            Some(lock) => {
                let flushed = stored_tree(repo, &wanted)?;
                Some(repo.replace_snapshot(&flushed, lock, &all, old.id, &wanted)?)
            }
        };
        result.changed.push(Retagged {
            old: old.id,
            new,
            original,
            tags,
        });
    }
    Ok(result)
}

/// The snapshots named (each once), or all that the filter matches.
pub(crate) fn select(
    repo: &Repository,
    (ids, filter): (&[String], &SnapshotFilter),
    all: &[SnapshotRef],
) -> Result<Vec<SnapshotRef>> {
    if ids.is_empty() {
        return Ok(all
            .iter()
            .filter(|s| filter.matches(&s.snapshot))
            .cloned()
            .collect());
    }
    let mut out: Vec<SnapshotRef> = Vec::new();
    for sel in ids {
        let s = repo.find_snapshot(sel, filter)?;
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The proof that `s`'s data is stored: its tree is in the index, and so
/// is everything below it (nothing new to flush).
fn stored_tree(repo: &Repository, s: &Snapshot) -> Result<Flushed> {
    if !repo.index().contains(&s.tree.blob()) {
        return Err(Error::corrupt(
            "the snapshot's tree is not in the index (run `coffer check`)",
            format!("tree {}", s.tree),
        ));
    }
    Ok(Flushed::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add: &[&str], remove: &[&str], set: Option<&[&str]>) -> TagOptions {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        TagOptions {
            add: v(add),
            remove: v(remove),
            set: set.map(v),
            ..Default::default()
        }
    }

    #[test]
    fn add_remove_and_set() {
        let old: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(opts(&["c", "a"], &[], None).apply(&old), ["a", "b", "c"]);
        assert_eq!(opts(&["c"], &["a"], None).apply(&old), ["b", "c"]);
        assert_eq!(opts(&[], &["x"], None).apply(&old), ["a", "b"]);
        assert_eq!(opts(&[], &[], Some(&["z", "z"])).apply(&old), ["z"]);
        assert!(opts(&[], &[], Some(&[])).apply(&old).is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_tag_or_a_change() {
        for bad in [
            opts(&[], &[], None),
            opts(&["a"], &[], Some(&["b"])),
            opts(&[""], &[], None),
            opts(&["a,b"], &[], None),
            opts(&[" a"], &[], None),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
