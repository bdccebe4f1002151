//! `coffer image`: an ext4 image made by mkfs.ext4 -d, changed by debugfs,
//! backed up twice (the second stores only the changed chunks), restored
//! byte for byte (sha256), sparse, and clean by e2fsck; a loop device with
//! its file system frozen while read; restores refused onto a mounted or
//! too small device; non-images refused.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(p: &Path) -> String {
    sh(Command::new("sha256sum").arg(p))
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// Blocks the file takes (holes take none), in KiB.
fn used_kib(p: &Path) -> u64 {
    sh(Command::new("du").arg("-k").arg(p))
        .split('\t')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A 2 GiB sparse ext4 image holding `content`.
fn ext4_image(c: &Coffer, content: &Path) -> PathBuf {
    let img = c.path("disk.img");
    sh(Command::new("truncate").args(["-s", "2G"]).arg(&img));
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(content)
        .arg(&img));
    img
}

/// Ten new files written into the image by debugfs.
fn change_ten_files(c: &Coffer, img: &Path) {
    let mut cmds = String::new();
    for i in 0..10 {
        let f = c.path(&format!("new-{i}"));
        write(
            &f,
            format!("written by debugfs, file {i}\n").repeat(100 * (i + 1)),
        );
        cmds.push_str(&format!("write {} new-{i}\n", f.display()));
    }
    let script = c.path("debugfs.cmds");
    write(&script, cmds);
    sh(Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&script)
        .arg(img));
}

