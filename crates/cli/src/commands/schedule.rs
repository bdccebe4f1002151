//! `coffer --profile NAME schedule install|remove|status`: a profile's
//! backups on a systemd timer.
//!
//! `install` writes `coffer-NAME.service` (oneshot: backup, then
//! `forget --prune` when the profile has a retention policy; low CPU and
//! idle I/O priority) and `coffer-NAME.timer` (`Persistent=true`, so a run
//! missed while the machine was off happens at boot; `RandomizedDelaySec`,
//! so a fleet does not start at one second), and with `--check-on` a
//! `coffer-NAME-check` pair. Without `--unit-dir` they go to
//! /etc/systemd/system and the timers are enabled and started.

use crate::args::{Global, ScheduleCommand, ScheduleDirArgs, ScheduleInstallArgs};
use crate::profile::APPLIED;
use coffer_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const SYSTEM_DIR: &str = "/etc/systemd/system";

pub fn run(c: ScheduleCommand, g: &Global) -> Result<i32> {
    match c {
        ScheduleCommand::Install(a) => install(&a, g),
        ScheduleCommand::Remove(a) => remove(&a, g),
        ScheduleCommand::Status(a) => status(&a, g),
    }
}

/// The profile and config file the units will run with.
fn profile() -> Result<(String, PathBuf, bool)> {
    let applied = APPLIED.get();
    let name = applied
        .and_then(|a| a.profile.name.clone())
        .ok_or_else(|| {
            Error::invalid("schedule works on a profile: give --profile NAME (see docs/CONFIG.md)")
        })?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::invalid(
            "a scheduled profile's name may hold only letters, digits, '-', '_' and '.' (it names the systemd units)",
        )
        .with_location(&name));
    }
    let a = applied.expect("a profile was applied");
    let file = a.profile.file.clone().expect("a profile comes from a file");
    let file = std::path::absolute(&file)
        .map_err(|e| Error::io("cannot resolve the config file", file.display(), e))?;
    let policy = a.profile.entries.keys().any(|k| k.starts_with("keep-"));
    Ok((name, file, policy))
}

/// `--on` and `--at` as an OnCalendar expression, checked by systemd when
/// it is installed.
fn calendar(on: &str, at: Option<&str>) -> Result<String> {
    let expr = match at {
        None => on.to_string(),
        Some(at) => {
            let ok = at.len() == 5
                && at.as_bytes()[2] == b':'
                && at[..2].parse::<u8>().is_ok_and(|h| h < 24)
                && at[3..].parse::<u8>().is_ok_and(|m| m < 60);
            if !ok {
                return Err(Error::invalid("--at wants a time of day, HH:MM").with_location(at));
            }
            match on {
                "daily" => format!("*-*-* {at}:00"),
                "weekly" => format!("Mon *-*-* {at}:00"),
                _ => {
                    return Err(Error::invalid(
                        "--at goes with --on daily or weekly; give the time inside the OnCalendar expression instead",
                    ));
                }
            }
        }
    };
    if let Ok(out) = Command::new("systemd-analyze")
        .arg("calendar")
        .arg(&expr)
        .output()
        && !out.status.success()
    {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::invalid(format!(
            "systemd does not accept this calendar expression ({})",
            why.lines().next().unwrap_or("invalid").trim()
        ))
        .with_location(&expr));
    }
    Ok(expr)
}

