//! Arguments of `coffer mount`.

use super::Filter;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MountArgs {
    /// An empty directory to show the snapshots in (read-only)
    pub mountpoint: PathBuf,
    /// Let other users than the one mounting read it too (their access is
    /// then checked against each file's stored owner and mode)
    #[arg(long)]
    pub allow_other: bool,
    /// Memory for file contents read through the mount (16M to 1G)
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::settings::pack_size)]
    pub cache_size: usize,
    #[command(flatten)]
    pub filter: Filter,
}
