//! Arguments of `coffer rewrite`.

use super::Filter;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RewriteArgs {
    /// Snapshots to rewrite (ids, unique prefixes or `latest`); none: every
    /// snapshot the filters match
    pub snapshots: Vec<String>,
    /// Leave out paths matching this glob (repeatable; as `backup --exclude`:
    /// a leading '/' anchors at the root, else it matches at any depth; a
    /// trailing '/' matches directories only)
    #[arg(short = 'e', long = "exclude")]
    pub excludes: Vec<String>,
    /// Read patterns to leave out from this file (one per line, '#' comments)
    #[arg(long = "exclude-file")]
    pub exclude_files: Vec<PathBuf>,
    /// Delete each original once its rewritten snapshot is stored
    #[arg(long)]
    pub forget: bool,
    /// Show what would be left out; write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: Filter,
}
