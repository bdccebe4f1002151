//! A backup never sends DELETE and never overwrites: it works with
//! credentials that may only PutObject, GetObject and ListBucket. moto's
//! server (started by .ci/run with IAM enforcement on, see .ci/moto_setup.py)
//! enforces exactly such an inline policy for the "backup" user.

use std::path::Path;
use std::process::{Command, Output};

struct Moto {
    endpoint: String,
    bucket: String,
    key: String,
    secret: String,
}

fn moto() -> Moto {
    let var = |n: &str| {
        std::env::var(n).unwrap_or_else(|_| {
            panic!("{n} is not set: run the tests through `bash .ci/run`, which starts moto")
        })
    };
    Moto {
        endpoint: var("COFFER_TEST_MOTO_ENDPOINT"),
        bucket: var("COFFER_TEST_MOTO_BUCKET"),
        key: var("COFFER_TEST_PUTONLY_KEY"),
        secret: var("COFFER_TEST_PUTONLY_SECRET"),
    }
}

fn coffer(m: &Moto, repo: &str, args: &[&str]) -> Output {
    coffer_with(m, repo, args, &[])
}

fn coffer_with(m: &Moto, repo: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.arg("--repo")
        .arg(repo)
        .args(args)
        .env("COFFER_PASSWORD", "putonly-test")
        .env("AWS_ACCESS_KEY_ID", &m.key)
        .env("AWS_SECRET_ACCESS_KEY", &m.secret)
        .env("AWS_ENDPOINT_URL", &m.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run coffer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "coffer panicked: {stderr}");
    out
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "coffer failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    for i in 0..50 {
        std::fs::write(
            root.join(format!("etc/app/f{i}")),
            format!("file {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("big"),
        coffer_testkit::fixture::pseudo_random(3, 3 << 20),
    )
    .unwrap();
}

#[test]
fn backups_work_with_put_get_list_only_credentials() {
    let m = moto();
    let repo = format!("s3://{}/host-{:08x}", m.bucket, rand_suffix());
    ok(&coffer(&m, &repo, &["init"]));

    let src = tempfile::tempdir().unwrap();
    write_tree(src.path());
    let path = src.path().to_str().unwrap();
    ok(&coffer(&m, &repo, &["backup", path]));
    std::fs::write(src.path().join("etc/app/f7"), b"changed").unwrap();
    std::fs::write(src.path().join("new"), b"new file").unwrap();
    ok(&coffer(&m, &repo, &["backup", path]));

    let snaps: serde_json::Value =
        serde_json::from_str(&ok(&coffer(&m, &repo, &["snapshots", "--json"]))).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 2);
    ok(&coffer(&m, &repo, &["check", "--read-data"]));

    let out = tempfile::tempdir().unwrap();
    ok(&coffer(
        &m,
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            out.path().to_str().unwrap(),
        ],
    ));
    let restored = out.path().join(src.path().strip_prefix("/").unwrap());
    coffer_testkit::assert_same_trees(
        src.path(),
        &restored,
        &coffer_testkit::CompareOptions::for_current_user(),
    );
}

#[test]
fn the_policy_really_denies_delete() {
    // Without this the test above would prove nothing: removing a key file
    // is a DELETE, which these credentials must not be allowed.
    let m = moto();
    let repo = format!("s3://{}/deny-{:08x}", m.bucket, rand_suffix());
    ok(&coffer(&m, &repo, &["init"]));
    let out = coffer_with(
        &m,
        &repo,
        &["key", "add"],
        &[("COFFER_NEW_PASSWORD", "second")],
    );
    ok(&out);
    let keys: serde_json::Value =
        serde_json::from_str(&ok(&coffer(&m, &repo, &["key", "list", "--json"]))).unwrap();
    let other = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .map(|k| k["id"].as_str().unwrap().to_string())
        .unwrap();
    let out = coffer(&m, &repo, &["key", "remove", &other]);
    assert_eq!(out.status.code(), Some(1), "DELETE must be denied");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("access denied"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

fn rand_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ std::process::id()
}

/// `coffer archive` with the same narrow credentials: the upload and its
/// verification (HeadObject needs only GetObject) work; the multipart-upload
/// cleanup and the SHA-256 tag, which the policy denies, are skipped with a
/// note instead of failing the archive.
#[test]
fn archive_works_with_put_get_list_only_credentials() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_tree(&src);
    // 20 MiB that do not compress: two parts, so the tag path runs too.
    let mut big = Vec::with_capacity(20 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while big.len() < 20 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(src.join("big.bin"), &big).unwrap();
    let url = format!("s3://{}/archives/{}/a.tar", m.bucket, rand_suffix());
    let out = coffer(
        &m,
        "unused",
        &["archive", "--json", src.to_str().unwrap(), "--to", &url],
    );
    let stdout = ok(&out);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let d = &v["archive"]["delivered"];
    assert_eq!(d["s3"]["parts"].as_u64(), Some(2), "{v}");
    assert!(
        d["s3"]["sha256_stored_as"]
            .as_str()
            .unwrap()
            .starts_with("not stored"),
        "{v}"
    );
}
