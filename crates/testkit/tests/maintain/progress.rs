//! Progress a backup reports while it runs.

use crate::support::*;
use std::sync::Arc;

/// Progress inside large files: a backup reports the bytes of a file as it
/// reads them (`reading`), and takes them back once the file is read
/// (`reading_done`), so the status moves during a large file and nothing
/// is counted twice.
#[test]
fn a_large_file_reports_its_bytes_while_it_is_read() {
    use coffer_core::Progress;
    use coffer_core::{BackupOptions, backup};
    use std::sync::atomic::{AtomicU64, Ordering};
    #[derive(Default)]
    struct Seen {
        reading: AtomicU64,
        calls: AtomicU64,
        done: AtomicU64,
    }
    impl Progress for Seen {
        fn reading(&self, bytes: u64) {
            self.reading.fetch_add(bytes, Ordering::Relaxed);
            self.calls.fetch_add(1, Ordering::Relaxed);
        }
        fn reading_done(&self, bytes: u64) {
            self.done.fetch_add(bytes, Ordering::Relaxed);
        }
    }
    let d = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let big = 40 << 20;
    std::fs::write(
        src.path().join("big"),
        coffer_testkit::fixture::pseudo_random(3, big),
    )
    .unwrap();
    std::fs::write(src.path().join("small"), b"small").unwrap();
    let repo = init(&local_store(d.path()));
    let seen = Seen::default();
    let opts = BackupOptions::new(vec![src.path().to_path_buf()]);
    backup(Arc::clone(&repo), &opts, &seen).unwrap();
    let total = big as u64 + 5;
    assert_eq!(seen.reading.load(Ordering::Relaxed), total);
    assert_eq!(seen.done.load(Ordering::Relaxed), total);
    assert!(
        seen.calls.load(Ordering::Relaxed) >= 5,
        "the big file in several steps"
    );
}

/// Records each stage a command reports: its name, its totals and what was
/// reported done in it.
#[derive(Default)]
struct Stages(std::sync::Mutex<Vec<Stage>>);

#[derive(Debug, Clone, PartialEq)]
struct Stage {
    name: String,
    total: (u64, u64),
    done: (u64, u64),
}

impl coffer_core::Progress for Stages {
    fn phase(&self, verb: &'static str, unit: &'static str) {
        self.0.lock().unwrap().push(Stage {
            name: format!("{unit} {verb}"),
            total: (0, 0),
            done: (0, 0),
        });
    }
    fn totals(&self, items: u64, bytes: u64, done: bool) {
        assert!(done, "stage totals are known up front");
        self.0
            .lock()
            .unwrap()
            .last_mut()
            .expect("a phase first")
            .total = (items, bytes);
    }
    fn entry_done(&self, _path: &std::path::Path, bytes: u64, _size: u64) {
        let mut v = self.0.lock().unwrap();
        let s = v.last_mut().expect("a phase first");
        s.done = (s.done.0 + 1, s.done.1 + bytes);
    }
}

impl Stages {
    fn take(&self) -> Vec<Stage> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// check --read-data, forget and prune report stages whose totals, given
/// before the work, are what the work then reports done (so the percentage
/// ends at 100 and the ETA means something); trees are the exception, with
/// the index's tree count as an upper bound.
#[test]
fn maintenance_reports_stages_with_totals_it_meets() {
    use coffer_core::{CheckOptions, check_with};
    use coffer_core::{ForgetOptions, forget_with};
    use coffer_core::{MaxUnused, PruneOptions, prune_with};
    let d = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let repo = init(&store);
    let mut ids = Vec::new();
    for i in 0..3 {
        let dir = tree(src.path(), &format!("t{i}"), i, 6, 50_000);
        ids.push(backup_of(&repo, &dir).id);
    }
    let seen = Stages::default();

    let report = check_with(
        &repo,
        CheckOptions {
            read_data: true,
            ..Default::default()
        },
        None,
        &seen,
    )
    .unwrap();
    assert!(report.ok(), "{report:?}");
    let stages = seen.take();
    assert_eq!(stages.len(), 1, "{stages:?}");
    assert_eq!(stages[0].name, "packs read");
    assert_eq!(stages[0].total.0, report.packs_read);
    assert_eq!(stages[0].total, stages[0].done, "{stages:?}");
    assert_eq!(stages[0].total.1, pack_bytes(store.as_ref()));

    let opts = ForgetOptions {
        ids: ids[..2].iter().map(|i| i.to_hex()).collect(),
        ..Default::default()
    };
    forget_with(&repo, &opts, &seen).unwrap();
    let stages = seen.take();
    assert_eq!(
        stages,
        [Stage {
            name: "snapshots removed".into(),
            total: (2, 0),
            done: (2, 0)
        }]
    );

    let before = pack_bytes(store.as_ref());
    let opts = PruneOptions {
        max_unused: MaxUnused::Percent(0.0),
        grace: None,
        ..Default::default()
    };
    let r = prune_with(&repo, &opts, &seen).unwrap();
    let stages = seen.take();
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.starts_with(&["trees read"]) && names.contains(&"packs deleted"),
        "{stages:?}"
    );
    for s in &stages {
        if s.name == "trees read" {
            assert!(s.done.0 > 0 && s.done.0 <= s.total.0, "{s:?}");
        } else {
            assert_eq!(s.total, s.done, "{s:?}");
        }
    }
    let deleted: u64 = stages
        .iter()
        .filter(|s| s.name == "packs deleted")
        .map(|s| s.done.0)
        .sum();
    assert_eq!(deleted, r.packs_deleted, "{r:?}");
    assert!(pack_bytes(store.as_ref()) < before);
}

/// A worker thread that panics (a bug: here the progress sink of a file
/// reader) stops the backup with one error naming it; the panic does not
/// reach the caller and no snapshot is saved. (The file counter races the
/// backup, so it is not a deterministic place for the bug.)
#[test]
fn a_panicking_worker_is_the_backups_error_not_a_panic() {
    use coffer_core::Progress;
    use coffer_core::{BackupOptions, backup};
    struct Bug;
    impl Progress for Bug {
        fn reading(&self, _: u64) {
            panic!("bug in a reader");
        }
    }
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("big"),
        coffer_testkit::fixture::pseudo_random(5, 3 << 20),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let repo = init(&store);
    let opts = BackupOptions::new(vec![src.path().to_path_buf()]);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        backup(Arc::clone(&repo), &opts, &Bug)
    }));
    let err = caught
        .unwrap_or_else(|_| panic!("the reader's panic reached the caller"))
        .expect_err("a backup whose worker panicked failed");
    assert!(
        err.to_string()
            .contains("a file reader panicked (bug in a reader)"),
        "{err}"
    );
    assert_eq!(count(store.as_ref(), "snapshots/"), 0);
}
