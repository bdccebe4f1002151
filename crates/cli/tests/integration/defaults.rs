//! Defaults that cannot lose or leak data: where `backup` may create a
//! repository, `init` into a non-empty directory, private modes whatever
//! the umask, archives written through unpredictable names, which password
//! source wins, `forget` counting days in the zone it prints, and a missing
//! source path that does not stop the backup of the others.

use crate::support::{Backend, Coffer, arg, files_below, write};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;

// --- where a repository is created ----------------------------------------

#[test]
fn backup_creates_a_repository_only_at_the_default_location() {
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    // An explicit --repo, or COFFER_REPOSITORY, that holds no repository.
    let out = c.run(&["backup", arg(&src)]);
    let line = out.code(10).one_line_error().to_string();
    assert!(
        line.contains("coffer init") && line.contains(arg(&c.repo)),
        "{line}"
    );
    assert!(!c.repo.exists(), "backup created {}", c.repo.display());
    let d = Coffer::default_location();
    let other = d.path("elsewhere");
    d.run_env(
        &["backup", arg(&src)],
        &[("COFFER_REPOSITORY", arg(&other))],
    )
    .code(10)
    .one_line_error();
    assert!(!other.exists());
    // An unmounted mount point: an empty directory stays empty.
    let mut mnt = Coffer::new();
    mnt.repo = mnt.path("mnt-backup");
    fs::create_dir(&mnt.repo).unwrap();
    mnt.run(&["backup", arg(&src)]).code(10).one_line_error();
    assert_eq!(fs::read_dir(&mnt.repo).unwrap().count(), 0);
    // The embedded default is created (and only it).
    d.run(&["backup", arg(&src)]).ok();
    assert!(d.repo.join("config").is_file());
}

#[test]
fn a_malformed_s3_location_is_refused_and_makes_no_local_directory() {
    let mut c = Coffer::new();
    c.pass_repo = false;
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    let cwd = c.path("cwd");
    fs::create_dir(&cwd).unwrap();
    for location in [
        "s3:/bucket/x",
        "s3:bucket",
        "S3://bucket/x",
        "file:///tmp/x",
    ] {
        for args in [vec!["backup", arg(&src)], vec!["init"], vec!["snapshots"]] {
            let mut cmd = c.command(&[&["--repo", location][..], &args[..]].concat());
            cmd.current_dir(&cwd);
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{location} {args:?}: {stderr}");
            assert!(
                stderr.contains("malformed repository location") && stderr.contains(location),
                "{location} {args:?}: {stderr}"
            );
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        }
    }
    assert_eq!(
        fs::read_dir(&cwd).unwrap().count(),
        0,
        "a directory was made for a malformed location"
    );
}

#[test]
fn init_refuses_a_non_empty_directory() {
    let c = Coffer::new();
    write(&c.repo.join("home/alice/notes"), b"mine\n");
    let line = c.run(&["init"]).code(1).one_line_error().to_string();
    assert!(
        line.contains("not empty") && line.contains(arg(&c.repo)),
        "{line}"
    );
    assert_eq!(files_below(&c.repo), vec![c.repo.join("home/alice/notes")]);
    // An empty one is fine.
    let e = Coffer::new();
    fs::create_dir(&e.repo).unwrap();
    e.run(&["init"]).ok();
}

// --- private whatever the umask ---------------------------------------------

/// Every directory and file below `root` (root included), with its mode.
fn modes_below(root: &Path) -> Vec<(String, bool, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        out.push((p.display().to_string(), md.is_dir(), md.mode() & 0o7777));
        if md.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

#[track_caller]
fn assert_private(root: &Path, umask: u32) {
    let all = modes_below(root);
    assert!(all.len() > 3, "{all:?}");
    for (path, dir, mode) in all {
        let want = if dir { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "umask {umask:03o}: {path} has mode {mode:03o}");
    }
}

fn private_with_umask(backend: Backend) {
    for umask in [0o022, 0o000] {
        let c = Coffer::on(backend);
        let src = c.path("src");
        write(&src.join("f"), b"some content\n");
        for args in [vec!["init"], vec!["backup", arg(&src)], vec!["key", "add"]] {
            let mut cmd = c.command(&args);
            cmd.env("COFFER_NEW_PASSWORD", "second password");
            // SAFETY: umask is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    libc::umask(umask);
                    Ok(())
                });
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        match backend {
            Backend::Local => {
                assert!(c.objects("keys/").len() == 2, "{:?}", c.objects(""));
                assert_private(&c.repo, umask);
            }
            Backend::S3 => assert_private(&c.path(".cache/coffer"), umask),
        }
    }
}

