//! What people expect around the binary: `version` with its commit,
//! completions the shell accepts, man pages `man` renders, and `--help`
//! with a command's own options before the global ones.

use crate::support::{Coffer, arg};
use std::process::Command;

#[test]
fn version_names_the_commit_and_features() {
    let c = Coffer::new();
    let out = c.run(&["--json", "version"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head {
        // Built from this checkout (the commit may lag behind uncommitted work).
        assert_eq!(v["git_commit"].as_str().unwrap().len(), head.len(), "{v}");
    }
    assert!(v["features"].as_array().unwrap().iter().any(|f| f == "s3"));
    let text = c.run(&["--version"]);
    assert!(
        text.stdout
            .starts_with(&format!("coffer {} (git ", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn bash_accepts_the_completion_script() {
    let c = Coffer::new();
    let out = c.run(&["completions", "bash"]);
    out.ok();
    assert!(out.stdout.contains("complete -F"), "{}", out.show());
    let script = c.path("coffer.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Syntax, then sourcing it and asking for the words after `coffer ba`.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; bash -n {s}; source {s}; COMP_WORDS=(coffer ba); COMP_CWORD=1; COMP_LINE='coffer ba'; COMP_POINT=9; _coffer coffer ba coffer; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            s = script.display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        String::from_utf8_lossy(&check.stdout)
            .lines()
            .any(|l| l == "backup")
    );
    for shell in ["zsh", "fish"] {
        let out = c.run(&["completions", shell]);
        out.ok();
        assert!(out.stdout.contains("backup"), "{shell}: {}", out.show());
    }
}

#[test]
fn every_command_has_a_man_page_that_man_renders() {
    let c = Coffer::new();
    let dir = c.path("man");
    c.run(&["man", arg(&dir)]).ok();
    for page in [
        "coffer",
        "coffer-backup",
        "coffer-key-add",
        "coffer-schedule-install",
        "coffer-restore",
    ] {
        let file = dir.join(format!("{page}.1"));
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man is missing: `bash .ci/run` installs man-db");
        assert!(
            out.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{page}: {text}"
        );
    }
    let count = std::fs::read_dir(&dir).unwrap().count();
    assert!(count > 30, "{count} pages");
}

#[test]
fn help_lists_a_commands_own_options_before_the_global_ones() {
    let c = Coffer::new();
    let out = c.run(&["forget", "--help"]);
    out.ok();
    let own = out.stdout.find("--keep-daily").unwrap();
    let heading = out.stdout.find("Global options:").unwrap();
    let global = out.stdout.find("--repo").unwrap();
    assert!(own < heading && heading < global, "{}", out.stdout);
}

#[test]
fn prune_says_when_condemned_packs_go_and_how_to_free_them_now() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    crate::support::write(
        &src.join("a"),
        coffer_testkit::fixture::pseudo_random(1, 200_000),
    );
    c.run(&["backup", arg(&src)]).ok();
    crate::support::write(
        &src.join("a"),
        coffer_testkit::fixture::pseudo_random(2, 200_000),
    );
    c.run(&["backup", arg(&src)]).ok();
    c.run(&["forget", "--keep-last", "1"]).ok();
    let out = c.run(&["prune"]);
    out.ok();
    assert!(
        out.stdout
            .contains("deleted by the first prune 24h (--grace) after")
            && out
                .stdout
                .contains("`coffer prune --now` takes the space back at once"),
        "{}",
        out.show()
    );
    let now = c.run(&["prune", "--now"]);
    now.ok();
    assert!(!now.stdout.contains("--grace) after"), "{}", now.show());
}
