//! Arguments of the commands that run coffer unattended: hooks around a
//! backup, schedules, and showing the configuration.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Shell commands around a backup (usually set in a profile).
#[derive(Args, Debug, Clone, Default)]
pub struct HookArgs {
    /// Run this shell command first (repeatable, in order); if it fails the
    /// backup does not run and counts as failed
    #[arg(long, value_name = "SHELL")]
    pub before: Vec<String>,
    /// Run this shell command after a backup that saved its snapshot
    #[arg(long, value_name = "SHELL")]
    pub after: Vec<String>,
    /// Run this shell command when the backup or a hook failed
    /// (COFFER_ERROR and COFFER_EXIT_CODE say why)
    #[arg(long, value_name = "SHELL")]
    pub on_failure: Vec<String>,
    /// Run this shell command at the very end, whatever happened
    #[arg(long, value_name = "SHELL")]
    pub finally: Vec<String>,
    /// Seconds a hook may run before it is killed, with what it started
    #[arg(long, value_name = "SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub hook_timeout: u64,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Write coffer-PROFILE.service and .timer (backup, then forget --prune
    /// when the profile has a retention policy), then enable the timer
    Install(ScheduleInstallArgs),
    /// Disable and delete the units `install` wrote for the profile
    Remove(ScheduleDirArgs),
    /// Last result, last and next run of every profile's schedule
    Status(ScheduleDirArgs),
}

#[derive(Args, Debug)]
pub struct ScheduleInstallArgs {
    /// When: daily, weekly, hourly, or any systemd OnCalendar expression
    /// ("Mon..Fri *-*-* 03:00")
    #[arg(long, value_name = "CALENDAR", default_value = "daily")]
    pub on: String,
    /// Time of day for --on daily or weekly (HH:MM)
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<String>,
    /// Spread the start over up to this long (systemd time span)
    #[arg(long, value_name = "SPAN", default_value = "30m")]
    pub randomized_delay: String,
    /// Also run `check` on a timer of its own (OnCalendar expression)
    #[arg(long, value_name = "CALENDAR")]
    pub check_on: Option<String>,
    #[command(flatten)]
    pub dir: ScheduleDirArgs,
}

#[derive(Args, Debug)]
pub struct ScheduleDirArgs {
    /// Write the units here and leave systemctl alone (default:
    /// /etc/systemd/system, then daemon-reload and enable --now)
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective settings of a profile (or of no profile) and
    /// where each came from: flag, profile (file:line), environment,
    /// default; secrets masked
    Show,
}