per_store!(private_with_umask);

// --- archives through unpredictable names -----------------------------------

/// Plants symlinks to `victim` at every name `<dest>.coffer-partial-<pid>`
/// the next few thousand processes could get (earlier versions wrote the
/// archive through that name, following a symlink planted there).
fn plant_partial_symlinks(dest: &Path, victim: &Path) {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last + 1..last + 3000 {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!(".coffer-partial-{pid}"));
        std::os::unix::fs::symlink(victim, name).unwrap();
    }
}

#[test]
fn export_and_archive_never_follow_a_planted_symlink() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), b"secret content\n");
    c.backup(&[&src], &[]);
    for (i, kind) in ["export", "archive"].into_iter().enumerate() {
        let dir = c.path(&format!("out{i}"));
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        let dest = dir.join("snap.tar");
        let victim = c.path(&format!("victim{i}"));
        plant_partial_symlinks(&dest, &victim);
        let out = match kind {
            "export" => c.run(&["export", "latest", "-o", arg(&dest)]),
            _ => c.run(&["archive", arg(&src), "--to", arg(&dest)]),
        };
        out.ok();
        assert!(!victim.exists(), "{kind} wrote through a planted symlink");
        let md = fs::symlink_metadata(&dest).unwrap();
        assert!(md.is_file(), "{kind}: {md:?}");
        // Regular files in the directory: only the archive, no leftovers.
        let files: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !fs::symlink_metadata(p).unwrap().is_symlink())
            .collect();
        assert_eq!(files, vec![dest.clone()], "{kind}");
        assert_eq!(
            md.mode() & 0o777,
            0o644,
            "{kind}: the usual mode once in place"
        );
    }
}

// --- passwords ----------------------------------------------------------------

#[test]
fn an_explicit_password_source_beats_the_environment() {
    let c = Coffer::init();
    let file = c.path("pw");
    fs::write(&file, format!("{}\n", c.password)).unwrap();
    let wrong = [("COFFER_PASSWORD", "not the password")];
    c.run_env(&["snapshots", "--password-file", arg(&file)], &wrong)
        .ok();
    let cmd = format!("cat {}", arg(&file));
    c.run_env(&["snapshots", "--password-command", &cmd], &wrong)
        .ok();
    // Also over COFFER_PASSWORD_FILE / COFFER_PASSWORD_COMMAND.
    let bad = c.path("bad-pw");
    fs::write(&bad, "nope\n").unwrap();
    let mut cmd_env = c.command(&["snapshots", "--password-command", &cmd]);
    cmd_env
        .env_remove("COFFER_PASSWORD")
        .env("COFFER_PASSWORD_FILE", &bad);
    assert!(cmd_env.output().unwrap().status.success());
    // The environment alone still works.
    c.run_env(&["snapshots"], &[]).ok();
}

#[test]
fn two_password_sources_are_an_error_not_a_guess() {
    let c = Coffer::init();
    let file = c.path("pw");
    fs::write(&file, format!("{}\n", c.password)).unwrap();
    // Two flags: a usage error.
    c.run(&[
        "snapshots",
        "--password-file",
        arg(&file),
        "--password-command",
        "echo x",
    ])
    .code(2);
    // Two variables: refused, naming both.
    let out = c.run_env(&["snapshots"], &[("COFFER_PASSWORD_FILE", arg(&file))]);
    let line = out.code(1).one_line_error();
    assert!(
        line.contains("COFFER_PASSWORD ") && line.contains("COFFER_PASSWORD_FILE"),
        "{line}"
    );
    // A new password from two variables too.
    let out = c.run_env(
        &["key", "add"],
        &[
            ("COFFER_NEW_PASSWORD", "a"),
            ("COFFER_NEW_PASSWORD_FILE", arg(&file)),
        ],
    );
    out.code(1).one_line_error();
    assert_eq!(c.objects("keys/").len(), 1);
}

#[test]
fn an_empty_password_is_refused_from_every_source() {
    let c = Coffer::init();
    let empty = c.path("empty");
    fs::write(&empty, "\n").unwrap();
    for (args, env) in [
        (vec!["snapshots"], vec![("COFFER_PASSWORD", "")]),
        (vec!["snapshots", "--password-file", arg(&empty)], vec![]),
        (vec!["snapshots", "--password-command", "true"], vec![]),
        (
            vec!["key", "add", "--new-password-file", arg(&empty)],
            vec![],
        ),
    ] {
        let out = c.run_env(&args, &env);
        let line = out.code(1).one_line_error();
        assert!(line.contains("is empty"), "{args:?}: {line}");
    }
    let d = Coffer::new();
    d.run(&["init", "--password-file", arg(&empty)])
        .code(1)
        .one_line_error();
    assert!(!d.repo.join("config").exists());
}

