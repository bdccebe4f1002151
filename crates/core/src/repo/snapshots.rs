//! Snapshot objects: list, select (id, prefix, `latest`, filters), save.

use super::Repository;
use crate::crypto::Sealed;
use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;

/// A snapshot with its id.
#[derive(Debug, Clone)]
pub struct SnapshotRef {
    pub id: SnapshotId,
    pub snapshot: Snapshot,
}

/// Narrows which snapshots a selector considers.
#[derive(Debug, Clone, Default)]
pub struct SnapshotFilter {
    pub hosts: Vec<String>,
    /// Each entry is a comma-separated set of tags that must all be present;
    /// a snapshot matches if any entry matches.
    pub tags: Vec<String>,
    pub paths: Vec<String>,
}

impl SnapshotFilter {
    pub fn matches(&self, s: &Snapshot) -> bool {
        (self.hosts.is_empty() || self.hosts.contains(&s.host))
            && (self.tags.is_empty()
                || self
                    .tags
                    .iter()
                    .any(|set| set.split(',').all(|t| s.tags.iter().any(|st| st == t))))
            && (self.paths.is_empty() || self.paths.iter().all(|p| s.paths.contains(p)))
    }
}

/// Proof that every pack and index a snapshot may refer to is stored: only
/// the blob writer's `finish` makes one, and only with it can a snapshot be
/// saved. Write ordering comes from this type, not from discipline.
pub struct Flushed {
    _private: (),
}

impl Flushed {
    pub(crate) fn new() -> Self {
        Flushed { _private: () }
    }
}

impl Repository {
    /// All snapshots, oldest first (see the order of equal times below).
    /// Snapshots a catalog holds are read from it (see [`super::catalog`]);
    /// the others one GET each.
    pub fn snapshots(&self) -> Result<Vec<SnapshotRef>> {
        let listed = self.listed_snapshots()?;
        let mut copies = self.catalogued(&listed)?;
        self.note_uncatalogued(listed.len() - copies.len());
        let mut out = Vec::with_capacity(listed.len());
        for (id, key) in listed {
            let plain = match copies.remove(&id) {
                Some(sealed) => self.open_sealed(Sealed::Snapshot, &key, &sealed),
                None => self.load_sealed(Sealed::Snapshot, &key),
            };
            let plain = match plain {
                Ok(p) => p,
                // Forgotten between the listing and the read.
                Err(e) if e.kind() == Kind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(SnapshotRef {
                id,
                snapshot: Snapshot::decode(&plain, &key)?,
            });
        }
        // At equal times, a snapshot made from another (`tag`, `rewrite`:
        // same time as its original) comes after it, so `latest` is the
        // one made last.
        let key = |s: &SnapshotRef| (s.snapshot.time, s.snapshot.original.is_some(), s.id);
        out.sort_by_key(key);
        Ok(out)
    }

    /// Resolves `latest`, a full id or a unique id prefix among the snapshots
    /// that match `filter`.
    pub fn find_snapshot(&self, selector: &str, filter: &SnapshotFilter) -> Result<SnapshotRef> {
        let all: Vec<SnapshotRef> = self
            .snapshots()?
            .into_iter()
            .filter(|s| filter.matches(&s.snapshot))
            .collect();
        if selector == "latest" {
            return all
                .into_iter()
                .last()
                .ok_or_else(|| Error::at(Kind::NotFound, "no snapshot matches", selector));
        }
        if selector.is_empty() || !selector.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                Error::invalid("a snapshot is selected by `latest` or a hex id (prefix)")
                    .with_location(selector),
            );
        }
        let sel = selector.to_ascii_lowercase();
        let mut found: Vec<SnapshotRef> = all
            .into_iter()
            .filter(|s| s.id.to_hex().starts_with(&sel))
            .collect();
        match found.len() {
            1 => Ok(found.pop().expect("one element")),
            0 => Err(Error::at(Kind::NotFound, "no snapshot matches", selector)),
            n => Err(
                Error::invalid(format!("{n} snapshots match; give more digits"))
                    .with_location(selector),
            ),
        }
    }

    /// Stores a snapshot. Requires proof that its data is flushed.
    pub fn save_snapshot(
        &self,
        _flushed: &Flushed,
        snapshot: &Snapshot,
    ) -> Result<(SnapshotId, u64)> {
        let (id, size) = self.save_sealed("snapshots", Sealed::Snapshot, &snapshot.encode())?;
        Ok((SnapshotId(id), size))
    }

    /// Stores `snapshot` unless one equal to it is among `all` (stored by a
    /// run that was stopped before it finished); returns its id either way.
    pub fn save_snapshot_once(
        &self,
        flushed: &Flushed,
        all: &[SnapshotRef],
        snapshot: &Snapshot,
    ) -> Result<SnapshotId> {
        match all.iter().find(|s| s.snapshot == *snapshot) {
            Some(s) => Ok(s.id),
            None => Ok(self.save_snapshot(flushed, snapshot)?.0),
        }
    }

    /// Replaces the snapshot `old` by `new` (whose data is stored): stores
    /// `new` unless a snapshot equal to it is already among `all` (what a
    /// run stopped between the two steps left), then deletes `old`. Called
    /// under the exclusive `lock`; returns the id of `new`.
    pub fn replace_snapshot(
        &self,
        flushed: &Flushed,
        lock: &super::LockGuard,
        all: &[SnapshotRef],
        old: SnapshotId,
        new: &Snapshot,
    ) -> Result<SnapshotId> {
        let id = self.save_snapshot_once(flushed, all, new)?;
        lock.check()?;
        self.delete_snapshot(old)?;
        Ok(id)
    }

    /// Removes a snapshot object (forget).
    pub fn delete_snapshot(&self, id: SnapshotId) -> Result<()> {
        self.store().delete(&format!("snapshots/{id}"))
    }
}
