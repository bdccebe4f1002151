//! `coffer archive`: plain tar archives that GNU tar, as the referee,
//! extracts into exactly the tree that was archived; S3 delivery that is
//! verified, and that never leaves incomplete multipart uploads behind.

use crate::support::{Coffer, arg, write};
use coffer_core::S3Store;
use coffer_testkit::compare::What;
use coffer_testkit::fixture::{self, Fixture, paths, pseudo_random};
use coffer_testkit::{CompareOptions, Difference, compare_trees};
use std::fs;
use std::path::Path;
use std::process::Command;

/// GNU tar's flags for a full system restore: xattrs of every namespace
/// (its default is `user.*` only), ACLs, numeric owners, permissions.
pub fn gnu_tar_extract(archive: &Path, into: &Path, compressor: &[&str]) {
    fs::create_dir_all(into).unwrap();
    let out = Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "--numeric-owner",
            "-xp",
        ])
        .args(compressor)
        .arg("-f")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .expect("GNU tar runs");
    assert!(
        out.status.success(),
        "tar -x {} failed:\n{}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rsync -naHAXc --delete`: every difference in content (checksums),
/// hardlinks, ACLs, xattrs, modes, owners, times, devices; empty if none.
pub fn rsync_differences(a: &Path, b: &Path, excludes: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("rsync");
    cmd.args(["-naHAXc", "--delete", "--itemize-changes", "--numeric-ids"]);
    for e in excludes {
        cmd.arg(format!("--exclude=/{e}"));
    }
    let out = cmd
        .arg(format!("{}/", a.display()))
        .arg(format!("{}/", b.display()))
        .output()
        .expect("rsync runs");
    assert!(
        out.status.success(),
        "rsync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// The fixture. Tar cannot hold its socket, and GNU tar cannot extract its
/// path longer than PATH_MAX ("File name too long"), so the archive leaves
/// out the one and the comparison both.
pub fn fixture_for_tar(c: &Coffer) -> Fixture {
    fixture::build(&c.path("fixture")).expect("fixture builds")
}

pub fn assert_tar_reproduces(fx: &Fixture, extracted_root: &Path) {
    let extracted = extracted_root.join(fx.root.strip_prefix("/").unwrap());
    let diffs: Vec<Difference> =
        compare_trees(&fx.root, &extracted, &CompareOptions::for_current_user())
            .into_iter()
            .filter(|d| {
                !(d.what == What::OnlyInA
                    && [paths::SOCKET, paths::LONG]
                        .iter()
                        .any(|p| d.path == Path::new(p)))
            })
            .collect();
    let list: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert!(
        list.is_empty(),
        "{fx}GNU tar extracted a different tree ({} differences):\n{}",
        list.len(),
        list.join("\n")
    );
    let rsync = rsync_differences(&fx.root, &extracted, &[paths::SOCKET, "long"]);
    assert!(
        rsync.is_empty(),
        "rsync -naHAXc lists differences:\n{}",
        rsync.join("\n")
    );
}

fn archive_round_trips_through_gnu_tar(name: &str, compressor: &[&str]) {
    let c = Coffer::new();
    let fx = fixture_for_tar(&c);
    let dest = c.path(name);
    let long = format!("{}/long", fx.root.display());
    let out = c.run(&[
        "archive",
        "--json",
        arg(&fx.root),
        "--exclude",
        &long,
        "--to",
        arg(&dest),
    ]);
    out.ok();
    let v = out.json();
    let sha = v["archive"]["delivered"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = fs::read(&dest).unwrap();
    assert_eq!(
        v["archive"]["delivered"]["bytes"].as_u64(),
        Some(bytes.len() as u64)
    );
    let sum = Command::new("sha256sum").arg(&dest).output().unwrap();
    assert!(
        String::from_utf8_lossy(&sum.stdout).starts_with(&sha),
        "printed sha256 {sha} is not the file's"
    );
    let into = c.path("extracted");
    gnu_tar_extract(&dest, &into, compressor);
    assert_tar_reproduces(&fx, &into);
}

#[test]
fn tar_archive_extracted_by_gnu_tar_equals_the_tree() {
    archive_round_trips_through_gnu_tar("fx.tar", &[]);
}

#[test]
fn gzip_archive_extracted_by_gnu_tar_equals_the_tree() {
    archive_round_trips_through_gnu_tar("fx.tar.gz", &["-z"]);
}

#[test]
fn zstd_archive_extracted_by_gnu_tar_equals_the_tree() {
    archive_round_trips_through_gnu_tar("fx.tar.zst", &["-I", "zstd"]);
}

#[test]
fn gzip_of_several_blocks_is_read_by_gunzip() {
    // Parallel gzip joins blocks of 1 MiB: make many, and let gzip -t judge.
    let c = Coffer::new();
    let src = c.path("src");
    let mut text = Vec::new();
    for i in 0..400_000u32 {
        text.extend_from_slice(format!("line {i} {}\n", i % 97).as_bytes());
    }
    write(&src.join("text.txt"), &text);
    write(&src.join("random.bin"), pseudo_random(7, 3 << 20));
    let dest = c.path("a.tar.gz");
    c.run(&["archive", "--threads", "3", arg(&src), "--to", arg(&dest)])
        .ok();
    let t = Command::new("gzip").arg("-t").arg(&dest).output().unwrap();
    assert!(
        t.status.success(),
        "gzip -t: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let into = c.path("x");
    gnu_tar_extract(&dest, &into, &["-z"]);
    assert_eq!(
        fs::read(into.join(src.strip_prefix("/").unwrap()).join("text.txt")).unwrap(),
        text
    );
}

#[test]
fn archive_to_stdout_needs_a_format_and_streams_the_tar() {
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("f"), b"content\n");
    let out = c.run(&["archive", arg(&src), "--to", "-"]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.one_line_error().contains("--format"), "{}", out.show());
    let bin = env!("CARGO_BIN_EXE_coffer");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{bin} archive --format tar.gz {} --to - | tar -tzf -",
            arg(&src)
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.lines().any(|l| l.ends_with("src/f")), "{listing}");
}

#[test]
fn unreadable_file_is_reported_and_the_rest_archived() {
    let mut c = Coffer::new();
    let src = c.path("src");
    write(&src.join("ok.txt"), b"fine\n");
    write(&src.join("secret.txt"), b"no\n");
    fs::set_permissions(
        src.join("secret.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    std::os::unix::fs::chown(c.dir.path(), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(&src, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(src.join("ok.txt"), Some(65534), Some(65534)).unwrap();
    c.as_user = Some(65534);
    let dest = c.path("a.tar");
    let out = c.run(&["archive", arg(&src), "--to", arg(&dest)]);
    out.code(3);
    assert!(out.stderr.contains("secret.txt"), "{}", out.show());
    let into = c.path("x");
    gnu_tar_extract(&dest, &into, &[]);
    let got = into.join(src.strip_prefix("/").unwrap());
    assert_eq!(fs::read(got.join("ok.txt")).unwrap(), b"fine\n");
    assert!(!got.join("secret.txt").exists());
}

#[test]
fn missing_source_or_bad_destination_is_one_clear_error() {
    let c = Coffer::new();
    let out = c.run(&["archive", "/no/such/path", "--to", arg(&c.path("a.tar"))]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(
        out.one_line_error().contains("/no/such/path"),
        "{}",
        out.show()
    );
    let src = c.path("src");
    write(&src.join("f"), b"x");
    let out = c.run(&["archive", arg(&src), "--to", arg(&c.path("no/dir/a.tar"))]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(
        out.one_line_error().contains("no/dir/a.tar"),
        "{}",
        out.show()
    );
    let out = c.run(&["archive", arg(&src), "--to", arg(&c.path("a.zip"))]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.one_line_error().contains("--format"), "{}", out.show());
    // Nothing half-written is left under the final name or a temporary one.
    let left: Vec<_> = fs::read_dir(c.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().contains(".tar")),
        "{left:?}"
    );
}

// --- S3 -------------------------------------------------------------------

pub fn s3_env() -> Vec<(&'static str, String)> {
    let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT")
        .expect("COFFER_TEST_S3_ENDPOINT is not set: run the tests through `bash .ci/run`");
    vec![
        ("AWS_ENDPOINT_URL", endpoint),
        (
            "AWS_ACCESS_KEY_ID",
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        ),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

pub fn run_s3(c: &Coffer, args: &[&str]) -> crate::support::Out {
    let env = s3_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.run_env(args, &env)
}

/// `bucket/prefix`: a fresh prefix in one bucket shared by these tests
/// (a bucket per test would cost the test server volumes of its own).
pub fn shared_prefix(test: &str) -> String {
    static BUCKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let bucket = BUCKET.get_or_init(|| {
        coffer_testkit::s3::fresh_location("archive", "")
            .trim_start_matches("s3://")
            .trim_end_matches('/')
            .to_string()
    });
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{bucket}/{test}-{}-{n}", std::process::id())
}

/// Incomplete multipart uploads under `store`'s prefix.
fn pending_uploads(store: &S3Store) -> usize {
    store.incomplete_uploads("").unwrap().len()
}

#[test]
fn archive_larger_than_a_part_arrives_in_s3_and_verifies() {
    let c = Coffer::new();
    let base = shared_prefix("archive-multipart");
    let src = c.path("src");
    // Incompressible, 40 MiB: three parts of 16 MiB.
    write(&src.join("random.bin"), pseudo_random(11, 40 << 20));
    write(&src.join("small.txt"), b"small\n");
    let url = format!("s3://{base}/web1/2026-11-29.tar.zst");
    let out = run_s3(
        &c,
        &[
            "archive",
            "--json",
            arg(&src),
            "--to",
            &url,
            "--storage-class",
            "STANDARD_IA",
        ],
    );
    out.ok();
    let v = out.json();
    let d = &v["archive"]["delivered"];
    assert_eq!(d["s3"]["parts"].as_u64(), Some(3), "{v}");
    assert_eq!(d["s3"]["etag_verified"].as_bool(), Some(true), "{v}");
    let store = coffer_testkit::s3::store(&format!("s3://{base}/web1"));
    let body = coffer_core::Store::get(&store, "2026-11-29.tar.zst", None).unwrap();
    assert_eq!(Some(body.len() as u64), d["bytes"].as_u64());
    let local = c.path("got.tar.zst");
    fs::write(&local, &body).unwrap();
    let sum = Command::new("sha256sum").arg(&local).output().unwrap();
    assert!(String::from_utf8_lossy(&sum.stdout).starts_with(d["sha256"].as_str().unwrap()));
    assert_eq!(
        store.storage_class("2026-11-29.tar.zst").unwrap(),
        "STANDARD_IA"
    );
    let into = c.path("x");
    gnu_tar_extract(&local, &into, &["-I", "zstd"]);
    let got = into.join(src.strip_prefix("/").unwrap());
    assert_eq!(rsync_differences(&src, &got, &[]), Vec::<String>::new());
    assert_eq!(pending_uploads(&store), 0);
}

#[test]
fn small_archive_is_one_put_with_its_sha256_in_metadata() {
    let c = Coffer::new();
    let base = shared_prefix("archive-small");
    let src = c.path("src");
    write(&src.join("a.txt"), b"hello\n");
    let url = format!("s3://{base}/a.tar.gz");
    let out = run_s3(&c, &["archive", "--json", arg(&src), "--to", &url]);
    let v = out.ok().json();
    let d = &v["archive"]["delivered"];
    assert_eq!(d["s3"]["parts"].as_u64(), Some(1), "{v}");
    assert_eq!(d["s3"]["etag_verified"].as_bool(), Some(true), "{v}");
    let store = coffer_testkit::s3::store(&format!("s3://{base}"));
    assert_eq!(
        store
            .user_metadata("a.tar.gz", "coffer-sha256")
            .unwrap()
            .as_deref(),
        d["sha256"].as_str()
    );
}

#[test]
fn archive_to_a_missing_bucket_is_one_clear_error() {
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("a.txt"), b"hello\n");
    let out = run_s3(
        &c,
        &[
            "archive",
            arg(&src),
            "--to",
            "s3://coffer-no-such-bucket-xyz/a.tar",
        ],
    );
    out.code(10);
    assert!(
        out.one_line_error().contains("bucket does not exist"),
        "{}",
        out.show()
    );
}

#[test]
fn killed_upload_leaves_no_incomplete_upload_after_the_next_run() {
    let c = Coffer::new();
    let base = shared_prefix("archive-killed");
    let store = coffer_testkit::s3::store(&format!("s3://{base}"));
    let src = c.path("src");
    write(&src.join("random.bin"), pseudo_random(5, 64 << 20));
    let url = format!("s3://{base}/k/big.tar.zst");
    // zstd -19 on one thread is slow: the first part goes up long before
    // the last, so the process is killed in the middle of the upload.
    let env = s3_env();
    let mut cmd = c.command(&[
        "archive",
        arg(&src),
        "--to",
        &url,
        "--level",
        "19",
        "--threads",
        "1",
    ]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    while pending_uploads(&store) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "archive ended before its upload could be killed"
        );
        assert!(
            start.elapsed().as_secs() < 120,
            "no multipart upload started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(pending_uploads(&store), 1, "the killed run left its upload");
    // The next run to the same key aborts it (and completes its own).
    let small = c.path("small");
    write(&small.join("f"), b"x");
    run_s3(&c, &["archive", arg(&small), "--to", &url]).ok();
    assert_eq!(pending_uploads(&store), 0);
    // --cleanup removes one left under a prefix.
    let mut cmd = c.command(&[
        "archive",
        arg(&src),
        "--to",
        &format!("s3://{base}/other/x.tar.zst"),
        "--level",
        "19",
        "--threads",
        "1",
    ]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    while pending_uploads(&store) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "archive ended before its upload could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run_s3(
        &c,
        &[
            "archive",
            "--cleanup",
            "--to",
            &format!("s3://{base}/other/"),
        ],
    );
    out.ok();
    assert!(
        out.stdout.contains("aborted 1 incomplete multipart upload"),
        "{}",
        out.show()
    );
    assert_eq!(pending_uploads(&store), 0);
}

#[test]
fn archive_needs_no_repository_nor_home() {
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("f"), b"x\n");
    let dest = c.path("a.tar");
    let o = c
        .command(&["archive", arg(&src), "--to", arg(&dest)])
        .env_remove("HOME")
        .env_remove("COFFER_PASSWORD")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dest.exists());
    // A command that needs the repository still says why it cannot find it.
    let mut c2 = Coffer::new();
    c2.pass_repo = false;
    let o = c2
        .command(&["snapshots"])
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("HOME is not set"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn full_disk_is_one_line_naming_the_cause() {
    // /dev/full answers every write with ENOSPC, like a full disk.
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("random.bin"), pseudo_random(9, 3 << 20));
    for format in ["tar", "tar.gz", "tar.zst"] {
        let out = c
            .command(&["archive", "--format", format, arg(&src), "--to", "-"])
            .stdout(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{format}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.trim().lines().count() == 1 && stderr.contains("No space left on device"),
            "{format}: {stderr}"
        );
    }
}
