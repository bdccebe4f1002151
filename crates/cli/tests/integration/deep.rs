//! Trees deeper than any thread's stack and longer than PATH_MAX: a
//! 10,000-level chain goes through backup, restore, archive, export,
//! import and the commands that walk snapshot trees, and comes back equal.

use crate::support::{Coffer, arg};
use coffer_core::Dir;
use coffer_core::{Walk, WalkAll as All, WalkStep as Step};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One entry as a restore must bring it back: path below the root, type,
/// mode, owner, size, mtime, and a file's content.
type Seen = (PathBuf, String, u32, u32, u32, u64, i64, Vec<u8>);

/// Every entry below `root` in tree order, read with coffer's own walker
/// (one descriptor per level: the shared comparison holds two per level,
/// past the open-files limit at this depth).
fn seen(root: &Path) -> Vec<Seen> {
    Walk::new(vec![root.to_path_buf()], &All, false)
        .map(|step| match step {
            Step::Entry {
                dir,
                name,
                path,
                meta,
                ..
            } => {
                let mut content = Vec::new();
                if meta.kind == coffer_core::format::tree::NodeKind::File {
                    let mut f = dir.open_file(&name).unwrap();
                    f.read_to_end(&mut content).unwrap();
                }
                (
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    format!("{:?}", meta.kind),
                    meta.mode,
                    meta.uid,
                    meta.gid,
                    meta.size,
                    meta.mtime,
                    content,
                )
            }
            Step::Error { path, error, .. } => panic!("{}: {error}", path.display()),
        })
        .collect()
}

/// Asserts the trees at `a` and `b` hold the same entries.
fn assert_same(a: &Path, b: &Path) {
    let (sa, sb) = (seen(a), seen(b));
    assert_eq!(sa.len(), LEVELS + 3, "the top, the chain, two files");
    if let Some((x, y)) = sa.iter().zip(&sb).find(|(x, y)| x != y) {
        panic!(
            "{} differs from {}: {x:?} / {y:?}",
            a.display(),
            b.display()
        );
    }
    assert_eq!(sa.len(), sb.len());
}

/// Levels of the chain: ~650 overflowed the 8 MiB main stack before.
const LEVELS: usize = 10_000;

/// Makes `levels` nested directories named `d` below `root` (through
/// descriptors: the path passes PATH_MAX), a file in the middle one and
/// one at the bottom.
fn chain(root: &Path, levels: usize) {
    std::fs::create_dir_all(root).unwrap();
    let mut dir = Dir::open(root).unwrap();
    for level in 0..levels {
        let r = unsafe { libc::mkdirat(dir.fd().as_raw_fd(), c"d".as_ptr(), 0o755) };
        assert_eq!(r, 0, "mkdirat at level {level}");
        dir = dir.child(OsStr::new("d")).unwrap();
        if level == levels / 2 || level + 1 == levels {
            let fd = unsafe {
                libc::openat(
                    dir.fd().as_raw_fd(),
                    c"file".as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                )
            };
            assert!(fd >= 0);
            let text = format!("level {level}\n");
            unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
            unsafe { libc::close(fd) };
        }
    }
}

/// Runs `f` on a thread with a stack deep enough for std's
/// remove_dir_all, which recurses (the repository's directory goes at the
/// end).
fn big_stack(f: fn()) {
    let t = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .unwrap();
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

/// `tar -tf` of an archive: its member names, in order.
fn tar_names(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -t {}: {}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn tree_10000_levels_deep_backs_up_restores_archives_exports_and_imports() {
    // The whole test on a big stack: std's remove_dir_all, when the
    // test's directory goes, recurses.
    big_stack(deep_round_trip);
}

fn deep_round_trip() {
    let c = Coffer::init();
    let src = c.path("src");
    chain(&src, LEVELS);
    // The directories above the chain's top (`/` is not one).
    let above = src.components().count() - 2;

    // Backup and restore.
    let v = c.backup(&[&src], &[]);
    assert_eq!(crate::support::summary_u64(&v, "files_new"), 2, "{v}");
    let restored = c.path("restored");
    c.restore("latest", &restored, &[]).ok();
    let back = crate::support::restored(&restored, &src);
    assert_same(&src, &back);
    // A second backup walks the same depth against its parent.
    let v = c.backup(&[&src], &[]);
    assert_eq!(crate::support::summary_u64(&v, "files_unchanged"), 2, "{v}");

    // The commands that walk snapshot trees.
    c.run(&["check"]).ok();
    let ls = c.run(&["ls", "latest"]);
    let listed = ls.ok().stdout.lines().filter(|l| l.contains("/d")).count();
    assert_eq!(listed, LEVELS + 2, "the chain and its two files");
    let find = c.run(&["find", "file"]);
    let found = find
        .ok()
        .stdout
        .lines()
        .filter(|l| l.ends_with("/file"))
        .count();
    assert_eq!(found, 4, "two files in two snapshots:\n{}", find.show());
    c.run(&["stats", "--mode", "restore-size"]).ok();
    let ids = c.snapshot_ids();
    c.run(&["diff", &ids[0], &ids[1]]).ok();
    // rewrite walks to the bottom too: leaving out the chain's two files
    // (a dry run, so `latest` below is still the whole tree).
    let out = c.run(&[
        "rewrite",
        "--dry-run",
        "--json",
        "-e",
        "/**/d/file",
        &ids[1],
    ]);
    let removed = &out.ok().json()["rewritten"][0]["removed"];
    let deepest = removed
        .as_array()
        .and_then(|r| r.iter().filter_map(|p| p.as_str()).max_by_key(|p| p.len()));
    assert_eq!(removed.as_array().map(Vec::len), Some(2), "{}", out.show());
    assert!(
        deepest.is_some_and(|p| p.matches("/d").count() >= LEVELS),
        "{}",
        out.show()
    );

    // archive: GNU tar lists every member.
    let archived = c.path("archive.tar");
    c.run(&["archive", arg(&src), "--to", arg(&archived)]).ok();
    let names = tar_names(&archived);
    assert_eq!(names.len(), LEVELS + 3, "the top, the chain, two files");
    assert!(names.last().unwrap().ends_with("/d/file"));

    // export: the names of the archive of the same tree, in the same order.
    let exported = c.path("export.tar");
    c.run(&["export", "latest", "-o", arg(&exported), "--format", "tar"])
        .ok();
    let exported_names = tar_names(&exported);
    assert_eq!(exported_names.len(), above + names.len());
    assert_eq!(exported_names[above..], names[..]);

    // import of that export; its restore equals the source.
    let out = c.run(&["import", "--json", arg(&exported), "--prefix", "/imported"]);
    let id = out.ok().json()["snapshot_id"].as_str().unwrap().to_string();
    let restored2 = c.path("restored2");
    c.restore(&id, &restored2, &[]).ok();
    let back2 = restored2
        .join("imported")
        .join(src.strip_prefix("/").unwrap());
    assert_same(&src, &back2);
}
