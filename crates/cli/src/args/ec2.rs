//! Arguments of the EC2 commands (`coffer ec2 …`).

use super::Keep;
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum Ec2Command {
    /// Take a crash-consistent snapshot set of an instance's EBS volumes
    Snapshot(Ec2SnapshotArgs),
    /// Register a bootable image (HVM, settings of the source) from a snapshot set
    Image(Ec2ImageArgs),
    /// Launch an instance from an image, configured like the original
    Launch(Ec2LaunchArgs),
    /// List the snapshot sets and images coffer made
    List(Ec2ListArgs),
    /// Remove snapshot sets by retention policy (and the images made from them)
    Forget(Ec2ForgetArgs),
    /// Newest (or chosen) snapshot set -> image -> instance like the original
    Restore(Ec2RestoreArgs),
}

#[derive(Args, Debug)]
pub struct Ec2SnapshotArgs {
    /// The instance to snapshot (i-...)
    #[arg(long)]
    pub instance: String,
    /// Which EBS volumes: the root volume, or all attached ones (one point in time)
    #[arg(long, default_value = "all", value_parser = ["root", "all"])]
    pub volumes: String,
    /// Tag the snapshots KEY=VALUE (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Wait until the snapshots are completed, showing progress
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 90s, 30m, 2h)
    #[arg(long, value_name = "DURATION", default_value = "2h")]
    pub timeout: String,
    /// Seconds between progress checks
    #[arg(long, value_name = "SECONDS", default_value_t = 15, hide = true)]
    pub poll_interval: u64,
    /// Show what would be snapshotted; create nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct Ec2ImageArgs {
    /// The instance the snapshot set was taken of
    #[arg(long = "from", value_name = "INSTANCE")]
    pub from: String,
    /// The snapshot set (default: the newest of the instance)
    #[arg(long, value_name = "ID")]
    pub snapshot_set: Option<String>,
    /// Name of the new image (unique in the account and region)
    #[arg(long)]
    pub name: String,
    /// Show the RegisterImage request; register nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct Ec2LaunchArgs {
    /// The image to launch (ami-...)
    #[arg(long)]
    pub image: String,
    /// Copy this instance's type, subnet, security groups, key pair, IAM profile and tags
    /// (default: the instance a coffer image was made from)
    #[arg(long, value_name = "INSTANCE")]
    pub like: Option<String>,
    /// Instance type instead of the original's
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// How long to wait for a pending image to become available
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub timeout: String,
    /// Show the RunInstances request; launch nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct Ec2ListArgs {
    /// Only this instance's sets and images
    #[arg(long)]
    pub instance: Option<String>,
}

#[derive(Args, Debug)]
pub struct Ec2ForgetArgs {
    #[command(flatten)]
    pub keep: Keep,
    /// Only this instance's sets (default: every instance, each on its own)
    #[arg(long)]
    pub instance: Option<String>,
    /// Show what would be removed; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct Ec2RestoreArgs {
    /// The instance to bring back (it may be terminated)
    #[arg(long)]
    pub instance: String,
    /// Use the newest set taken at or before this time (RFC 3339 or YYYY-MM-DD[ HH:MM], UTC)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Instance type instead of the original's
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// How long to wait for the new image to become available
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub timeout: String,
    /// Show what would be done; create nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}