#[test]
fn a_failing_password_command_never_echoes_its_command_line() {
    let c = Coffer::init();
    let secret = "token-9f8e7d6c5b4a";
    let cmd = format!("test -n {secret} && exit 7");
    let out = c.run(&["snapshots", "--password-command", &cmd]);
    let line = out.code(1).one_line_error().to_string();
    assert!(!line.contains(secret), "{line}");
    assert!(line.contains("--password-command"), "{line}");
    // From the environment (without the harness's COFFER_PASSWORD).
    let mut command = c.command(&["snapshots"]);
    command
        .env_remove("COFFER_PASSWORD")
        .env("COFFER_PASSWORD_COMMAND", &cmd);
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains(secret) && stderr.contains("COFFER_PASSWORD_COMMAND"),
        "{stderr}"
    );
}

// --- forget counts in the zone it prints ----------------------------------------

/// A repository with snapshots imported at these times (RFC 3339).
fn snapshots_at(times: &[&str]) -> Coffer {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    let tar = c.path("src.tar");
    c.run(&["archive", arg(&src), "--to", arg(&tar)]).ok();
    for t in times {
        c.run(&["import", arg(&tar), "--time", t, "--host", "h"])
            .ok();
    }
    c
}

/// Short ids `forget --dry-run --json` keeps, in order.
fn kept(c: &Coffer, tz: &str, extra: &[&str]) -> Vec<String> {
    let args = [&["forget", "--dry-run", "--json"][..], extra].concat();
    let v = c.run_env(&args, &[("TZ", tz)]).ok().json();
    v["groups"][0]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["keep"] == true)
        .map(|s| s["time"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn forget_counts_days_in_the_zone_it_prints() {
    // 22:30 and 23:30 on 4 March in New York, then 00:30 on 5 March; all
    // three on 5 March in UTC.
    let c = snapshots_at(&[
        "2024-03-05T03:30:00Z",
        "2024-03-05T04:30:00Z",
        "2024-03-05T05:30:00Z",
    ]);
    let ny = "America/New_York";
    let daily = ["--keep-daily", "3"];
    assert_eq!(
        kept(&c, ny, &daily),
        [
            "2024-03-05T05:30:00.000000000Z",
            "2024-03-05T04:30:00.000000000Z"
        ]
    );
    let utc_only = ["2024-03-05T05:30:00.000000000Z"];
    assert_eq!(kept(&c, "UTC", &daily), utc_only);
    assert_eq!(kept(&c, ny, &["--keep-daily", "3", "--utc"]), utc_only);
    // What it prints: local times with their offset, or UTC.
    let text = c
        .run_env(&["forget", "--dry-run", "--keep-daily", "3"], &[("TZ", ny)])
        .ok()
        .stdout
        .clone();
    assert!(text.contains("2024-03-04 22:30:00 -0500"), "{text}");
    assert!(text.contains("2024-03-04 23:30:00 -0500"), "{text}");
    let text = c
        .run_env(&["snapshots", "--utc"], &[("TZ", ny)])
        .ok()
        .stdout
        .clone();
    assert!(text.contains("2024-03-05 03:30:00 UTC"), "{text}");
}

// --- a missing source path ------------------------------------------------------

#[test]
fn a_missing_source_path_is_a_warning_and_the_rest_is_backed_up() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), b"kept\n");
    let missing = c.path("not-mounted");
    let out = c.run(&["backup", arg(&missing), arg(&src)]);
    out.code(3);
    assert!(
        out.stderr.contains(arg(&missing)) && out.stderr.contains("does not exist"),
        "{}",
        out.show()
    );
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    assert_eq!(
        fs::read(crate::support::restored(&target, &src).join("f")).unwrap(),
        b"kept\n"
    );
    // In JSON the path is listed as skipped.
    let out = c.run(&["backup", "--json", arg(&src), arg(&missing)]);
    out.code(3);
    let skipped = out.json()["skipped"].to_string();
    assert!(skipped.contains(arg(&missing)), "{skipped}");
    // Nothing at all to back up is an error, and no snapshot.
    let before = c.snapshot_ids().len();
    c.run(&["backup", arg(&missing)]).code(1).one_line_error();
    assert_eq!(c.snapshot_ids().len(), before);
}
