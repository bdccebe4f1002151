//! Years of nightly backups: what opening the repository cold, listing its
//! snapshots, one more backup and a restore cost in requests stays bounded
//! as snapshots pile up (small index objects are merged, snapshots are
//! gathered in catalogs), and nothing is lost on the way.
//!
//! Local store only: the requests counted are the same on S3 (the store is
//! wrapped, not the transport), and 300 backups against the S3 test server
//! would take minutes.

use crate::support::*;
use coffer_core::{ForgetOptions, Policy, PruneOptions, forget, prune};
use coffer_core::{NoProgress, RestoreOptions, restore};
use coffer_core::{ObjectMeta, PutHints, Result, Store};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// A store that counts the requests made through it, by verb and prefix.
struct Counting {
    inner: Arc<dyn Store>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Counting {
    fn new(inner: Arc<dyn Store>) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    fn note(&self, verb: &str, key: &str) {
        let dir = key.split('/').next().unwrap_or(key);
        *self
            .counts
            .lock()
            .unwrap()
            .entry(format!("{verb} {dir}"))
            .or_default() += 1;
    }

    /// The counts since the last call, and a total of GETs and LISTs.
    fn take(&self) -> (BTreeMap<String, u64>, u64) {
        let c = std::mem::take(&mut *self.counts.lock().unwrap());
        let reads = c
            .iter()
            .filter(|(k, _)| k.starts_with("GET") || k.starts_with("LIST"))
            .map(|(_, n)| n)
            .sum();
        (c, reads)
    }
}

impl Store for Counting {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        self.note("PUT", key);
        self.inner.put(key, data, hints)
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        self.note("GET", key);
        self.inner.get(key, range)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.note("HEAD", key);
        self.inner.head(key)
    }
    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        self.note("LIST", prefix);
        self.inner.list(prefix, each)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.note("DELETE", key);
        self.inner.delete(key)
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

/// Nightly backups made (`COFFER_SCALE_NIGHTS` for more, e.g. to time
/// `coffer snapshots` on 10,000 of them).
fn nights() -> usize {
    std::env::var("COFFER_SCALE_NIGHTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}
const DAY_NS: i64 = 24 * HOUR_NS;

#[test]
fn requests_stay_bounded_as_snapshots_pile_up() {
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // `COFFER_SCALE_KEEP=DIR`: the repository is made there and kept.
    let kept = std::env::var_os("COFFER_SCALE_KEEP").map(std::path::PathBuf::from);
    let store = local_store(kept.as_deref().unwrap_or(work.path()));
    let nights = nights();
    let counted = Counting::new(Arc::clone(&store));
    let through: Arc<dyn Store> = counted.clone();
    let repo = init(&through);
    let dir = tree(src.path(), "etc", 1, 20, 3_000);
    let t0 = 1_700_000_000_000_000_000i64;
    let mut last = None;
    for night in 0..nights {
        // One file changes every night, as a configuration file does.
        let data = coffer_testkit::fixture::pseudo_random(10_000 + night as u64, 3_000);
        std::fs::write(dir.join(format!("f{}", night % 20)), data).unwrap();
        last = Some(backup_at(&repo, &dir, Some(t0 + night as i64 * DAY_NS)));
    }
    let last = last.unwrap();
    let index_objects = count(store.as_ref(), "index/");
    let catalogs = count(store.as_ref(), "catalog/");
    eprintln!("after {nights} backups: {index_objects} index objects, {catalogs} catalogs");
    assert!(
        index_objects <= coffer_core::SMALL_OBJECTS_KEPT + 2,
        "{index_objects} index objects after {nights} backups"
    );
    assert!(catalogs >= 1, "no snapshot catalog was written");

    // A cold open (no cache: every object is a request) and a listing.
    counted.take();
    let repo = open(&through);
    let (at_open, open_reads) = counted.take();
    let snaps = repo.snapshots().unwrap();
    let (at_list, list_reads) = counted.take();
    assert_eq!(snaps.len(), nights);
    assert_eq!(snaps.last().unwrap().id, last.id);
    eprintln!("cold open: {at_open:?}\nsnapshots: {at_list:?}");
    assert!(
        open_reads <= 4 + coffer_core::SMALL_OBJECTS_KEPT as u64,
        "open: {at_open:?}"
    );
    assert!(
        list_reads <= 3 + coffer_core::UNCATALOGUED_KEPT as u64,
        "snapshots: {at_list:?}"
    );

    // One more backup (nothing changed) and a restore of it.
    let b = backup_at(&repo, &dir, Some(t0 + nights as i64 * DAY_NS));
    let (at_backup, _) = counted.take();
    eprintln!("no-change backup: {at_backup:?}");
    assert_restores(&repo, &b, &dir);
    let (at_restore, _) = counted.take();
    eprintln!("restore: {at_restore:?}");
    if kept.is_some() {
        return; // the repository as the backups left it, to measure
    }

    // Forgetting most snapshots and pruning: catalogs drop them, and the
    // repository checks clean with every kept snapshot listed.
    let policy = ForgetOptions {
        policy: Policy {
            last: 10,
            ..Default::default()
        },
        now: t0 + (nights as i64 + 1) * DAY_NS,
        ..Default::default()
    };
    forget(&repo, &policy).unwrap();
    let report = prune(
        &repo,
        &PruneOptions {
            grace: None,
            ..Default::default()
        },
    )
    .unwrap();
    let repo = open(&through);
    counted.take();
    assert_eq!(repo.snapshots().unwrap().len(), 10);
    let (after_prune, _) = counted.take();
    eprintln!(
        "after forget and prune: {after_prune:?}, catalog of {} snapshots",
        report.catalog_snapshots
    );
    assert_eq!(after_prune.get("GET snapshots"), None, "{after_prune:?}");
    assert_checks(&store);
    assert_restores(&repo, &b, &dir);
}

/// A catalog is a copy: a damaged one costs GETs, a stale one (holding a
/// forgotten snapshot) lists nothing that is gone, and neither loses a
/// snapshot.
#[test]
fn a_damaged_or_stale_catalog_never_changes_the_listing() {
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let store = local_store(work.path());
    let repo = init(&store);
    let dir = tree(src.path(), "etc", 2, 3, 1_000);
    let t0 = 1_700_000_000_000_000_000i64;
    let n = coffer_core::UNCATALOGUED_KEPT + 8;
    let ids: Vec<_> = (0..n)
        .map(|i| backup_at(&repo, &dir, Some(t0 + i as i64 * DAY_NS)).id)
        .collect();
    let catalogs = coffer_core::list_all(store.as_ref(), "catalog/").unwrap();
    assert_eq!(catalogs.len(), 1, "one catalog after {n} backups");

    // Stale: a snapshot the catalog holds is forgotten.
    let by_id = ForgetOptions {
        ids: vec![ids[0].to_hex()],
        ..Default::default()
    };
    forget(&repo, &by_id).unwrap();
    let listed = || -> Vec<_> {
        open(&store)
            .snapshots()
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(listed(), ids[1..]);

    // Damaged: its bytes are no longer what its name says.
    let key = &catalogs[0].key;
    let mut bytes = store.get(key, None).unwrap();
    bytes[40] ^= 1;
    store.delete(key).unwrap();
    store.put(key, &bytes, &PutHints::default()).unwrap();
    assert_eq!(listed(), ids[1..]);
    let report = assert_checks(&store);
    assert_eq!(report.catalogs, 0);
    let noted = |r: &coffer_core::CheckReport| r.notes.iter().any(|n| n.contains(key.as_str()));
    assert!(
        noted(&report),
        "check does not name {key}: {:?}",
        report.notes
    );

    // The next prune replaces it with a catalog that opens.
    let no_grace = PruneOptions {
        grace: None,
        ..Default::default()
    };
    let pruned = prune(&open(&store), &no_grace).unwrap();
    assert_eq!(pruned.catalog_snapshots, n as u64 - 1);
    let report = assert_checks(&store);
    assert_eq!(
        (report.catalogs, noted(&report)),
        (1, false),
        "{:?}",
        report.notes
    );
    assert_eq!(listed(), ids[1..]);
}

/// A restore in batches fetches a blob that files of two batches share
/// once, and copies it from the first file restored with it: it reads
/// no more from the repository than a restore planned whole.
#[test]
fn blobs_shared_across_batches_are_fetched_once() {
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let store = local_store(work.path());
    let counted = Counting::new(Arc::clone(&store));
    let through: Arc<dyn Store> = counted.clone();
    let repo = init(&through);
    // More compression groups than the repository keeps open (8), so a
    // second batch would fetch them again.
    let a = tree(src.path(), "a", 5, 200, 2_000);
    let b = src.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    for i in 0..200 {
        std::fs::copy(a.join(format!("f{i}")), b.join(format!("f{i}"))).unwrap();
    }
    let snap = backup_at(&repo, src.path(), None);
    let data_gets = |batch_files: usize| {
        let out = tempfile::tempdir().unwrap();
        let mut opts = RestoreOptions::new(out.path().to_path_buf());
        opts.batch_files = batch_files;
        counted.take();
        let res = restore(&repo, snap.snapshot.tree, &opts, &NoProgress).unwrap();
        assert!(res.failed.is_empty(), "{:?}", res.failed);
        assert_eq!(res.files, 400);
        let restored = out.path().join(src.path().strip_prefix("/").unwrap());
        coffer_testkit::assert_same_trees(
            src.path(),
            &restored,
            &coffer_testkit::CompareOptions::for_current_user(),
        );
        counted.take().0.get("GET data").copied().unwrap_or(0)
    };
    let whole = data_gets(1_000);
    let batched = data_gets(200);
    eprintln!("GETs of data packs: {whole} planned whole, {batched} in two batches");
    assert!(whole > 0);
    assert!(
        batched <= whole,
        "{batched} > {whole}: shared blobs fetched again"
    );
}
