//! `coffer export` and `coffer import` against GNU tar as the referee: a
//! snapshot exported and extracted equals its restore; an archive GNU tar
//! made becomes a snapshot that restores the tree; bad input fails cleanly.

use crate::archive::{
    assert_tar_reproduces, fixture_for_tar, gnu_tar_extract, rsync_differences, run_s3,
    shared_prefix,
};
use crate::support::{Coffer, arg, write};
use coffer_testkit::fixture::{paths, pseudo_random};
use std::fs;
use std::process::Command;

#[test]
fn export_extracted_by_gnu_tar_equals_a_restore() {
    let c = Coffer::init();
    let fx = fixture_for_tar(&c);
    let long = format!("{}/long", fx.root.display());
    c.run(&["backup", arg(&fx.root), "--exclude", &long]).ok();
    let restored = c.path("restored");
    c.restore("latest", &restored, &[]).ok();
    let dest = c.path("snap.tar.gz");
    let out = c.run(&["export", "latest", "-o", arg(&dest)]);
    out.ok();
    assert!(out.stdout.contains("sha256"), "{}", out.show());
    let into = c.path("extracted");
    gnu_tar_extract(&dest, &into, &["-z"]);
    let sub = fx.root.strip_prefix("/").unwrap();
    let rsync = rsync_differences(&restored.join(sub), &into.join(sub), &[]);
    assert!(
        rsync.is_empty(),
        "export and restore differ:\n{}",
        rsync.join("\n")
    );
    assert_tar_reproduces(&fx, &into);
    // A path inside the snapshot, to stdout.
    let bin = env!("CARGO_BIN_EXE_coffer");
    let files = fx.root.join("files");
    let o = c
        .command(&["export", "latest", arg(&files), "--format", "tar"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = bin;
    let t = c.path("files.tar");
    fs::write(&t, &o.stdout).unwrap();
    let list = Command::new("tar").arg("-tf").arg(&t).output().unwrap();
    let names = String::from_utf8_lossy(&list.stdout);
    assert!(names.lines().all(|l| l.contains("/files")), "{names}");
}

#[test]
fn gnu_tar_archive_imported_then_restored_equals_the_tree() {
    let c = Coffer::init();
    let fx = fixture_for_tar(&c);
    let tarball = c.path("gnu.tar.gz");
    let rel = fx.root.strip_prefix("/").unwrap();
    let out = Command::new("tar")
        .args([
            "--posix",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "-S",
            "-czf",
        ])
        .arg(&tarball)
        .arg("-C")
        .arg("/")
        .arg(format!("--exclude={}/long", rel.display()))
        .arg(format!("--exclude={}/{}", rel.display(), paths::SOCKET))
        .arg(rel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GNU tar -c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = c.run(&[
        "import",
        "--json",
        arg(&tarball),
        "--tag",
        "old-tar",
        "--host",
        "web1",
    ]);
    out.ok();
    let v = out.json();
    assert_eq!(
        v["paths"][0].as_str(),
        Some(format!("/{}", rel.iter().next().unwrap().to_string_lossy()).as_str()),
        "{v}"
    );
    let snaps = c.run(&["snapshots", "--json", "--tag", "old-tar", "--host", "web1"]);
    assert!(
        snaps
            .ok()
            .stdout
            .contains(v["snapshot_id"].as_str().unwrap())
    );
    let restored = c.path("restored");
    c.restore("latest", &restored, &[]).ok();
    assert_tar_reproduces(&fx, &restored);
    // The same content backed up directly adds almost nothing: it dedups.
    let b = c.backup(&[&fx.root.join("files")], &[]);
    assert!(crate::support::summary_u64(&b, "bytes_new") < 4096, "{b}");
    c.run(&["check", "--read-data"]).ok();
}

#[test]
fn import_of_a_non_tar_or_truncated_archive_fails_cleanly() {
    let c = Coffer::init();
    let junk = c.path("junk.tar");
    fs::write(&junk, pseudo_random(3, 10_000)).unwrap();
    let out = c.run(&["import", arg(&junk)]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.one_line_error().contains("junk.tar"), "{}", out.show());
    // A real archive cut in the middle of a member's data.
    let src = c.path("src");
    write(&src.join("big.bin"), pseudo_random(4, 200_000));
    let whole = c.path("whole.tar");
    c.run(&["archive", arg(&src), "--to", arg(&whole)]).ok();
    let bytes = fs::read(&whole).unwrap();
    let cut = c.path("cut.tar");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = c.run(&["import", arg(&cut)]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.one_line_error().contains("cut.tar"), "{}", out.show());
    assert!(
        c.snapshot_ids().is_empty(),
        "a failed import left a snapshot"
    );
    c.run(&["check"]).ok();
}

#[test]
fn import_from_s3_and_stdin() {
    let c = Coffer::init();
    let base = shared_prefix("archive-import");
    let src = c.path("src");
    write(&src.join("a.txt"), b"from s3\n");
    let url = format!("s3://{base}/old.tar.zst");
    run_s3(&c, &["archive", arg(&src), "--to", &url]).ok();
    run_s3(&c, &["import", &url, "--time", "2024-05-01T03:00:00Z"]).ok();
    let snaps = c.run(&["snapshots", "--json"]).ok().json();
    assert!(snaps.to_string().contains("2024-05-01T03:00:00"), "{snaps}");
    let restored = c.path("r");
    c.restore("latest", &restored, &[]).ok();
    assert_eq!(
        fs::read(restored.join(src.strip_prefix("/").unwrap()).join("a.txt")).unwrap(),
        b"from s3\n"
    );
    let local = c.path("a.tar");
    c.run(&["archive", arg(&src), "--to", arg(&local)]).ok();
    let mut cmd = c.command(&["import", "-", "--prefix", "/old"]);
    cmd.stdin(fs::File::open(&local).unwrap());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ls = c.run(&["ls", "latest"]).ok().stdout.clone();
    assert!(ls.contains("/old/"), "{ls}");
}
