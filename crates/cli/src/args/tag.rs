//! Arguments of `coffer tag`.

use super::Filter;
use clap::Args;

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Snapshots to change (ids, unique prefixes or `latest`); none: every
    /// snapshot the filters match
    pub snapshots: Vec<String>,
    /// Add these tags (comma-separated, repeatable)
    #[arg(long, value_name = "TAG[,TAG]")]
    pub add: Vec<String>,
    /// Remove these tags (comma-separated, repeatable)
    #[arg(long, value_name = "TAG[,TAG]")]
    pub remove: Vec<String>,
    /// Replace all tags with these (comma-separated, repeatable; an empty
    /// value removes every tag)
    #[arg(long, value_name = "TAG[,TAG]", conflicts_with_all = ["add", "remove"])]
    pub set: Vec<String>,
    /// Show what would change; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: Filter,
}

impl TagArgs {
    /// `--set` given at all (an empty `--set ''` clears the tags).
    pub fn set_given(&self) -> bool {
        !self.set.is_empty()
    }
}
