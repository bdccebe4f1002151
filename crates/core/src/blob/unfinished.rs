//! Whether a writer must look for packs an interrupted writer left
//! unindexed, without listing every pack of the repository each time.
//!
//! A writer that uploads packs holds a *marker* — a file under
//! `<state dir>/writing/`, locked (`flock`) for as long as the process
//! lives — and removes it once an index object names every pack it stored.
//! A marker whose lock is free was left by a writer that was killed or
//! could not store its last index: its packs may be in the store without an
//! index naming them, and the next writer lists the packs to adopt them
//! (see `repo::resume`). `listed` records that one such listing was done
//! from this state directory, so a new or emptied one lists once.
//!
//! The state directory is the store's local cache, private to the machine.
//! A store without one (a local repository, or `--no-cache`) is listed
//! every time, as a listing of local directories costs little. Losing the
//! directory loses nothing: an unadopted pack is only uploaded again, and
//! prune removes the unindexed copy.

use crate::store::local::{PRIVATE_FILE, create_private_dir};
use std::fs::{self, File};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A live writer's marker: removed by [`Marker::finish`], left behind
/// (with its lock released by the kernel) if the process dies.
pub(super) struct Marker {
    path: PathBuf,
    _file: File,
}

fn writing(state: &Path) -> PathBuf {
    state.join("writing")
}

fn listed(state: &Path) -> PathBuf {
    writing(state).join("listed")
}

impl Marker {
    /// Creates and locks a marker for this writer; `None` if the state
    /// directory cannot hold one (a file system without `flock`, a
    /// read-only cache): then the next writer lists, as it would without a
    /// state directory.
    pub(super) fn create(state: &Path) -> Option<Marker> {
        let marker = Self::try_create(state);
        if marker.is_none() {
            let _ = fs::remove_file(listed(state));
        }
        marker
    }

    fn try_create(state: &Path) -> Option<Marker> {
        let dir = writing(state);
        // Private like the rest of the cache, whatever the umask.
        create_private_dir(&dir).ok()?;
        let name: [u8; 8] = rand::random();
        let path = dir.join(format!("{}.marker", hex::encode(name)));
        let file = File::options()
            .write(true)
            .create_new(true)
            .mode(PRIVATE_FILE)
            .open(&path)
            .ok()?;
        match lock(&file) {
            true => Some(Marker { path, _file: file }),
            false => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Every pack this writer stored is named by an index object.
    pub(super) fn finish(self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn lock(file: &File) -> bool {
    use rustix::fs::{FlockOperation, flock};
    flock(file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// What a new writer must do about packs other writers may have left.
pub(super) enum Interrupted {
    /// No writer from this state directory was interrupted since the last
    /// listing: nothing to look for.
    None,
    /// List the packs; then [`Interrupted::done`] forgets these markers.
    List(Vec<PathBuf>),
}

impl Interrupted {
    /// Looks at the markers under `state` (`None`: no state directory,
    /// always list).
    pub(super) fn find(state: Option<&Path>) -> Interrupted {
        let Some(state) = state else {
            return Interrupted::List(Vec::new());
        };
        if !listed(state).exists() {
            return Interrupted::List(Vec::new());
        }
        let Ok(entries) = fs::read_dir(writing(state)) else {
            return Interrupted::List(Vec::new());
        };
        let stale: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "marker"))
            // Locked: a writer still running, which indexes its own packs.
            .filter(|p| File::open(p).is_ok_and(|f| lock(&f)))
            .collect();
        match stale.is_empty() {
            true => Interrupted::None,
            false => Interrupted::List(stale),
        }
    }

    /// The listing was done and what it found is named by an index: the
    /// markers it answered go, and the state directory is marked listed.
    pub(super) fn done(self, state: Option<&Path>) {
        let (Interrupted::List(stale), Some(state)) = (self, state) else {
            return;
        };
        for p in stale {
            let _ = fs::remove_file(p);
        }
        if create_private_dir(&writing(state)).is_ok() {
            let _ = File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(PRIVATE_FILE)
                .open(listed(state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(i: &Interrupted) -> bool {
        matches!(i, Interrupted::List(_))
    }

    #[test]
    fn a_new_state_directory_lists_once() {
        let d = tempfile::tempdir().unwrap();
        assert!(lists(&Interrupted::find(None)));
        let first = Interrupted::find(Some(d.path()));
        assert!(lists(&first));
        first.done(Some(d.path()));
        assert!(!lists(&Interrupted::find(Some(d.path()))));
    }

    #[test]
    fn markers_are_private_like_the_cache() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("cache");
        let m = Marker::create(&state).unwrap();
        Interrupted::find(Some(&state)).done(Some(&state));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&writing(&state)), 0o700);
        assert_eq!(mode(&m.path), 0o600);
        assert_eq!(mode(&listed(&state)), 0o600);
        m.finish();
    }

    #[test]
    fn only_a_dead_writers_marker_asks_for_a_listing() {
        let d = tempfile::tempdir().unwrap();
        Interrupted::find(Some(d.path())).done(Some(d.path()));
        // A running writer's marker: its lock is held.
        let running = Marker::create(d.path()).unwrap();
        assert!(!lists(&Interrupted::find(Some(d.path()))));
        // A finished one leaves nothing.
        Marker::create(d.path()).unwrap().finish();
        assert!(!lists(&Interrupted::find(Some(d.path()))));
        // A killed one: the file stays, its lock goes with the process.
        let killed = Marker::create(d.path()).unwrap();
        let path = killed.path.clone();
        drop(killed);
        let found = Interrupted::find(Some(d.path()));
        match &found {
            Interrupted::List(stale) => assert_eq!(stale, &vec![path.clone()]),
            Interrupted::None => panic!("a dead writer's marker was not seen"),
        }
        found.done(Some(d.path()));
        assert!(!path.exists());
        assert!(!lists(&Interrupted::find(Some(d.path()))));
        running.finish();
    }
}
