//! Locks: prune and forget take an exclusive lock, check a shared one;
//! backups take none. A held lock makes the others fail with exit code 11.

use crate::support::*;
use coffer_core::Kind;
use coffer_core::Policy;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{PruneOptions, prune};
use coffer_core::{Store, list_all};
use std::sync::Arc;

fn locks_exclude_each_other(store: Arc<dyn Store>) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    backup_of(&repo, &tree(src.path(), "d", 1, 2, 5_000));

    let held = repo.lock(true, "prune").unwrap();
    let other = open(&store);
    let err = prune(&other, &PruneOptions::default()).unwrap_err();
    assert_eq!(err.kind(), Kind::Locked, "{err}");
    assert_eq!(err.exit_code(), 11);
    assert!(
        err.to_string().contains("locks/"),
        "names the lock object: {err}"
    );
    let keep_one = ForgetOptions {
        policy: Policy {
            last: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(forget(&other, &keep_one).unwrap_err().kind(), Kind::Locked);
    assert_eq!(other.lock(false, "check").unwrap_err().kind(), Kind::Locked);
    // A dry run takes no lock, and a backup takes none either.
    prune(
        &other,
        &PruneOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .unwrap();
    backup_of(&other, &tree(src.path(), "e", 2, 2, 5_000));
    // The lock is live: unlock leaves it unless told to remove all.
    assert!(other.remove_locks(false).unwrap().is_empty());
    drop(held);
    assert_eq!(count(store.as_ref(), "locks/"), 0, "released on drop");

    // Shared locks coexist; an exclusive one waits for them.
    let a = repo.lock(false, "check").unwrap();
    let b = other.lock(false, "check").unwrap();
    assert_eq!(other.lock(true, "prune").unwrap_err().kind(), Kind::Locked);
    assert_eq!(other.locks().unwrap().len(), 2);
    assert_eq!(other.remove_locks(true).unwrap().len(), 2);
    prune(&other, &PruneOptions::default()).unwrap();
    drop((a, b));
}

fn lock_objects_are_sealed(store: Arc<dyn Store>) {
    let repo = init(&store);
    let _held = repo.lock(true, "prune").unwrap();
    let host = gethostname();
    for m in list_all(store.as_ref(), "locks/").unwrap() {
        let bytes = store.get(&m.key, None).unwrap();
        assert!(
            !bytes.windows(host.len()).any(|w| w == host.as_bytes()),
            "the host name is readable in {}",
            m.key
        );
    }
    let info = repo.locks().unwrap();
    assert_eq!(info.len(), 1);
    let f = info[0].file.as_ref().unwrap();
    assert_eq!(
        (f.exclusive, f.pid, f.command.as_str()),
        (true, std::process::id(), "prune")
    );
    assert!(info[0].stale.is_none());
}

fn gethostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn local_locks_exclude_each_other() {
    let d = tempfile::tempdir().unwrap();
    locks_exclude_each_other(local_store(d.path()));
}

#[test]
fn s3_locks_exclude_each_other() {
    locks_exclude_each_other(s3_store("locks"));
}

#[test]
fn local_lock_objects_are_sealed() {
    let d = tempfile::tempdir().unwrap();
    lock_objects_are_sealed(local_store(d.path()));
}

/// `--retry-lock`: a lock that is released while another process waits is
/// taken; without a wait, or when the wait runs out, the answer is Locked.
#[test]
fn a_waiting_lock_is_taken_when_the_holder_lets_go() {
    let d = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let repo = init(&store);
    let held = repo.lock(true, "prune").unwrap();
    let other = open(&store);
    other.set_lock_wait(std::time::Duration::from_millis(300));
    assert_eq!(other.lock(false, "check").unwrap_err().kind(), Kind::Locked);
    other.set_lock_wait(std::time::Duration::from_secs(120));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        tx.send(()).unwrap();
        other.lock(false, "check").map(|_| ())
    });
    rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(held);
    waiter.join().unwrap().unwrap();
}
