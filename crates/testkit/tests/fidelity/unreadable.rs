//! Files that cannot be read, or change while they are read: the backup
//! lists them with the reason and finishes.

use crate::support::{Repo, as_nobody, require_root};
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn write(p: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn unreadable_entries_are_listed_with_the_reason_and_the_backup_finishes() {
    require_root();
    let r = Repo::new();
    fs::set_permissions(r.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let src = r.path("src");
    write(&src.join("readable"), b"anyone may read this\n", 0o644);
    write(&src.join("secret"), b"root only\n", 0o600);
    write(&src.join("closed/inside"), b"x\n", 0o644);
    fs::set_permissions(src.join("closed"), fs::Permissions::from_mode(0o700)).unwrap();
    // An unreadable file deeper than PATH_MAX: its error names the full path.
    let mut deep = src.join("deep");
    for i in 0..20 {
        deep = deep.join(format!("{i:02}{}", "d".repeat(250)));
    }
    let d = coffer_core::Dir::open(&src).unwrap();
    let mut dir = d;
    for name in deep.strip_prefix(&src).unwrap() {
        let _ = rustix::fs::mkdirat(dir.fd(), name, rustix::fs::Mode::from_raw_mode(0o755));
        dir = dir.child(name).unwrap();
    }
    let fd = rustix::fs::openat(
        dir.fd(),
        "deep-secret",
        rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    rustix::io::write(&fd, b"secret\n").unwrap();
    drop(fd);

    let repo_dir = r.path("nobody-repo");
    fs::create_dir(&repo_dir).unwrap();
    chown(&repo_dir, Some(65534), Some(65534)).unwrap();
    let result = as_nobody(|| {
        let repo = crate::support::Repo::init(&repo_dir.join("r"));
        let opts = coffer_core::BackupOptions::new(vec![src.clone()]);
        coffer_core::backup(Arc::clone(&repo), &opts, &coffer_core::NoProgress)
    });
    let b = result.expect("the backup finishes");
    let skipped: Vec<String> = b.skipped.iter().map(|k| k.error.to_string()).collect();
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    let has = |tail: &str| {
        skipped
            .iter()
            .any(|e| e.contains(tail) && e.contains("Permission denied"))
    };
    assert!(
        has(&format!("{}: ", src.join("secret").display())),
        "{skipped:#?}"
    );
    assert!(
        has(&format!("{}: ", src.join("closed").display())),
        "{skipped:#?}"
    );
    assert!(
        has(&format!("{}: ", deep.join("deep-secret").display())),
        "the error names the whole long path: {skipped:#?}"
    );
    assert_eq!(b.snapshot.summary.errors, 3);
    assert_eq!(b.snapshot.summary.files_new, 1, "readable is stored");
}

#[test]
fn a_file_that_grows_while_it_is_read_is_reported() {
    let r = Repo::new();
    let src = r.path("src");
    fs::create_dir_all(&src).unwrap();
    let p = src.join("log");
    fs::write(&p, coffer_testkit::fixture::pseudo_random(3, 48 << 20)).unwrap();
    let stop = AtomicBool::new(false);
    let b = std::thread::scope(|s| {
        s.spawn(|| {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
            // Bounded: at most ~20 s of appends, 4 KiB each.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                f.write_all(&[b'x'; 4096]).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = r.backup(&[&src], |_| {});
        stop.store(true, Ordering::Relaxed);
        b
    });
    assert_eq!(b.changed, vec![p.clone()], "{:?}", b.snapshot.summary);
    assert!(b.skipped.is_empty());
}
