//! Hooks around a backup: order, environment, failures, timeouts, and a
//! profile's hooks running for `backup` only.

use crate::support::{Coffer, arg, write};

fn read(c: &Coffer, name: &str) -> String {
    std::fs::read_to_string(c.path(name)).unwrap_or_default()
}

#[test]
fn hooks_run_in_order_with_what_happened_in_their_environment() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    write(&src.join("f"), "x");
    let log = c.path("log");
    let note = |kind: &str| {
        format!(
            "echo \"{kind} $COFFER_COMMAND snap=$COFFER_SNAPSHOT_ID code=$COFFER_EXIT_CODE err=$COFFER_ERROR\" >> {}; echo {kind}-stdout",
            log.display()
        )
    };
    let (b, a, f, o) = (
        note("before"),
        note("after"),
        note("finally"),
        note("failure"),
    );
    let out = c.run(&[
        "backup",
        "--json",
        "--before",
        &b,
        "--after",
        &a,
        "--on-failure",
        &o,
        "--finally",
        &f,
        arg(&src),
    ]);
    out.ok();
    // Hook output goes to stderr: stdout stays JSON lines.
    for line in out.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("stdout is JSON");
    }
    assert!(out.stderr.contains("before-stdout") && out.stderr.contains("after-stdout"));
    let id = out.json()["snapshot_id"].as_str().unwrap().to_string();
    let lines: Vec<String> = read(&c, "log").lines().map(String::from).collect();
    assert_eq!(
        lines,
        [
            "before backup snap= code= err=".to_string(),
            format!("after backup snap={id} code=0 err="),
            format!("finally backup snap={id} code=0 err="),
        ]
    );
}

#[test]
fn a_failing_before_hook_stops_the_backup_and_runs_on_failure() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    write(&src.join("f"), "x");
    let log = c.path("log");
    let out = c.run(&[
        "backup",
        "--before",
        "echo cannot stop the app >&2; exit 2",
        "--on-failure",
        &format!(
            "echo \"$COFFER_EXIT_CODE $COFFER_ERROR\" >> {}",
            log.display()
        ),
        "--finally",
        &format!("echo finally >> {}", log.display()),
        arg(&src),
    ]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.stderr.contains("cannot stop the app"), "{}", out.show());
    assert!(
        out.stderr.contains(
            "coffer: error: before hook `echo cannot stop the app >&2; exit 2` exited with status 2"
        ),
        "{}",
        out.show()
    );
    assert!(c.snapshot_ids().is_empty());
    let log = read(&c, "log");
    assert!(log.starts_with("1 before hook `echo cannot stop"), "{log}");
    assert!(log.ends_with("finally\n"), "{log}");

    // A backup that fails on its own runs on-failure with its exit code.
    let mut c2 = Coffer::new();
    c2.pass_repo = false;
    let out = c2.run(&[
        "--repo",
        arg(&c2.path("no-repo-here")),
        "backup",
        "--on-failure",
        &format!("echo \"$COFFER_EXIT_CODE\" > {}", c2.path("code").display()),
        arg(&src),
    ]);
    assert_eq!(out.code, 10, "{}", out.show());
    assert_eq!(read(&c2, "code"), "10\n");
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_what_it_started() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    write(&src.join("f"), "x");
    let pid_file = c.path("pid");
    let out = c.run(&[
        "backup",
        "--hook-timeout",
        "1",
        "--before",
        &format!("sleep 300 & echo $! > {}; wait", pid_file.display()),
        arg(&src),
    ]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(
        out.stderr
            .contains("ran past --hook-timeout (1 s) and was killed"),
        "{}",
        out.show()
    );
    let pid = read(&c, "pid").trim().to_string();
    assert!(!pid.is_empty());
    // The background sleep was in the hook's process group: gone too.
    let mut alive = true;
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for init to reap it.
        if stat.is_empty() || stat.contains(") Z ") {
            alive = false;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive, "the hook's child {pid} still runs");
    assert!(c.snapshot_ids().is_empty());
}

#[test]
fn a_profiles_hooks_run_for_backup_only() {
    let mut c = Coffer::new();
    c.pass_repo = false;
    let src = c.path("src");
    write(&src.join("f"), "x");
    let log = c.path("log");
    let config = c.path("coffer.toml");
    std::fs::write(
        &config,
        format!(
            "[profile.app]\nrepo = \"{}\"\npaths = [\"{}\"]\nbefore = [\"echo before >> {log}\"]\nfinally = \"echo finally >> {log}\"\n",
            c.repo.display(),
            src.display(),
            log = log.display()
        ),
    )
    .unwrap();
    let cfg = arg(&config);
    c.run(&["--config", cfg, "--profile", "app", "init"]).ok();
    c.run(&["--config", cfg, "--profile", "app", "backup"]).ok();
    c.run(&["--config", cfg, "--profile", "app", "snapshots"])
        .ok();
    assert_eq!(read(&c, "log"), "before\nfinally\n");
}
