//! Bad input and its exit codes (crates/core/src/error.rs, main.rs):
//! 0 ok, 1 error, 2 usage, 3 incomplete, 10 no repository, 12 wrong
//! password. Each error is one line on stderr; none is a panic.

use crate::support::{Coffer, arg, listing, write};
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::process::Stdio;

/// A repository holding one snapshot of a small tree.
fn repo_with_snapshot() -> Coffer {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("a.txt"), b"a\n");
    write(&src.join("sub/b.txt"), b"b\n");
    c.backup(&[&src], &[]);
    c
}

#[test]
fn wrong_password_exits_12_names_the_repository_and_writes_nothing() {
    let mut c = repo_with_snapshot();
    let src = c.path("src");
    let before = listing(&c.repo);
    c.password = "not the password".into();
    let target = c.path("target");
    let commands: Vec<Vec<&str>> = vec![
        vec!["snapshots"],
        vec!["backup", arg(&src)],
        vec!["backup", "--json", arg(&src)],
        vec!["restore", "latest", "--target", arg(&target)],
        vec!["ls", "latest"],
        vec!["check"],
        vec!["check", "--read-data"],
        vec!["cat", "config"],
        vec!["key", "list"],
        vec!["key", "add"],
        vec!["key", "passwd"],
    ];
    for args in commands {
        let out = c.run_env(&args, &[("COFFER_NEW_PASSWORD", "another one")]);
        let line = out.code(12).one_line_error().to_string();
        assert!(line.contains("password"), "`{}`: {line}", out.what);
        assert!(
            line.contains(arg(&c.repo)),
            "`{}` should name the repository: {line}",
            out.what
        );
        assert!(
            out.stdout.is_empty(),
            "`{}` printed: {}",
            out.what,
            out.stdout
        );
    }
    assert!(
        before == listing(&c.repo),
        "a wrong password changed the repository"
    );
    assert!(
        !target.exists(),
        "restore with a wrong password created its target"
    );
}

#[test]
fn missing_repository_exits_10() {
    let c = Coffer::new();
    let target = c.path("target");
    for args in [
        vec!["snapshots"],
        vec!["snapshots", "--json"],
        vec!["ls", "latest"],
        vec!["restore", "latest", "--target", arg(&target)],
        vec!["check"],
        vec!["cat", "config"],
        vec!["key", "list"],
    ] {
        let out = c.run(&args);
        let line = out.code(10).one_line_error().to_string();
        assert!(
            line.contains(arg(&c.repo)),
            "`{}` should name the location: {line}",
            out.what
        );
    }
    assert!(!c.repo.exists(), "looking for a repository created it");
    // An empty directory is not a repository either.
    fs::create_dir(&c.repo).unwrap();
    c.run(&["snapshots"]).code(10).one_line_error();
    assert_eq!(fs::read_dir(&c.repo).unwrap().count(), 0);
}

#[test]
fn repository_path_that_is_a_file_is_a_clear_error() {
    let c = Coffer::new();
    fs::write(&c.repo, b"not a repository\n").unwrap();
    let src = c.path("src");
    write(&src.join("f"), b"f");
    for args in [
        vec!["snapshots"],
        vec!["init"],
        vec!["backup", arg(&src)],
        vec!["check"],
    ] {
        let out = c.run(&args);
        out.failed();
        let line = out.one_line_error().to_string();
        assert!(
            line.contains(arg(&c.repo)),
            "`{}` should name the path: {line}",
            out.what
        );
        assert!(
            line.contains("not a directory"),
            "`{}` should say why: {line}",
            out.what
        );
    }
    assert_eq!(fs::read(&c.repo).unwrap(), b"not a repository\n");
}

#[test]
fn newer_format_version_is_refused_with_upgrade_message() {
    let c = repo_with_snapshot();
    let config = c.repo.join("config");
    let text = fs::read_to_string(&config).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 1, "{text}");
    v["version"] = 3.into();
    fs::write(&config, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let before = listing(&c.repo);
    let src = c.path("src");
    for args in [
        vec!["snapshots"],
        vec!["backup", arg(&src)],
        vec!["check"],
        vec!["ls", "latest"],
        vec!["cat", "config"],
    ] {
        let out = c.run(&args);
        out.failed();
        assert_ne!(
            out.code, 12,
            "`{}`: a newer format is not a wrong password",
            out.what
        );
        let line = out.one_line_error().to_string();
        assert!(
            line.to_lowercase().contains("upgrade"),
            "`{}` should tell to upgrade: {line}",
            out.what
        );
    }
    assert!(
        before == listing(&c.repo),
        "a refused repository was written to"
    );
}

