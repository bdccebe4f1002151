//! A backup killed with SIGKILL part way: what it uploaded is reused by the
//! next backup. A child process (this test binary, re-run on one ignored
//! test) backs up through a store that stores packs slowly; the parent
//! kills it once it has stored a dozen packs — fewer than an index
//! checkpoint needs, so no index names them — then backs up the same files
//! itself. The repository must end no larger than 1.15 times a clean one,
//! pass check, and restore.

use crate::support::*;
use coffer_core::{CachedStore, Store};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD: &str = "COFFER_TEST_BACKUP_CHILD";

/// The child: backs up `src` into `location`, slowly, until killed.
#[test]
#[ignore = "run by a_killed_backup_is_resumed in a child process"]
fn backup_child() {
    let Ok(arg) = std::env::var(CHILD) else {
        return;
    };
    let mut args = arg.split(' ');
    let (src, location) = (args.next().unwrap(), args.next().expect("a location"));
    let inner = match args.next() {
        Some(cache) => Arc::new(CachedStore::new(store_at(location), cache.into())),
        None => store_at(location),
    };
    // Data packs are stored slowly, so the parent can kill the child mid-way.
    let slow: Arc<dyn Store> = Arc::new(Watched {
        inner,
        before: Box::new(|call, key| {
            if call == Call::Put && key.starts_with("data/") {
                std::thread::sleep(Duration::from_millis(100));
            }
        }),
    });
    backup_of(&open(&slow), std::path::Path::new(src));
    panic!("the parent should have killed this backup before it finished");
}

/// `cache`: the child and the parent reach the repository through a
/// cache in this directory (where the child leaves its marker).
fn a_killed_backup_is_resumed(store: Arc<dyn Store>, location: &str, cache: Option<&Path>) {
    let store: Arc<dyn Store> = match cache {
        Some(dir) => Arc::new(CachedStore::new(store, dir.to_path_buf())),
        None => store,
    };
    let src = tempfile::tempdir().unwrap();
    // About 1.2 MB: some 75 data packs of 16 KiB.
    let dir = tree(src.path(), "big", 7, 60, 20_000);
    let clean = {
        let d = tempfile::tempdir().unwrap();
        let s = local_store(d.path());
        backup_of(&init(&s), &dir);
        pack_bytes(s.as_ref())
    };
    init(&store);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "resume::backup_child",
            "--test-threads=1",
        ])
        .env(
            CHILD,
            match cache {
                Some(c) => format!("{} {location} {}", dir.display(), c.display()),
                None => format!("{} {location}", dir.display()),
            },
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while count(store.as_ref(), "data/") < 12 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the child stored no packs"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended on its own"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = pack_bytes(store.as_ref());
    assert_eq!(count(store.as_ref(), "snapshots/"), 0);

    let repo = open(&store);
    if let Some(c) = cache {
        assert_eq!(markers(c), 1, "the killed backup left no marker");
    }
    let b = backup_of(&repo, &dir);
    if let Some(c) = cache {
        assert_eq!(
            markers(c),
            0,
            "a marker outlived the backup that answered it"
        );
    }
    let total = pack_bytes(store.as_ref());
    assert!(
        total as f64 <= clean as f64 * 1.15,
        "after a killed backup ({killed} bytes of packs) the repository holds {total} bytes of packs, a clean one {clean}"
    );
    assert!(
        b.snapshot.summary.bytes_stored < clean,
        "the second backup stored everything again: {:?}",
        b.snapshot.summary
    );
    assert_checks(&store);
    assert_restores(&open(&store), &b, &dir);
}

#[test]
fn local_backup_killed_with_sigkill_is_resumed() {
    let d = tempfile::tempdir().unwrap();
    let location = d.path().join("repo");
    let store = local_store(d.path());
    a_killed_backup_is_resumed(store, location.to_str().unwrap(), None);
}

#[test]
fn local_backup_killed_with_sigkill_is_resumed_through_a_cache() {
    let d = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let location = d.path().join("repo");
    let store = local_store(d.path());
    a_killed_backup_is_resumed(store, location.to_str().unwrap(), Some(cache.path()));
}

#[test]
fn s3_backup_killed_with_sigkill_is_resumed() {
    let location = coffer_testkit::s3::fresh_location("backup-sigkill", "repo");
    let store: Arc<dyn Store> = Arc::new(coffer_testkit::s3::store(&location));
    a_killed_backup_is_resumed(store, &location, None);
}

