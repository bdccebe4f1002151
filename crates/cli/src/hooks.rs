//! Hooks around a backup: shell commands run before it, after it
//! succeeded, after it failed, and always at the end (`--before`,
//! `--after`, `--on-failure`, `--finally`, usually set in a profile).
//!
//! Each runs with `sh -c` in its own process group, its output on coffer's
//! stderr (so it lands in the same log, and `--json` output stays clean),
//! with `COFFER_PROFILE`, `COFFER_COMMAND`, `COFFER_SNAPSHOT_ID`,
//! `COFFER_EXIT_CODE` and `COFFER_ERROR` in its environment. A hook that
//! runs past `--hook-timeout` is killed with its whole group. A failing
//! `before` hook stops the backup (it never runs) and counts as its
//! failure; a failing `after` hook makes the run fail.

use crate::args::HookArgs;
use coffer_core::{Error, Result};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The snapshot the command saved, for the hooks that run after it.
pub static SNAPSHOT_ID: OnceLock<String> = OnceLock::new();

/// What the hooks are told about the run.
struct Context<'a> {
    command: &'a str,
    exit_code: Option<i32>,
    error: Option<String>,
}

/// Runs `run` between the hooks of `h`; returns its exit code, or the
/// error of the run or of a hook.
pub fn around(h: &HookArgs, command: &str, run: impl FnOnce() -> Result<i32>) -> Result<i32> {
    if h.before.is_empty() && h.after.is_empty() && h.on_failure.is_empty() && h.finally.is_empty()
    {
        return run();
    }
    let timeout = Duration::from_secs(h.hook_timeout);
    let mut ctx = Context {
        command,
        exit_code: None,
        error: None,
    };
    let mut result = run_all("before", &h.before, &ctx, timeout).and_then(|()| run());
    if let Ok(code) = &result
        && *code != 1
    {
        ctx.exit_code = Some(*code);
        if let Err(e) = run_all("after", &h.after, &ctx, timeout) {
            result = Err(e);
        }
    }
    match &result {
        Ok(code) => ctx.exit_code = Some(*code),
        Err(e) => {
            ctx.exit_code = Some(e.exit_code());
            ctx.error = Some(e.to_string());
        }
    }
    let failed = ctx.exit_code != Some(0) && ctx.exit_code != Some(coffer_core::EXIT_INCOMPLETE);
    if failed && let Err(e) = run_all("on-failure", &h.on_failure, &ctx, timeout) {
        eprintln!("coffer: warning: {e}");
    }
    if let Err(e) = run_all("finally", &h.finally, &ctx, timeout) {
        if result.is_ok() {
            result = Err(e);
        } else {
            eprintln!("coffer: warning: {e}");
        }
    }
    result
}

/// Runs each hook of one kind in order; stops at the first that fails.
fn run_all(kind: &str, hooks: &[String], ctx: &Context, timeout: Duration) -> Result<()> {
    for hook in hooks {
        run_one(kind, hook, ctx, timeout)?;
    }
    Ok(())
}

fn run_one(kind: &str, hook: &str, ctx: &Context, timeout: Duration) -> Result<()> {
    let failed = |why: String| Error::fatal(format!("{kind} hook `{hook}` {why}"));
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| failed(format!("could not start ({e})")))?;
    let stdout = stderr
        .try_clone()
        .map_err(|e| failed(format!("could not start ({e})")))?;
    let profile = crate::profile::APPLIED
        .get()
        .and_then(|a| a.profile.name.clone())
        .unwrap_or_default();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(hook)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .env("COFFER_PROFILE", profile)
        .env("COFFER_COMMAND", ctx.command)
        .env("COFFER_HOOK", kind)
        .env(
            "COFFER_SNAPSHOT_ID",
            SNAPSHOT_ID.get().map(String::as_str).unwrap_or_default(),
        )
        .env(
            "COFFER_EXIT_CODE",
            ctx.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        )
        .env("COFFER_ERROR", ctx.error.as_deref().unwrap_or_default())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("could not start ({e})")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                // The hook and everything it started: its process group.
                let _ = rustix::process::kill_process_group(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::Signal::KILL,
                );
                let _ = child.wait();
                return Err(failed(format!(
                    "ran past --hook-timeout ({} s) and was killed",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(failed(format!("could not be waited for ({e})"))),
        }
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(c), _) => Err(failed(format!("exited with status {c}"))),
        (None, Some(s)) => Err(failed(format!("was killed by signal {s}"))),
        _ => Err(failed("failed".to_string())),
    }
}