#[test]
fn unreadable_files_are_listed_and_the_snapshot_is_still_saved() {
    // Root reads everything, so the backup runs as `nobody` (through
    // setpriv) on a tree and a repository that nobody owns.
    const NOBODY: u32 = 65534;
    let mut c = Coffer::new();
    let src = c.path("src");
    write(&src.join("readable.txt"), b"fine\n");
    write(&src.join("locked.txt"), b"secret\n");
    write(&src.join("sub/also-fine.txt"), b"fine too\n");
    write(&src.join("closed/hidden.txt"), b"hidden\n");
    for p in [
        c.dir.path(),
        &src,
        &src.join("readable.txt"),
        &src.join("locked.txt"),
        &src.join("sub"),
    ] {
        chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    for p in [
        src.join("sub/also-fine.txt"),
        src.join("closed"),
        src.join("closed/hidden.txt"),
    ] {
        chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    fs::set_permissions(src.join("locked.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(src.join("closed"), fs::Permissions::from_mode(0o000)).unwrap();
    c.as_user = Some(NOBODY);
    c.run(&["init"]).ok();

    let out = c.run(&["backup", arg(&src)]);
    out.code(3);
    for name in ["locked.txt", "closed"] {
        let p = arg(&src.join(name)).to_string();
        assert!(
            out.stderr.contains(&p),
            "the backup should list {p}:\n{}",
            out.show()
        );
    }
    assert!(
        out.stdout.contains("snapshot") && out.stdout.contains("saved"),
        "{}",
        out.show()
    );
    let json = c.run(&["backup", "--json", arg(&src)]);
    json.code(3);
    let skipped: Vec<String> = json.json()["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        skipped,
        [arg(&src.join("closed")), arg(&src.join("locked.txt"))]
    );

    // Back as root: both snapshots are there and sound, without the unreadable entries.
    c.as_user = None;
    assert_eq!(c.snapshot_ids().len(), 2);
    c.run(&["check", "--read-data"]).ok();
    let ls = c.run(&["ls", "--json", "latest", arg(&src)]);
    let listed: Vec<String> = ls
        .ok()
        .json_lines()
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    // The unreadable directory itself is recorded (its metadata could be
    // read), without its entries; the unreadable file is left out.
    let expected: Vec<String> = ["", "/closed", "/readable.txt", "/sub", "/sub/also-fine.txt"]
        .iter()
        .map(|s| format!("{}{s}", arg(&src)))
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn usage_errors_exit_2() {
    let c = Coffer::init();
    for args in [
        vec!["frobnicate"],
        vec!["backup"],
        vec!["restore", "latest"],
        vec!["check", "--no-such-flag"],
    ] {
        let out = c.run(&args);
        out.code(2);
        assert!(
            out.stderr.to_lowercase().contains("usage"),
            "`{}`:\n{}",
            out.what,
            out.show()
        );
    }
}

#[test]
fn no_password_and_no_terminal_is_an_error_not_a_hang() {
    let c = Coffer::init();
    let mut cmd = c.command(&["snapshots"]);
    cmd.env_remove("COFFER_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("COFFER_PASSWORD") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn password_file_and_command_open_the_repository() {
    let c = Coffer::init();
    let file = c.path("pw");
    fs::write(&file, format!("{}\nsecond line ignored\n", c.password)).unwrap();
    for extra in [
        vec!["--password-file".to_string(), arg(&file).to_string()],
        vec![
            "--password-command".to_string(),
            format!("cat {}", arg(&file)),
        ],
    ] {
        let mut cmd = c.command(&[&["snapshots".to_string()], &extra[..]].concat());
        cmd.env_remove("COFFER_PASSWORD");
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let wrong = c.path("wrong");
    fs::write(&wrong, "nope\n").unwrap();
    let mut cmd = c.command(&["snapshots", "--password-file", arg(&wrong)]);
    cmd.env_remove("COFFER_PASSWORD");
    assert_eq!(cmd.output().unwrap().status.code(), Some(12));
}

#[test]
fn closed_stdout_is_not_a_panic() {
    let c = repo_with_snapshot();
    for args in [
        vec!["ls", "latest"],
        vec!["snapshots", "--json"],
        vec!["cat", "config"],
    ] {
        let mut cmd = c.command(&args);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}
