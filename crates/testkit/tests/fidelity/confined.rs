//! A restore never leaves its target: symlinks planted in the target, or
//! swapped in while the restore runs, change nothing outside it.

use crate::support::{Repo, assert_unchanged, fingerprint, restored};
use coffer_core::Kind;
use coffer_core::NoProgress;
use coffer_core::{Overwrite, RestoreOptions, restore};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A directory outside every target, with names a restore might write to.
fn outside(r: &Repo) -> PathBuf {
    let out = r.path("outside");
    for rel in ["ssh/sshd_config", "ssh/keep", "a/b", "b/a", "c", "d0/f0"] {
        write(&out.join(rel), format!("theirs: {rel}\n").as_bytes());
    }
    fs::set_permissions(out.join("ssh"), fs::Permissions::from_mode(0o711)).unwrap();
    out
}

/// A change to the options of one restore.
type Tweak = fn(&mut RestoreOptions);

#[test]
fn include_through_a_planted_symlink_changes_nothing_outside() {
    let r = Repo::new();
    let src = r.path("src");
    write(&src.join("etc/ssh/sshd_config"), b"ours\n");
    write(&src.join("etc/ssh/moduli"), b"ours\n");
    write(&src.join("etc/hosts"), b"ours\n");
    fs::set_permissions(src.join("etc/ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    let b = r.backup(&[&src], |_| {});
    let out = outside(&r);
    let include = format!("{}/etc/ssh", src.display());
    let modes: [(&str, Tweak); 3] = [
        ("default", |_| {}),
        ("delete", |o| o.delete = true),
        ("never", |o| o.overwrite = Overwrite::Never),
    ];
    for (i, (what, tweak)) in modes.into_iter().enumerate() {
        // The symlink at the included directory's parent, then at the
        // included directory itself.
        for (j, (at, to)) in [("etc", out.clone()), ("etc/ssh", out.join("ssh"))]
            .into_iter()
            .enumerate()
        {
            let target = r.path(&format!("target-{i}-{j}"));
            let planted = restored(&target, &src).join(at);
            fs::create_dir_all(planted.parent().unwrap()).unwrap();
            symlink(&to, &planted).unwrap();
            let before = fingerprint(&out);
            let res = r.restore(&b, &target, |o| {
                o.include = vec![include.clone()];
                tweak(o);
            });
            assert_unchanged(&out, &before);
            if at == "etc" {
                assert!(planted.symlink_metadata().unwrap().is_symlink(), "{what}");
                assert!(
                    res.failed.iter().any(|f| f.path == planted),
                    "{what}: the symlink is reported"
                );
            }
        }
    }
}

#[test]
fn directories_swapped_for_symlinks_during_restores_change_nothing_outside() {
    let r = Repo::new();
    let src = r.path("src");
    for d in 0..6 {
        for f in 0..20 {
            write(
                &src.join(format!("d{d}/f{f}")),
                format!("{d}/{f}").as_bytes(),
            );
        }
        write(&src.join(format!("d{d}/sub/g")), b"g");
        fs::set_permissions(src.join(format!("d{d}")), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let b = r.backup(&[&src], |_| {});
    let out = outside(&r);
    let before = fingerprint(&out);
    for round in 0..25 {
        let target = r.path(&format!("target-{round}"));
        let base = restored(&target, &src);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            // Another user of a writable target: moves each directory the
            // restore made away and puts a symlink to `out` in its place.
            s.spawn(|| {
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    for d in 0..6 {
                        let p = base.join(format!("d{d}"));
                        if p.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                            n += 1;
                            let away = target.join(format!("away-{n}"));
                            if fs::rename(&p, &away).is_ok() {
                                let _ = symlink(&out, &p);
                            }
                        }
                    }
                    std::thread::yield_now();
                }
            });
            let opts = {
                let mut o = RestoreOptions::new(target.clone());
                o.threads = 2;
                o
            };
            let res = restore(&r.repo, b.snapshot.tree, &opts, &NoProgress);
            done.store(true, Ordering::Relaxed);
            res.unwrap();
        });
        assert_unchanged(&out, &before);
    }
}

/// One entry of a generated tree: a path of up to three names out of
/// three, and a kind (0 file, 1 directory, 2 symlink to `outside`).
type Spec = (Vec<&'static str>, u8);

/// Makes `spec` below `base`, never through a symlink or a file: an entry
/// whose parent is not a directory is left out.
fn make(base: &Path, (names, kind): &Spec, outside: &Path) {
    let mut p = base.to_path_buf();
    for name in &names[..names.len() - 1] {
        p.push(name);
        match p.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return,
            Err(_) => fs::create_dir(&p).unwrap(),
        }
    }
    p.push(names[names.len() - 1]);
    if p.symlink_metadata().is_ok() {
        return;
    }
    match kind {
        0 => fs::write(&p, names.join("/")).unwrap(),
        1 => fs::create_dir(&p).unwrap(),
        _ => symlink(outside, &p).unwrap(),
    }
}

#[test]
fn random_snapshots_into_targets_seeded_with_symlinks_stay_inside() {
    let r = Repo::new();
    let out = outside(&r);
    let names = prop::sample::select(vec!["a", "b", "c", "ssh"]);
    let path = prop::collection::vec(names, 1..=3);
    let entries = prop::collection::vec((path.clone(), 0u8..3), 1..10);
    let seeds = prop::collection::vec((path.clone(), any::<bool>()), 1..5);
    let options = (prop::option::of(path), any::<bool>(), 0u8..4);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &(entries, seeds, options),
            |(entries, seeds, (include, delete, overwrite))| {
                let n = case.fetch_add(1, Ordering::Relaxed);
                let src = r.path(&format!("src-{n}"));
                fs::create_dir(&src).unwrap();
                for e in &entries {
                    make(&src, e, &out);
                }
                let b = r.backup(&[&src], |_| {});
                let target = r.path(&format!("target-{n}"));
                let base = restored(&target, &src);
                fs::create_dir_all(&base).unwrap();
                for (names, to_root) in &seeds {
                    let to = if *to_root { out.clone() } else { out.join("a") };
                    make(&base, &(names.clone(), 2), &to);
                }
                let before = fingerprint(&out);
                let mut opts = RestoreOptions::new(target.clone());
                opts.snapshot_paths = vec![src.clone()];
                opts.threads = 2;
                opts.include = include
                    .iter()
                    .map(|p| format!("{}/{}", src.display(), p.join("/")))
                    .collect();
                opts.delete = delete;
                opts.overwrite = [
                    Overwrite::Always,
                    Overwrite::IfChanged,
                    Overwrite::IfNewer,
                    Overwrite::Never,
                ][overwrite as usize];
                match restore(&r.repo, b.snapshot.tree, &opts, &NoProgress) {
                    Ok(_) => {}
                    Err(e) if e.kind() == Kind::InvalidInput => {} // include matched nothing
                    Err(e) => panic!("{e}"),
                }
                assert_unchanged(&out, &before);
                Ok(())
            },
        )
        .unwrap();
}
