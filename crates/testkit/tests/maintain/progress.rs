//! Progress a backup reports while it runs.

use crate::support::*;
use std::sync::Arc;

/// Progress inside large files: a backup reports the bytes of a file as it
/// reads them (`reading`), and takes them back once the file is read
/// (`reading_done`), so the status moves during a large file and nothing
/// is counted twice.
#[test]
fn a_large_file_reports_its_bytes_while_it_is_read() {
    use coffer_core::backup::{BackupOptions, backup};
    use coffer_core::progress::Progress;
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
