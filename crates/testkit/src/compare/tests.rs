//! Fixture and comparison together: a faithful copy (`cp -a`) compares
//! equal, and each single change to the copy is reported, so
//! `compare_trees` cannot silently pass.

use super::*;
use crate::at::DirFd;
use crate::fixture::{self, Feature, Fixture, paths};
use std::fs;
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::process::Command;
use tempfile::TempDir;

/// A fresh fixture `a` and its `cp -a` copy `b`.
struct Pair {
    _tmp: TempDir,
    fx: Fixture,
    b: PathBuf,
}

impl Pair {
    fn new() -> Pair {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture::build(&tmp.path().join("a")).unwrap();
        let b = tmp.path().join("b");
        fs::create_dir(&b).unwrap();
        // GNU cp names every source by its full path, so it cannot reach
        // below PATH_MAX: it copies the rest, `long/` is copied by descriptor.
        let mut cp = Command::new("cp");
        cp.arg("-a");
        for entry in fs::read_dir(&fx.root).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name() != Some(OsStr::new(paths::LONG)) {
                cp.arg(path);
            }
        }
        let out = cp.arg(&b).output().unwrap();
        assert!(
            out.status.success(),
            "cp -a failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (da, db) = (DirFd::open(&fx.root).unwrap(), DirFd::open(&b).unwrap());
        copy_by_fd(&da, &db, OsStr::new(paths::LONG));
        copy_metadata(&da.stat(OsStr::new(".")).unwrap(), &db, OsStr::new("."));
        Pair { _tmp: tmp, fx, b }
    }

    fn b(&self, rel: &str) -> PathBuf {
        self.b.join(rel)
    }

    fn diffs(&self) -> Vec<Difference> {
        compare_trees(&self.fx.root, &self.b, &CompareOptions::for_current_user())
    }

    /// Asserts that exactly `want` is reported.
    #[track_caller]
    fn assert_only(&self, want: &[Difference]) {
        let got = self.diffs();
        assert_eq!(got, want, "reported:\n{}", lines(&got));
    }

    /// Asserts that a difference at `rel` matching `pred` is among those reported.
    #[track_caller]
    fn assert_reports(&self, rel: &str, pred: impl Fn(&What) -> bool) {
        let got = self.diffs();
        assert!(
            got.iter()
                .any(|d| d.path == Path::new(rel) && pred(&d.what)),
            "expected a difference at {rel}, reported:\n{}",
            lines(&got)
        );
    }
}

/// Copies directory trees of regular files (all `long/` holds) entry by
/// entry through descriptors, with modes, owners and mtimes.
fn copy_by_fd(from: &DirFd, to: &DirFd, name: &OsStr) {
    let m = from.stat(name).unwrap();
    match m.file_type {
        FileType::Directory => {
            let (src, dst) = (
                from.child(name).unwrap(),
                to.mkdir_child(name, 0o700).unwrap(),
            );
            for child in src.names().unwrap() {
                copy_by_fd(&src, &dst, &child);
            }
        }
        FileType::RegularFile => {
            let mut w = to.create_file(name).unwrap();
            std::io::copy(&mut from.open_file(name).unwrap(), &mut w).unwrap();
        }
        other => panic!("copy_by_fd copies no {other:?}"),
    }
    copy_metadata(&m, to, name);
}

