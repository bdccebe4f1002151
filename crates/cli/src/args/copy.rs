//! Arguments of `coffer copy`.

use super::Filter;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Snapshots of the source to copy (ids, unique prefixes or `latest`);
    /// none: every snapshot the filters match
    pub snapshots: Vec<String>,
    /// The repository to copy from (local directory or s3://bucket/prefix);
    /// --repo is the one copied into
    #[arg(long, env = "COFFER_FROM_REPOSITORY", value_name = "REPO")]
    pub from_repo: Option<String>,
    /// Read the source's password from this file (first line); beats the
    /// environment (COFFER_FROM_PASSWORD, COFFER_FROM_PASSWORD_FILE,
    /// COFFER_FROM_PASSWORD_COMMAND)
    #[arg(long, conflicts_with = "from_password_command", value_name = "FILE")]
    pub from_password_file: Option<PathBuf>,
    /// Run this shell command and use the first line it prints as the
    /// source's password
    #[arg(long, value_name = "COMMAND")]
    pub from_password_command: Option<String>,
    /// Take the source's repo, password-file and password-command from this
    /// profile of the config file (the --from-* options beat it)
    #[arg(long, value_name = "NAME")]
    pub from_profile: Option<String>,
    /// S3 endpoint of the source, when it differs from the destination's
    #[arg(long, value_name = "URL")]
    pub from_endpoint_url: Option<String>,
    /// Storage class of the new data packs in the destination (as for
    /// `backup`; GLACIER and DEEP_ARCHIVE must be restored before reading)
    #[arg(long, value_name = "CLASS", value_parser = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"])]
    pub data_storage_class: Option<String>,
    /// Only list the snapshots that would be copied; read and write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: Filter,
}
