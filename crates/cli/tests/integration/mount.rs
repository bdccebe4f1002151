//! `coffer mount`: a snapshot seen through FUSE is the tree it came from
//! (rsync -naHAXc and the tree comparison find nothing), the `hosts/`,
//! `tags/`, `ids/` and `latest` links lead to it, nothing can be written,
//! a lost repository answers EIO instead of hanging, and SIGTERM or
//! `umount` end the mount cleanly. Needs /dev/fuse (CI has it); without
//! it the tests say so and stop.

use crate::archive::{fixture_for_tar, rsync_differences};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Whether FUSE can be used here; says so when not.
fn fuse() -> bool {
    let there = Path::new("/dev/fuse").exists();
    if !there {
        eprintln!("SKIPPED: no /dev/fuse on this machine, so `coffer mount` is not tested");
    }
    there
}

fn mounted(at: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let at = at.to_str().unwrap();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(at))
}

/// `coffer mount` running, unmounted (and waited for) when dropped.
struct Mount {
    child: Child,
    at: PathBuf,
}

impl Mount {
    fn start(c: &Coffer, extra: &[&str]) -> Mount {
        let at = c.path("mnt");
        std::fs::create_dir_all(&at).unwrap();
        let mut args = vec!["mount", arg(&at)];
        args.extend_from_slice(extra);
        let child = c
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut m = Mount { child, at };
        let start = Instant::now();
        while !m.at.join("snapshots").exists() {
            if let Some(status) = m.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(m.child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("coffer mount ended ({status}): {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the mount did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    /// SIGTERM, then the exit status; the mount point is free after.
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(!mounted(&self.at), "still mounted after SIGTERM");
        status
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if mounted(&self.at) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.at)
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn a_mounted_snapshot_is_its_source(backend: Backend) {
    if !fuse() {
        return;
    }
    let c = Coffer::init_on(backend);
    let fx = fixture_for_tar(&c);
    c.backup(&[&fx.root], &["--tag", "nightly"]);
    let mut m = Mount::start(&c, &[]);
    let sub = fx.root.strip_prefix("/").unwrap();
    let inside = m.at.join("latest").join(sub);
    let diff = rsync_differences(&fx.root, &inside, &["long"]);
    assert!(
        diff.is_empty(),
        "the mount differs from its source:\n{}",
        diff.join("\n")
    );
    assert_restored(&fx.root, &inside);
    let diff = std::process::Command::new("diff")
        .args(["-r", "--no-dereference", "-x", "long"])
        .arg(&fx.root)
        .arg(&inside)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&diff.stdout);
    // Devices, fifos and sockets are not compared by content: diff names
    // them, and they must be of the same type on both sides.
    let real: Vec<&str> = said
        .lines()
        .filter(|l| !(l.starts_with("File ") && l.contains(" while file ")))
        .collect();
    assert!(real.is_empty(), "diff -r: {said}");
    for l in said.lines().filter(|l| l.contains(" while file ")) {
        let kinds: Vec<&str> = l
            .split(" is a ")
            .skip(1)
            .map(|k| k.split(' ').next().unwrap())
            .collect();
        assert_eq!(kinds[0], kinds[1], "{l}");
    }
    // Every way in leads to the same snapshot.
    let id = &c.snapshot_ids()[0][..8];
    let host = std::fs::read_dir(m.at.join("hosts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    for way in [
        m.at.join("ids").join(id),
        m.at.join("tags/nightly").join(
            std::fs::read_dir(m.at.join("snapshots"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .file_name(),
        ),
        host.path().join(
            std::fs::read_dir(host.path())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .file_name(),
        ),
    ] {
        let target = std::fs::canonicalize(&way).unwrap();
        assert_eq!(
            target,
            std::fs::canonicalize(m.at.join("latest")).unwrap(),
            "{}",
            way.display()
        );
    }
    // Read-only.
    let err = std::fs::write(inside.join("new-file"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    assert!(m.stop().success());
}

#[test]
fn a_mounted_snapshot_is_its_source_local() {
    a_mounted_snapshot_is_its_source(Backend::Local);
}

#[test]
fn a_mounted_snapshot_is_its_source_s3() {
    a_mounted_snapshot_is_its_source(Backend::S3);
}

#[test]
fn a_lost_repository_answers_eio_and_umount_ends_the_mount() {
    if !fuse() {
        return;
    }
    let c = Coffer::init();
    let tree = c.path("tree");
    write(&tree.join("a.bin"), vec![7u8; 3 << 20]);
    write(&tree.join("b.txt"), "b\n");
    c.backup(&[&tree], &[]);
    let m = Mount::start(&c, &[]);
    let inside = m.at.join("latest").join(tree.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(inside.join("b.txt")).unwrap(), b"b\n");
    // The packs are emptied (a disk gone bad under the mount): reading
    // what was not read yet fails, and fast.
    empty_packs(&c);
    let start = Instant::now();
    let err = std::fs::read(inside.join("a.bin")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
    // `umount` from outside ends the command, with success.
    let st = std::process::Command::new("umount")
        .arg(&m.at)
        .status()
        .unwrap();
    assert!(st.success());
    let mut m = m;
    let status = m.child.wait().unwrap();
    assert!(status.success(), "{status}");
}
