//! Arguments of the commands that read data packs (restore, export,
//! `check --read-data`) for data in an archive storage class.

use clap::Args;
use coffer_core::{ColdOptions, Error, Result, Tier, parse_duration};

/// What to do when data is in GLACIER or DEEP_ARCHIVE.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Archived data (GLACIER, DEEP_ARCHIVE)")]
pub struct ColdArgs {
    /// Ask S3 to restore the archived packs this command needs, at this
    /// tier (Expedited, Standard, Bulk), and wait for them; without it the
    /// command shows what it needs and the price, and stops (exit 13)
    #[arg(long, value_name = "TIER")]
    pub cold_restore: Option<String>,
    /// Days the restored copies stay readable (billed at STANDARD meanwhile)
    #[arg(long, value_name = "DAYS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=30000))]
    pub cold_days: u32,
    /// Ask for the restores, then exit (13) instead of waiting; the same
    /// command run again later waits for them without asking again
    #[arg(long)]
    pub no_wait: bool,
    /// First pause between checks on restores under way; it doubles, up to
    /// 15 minutes
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub cold_poll: String,
}

impl ColdArgs {
    pub fn options(&self) -> Result<ColdOptions> {
        let tier = self
            .cold_restore
            .as_deref()
            .map(|t| {
                Tier::parse(t).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown --cold-restore tier {t} (Expedited, Standard or Bulk)"
                    ))
                })
            })
            .transpose()?;
        Ok(ColdOptions {
            tier,
            days: self.cold_days,
            wait: !self.no_wait,
            poll: parse_duration(&self.cold_poll)?,
        })
    }
}
