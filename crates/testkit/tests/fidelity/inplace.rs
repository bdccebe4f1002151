//! Restoring onto a live tree: overwrite modes, --delete, --dry-run,
//! --verify, temporary names never left behind.

use crate::support::{Repo, restore_errors, restored};
use coffer_core::{ChangeKind, Overwrite};
use coffer_testkit::{CompareOptions, assert_same_trees};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn set_mtime(p: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// A source tree, its snapshot, and a restored copy to damage.
fn restored_copy() -> (Repo, PathBuf, coffer_core::BackupResult, PathBuf, PathBuf) {
    let r = Repo::new();
    let src = r.path("src");
    write(&src.join("a.txt"), b"original a\n");
    write(&src.join("b.txt"), b"original b\n");
    write(&src.join("sub/c.txt"), b"original c\n");
    write(&src.join("hard1"), b"linked\n");
    fs::hard_link(src.join("hard1"), src.join("sub/hard2")).unwrap();
    symlink("a.txt", src.join("link")).unwrap();
    let b = r.backup(&[&src], |_| {});
    let target = r.path("target");
    let res = r.restore(&b, &target, |_| {});
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let dst = restored(&target, &src);
    (r, src, b, target, dst)
}

/// No temporary file is left anywhere below `dir`.
fn no_temp_files(dir: &Path) {
    let out = std::process::Command::new("find")
        .arg(dir)
        .args(["-name", ".coffer-tmp.*"])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn overwrite_always_brings_back_every_entry() {
    let (r, src, b, target, dst) = restored_copy();
    write(&dst.join("a.txt"), b"changed, and longer than before\n");
    fs::remove_file(dst.join("sub/c.txt")).unwrap();
    fs::remove_file(dst.join("link")).unwrap();
    fs::create_dir(dst.join("link")).unwrap(); // a directory where a symlink was
    fs::remove_file(dst.join("sub/hard2")).unwrap();
    write(&dst.join("sub/hard2"), b"linked\n"); // same bytes, not a link
    let res = r.restore(&b, &target, |_| {});
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_same_trees(&src, &dst, &CompareOptions::for_current_user());
    no_temp_files(&target);
}

#[test]
fn overwrite_never_if_newer_and_if_changed_leave_what_they_should() {
    let (r, src, b, target, dst) = restored_copy();
    let future = SystemTime::now() + Duration::from_secs(3600);
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    write(&dst.join("a.txt"), b"newer local edit\n");
    set_mtime(&dst.join("a.txt"), future);
    write(&dst.join("b.txt"), b"older local edit\n");
    set_mtime(&dst.join("b.txt"), past);
    fs::remove_file(dst.join("sub/c.txt")).unwrap();

    let res = r.restore(&b, &target, |o| o.overwrite = Overwrite::Never);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(fs::read(dst.join("a.txt")).unwrap(), b"newer local edit\n");
    assert_eq!(fs::read(dst.join("b.txt")).unwrap(), b"older local edit\n");
    assert_eq!(
        fs::read(dst.join("sub/c.txt")).unwrap(),
        b"original c\n",
        "missing files are made"
    );

    let res = r.restore(&b, &target, |o| o.overwrite = Overwrite::IfNewer);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(fs::read(dst.join("a.txt")).unwrap(), b"newer local edit\n");
    assert_eq!(fs::read(dst.join("b.txt")).unwrap(), b"original b\n");

    // if-changed: same size and mtime means same file, so only metadata is
    // fixed (the mode here) and the bytes are not written again.
    let a = dst.join("a.txt");
    write(&a, b"ORIGINAL A\n");
    set_mtime(
        &a,
        fs::metadata(src.join("a.txt")).unwrap().modified().unwrap(),
    );
    fs::set_permissions(&a, fs::Permissions::from_mode(0o600)).unwrap();
    let ino = fs::metadata(&a).unwrap().ino();
    let res = r.restore(&b, &target, |o| o.overwrite = Overwrite::IfChanged);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(
        fs::read(&a).unwrap(),
        b"ORIGINAL A\n",
        "content with same size and mtime is kept"
    );
    assert_eq!(fs::metadata(&a).unwrap().ino(), ino, "not replaced");
    assert_eq!(
        fs::metadata(&a).unwrap().mode() & 0o7777,
        0o644,
        "metadata fixed"
    );
    // ... and --verify reads it back and notices.
    let res = r.restore(&b, &target, |o| {
        o.overwrite = Overwrite::IfChanged;
        o.verify = true;
    });
    assert!(
        res.failed.is_empty(),
        "kept files are not verified: {}",
        restore_errors(&res)
    );
    let res = r.restore(&b, &target, |o| o.verify = true);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(res.verified, 4);
    assert_same_trees(&src, &dst, &CompareOptions::for_current_user());
    no_temp_files(&target);
}

#[test]
fn delete_removes_only_what_the_snapshot_lacks_below_its_paths() {
    let (r, src, b, target, dst) = restored_copy();
    write(&dst.join("extra.txt"), b"not in the snapshot\n");
    write(&dst.join("extra-dir/deep/file"), b"x\n");
    write(&dst.join("sub/extra"), b"x\n");
    write(&dst.join("keep.log"), b"protected by an exclude\n");
    // Beside the snapshot's path: never touched.
    let beside = dst.parent().unwrap().join("beside");
    write(&beside, b"outside the snapshot's paths\n");

    // Dry run first: lists, changes nothing.
    let res = r.restore(&b, &target, |o| {
        o.delete = true;
        o.dry_run = true;
        o.exclude = vec!["*.log".into()];
    });
    let deleted: Vec<&Path> = res
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Delete)
        .map(|c| c.path.as_path())
        .collect();
    let expect = [
        dst.join("extra-dir"),
        dst.join("extra.txt"),
        dst.join("sub/extra"),
    ];
    assert_eq!(
        deleted,
        expect.iter().map(|p| p.as_path()).collect::<Vec<_>>()
    );
    assert!(dst.join("extra.txt").exists(), "a dry run changes nothing");

    let res = r.restore(&b, &target, |o| {
        o.delete = true;
        o.exclude = vec!["*.log".into()];
    });
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(res.deleted, 3);
    for p in &expect {
        assert!(fs::symlink_metadata(p).is_err(), "{} deleted", p.display());
    }
    assert!(
        dst.join("keep.log").exists(),
        "excluded paths are protected"
    );
    assert!(
        beside.exists(),
        "outside the snapshot's paths nothing is deleted"
    );
    fs::remove_file(dst.join("keep.log")).unwrap();
    r.restore(&b, &target, |_| {}); // the removal changed the directory's mtime
    assert_same_trees(&src, &dst, &CompareOptions::for_current_user());
}

#[test]
fn dry_run_lists_new_replaced_and_updated_entries() {
    let (r, src, b, target, dst) = restored_copy();
    fs::remove_file(dst.join("sub/c.txt")).unwrap();
    write(&dst.join("a.txt"), b"different length\n");
    fs::set_permissions(dst.join("b.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    let res = r.restore(&b, &target, |o| {
        o.dry_run = true;
        o.overwrite = Overwrite::IfChanged;
    });
    let mut changes: Vec<(ChangeKind, PathBuf)> = res
        .changes
        .iter()
        .filter(|c| c.path.starts_with(&dst) && c.path != dst.join("sub") && c.path != dst)
        .map(|c| (c.kind, c.path.clone()))
        .collect();
    changes.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(
        changes,
        vec![
            (ChangeKind::Replace, dst.join("a.txt")),
            (ChangeKind::Update, dst.join("b.txt")),
            (ChangeKind::New, dst.join("sub/c.txt")),
        ]
    );
    assert!(!dst.join("sub/c.txt").exists());
    let _ = src;
}
