//! `schedule install|remove|status` with `--unit-dir`: the units systemd
//! would run, checked by `systemd-analyze verify` (which is first shown to
//! refuse a broken unit, so its approval means something).

use crate::support::{Coffer, arg, write};
use std::path::Path;
use std::process::Command;

fn verify(files: &[&Path]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(files)
        .output()
        .expect("systemd-analyze is missing: `bash .ci/run` installs it (apt-get install systemd)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup(policy: bool) -> (Coffer, String) {
    let mut c = Coffer::new();
    c.pass_repo = false;
    let src = c.path("src");
    write(&src.join("f"), "x");
    let config = c.path("coffer.toml");
    let keep = if policy { "keep-daily = 7\n" } else { "" };
    std::fs::write(
        &config,
        format!(
            "[profile.web]\nrepo = \"{}\"\npaths = [\"{}\"]\n{keep}",
            c.repo.display(),
            src.display()
        ),
    )
    .unwrap();
    let cfg = arg(&config).to_string();
    (c, cfg)
}

#[test]
fn install_writes_units_systemd_accepts() {
    the_referee_refuses_a_broken_unit();
    let (c, cfg) = setup(true);
    let units = c.path("units");
    let service = install_writes_the_four_units(&c, &cfg, &units);
    the_service_backs_up_and_prunes(&c, &cfg, &service);
    status_lists_it_and_remove_deletes_the_units(&c, &cfg, &units);
}

/// `systemd-analyze verify` refuses a broken unit, so its approval means
/// something.
fn the_referee_refuses_a_broken_unit() {
    let bad = tempfile::tempdir().unwrap();
    let broken = bad.path().join("broken.timer");
    std::fs::write(
        &broken,
        "[Timer]\nOnCalendar=garbage\n[Install]\nWantedBy=timers.target\n",
    )
    .unwrap();
    assert!(
        !verify(&[&broken]).0,
        "the referee must refuse a broken unit"
    );
}

/// `schedule install` (daily at 02:30, a check on Sundays) writes the
/// service and timer units, with what they must hold, and systemd accepts
/// them. Returns the service unit.
fn install_writes_the_four_units(c: &Coffer, cfg: &str, units: &Path) -> String {
    let out = c.run(&[
        "--config",
        cfg,
        "--profile",
        "web",
        "schedule",
        "install",
        "--on",
        "daily",
        "--at",
        "02:30",
        "--check-on",
        "Sun *-*-* 04:00",
        "--unit-dir",
        arg(units),
    ]);
    out.ok();
    let service = std::fs::read_to_string(units.join("coffer-web.service")).unwrap();
    let timer = std::fs::read_to_string(units.join("coffer-web.timer")).unwrap();
    let check = std::fs::read_to_string(units.join("coffer-web-check.timer")).unwrap();
    assert!(service.contains("Type=oneshot"), "{service}");
    assert!(
        service.contains("\"--profile\" \"web\" \"backup\"\n"),
        "{service}"
    );
    assert!(
        service.contains("\"--profile\" \"web\" \"forget\" \"--prune\" \"--retry-lock\" \"2h\"\n"),
        "{service}"
    );
    assert!(
        service.contains(&format!("\"--config\" \"{cfg}\"")),
        "{service}"
    );
    assert!(service.contains("IOSchedulingClass=idle") && service.contains("Nice=10"));
    assert!(timer.contains("OnCalendar=*-*-* 02:30:00\n"), "{timer}");
    assert!(timer.contains("Persistent=true") && timer.contains("RandomizedDelaySec=30m"));
    assert!(check.contains("OnCalendar=Sun *-*-* 04:00\n"), "{check}");
    let files: Vec<std::path::PathBuf> = [
        "coffer-web.service",
        "coffer-web.timer",
        "coffer-web-check.service",
        "coffer-web-check.timer",
    ]
    .iter()
    .map(|f| units.join(f))
    .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, why) = verify(&refs);
    assert!(ok, "systemd-analyze verify: {why}");
    service
}

/// The service runs: its ExecStart lines, run by hand, back up and prune.
fn the_service_backs_up_and_prunes(c: &Coffer, cfg: &str, service: &str) {
    c.run(&["--config", cfg, "--profile", "web", "init"]).ok();
    for line in service.lines().filter_map(|l| l.strip_prefix("ExecStart=")) {
        let words: Vec<String> = line
            .split("\" \"")
            .map(|w| w.trim_matches('"').to_string())
            .collect();
        let out = Command::new(&words[0])
            .args(&words[1..])
            .env("HOME", c.dir.path())
            .env("COFFER_PASSWORD", &c.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let snaps = c.run(&["--config", cfg, "--profile", "web", "snapshots", "--json"]);
    assert_eq!(
        snaps.json().as_array().unwrap().len(),
        1,
        "{}",
        snaps.show()
    );
}

/// Status lists it; remove deletes all four units, and a second remove is
/// an error.
fn status_lists_it_and_remove_deletes_the_units(c: &Coffer, cfg: &str, units: &Path) {
    let st = c.run(&["--json", "schedule", "status", "--unit-dir", arg(units)]);
    st.ok();
    let rows = st.json();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[1]["unit"], "coffer-web");
    assert_eq!(rows[1]["on_calendar"], "*-*-* 02:30:00");
    let remove = [
        "--config",
        cfg,
        "--profile",
        "web",
        "schedule",
        "remove",
        "--unit-dir",
        arg(units),
    ];
    c.run(&remove).ok();
    assert_eq!(std::fs::read_dir(units).unwrap().count(), 0);
    let again = c.run(&remove);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains("no schedule installed for profile web"),
        "{}",
        again.show()
    );
}

#[test]
fn any_calendar_systemd_accepts_is_taken_as_is_and_mistakes_are_refused() {
    let (c, cfg) = setup(false);
    let units = c.path("units");
    c.run(&[
        "--config",
        &cfg,
        "--profile",
        "web",
        "schedule",
        "install",
        "--on",
        "Mon..Fri *-*-* 03:00",
        "--unit-dir",
        arg(&units),
    ])
    .ok();
    let timer = std::fs::read_to_string(units.join("coffer-web.timer")).unwrap();
    assert!(
        timer.contains("OnCalendar=Mon..Fri *-*-* 03:00\n"),
        "{timer}"
    );
    let service = std::fs::read_to_string(units.join("coffer-web.service")).unwrap();
    assert!(
        !service.contains("forget"),
        "no policy, no forget: {service}"
    );
    for (args, want) in [
        (
            vec!["--on", "someday"],
            "systemd does not accept this calendar expression",
        ),
        (
            vec!["--on", "hourly", "--at", "02:30"],
            "--at goes with --on daily or weekly",
        ),
        (vec!["--at", "25:00"], "--at wants a time of day"),
    ] {
        let mut all = vec![
            "--config",
            &cfg,
            "--profile",
            "web",
            "schedule",
            "install",
            "--unit-dir",
            arg(&units),
        ];
        all.extend(args);
        let out = c.run(&all);
        assert_eq!(out.code, 1, "{}", out.show());
        assert!(out.stderr.contains(want), "{}", out.show());
    }
    let out = c.run(&[
        "--config",
        &cfg,
        "schedule",
        "install",
        "--unit-dir",
        arg(&units),
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("give --profile NAME"), "{}", out.show());
}