/// A command line for ExecStart=, each word quoted for systemd.
fn exec(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
                .replace('$', "$$");
            format!("\"{escaped}\"")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn service(description: &str, runs: &[Vec<String>]) -> String {
    let mut s = format!(
        "[Unit]\nDescription={description}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n"
    );
    for r in runs {
        s.push_str(&format!("ExecStart={}\n", exec(r)));
    }
    s.push_str("Environment=HOME=%h\nNice=10\nIOSchedulingClass=idle\nCPUSchedulingPolicy=batch\n");
    s
}

fn timer(description: &str, on: &str, delay: &str) -> String {
    format!(
        "[Unit]\nDescription={description}\n\n[Timer]\nOnCalendar={on}\nPersistent=true\nRandomizedDelaySec={delay}\n\n[Install]\nWantedBy=timers.target\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::io("cannot write unit", path.display(), e))?;
    Ok(path)
}

fn systemctl(args: &[&str]) -> Result<()> {
    let shown = format!("systemctl {}", args.join(" "));
    let st = Command::new("systemctl")
        .args(args)
        .status()
        .map_err(|e| Error::io("cannot run", &shown, e))?;
    if !st.success() {
        return Err(Error::fatal(format!("`{shown}` failed ({st})")));
    }
    Ok(())
}

fn install(a: &ScheduleInstallArgs, g: &Global) -> Result<i32> {
    let (name, config, policy) = profile()?;
    let on = calendar(&a.on, a.at.as_deref())?;
    let check_on = a
        .check_on
        .as_deref()
        .map(|c| calendar(c, None))
        .transpose()?;
    let base = coffer_command(&config, &name)?;
    let mut runs = vec![with(&base, &["backup"])];
    if policy {
        // A weekly check may hold its lock: wait for it rather than fail.
        runs.push(with(&base, &["forget", "--prune", "--retry-lock", "2h"]));
    }
    let dir = a
        .dir
        .unit_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_DIR));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot make", dir.display(), e))?;
    let unit = format!("coffer-{name}");
    let delay = &a.randomized_delay;
    let mut written = write_pair(
        &dir,
        &unit,
        &format!("coffer backup of profile {name}"),
        &runs,
        &on,
        delay,
    )?;
    let mut timers = vec![format!("{unit}.timer")];
    if let Some(c) = &check_on {
        written.extend(write_pair(
            &dir,
            &format!("{unit}-check"),
            &format!("coffer check of profile {name}"),
            &[with(&base, &["check"])],
            c,
            delay,
        )?);
        timers.push(format!("{unit}-check.timer"));
    }
    if a.dir.unit_dir.is_none() {
        systemctl(&["daemon-reload"])?;
        let mut args = vec!["enable", "--now"];
        args.extend(timers.iter().map(String::as_str));
        systemctl(&args)?;
    }
    report_install(a, g, &name, &on, &written, &timers)?;
    Ok(0)
}

/// The start of every command the units run: coffer itself, with the
/// config file and the profile.
fn coffer_command(config: &Path, name: &str) -> Result<Vec<String>> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot find coffer's own path", "/proc/self/exe", e))?;
    Ok(vec![
        exe.display().to_string(),
        "--config".to_string(),
        config.display().to_string(),
        "--profile".to_string(),
        name.to_string(),
    ])
}