#[test]
fn an_ext4_image_comes_back_byte_for_byte_and_the_second_backup_stores_only_changes() {
    let c = Coffer::init();
    let content = c.path("content");
    config_tree(&content, 7, 2 << 20, 40);
    let img = ext4_image(&c, &content);
    let first_sum = sha256(&img);
    let first = c.run(&["image", "backup", "--json", arg(&img)]);
    first.ok();
    let first = first.json();
    change_ten_files(&c, &img);
    let second_sum = sha256(&img);
    assert_ne!(first_sum, second_sum);
    let second = c.run(&["image", "backup", "--json", arg(&img)]);
    second.ok();
    let second = second.json();
    // Ten small files, their inodes, bitmaps and directory: a few chunks.
    let new = second["summary"]["bytes_new"].as_u64().unwrap();
    assert!(
        new <= 16 << 20,
        "the second backup stored {new} new bytes: {second}"
    );
    assert!(first["summary"]["bytes_new"].as_u64().unwrap() > new);
    let (a, b) = (
        first["snapshot"].as_str().unwrap(),
        second["snapshot"].as_str().unwrap(),
    );
    let d = c.run(&["image", "diff", "--json", a, b]);
    d.ok();
    let d = d.json();
    // Every chunk stored anew is a changed one (plus the image's tree).
    let changed = d["bytes_changed"].as_u64().unwrap();
    let blobs = second["summary"]["blobs_new"].as_u64().unwrap();
    assert!(
        changed > 0 && blobs <= changed / (1 << 20) + 1,
        "{d} {second}"
    );

    for (snap, sum) in [(a, &first_sum), (b, &second_sum)] {
        let out = c.path(&format!("restored-{snap}.img"));
        c.run(&["image", "restore", snap, "--to", arg(&out), "--verify"])
            .ok();
        assert_eq!(&sha256(&out), sum);
        assert!(
            used_kib(&out) < 200 << 10,
            "not sparse: {} KiB",
            used_kib(&out)
        );
        sh(Command::new("e2fsck").arg("-fn").arg(&out));
    }
    // The raw image on stdout, as `export` would give it.
    let raw = c
        .command(&["image", "restore", "latest", "--to", "-"])
        .output()
        .unwrap();
    assert!(raw.status.success());
    assert_eq!(raw.stdout.len(), 2 << 30);
    let exported = c.path("exported.img");
    c.run(&["export", a, "--format", "raw", "-o", arg(&exported)])
        .ok();
    assert_eq!(sha256(&exported), first_sum);
    std::fs::remove_file(&exported).unwrap();
    // An existing file is not replaced unless asked.
    let out = c.path(&format!("restored-{a}.img"));
    let again = c.run(&["image", "restore", a, "--to", arg(&out)]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    again.one_line_error();
    c.run(&["image", "restore", a, "--to", arg(&out), "--force"])
        .ok();
    assert_eq!(sha256(&out), first_sum);
    c.run(&["check", "--read-data"]).ok();
    // A copy into another repository is an image still: the same chunks
    // changed, the same bytes restored.
    let dest = other_repo("copy");
    let from = [("COFFER_FROM_PASSWORD", c.password.as_str())];
    dest.run_env(&["copy", "--from-repo", arg(&c.repo)], &from)
        .ok();
    let ids = dest.snapshot_ids();
    let d2 = dest.run(&["image", "diff", "--json", &ids[0], &ids[1]]);
    d2.ok();
    assert_eq!(d2.json()["extents"], d["extents"]);
    let copied = c.path("copied.img");
    dest.run(&["image", "restore", "latest", "--to", arg(&copied)])
        .ok();
    assert_eq!(sha256(&copied), second_sum);
    let ls = c.run(&["image", "ls"]);
    ls.ok();
    assert!(ls.stdout.contains("2 image snapshot(s)"), "{}", ls.stdout);
}

/// A loop device over `img`, detached when dropped.
struct Loop(String);

impl Loop {
    fn new(img: &Path) -> Loop {
        Loop(
            sh(Command::new("losetup").args(["-f", "--show"]).arg(img))
                .trim()
                .to_string(),
        )
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn a_mounted_volume_is_frozen_while_read_and_devices_are_guarded() {
    if !Path::new("/dev/loop-control").exists() {
        eprintln!("SKIPPED: no loop devices on this machine");
        return;
    }
    let c = Coffer::init();
    let img = c.path("vol.img");
    sh(Command::new("truncate").args(["-s", "256M"]).arg(&img));
    sh(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img));
    let dev = Loop::new(&img);
    let mnt = c.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    sh(Command::new("mount").arg(&dev.0).arg(&mnt));
    let files = c.path("files");
    config_tree(&files, 3, 1 << 20, 30);
    sh(Command::new("cp").arg("-a").arg(&files).arg(&mnt));
    let out = c.run(&[
        "image",
        "backup",
        &dev.0,
        "--freeze",
        arg(&mnt),
        "--tag",
        "vol",
    ]);
    let unmount = || {
        let _ = Command::new("umount").arg(&mnt).status();
    };
    if out.code != 0 {
        unmount();
    }
    out.ok();
    // Thawed: writable again.
    write(&mnt.join("after"), "x");
    // Not onto a mounted device.
    let refused = c.run(&["image", "restore", "latest", "--to", &dev.0]);
    unmount();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("in use"), "{}", refused.stderr);
    // Not onto a smaller one.
    let small = c.path("small.img");
    sh(Command::new("truncate").args(["-s", "64M"]).arg(&small));
    let small_dev = Loop::new(&small);
    let refused = c.run(&["image", "restore", "latest", "--to", &small_dev.0]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    refused.one_line_error();
    // Onto an unmounted device of the right size, and into a file: the
    // files the volume held, as they were.
    let target = c.path("target.img");
    sh(Command::new("truncate").args(["-s", "300M"]).arg(&target));
    let target_dev = Loop::new(&target);
    c.run(&[
        "image",
        "restore",
        "latest",
        "--to",
        &target_dev.0,
        "--verify",
    ])
    .ok();
    let restored = c.path("restored.img");
    c.run(&["image", "restore", "latest", "--to", arg(&restored)])
        .ok();
    sh(Command::new("e2fsck").arg("-fn").arg(&restored));
    let seen = c.path("seen");
    std::fs::create_dir_all(&seen).unwrap();
    sh(Command::new("mount")
        .args(["-o", "ro,loop"])
        .arg(&restored)
        .arg(&seen));
    let diff = Command::new("diff")
        .arg("-r")
        .arg(&files)
        .arg(seen.join("files"))
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(&seen).status();
    assert!(
        diff.status.success(),
        "{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
}

#[test]
fn what_is_not_an_image_is_refused() {
    let c = Coffer::init();
    let tree = c.path("tree");
    write(&tree.join("a"), "a");
    c.backup(&[&tree], &[]);
    let id = c.snapshot_ids()[0].clone();
    let out = c.run(&["image", "restore", &id, "--to", arg(&c.path("x.img"))]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not an image snapshot"),
        "{}",
        out.stderr
    );
    let out = c.run(&["image", "backup", arg(&tree)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    out.one_line_error();
    let out = c.run(&[
        "image",
        "backup",
        "--chunk-size",
        "3M",
        arg(&tree.join("a")),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn a_killed_image_backup_leaves_a_clean_repository_and_the_rerun_reuses_its_chunks() {
    let c = Coffer::init();
    let img = c.path("random.img");
    sh(Command::new("sh")
        .arg("-c")
        .arg(format!("head -c 400M /dev/urandom > {}", img.display())));
    kill_once_a_pack_is_stored(&c, &["image", "backup", arg(&img)]);
    assert!(c.snapshot_ids().is_empty());
    c.run(&["check"]).ok();
    let again = c.run(&["image", "backup", "--json", arg(&img)]);
    again.ok();
    let new = again.json()["summary"]["bytes_new"].as_u64().unwrap();
    assert!(new < 400 << 20, "the rerun stored everything again: {new}");
    let out = c.path("back.img");
    c.run(&["image", "restore", "latest", "--to", arg(&out), "--verify"])
        .ok();
    assert_eq!(sha256(&out), sha256(&img));
    c.run(&["check", "--read-data"]).ok();
}

#[test]
fn a_failed_restore_leaves_neither_the_image_nor_a_temporary_file() {
    let c = Coffer::init();
    let img = c.path("small.img");
    write(&img, vec![9u8; 3 << 20]);
    c.run(&["image", "backup", arg(&img)]).ok();
    empty_packs(&c);
    let dir = c.path("out");
    std::fs::create_dir_all(&dir).unwrap();
    let out = c.run(&[
        "image",
        "restore",
        "latest",
        "--to",
        arg(&dir.join("x.img")),
    ]);
    assert_ne!(out.code, 0);
    out.one_line_error();
    assert!(files_below(&dir).is_empty(), "{:?}", files_below(&dir));
}