fn copy_metadata(m: &Meta, to: &DirFd, name: &OsStr) {
    use rustix::fs::{AtFlags, Gid, Mode, Uid, chmodat, chownat};
    let (uid, gid) = (Uid::from_raw(m.uid), Gid::from_raw(m.gid));
    chownat(
        to.fd(),
        name,
        Some(uid),
        Some(gid),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
    chmodat(to.fd(), name, Mode::from_raw_mode(m.perm), AtFlags::empty()).unwrap();
    let t = (m.mtime.0, m.mtime.1 as u32);
    to.set_times(name, t, t).unwrap();
}

fn lines(diffs: &[Difference]) -> String {
    diffs.iter().map(|d| format!("  {d}\n")).collect()
}

fn diff(rel: &str, what: What) -> Difference {
    Difference {
        path: PathBuf::from(rel),
        what,
    }
}

fn meta(path: &Path) -> Meta {
    DirFd::open(path.parent().unwrap())
        .unwrap()
        .stat(path.file_name().unwrap())
        .unwrap()
}

/// Runs `change` and puts the mtime of `dir` back as it was.
fn keeping_mtime(dir: &Path, change: impl FnOnce()) {
    let before = meta(dir).mtime;
    change();
    set_mtime(dir, before);
}

/// Sets mtime (and atime to the same) of `path`, not following symlinks.
fn set_mtime(path: &Path, (s, ns): (i64, u64)) {
    let t = (s, ns as u32);
    DirFd::open(path.parent().unwrap())
        .unwrap()
        .set_times(path.file_name().unwrap(), t, t)
        .unwrap();
}

#[test]
fn copy_made_with_cp_a_is_identical() {
    let pair = Pair::new();
    eprintln!("{}", pair.fx);
    assert_same_trees(&pair.fx.root, &pair.b, &CompareOptions::for_current_user());
    if rustix::process::geteuid().is_root() {
        for f in [
            Feature::CharDevice,
            Feature::BlockDevice,
            Feature::Ownership,
            Feature::TrustedXattr,
        ] {
            assert!(pair.fx.has(f), "as root the fixture has {f:?}");
        }
    }
}

#[test]
fn a_tree_equals_itself_and_missing_roots_are_reported() {
    let pair = Pair::new();
    assert_same_trees(&pair.fx.root, &pair.fx.root, &CompareOptions::default());
    let missing = pair.b.join("no-such-dir");
    let diffs = compare_trees(&pair.fx.root, &missing, &CompareOptions::default());
    assert!(matches!(
        diffs[..],
        [Difference {
            what: What::Unreadable { side: Side::B, .. },
            ..
        }]
    ));
}

#[test]
fn mode_change_is_reported() {
    let pair = Pair::new();
    fs::set_permissions(pair.b(paths::SETUID), fs::Permissions::from_mode(0o755)).unwrap();
    pair.assert_only(&[diff(
        paths::SETUID,
        What::Mode {
            a: 0o4755,
            b: 0o755,
        },
    )]);
}

#[test]
fn sticky_bit_loss_is_reported() {
    let pair = Pair::new();
    fs::set_permissions(pair.b(paths::STICKY_DIR), fs::Permissions::from_mode(0o777)).unwrap();
    pair.assert_only(&[diff(
        paths::STICKY_DIR,
        What::Mode {
            a: 0o1777,
            b: 0o777,
        },
    )]);
}

#[test]
fn one_changed_byte_is_reported_even_with_the_same_size_and_mtime() {
    let pair = Pair::new();
    let path = pair.b(paths::RANDOM);
    let before = meta(&path);
    let mut data = fs::read(&path).unwrap();
    data[3_000_001] ^= 1;
    fs::write(&path, &data).unwrap();
    set_mtime(&path, before.mtime);
    pair.assert_only(&[diff(paths::RANDOM, What::Content { offset: 3_000_001 })]);
}

#[test]
fn size_change_is_reported() {
    let pair = Pair::new();
    let path = pair.b(paths::EMPTY);
    let before = meta(&path);
    fs::write(&path, b"x").unwrap();
    set_mtime(&path, before.mtime);
    pair.assert_only(&[diff(paths::EMPTY, What::Size { a: 0, b: 1 })]);
}

#[test]
fn xattr_changes_are_reported() {
    let pair = Pair::new();
    let file = pair.b(paths::XATTR_FILE);
    xattr::set(&file, "user.coffer.test", b"other value").unwrap();
    xattr::remove(&file, "user.coffer.binary").unwrap();
    xattr::set(pair.b(paths::SMALL), "user.coffer.extra", b"new").unwrap();
    let binary: Vec<u8> = (0..=255u8).collect();
    pair.assert_only(&[
        diff(
            paths::SMALL,
            What::Xattr {
                name: b"user.coffer.extra".to_vec(),
                a: None,
                b: Some(b"new".to_vec()),
            },
        ),
        diff(
            paths::XATTR_FILE,
            What::Xattr {
                name: b"user.coffer.binary".to_vec(),
                a: Some(binary),
                b: None,
            },
        ),
        diff(
            paths::XATTR_FILE,
            What::Xattr {
                name: b"user.coffer.test".to_vec(),
                a: Some(b"coffer test value".to_vec()),
                b: Some(b"other value".to_vec()),
            },
        ),
    ]);
}

#[test]
fn acl_and_capability_loss_is_reported() {
    let pair = Pair::new();
    if pair.fx.has(Feature::PosixAcl) {
        xattr::remove(pair.b(paths::ACL_FILE), "system.posix_acl_access").unwrap();
        pair.assert_reports(
            paths::ACL_FILE,
            |w| matches!(w, What::Xattr { name, b: None, .. } if name == b"system.posix_acl_access"),
        );
    }
    if pair.fx.has(Feature::DefaultAcl) {
        xattr::remove(pair.b(paths::ACL_DIR), "system.posix_acl_default").unwrap();
        pair.assert_reports(paths::ACL_DIR, |w| matches!(w, What::Xattr { b: None, .. }));
    }
    if pair.fx.has(Feature::FileCapability) {
        xattr::remove(pair.b(paths::CAPABILITY), "security.capability").unwrap();
        pair.assert_reports(
            paths::CAPABILITY,
            |w| matches!(w, What::Xattr { name, b: None, .. } if name == b"security.capability"),
        );
    }
}

#[test]
fn mtime_changes_of_files_dirs_and_symlinks_are_reported() {
    let pair = Pair::new();
    let mut want = Vec::new();
    for rel in [paths::SMALL, paths::LINK_DANGLING, "deep/1/2"] {
        let path = pair.b(rel);
        let (s, ns) = meta(&path).mtime;
        let changed = (s, (ns + 1) % 1_000_000_000);
        set_mtime(&path, changed);
        want.push(diff(
            rel,
            What::Mtime {
                a: (s, ns),
                b: changed,
            },
        ));
    }
    want.sort_by(|x, y| x.path.cmp(&y.path));
    pair.assert_only(&want);
}

#[test]
fn broken_hardlink_is_reported() {
    let pair = Pair::new();
    let [one, two, three] = paths::HARDLINKS;
    let path = pair.b(three);
    let before = meta(&path);
    let data = fs::read(&path).unwrap();
    keeping_mtime(path.parent().unwrap(), || {
        fs::remove_file(&path).unwrap();
        fs::write(&path, data).unwrap();
    });
    fs::set_permissions(&path, fs::Permissions::from_mode(before.perm)).unwrap();
    lchown(&path, Some(before.uid), Some(before.gid)).unwrap();
    set_mtime(&path, before.mtime);
    let all = vec![PathBuf::from(one), PathBuf::from(two), PathBuf::from(three)];
    let diffs = pair.diffs();
    assert!(
        !diffs.is_empty()
            && diffs
                .iter()
                .all(|d| matches!(d.what, What::Hardlinks { .. })),
        "{diffs:?}"
    );
    let pair_of_two = diff(
        one,
        What::Hardlinks {
            a: all.clone(),
            b: vec![one.into(), two.into()],
        },
    );
    let alone = diff(
        three,
        What::Hardlinks {
            a: all,
            b: vec![three.into()],
        },
    );
    assert_eq!(diffs, [pair_of_two, alone], "reported:\n{}", lines(&diffs));
}

#[test]
fn new_hardlink_is_reported() {
    let pair = Pair::new();
    let [first, second, _] = paths::SAME;
    fs::remove_file(pair.b(second)).unwrap();
    fs::hard_link(pair.b(first), pair.b(second)).unwrap();
    pair.assert_reports(
        first,
        |w| matches!(w, What::Hardlinks { a, b } if a.len() == 1 && b.len() == 2),
    );
}

#[test]
fn type_target_and_presence_changes_are_reported() {
    let pair = Pair::new();
    fs::remove_file(pair.b(paths::FIFO)).unwrap();
    fs::write(pair.b(paths::FIFO), b"").unwrap();
    fs::remove_file(pair.b(paths::LINK_NON_UTF8)).unwrap();
    symlink("target-\u{ff}", pair.b(paths::LINK_NON_UTF8)).unwrap();
    fs::remove_file(pair.b(paths::DEEP_FILE)).unwrap();
    fs::write(pair.b("deep/extra"), b"").unwrap();
    let diffs = pair.diffs();
    let has = |rel: &str, pred: &dyn Fn(&What) -> bool| {
        diffs
            .iter()
            .any(|d| d.path == Path::new(rel) && pred(&d.what))
    };
    assert!(has(paths::FIFO, &|w| matches!(
        w,
        What::Type {
            a: FileType::Fifo,
            b: FileType::RegularFile
        }
    )));
    assert!(has(
        paths::LINK_NON_UTF8,
        &|w| matches!(w, What::SymlinkTarget { a, .. } if a == b"target-\xff\xfe")
    ));
    assert!(has(paths::DEEP_FILE, &|w| *w == What::OnlyInA));
    assert!(has("deep/extra", &|w| *w == What::OnlyInB));
}

#[test]
fn owner_and_device_changes_are_reported_as_root() {
    let pair = Pair::new();
    if !pair.fx.has(Feature::Ownership) || !pair.fx.has(Feature::CharDevice) {
        eprintln!("skipped: needs root\n{}", pair.fx);
        return;
    }
    lchown(pair.b(paths::OWNED_SYMLINK), Some(0), None).unwrap();
    let dev = pair.b(paths::CHAR_DEVICE);
    let before = meta(&dev);
    keeping_mtime(dev.parent().unwrap(), || {
        fs::remove_file(&dev).unwrap();
        let mode = rustix::fs::Mode::from_raw_mode(before.perm);
        let kind = FileType::CharacterDevice;
        rustix::fs::mknodat(rustix::fs::CWD, &dev, kind, mode, rustix::fs::makedev(1, 5)).unwrap();
    });
    lchown(&dev, Some(before.uid), Some(before.gid)).unwrap();
    pair.assert_only(&[
        diff(
            paths::OWNED_SYMLINK,
            What::Owner {
                a: (1234, 5678),
                b: (0, 5678),
            },
        ),
        diff(
            paths::CHAR_DEVICE,
            What::Device {
                a: rustix::fs::makedev(1, 3),
                b: rustix::fs::makedev(1, 5),
            },
        ),
    ]);
}

#[test]
fn filled_holes_are_reported() {
    let pair = Pair::new();
    if !pair.fx.has(Feature::Sparse) {
        eprintln!("skipped: no holes on this filesystem");
        return;
    }
    let path = pair.b(paths::SPARSE);
    let before = meta(&path);
    let data = fs::read(&path).unwrap();
    fs::write(&path, data).unwrap(); // writes the zeros out: no holes left
    set_mtime(&path, before.mtime);
    let diffs = pair.diffs();
    assert!(
        matches!(
            diffs[..],
            [Difference {
                what: What::Allocated { .. },
                ..
            }]
        ),
        "{diffs:?}"
    );
}

#[test]
fn change_beyond_path_max_is_reported() {
    let pair = Pair::new();
    // Walk down the long path by descriptor, as no single path reaches it.
    let mut dir = DirFd::open(&pair.b(paths::LONG)).unwrap();
    let mut rel = PathBuf::from(paths::LONG);
    loop {
        let names = dir.names().unwrap();
        if names == [OsString::from("leaf")] {
            break;
        }
        rel.push(&names[0]);
        dir = dir.child(&names[0]).unwrap();
    }
    rel.push("leaf");
    assert!(rel.as_os_str().len() > 4096);
    rustix::fs::chmodat(
        dir.fd(),
        "leaf",
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::AtFlags::empty(),
    )
    .unwrap();
    let diffs = pair.diffs();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].path, rel);
    assert!(matches!(diffs[0].what, What::Mode { b: 0o600, .. }));
    assert!(
        diffs[0].to_string().contains("bytes)"),
        "long paths are shortened: {}",
        diffs[0]
    );
}

#[test]
fn odd_names_are_compared_and_printed_on_one_line() {
    let pair = Pair::new();
    let names = pair.b(paths::NAMES);
    let odd = OsStr::from_bytes(b"new\nline");
    fs::rename(names.join(odd), names.join("renamed")).unwrap();
    let diffs = pair.diffs();
    let printed: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert!(
        printed.contains(&"names/new\\x0aline: only in a".to_string()),
        "{printed:?}"
    );
    assert!(
        printed.contains(&"names/renamed: only in b".to_string()),
        "{printed:?}"
    );
    assert!(printed.iter().all(|l| !l.contains('\n')));
}