/// `base` followed by `args`.
fn with(base: &[String], args: &[&str]) -> Vec<String> {
    let mut v = base.to_vec();
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// Writes `UNIT.service` (running `runs`) and `UNIT.timer` (at `on`) to
/// `dir`; returns their paths, the service's first.
fn write_pair(
    dir: &Path,
    unit: &str,
    description: &str,
    runs: &[Vec<String>],
    on: &str,
    delay: &str,
) -> Result<Vec<PathBuf>> {
    Ok(vec![
        write(dir, &format!("{unit}.service"), &service(description, runs))?,
        write(
            dir,
            &format!("{unit}.timer"),
            &timer(&format!("{description} ({on})"), on, delay),
        )?,
    ])
}

/// Tells what `install` wrote and whether the timers were enabled.
fn report_install(
    a: &ScheduleInstallArgs,
    g: &Global,
    name: &str,
    on: &str,
    written: &[PathBuf],
    timers: &[String],
) -> Result<()> {
    if g.json {
        crate::output::json(&serde_json::json!({
            "message_type": "summary",
            "profile": name,
            "on_calendar": on,
            "units": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "enabled": a.dir.unit_dir.is_none(),
        }))?;
    } else if !g.quiet {
        for p in written {
            println!("wrote {}", p.display());
        }
        match a.dir.unit_dir {
            None => println!(
                "enabled {} (systemctl list-timers 'coffer-*')",
                timers.join(", ")
            ),
            Some(_) => println!(
                "not enabled (--unit-dir): systemctl daemon-reload && systemctl enable --now {}",
                timers.join(" ")
            ),
        }
    }
    Ok(())
}

fn remove(a: &ScheduleDirArgs, g: &Global) -> Result<i32> {
    let (name, _, _) = profile()?;
    let dir = a
        .unit_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_DIR));
    let unit = format!("coffer-{name}");
    let timers: Vec<String> = [format!("{unit}.timer"), format!("{unit}-check.timer")]
        .into_iter()
        .filter(|t| dir.join(t).exists())
        .collect();
    if timers.is_empty() {
        return Err(
            Error::invalid(format!("no schedule installed for profile {name}"))
                .with_location(dir.display()),
        );
    }
    if a.unit_dir.is_none() {
        let mut args = vec!["disable", "--now"];
        args.extend(timers.iter().map(String::as_str));
        systemctl(&args)?;
    }
    let mut removed = Vec::new();
    for f in [
        format!("{unit}.service"),
        format!("{unit}.timer"),
        format!("{unit}-check.service"),
        format!("{unit}-check.timer"),
    ] {
        let p = dir.join(&f);
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot remove unit", p.display(), e)),
        }
    }
    if a.unit_dir.is_none() {
        systemctl(&["daemon-reload"])?;
    }
    if !g.quiet && !g.json {
        for p in &removed {
            println!("removed {}", p.display());
        }
    }
    Ok(0)
}

/// `systemctl show UNIT -p …` as key=value pairs; None without systemd.
fn show(unit: &str, props: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", props])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn status(a: &ScheduleDirArgs, g: &Global) -> Result<i32> {
    let dir = a
        .unit_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_DIR));
    let mut timers: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("cannot list units", dir.display(), e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("coffer-") && n.ends_with(".timer"))
        .collect();
    timers.sort();
    let mut rows = Vec::new();
    let mut systemd = false;
    for t in &timers {
        let unit = t.trim_end_matches(".timer");
        let calendar = std::fs::read_to_string(dir.join(t))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("OnCalendar=").map(String::from))
            })
            .unwrap_or_default();
        let timer = show(t, "LastTriggerUSec,NextElapseUSecRealtime,ActiveState");
        systemd |= timer.is_some();
        let service = show(
            &format!("{unit}.service"),
            "Result,ExecMainStatus,ExecMainExitTimestamp",
        );
        let get = |m: &Option<std::collections::BTreeMap<String, String>>, k: &str| {
            m.as_ref()
                .and_then(|m| m.get(k).cloned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".to_string())
        };
        rows.push(serde_json::json!({
            "unit": unit,
            "on_calendar": calendar,
            "active": get(&timer, "ActiveState"),
            "last_run": get(&timer, "LastTriggerUSec"),
            "next_run": get(&timer, "NextElapseUSecRealtime"),
            "last_result": get(&service, "Result"),
            "last_exit_code": get(&service, "ExecMainStatus"),
        }));
    }
    if g.json {
        crate::output::json(&serde_json::Value::Array(rows))?;
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no coffer schedules in {}", dir.display());
        return Ok(0);
    }
    if !systemd {
        println!("(systemd does not answer here: last and next runs are unknown)");
    }
    for r in &rows {
        println!(
            "{}: {} ({}); last run {}, result {} (exit {}); next run {}",
            r["unit"].as_str().unwrap_or_default(),
            r["on_calendar"].as_str().unwrap_or_default(),
            r["active"].as_str().unwrap_or_default(),
            r["last_run"].as_str().unwrap_or_default(),
            r["last_result"].as_str().unwrap_or_default(),
            r["last_exit_code"].as_str().unwrap_or_default(),
            r["next_run"].as_str().unwrap_or_default(),
        );
    }
    Ok(0)
}
