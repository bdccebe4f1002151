//! Arguments of the image commands (`coffer image …`).

use super::Filter;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Back up a block device or disk image file (fixed chunks, zeros not stored)
    Backup(ImageBackupArgs),
    /// Write an image snapshot to a file (sparse), a block device or stdout (-)
    Restore(ImageRestoreArgs),
    /// List the image snapshots
    Ls(ImageLsArgs),
    /// Show the extents that changed between two image snapshots
    Diff(ImageDiffArgs),
}

#[derive(Args, Debug)]
pub struct ImageBackupArgs {
    /// The block device (/dev/vdb, /dev/mapper/vg-lv) or image file
    #[arg(required_unless_present = "lvm_snapshot")]
    pub source: Option<PathBuf>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Host name recorded in the snapshot (default: this machine's)
    #[arg(long)]
    pub host: Option<String>,
    /// Chunk size: a power of two from 64K to 16M
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = parse_chunk)]
    pub chunk_size: u32,
    /// Freeze the file system mounted here while reading (fsfreeze), so
    /// the image is consistent; always thawed, also on error or Ctrl-C
    #[arg(long, value_name = "MOUNTPOINT")]
    pub freeze: Option<PathBuf>,
    /// Read an LVM snapshot of this logical volume, made before and removed
    /// after (the volume stays in use meanwhile); SOURCE defaults to /dev/VG/LV
    #[arg(long, value_name = "VG/LV")]
    pub lvm_snapshot: Option<String>,
    /// Storage class of the data packs (as for `backup`)
    #[arg(long, value_name = "CLASS", value_parser = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"])]
    pub data_storage_class: Option<String>,
    /// Size of GLACIER and DEEP_ARCHIVE data packs (16M to 1G)
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::settings::pack_size)]
    pub archive_pack_size: usize,
}

fn parse_chunk(s: &str) -> Result<u32, String> {
    let t = s.trim().to_ascii_uppercase();
    let (digits, shift) = match t.trim_end_matches('B').trim_end_matches('I') {
        x if x.ends_with('K') => (x.trim_end_matches('K').to_string(), 10),
        x if x.ends_with('M') => (x.trim_end_matches('M').to_string(), 20),
        x => (x.to_string(), 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a size such as 1M or 256K".to_string())?;
    coffer_core::check_chunk_size(n << shift).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub struct ImageRestoreArgs {
    /// The image snapshot (id, unique prefix or `latest`)
    pub snapshot: String,
    /// Where to: a file (created sparse), a block device, or - for stdout
    #[arg(long, value_name = "FILE|DEVICE|-")]
    pub to: PathBuf,
    /// Read back every chunk and check it against the snapshot
    #[arg(long)]
    pub verify: bool,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct ImageLsArgs {
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct ImageDiffArgs {
    /// The earlier image snapshot
    pub before: String,
    /// The later one
    pub after: String,
}