#[test]
fn s3_backup_killed_with_sigkill_is_resumed_through_the_cache() {
    let location = coffer_testkit::s3::fresh_location("backup-sigkill-cache", "repo");
    let store: Arc<dyn Store> = Arc::new(coffer_testkit::s3::store(&location));
    let cache = tempfile::tempdir().unwrap();
    a_killed_backup_is_resumed(store, &location, Some(cache.path()));
}

/// Markers of writers under a cache directory.
fn markers(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("writing")).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "marker"))
            .count()
    })
}

/// Through a cache, a backup lists the repository's packs only when a
/// writer from this machine was interrupted (or the cache is new): an
/// uninterrupted repository costs no listing of `data/` per backup.
#[test]
fn packs_are_listed_only_after_an_interrupted_writer() {
    let d = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let lists = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&lists);
    let watched: Arc<dyn Store> = Arc::new(Watched {
        inner: local_store(d.path()),
        before: Box::new(move |call, key| {
            if call == Call::List {
                seen.lock().unwrap().push(key.to_string());
            }
        }),
    });
    let store: Arc<dyn Store> = Arc::new(CachedStore::new(watched, cache.path().into()));
    let listed_packs = || {
        let l = std::mem::take(&mut *lists.lock().unwrap());
        l.iter().any(|k| k == "data/" || k == "tree/")
    };
    let repo = init(&store);
    let src = tempfile::tempdir().unwrap();
    let a = tree(src.path(), "a", 2, 20, 20_000);
    backup_of(&repo, &a);
    assert!(listed_packs(), "a new cache lists the packs once");
    backup_of(&open(&store), &a);
    assert!(
        !listed_packs(),
        "a backup after a clean one listed the packs"
    );

    // Packs no index names, and a marker whose writer is gone: what a
    // backup killed before its index leaves behind.
    let b = tree(src.path(), "b", 2, 20, 20_000);
    let index_keys = || -> std::collections::BTreeSet<String> {
        let all = coffer_core::list_all(store.as_ref(), "index/").unwrap();
        all.into_iter().map(|m| m.key).collect()
    };
    let before = index_keys();
    let first = backup_of(&open(&store), &b);
    let added: Vec<String> = index_keys().difference(&before).cloned().collect();
    assert_eq!(added.len(), 1, "{added:?}");
    store.delete(&added[0]).unwrap();
    // Without its snapshot, the next backup reads the files again (no
    // parent) and finds their blobs only in the adopted packs.
    let snapshot = format!("snapshots/{}", first.id.to_hex());
    store.delete(&snapshot).unwrap();
    std::fs::write(cache.path().join("writing/0123456789abcdef.marker"), b"").unwrap();
    lists.lock().unwrap().clear();
    let again = backup_of(&open(&store), &b);
    assert!(
        listed_packs(),
        "the stale marker did not make the backup list the packs"
    );
    assert_eq!(markers(cache.path()), 0);
    assert!(
        again.snapshot.summary.bytes_stored * 4 < first.snapshot.summary.bytes_stored,
        "the unindexed packs were uploaded again: {:?} after {:?}",
        again.snapshot.summary,
        first.snapshot.summary
    );
    assert_checks(&store);
}

/// A killed local put leaves a `.tmp-*` file beside where its object would
/// have gone; prune removes those older than the grace period, and with
/// `--now` all of them, never an object.
#[test]
fn prune_removes_fragments_of_killed_writes_after_the_grace_period() {
    use coffer_core::{PruneOptions, prune};
    let d = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let repo = init(&store);
    let src = tempfile::tempdir().unwrap();
    let b = backup_of(&repo, &tree(src.path(), "t", 1, 4, 20_000));
    let root = d.path().join("repo");
    let old = root.join("data/00/.tmp-00000000000000aa");
    let fresh = root.join("index/.tmp-00000000000000bb");
    for f in [&old, &fresh] {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, b"part of a pack").unwrap();
    }
    let two_days = Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - two_days)
        .unwrap();
    let objects = count(store.as_ref(), "");

    let r = prune(&repo, &PruneOptions::default()).unwrap();
    assert_eq!(r.fragments_removed, 1, "{r:?}");
    assert!(!old.exists() && fresh.exists());
    let r = prune(
        &repo,
        &PruneOptions {
            grace: None,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.fragments_removed, 1, "{r:?}");
    assert!(!fresh.exists());
    assert_eq!(count(store.as_ref(), ""), objects, "no object was removed");
    assert_checks(&store);
    assert_restores(&open(&store), &b, &src.path().join("t"));
}
