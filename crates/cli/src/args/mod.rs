//! Command-line arguments, parsed once by clap. `settings.rs` turns them
//! into validated settings; each command lives in `commands/`.

#[cfg(feature = "ec2")]
mod ec2;
mod cold;
mod operations;
mod copy;
mod image;
mod mount;
mod rewrite;
mod tag;

pub use cold::ColdArgs;
pub use copy::CopyArgs;
#[cfg(feature = "ec2")]
pub use ec2::{
    Ec2Command, Ec2ForgetArgs, Ec2ImageArgs, Ec2LaunchArgs, Ec2ListArgs, Ec2RestoreArgs,
    Ec2SnapshotArgs,
};
pub use image::{ImageBackupArgs, ImageCommand, ImageDiffArgs, ImageLsArgs, ImageRestoreArgs};
pub use mount::MountArgs;
pub use operations::{
    ConfigCommand, HookArgs, ScheduleCommand, ScheduleDirArgs, ScheduleInstallArgs,
};
pub use rewrite::RewriteArgs;
pub use tag::TagArgs;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "coffer",
    version = crate::commands::meta::VERSION,
    about = "Cheap, fast, trustworthy backups of Linux servers to S3 and local disks"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Config file with [default] and [profile.NAME] sections (default: the
    /// first of $XDG_CONFIG_HOME/coffer/coffer.toml, /etc/coffer/coffer.toml)
    #[arg(long, global = true, env = "COFFER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Take options from this profile of the config file; options given on
    /// the command line beat it, and it beats the environment
    #[arg(long, global = true, env = "COFFER_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Repository: a local directory or s3://bucket/prefix (default:
    /// ~/.local/share/coffer/repo, the only location `backup` creates)
    #[arg(short = 'r', long, env = "COFFER_REPOSITORY", global = true)]
    pub repo: Option<String>,
    /// Read the password from this file (first line); beats the environment
    /// (COFFER_PASSWORD, COFFER_PASSWORD_FILE, COFFER_PASSWORD_COMMAND)
    #[arg(long, global = true, conflicts_with = "password_command")]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use the first line it prints as the
    /// password; beats the environment
    #[arg(long, global = true)]
    pub password_command: Option<String>,
    /// Show times in UTC, and let `forget` count days, weeks, months and
    /// years in UTC (default: the local time zone, TZ)
    #[arg(long, global = true)]
    pub utc: bool,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only warnings and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// S3 endpoint of an S3-compatible store (AWS_ENDPOINT_URL works too)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS region (default: the SDK's chain: AWS_REGION, profile, ...)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Use path-style S3 URLs (always on when an endpoint is given)
    #[arg(long, global = true)]
    pub s3_path_style: bool,
    /// When to send request checksums: when-required (default with a custom
    /// endpoint; works with Garage, Ceph, MinIO, SeaweedFS) or when-supported (AWS default)
    #[arg(long, global = true, value_name = "MODE", value_parser = ["when-required", "when-supported"])]
    pub s3_checksum: Option<String>,
    /// Cache of index, snapshot and tree data for S3 repositories
    /// (default: ~/.cache/coffer); only a cache, safe to delete
    #[arg(long, global = true, env = "COFFER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not use the local cache
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Concurrent requests to the store
    #[arg(long, global = true, default_value_t = 4, env = "COFFER_CONNECTIONS")]
    pub connections: usize,
    /// Seconds to wait for S3 to start answering a request (its upload
    /// included) before retrying it
    #[arg(long, global = true, env = "COFFER_S3_TIMEOUT", value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub s3_timeout: Option<u64>,
    /// Attempts per S3 request, the first included, before a command fails
    /// (default 10)
    #[arg(long, global = true, env = "COFFER_S3_ATTEMPTS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub s3_attempts: Option<u32>,
    /// After backup, restore, check, forget and prune, write what the run
    /// did to this file in the Prometheus text format (node_exporter's
    /// textfile collector); other profiles' and commands' samples are kept
    #[arg(long, global = true, env = "COFFER_METRICS_FILE", value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// When another process holds a conflicting lock (prune, check,
    /// forget), keep trying this long before giving up (e.g. 5m, 1h)
    #[arg(long, global = true, value_name = "DURATION")]
    pub retry_lock: Option<String>,
    /// Print more: each retried S3 request with its cause; twice (-vv),
    /// also each file a backup reads (new or modified), one line each
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new repository
    Init(InitArgs),
    /// Back up files and directories into a new snapshot
    Backup(BackupArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// List the files of a snapshot
    Ls(LsArgs),
    /// Restore a snapshot (or part of it) into a directory
    Restore(RestoreArgs),
    /// Check the repository's structure, and with --read-data all its data
    Check(CheckArgs),
    /// Print a decoded repository object as JSON (for debugging)
    Cat(CatArgs),
    /// Manage the passwords (key files) that open the repository
    #[command(subcommand)]
    Key(KeyCommand),
    /// Remove snapshots by retention policy (or by id); data stays until prune
    Forget(ForgetArgs),
    /// Add, remove or set the tags of snapshots (their data stays as it is)
    Tag(TagArgs),
    /// New snapshots without the files matching excludes (data untouched; prune frees it)
    Rewrite(RewriteArgs),
    /// Copy snapshots from another repository into this one (only what it lacks)
    Copy(CopyArgs),
    /// Whole block devices and disk images: backup, restore, ls, diff
    #[command(subcommand)]
    Image(ImageCommand),
    /// Show the snapshots as a read-only directory tree (FUSE) until Ctrl-C or umount
    Mount(MountArgs),
    /// Remove stale locks (or all locks) left by prune, check or forget
    Unlock(UnlockArgs),
    /// Remove data that no snapshot uses (safe while backups run)
    Prune(PruneArgs),
    /// Repair a damaged repository: rebuild the index, rewrite snapshots that lost data
    #[command(subcommand)]
    Repair(crate::commands::repair::RepairCommand),
    /// Show what changed between two snapshots
    Diff(DiffArgs),
    /// Sizes of snapshots: as restored, deduplicated, or as stored; with --cost, what the repository costs a month
    Stats(StatsArgs),
    /// Find which snapshots hold files matching a pattern
    Find(FindArgs),
    /// Write files and directories as one tar archive (.tar, .tar.gz, .tar.zst)
    /// to a file, stdout or S3, verified; no repository needed
    Archive(ArchiveArgs),
    /// Write a snapshot (or a path in it) as a standard tar stream
    Export(ExportArgs),
    /// Turn a tar archive (file, s3:// or -) into a snapshot, deduplicated
    Import(ImportArgs),
    /// Run a profile's backups on a systemd timer: install, remove, status
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages into DIR: coffer.1 and one per command (coffer-backup.1, …)
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the version, the git commit it was built from and its features
    Version,
    /// Show the settings in effect and where each comes from
    #[command(subcommand)]
    Config(ConfigCommand),
    /// EC2: snapshot an instance's volumes, make a bootable image, launch it (docs/EC2.md)
    #[command(subcommand)]
    #[cfg(feature = "ec2")]
    Ec2(Ec2Command),
}

impl Command {
    /// The name metrics are labelled with, for the commands that write them.
    pub fn metrics_name(&self) -> Option<&'static str> {
        match self {
            // A dry run did nothing a monitor should count as done.
            Command::Backup(a) if a.dry_run => None,
            Command::Restore(a) if a.dry_run => None,
            Command::Forget(a) if a.dry_run => None,
            Command::Prune(a) if a.dry_run => None,
            Command::Backup(_) => Some("backup"),
            Command::Restore(_) => Some("restore"),
            Command::Check(_) => Some("check"),
            Command::Forget(_) => Some("forget"),
            Command::Prune(_) => Some("prune"),
            _ => None,
        }
    }
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Create the S3 bucket if it does not exist
    #[arg(long)]
    pub create_bucket: bool,
    /// Lock every object written (S3 Object Lock, in this mode): no version
    /// can be deleted or overwritten before its date, whatever credentials
    /// are stolen (compliance), or without the bypass permission (governance)
    #[arg(long, value_name = "MODE", value_parser = ["governance", "compliance"], requires = "retention")]
    pub object_lock: Option<String>,
    /// How long each object stays locked after it is written; prune keeps
    /// what snapshots still need locked this far ahead (e.g. 30d)
    #[arg(long, value_name = "SPAN", requires = "object_lock")]
    pub retention: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags (comma-separated: all of them; repeat for any of several sets)
    #[arg(long = "tag", value_name = "TAG[,TAG]")]
    pub tags: Vec<String>,
    /// Only snapshots of this path (repeatable: all of them)
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Files and directories to back up (with --preset server: default /;
    /// with --stdin-from-command: the command and its arguments)
    #[arg(required_unless_present_any = ["files_from", "preset", "stdin"])]
    pub paths: Vec<PathBuf>,
    /// Back up what arrives on stdin as one file (named by --stdin-filename)
    #[arg(long, conflicts_with_all = ["paths", "stdin_from_command", "files_from", "preset"])]
    pub stdin: bool,
    /// Run the command given after `--` and back up what it prints as one
    /// file; a command that fails or is killed leaves no snapshot
    #[arg(long, conflicts_with_all = ["files_from", "preset"])]
    pub stdin_from_command: bool,
    /// The name of the stream's file in the snapshot, e.g. db.sql or dumps/db.sql
    #[arg(long, value_name = "NAME", default_value = "stdin")]
    pub stdin_filename: String,
    /// Also back up the paths listed in this file (one per line, '#' comments)
    #[arg(long = "files-from", value_name = "FILE")]
    pub files_from: Vec<PathBuf>,
    /// A recommended selection: `server` is / on one filesystem without the
    /// contents of /proc /sys /dev /run /tmp /var/tmp /var/cache, nor swap files
    #[arg(long, value_name = "NAME", value_parser = ["server"])]
    pub preset: Option<String>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Host name recorded in the snapshot (default: this machine's)
    #[arg(long)]
    pub host: Option<String>,
    /// Exclude paths matching this glob (repeatable; gitignore-style: a leading '/'
    /// anchors at the filesystem root, else it matches at any depth; a trailing '/'
    /// matches directories only)
    #[arg(short = 'e', long = "exclude")]
    pub excludes: Vec<String>,
    /// Read patterns to exclude from this file (one per line, '#' comments)
    #[arg(long = "exclude-file")]
    pub exclude_files: Vec<PathBuf>,
    /// Keep only this file of directories that contain it (repeatable)
    #[arg(long = "exclude-if-present", value_name = "NAME")]
    pub exclude_if_present: Vec<String>,
    /// Keep only CACHEDIR.TAG of directories tagged as caches (bford.info/cachedir)
    #[arg(long)]
    pub exclude_caches: bool,
    /// Do not cross filesystem boundaries below the given paths
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Compare with this snapshot instead of the latest of this host and paths
    #[arg(long)]
    pub parent: Option<String>,
    /// Read every file, even those the parent snapshot says are unchanged
    #[arg(long)]
    pub force: bool,
    /// Read and chunk as a backup would and list the new and modified files;
    /// write nothing to the repository (the summary says what would be added)
    #[arg(short = 'n', long, conflicts_with_all = ["stdin", "stdin_from_command"])]
    pub dry_run: bool,
    /// Reader threads (default: number of cores + 1)
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub hooks: HookArgs,
    /// Storage class of data packs on S3 (metadata always stays STANDARD);
    /// GLACIER and DEEP_ARCHIVE packs are 64 MiB or more and must be
    /// restored before a restore can read them (see --cold-restore)
    #[arg(long, value_name = "CLASS", value_parser = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"])]
    pub data_storage_class: Option<String>,
    /// Size of GLACIER and DEEP_ARCHIVE data packs (16M to 1G, at least the
    /// repository's pack size): larger means fewer objects to pay
    /// per-object fees on, and more bytes restored per pack
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::settings::pack_size)]
    pub archive_pack_size: usize,
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot: `latest`, an id or a unique id prefix
    pub snapshot: String,
    /// Path in the snapshot to list (default: everything)
    pub path: Option<PathBuf>,
    /// Only the entries directly in PATH, not below
    #[arg(long)]
    pub no_recursive: bool,
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot: `latest`, an id or a unique id prefix
    pub snapshot: String,
    /// Directory to restore into (snapshot paths are recreated below it)
    #[arg(short, long)]
    pub target: PathBuf,
    /// Restore only paths matching this glob, and what is below them (repeatable)
    #[arg(short = 'i', long = "include")]
    pub include: Vec<String>,
    /// Do not restore paths matching this glob (repeatable)
    #[arg(short = 'e', long = "exclude")]
    pub exclude: Vec<String>,
    /// Restore owners by uid/gid, not by user and group name
    #[arg(long)]
    pub numeric_owner: bool,
    /// Keep setuid and setgid bits when owners are not restored (a restore
    /// by a user other than root); by default they are dropped
    #[arg(long)]
    pub keep_setid: bool,
    /// What to do with entries that already exist: always (replace), if-changed
    /// (type, size or mtime differ), if-newer (snapshot's mtime is newer), never
    #[arg(long, value_name = "WHEN", default_value = "always", value_parser = ["always", "if-changed", "if-newer", "never"])]
    pub overwrite: String,
    /// Remove what the target has below the snapshot's paths but the snapshot does not
    #[arg(long)]
    pub delete: bool,
    /// List what would change (new, replace, update, delete); change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Read every restored file back and check it against the snapshot
    #[arg(long)]
    pub verify: bool,
    /// Writer threads (default: number of cores)
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub filter: Filter,
    #[command(flatten)]
    pub cold: ColdArgs,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also download every pack, decrypt every blob and verify its hash
    #[arg(long, conflicts_with = "read_data_subset")]
    pub read_data: bool,
    /// Read only part of the packs: n/t (the n-th of t fixed groups) or p% (a random share)
    #[arg(long, value_name = "n/t|p%")]
    pub read_data_subset: Option<String>,
    /// Take no lock (for credentials that may not write or delete); prune's records are still respected
    #[arg(long)]
    pub no_lock: bool,
    #[command(flatten)]
    pub cold: ColdArgs,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// config | snapshot ID | tree ID | index ID | key ID | pack ID
    pub kind: String,
    pub id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Add a password that opens the repository
    Add(NewPasswordArgs),
    /// List key files
    List,
    /// Remove a key file (not the one in use)
    Remove { id: String },
    /// Change the password of the key in use
    Passwd(NewPasswordArgs),
}

#[derive(Args, Debug)]
pub struct NewPasswordArgs {
    /// Read the new password from this file (beats COFFER_NEW_PASSWORD and
    /// COFFER_NEW_PASSWORD_FILE)
    #[arg(long)]
    pub new_password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Remove exactly these snapshots (ids or unique prefixes) instead of applying a policy
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub keep: Keep,
    /// Apply the policy to each group of snapshots sharing these fields
    #[arg(long, value_name = "host,paths,tags", default_value = "host,paths")]
    pub group_by: String,
    /// Show what would be removed; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Prune afterwards
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub tuning: PruneTuning,
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug, Clone)]
pub struct PruneTuning {
    /// Unused data tolerated in kept packs before they are repacked: p%, a size (500M) or unlimited
    #[arg(long, value_name = "LIMIT", default_value = "5%")]
    pub max_unused: String,
    /// How long condemned packs wait before deletion; longer than any backup runs
    #[arg(long, value_name = "SPAN", default_value = "24h")]
    pub grace: String,
    /// Delete condemned packs at once (only when no backup can be running)
    #[arg(long)]
    pub now: bool,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Show what would be removed; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub tuning: PruneTuning,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older snapshot: `latest`, an id or a unique id prefix
    pub snapshot_a: String,
    /// The newer snapshot
    pub snapshot_b: String,
    /// Also list paths whose only change is metadata (owner, mode, times, xattrs)
    #[arg(long)]
    pub metadata: bool,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Snapshots to count (default: all that match the filter)
    pub snapshots: Vec<String>,
    /// restore-size: files as restored; deduplicated: unique content; raw: bytes stored for it
    #[arg(long, value_name = "MODE", default_value = "restore-size", value_parser = ["restore-size", "deduplicated", "raw"])]
    pub mode: String,
    /// What the whole repository costs a month on S3, by storage class, beside EBS snapshots and nightly tar.gz
    #[arg(long)]
    pub cost: bool,
    /// With --cost: prices to use instead of the built-in us-east-1 table (JSON: the `prices` object `stats --cost --json` prints)
    #[arg(long, value_name = "FILE")]
    pub price_file: Option<std::path::PathBuf>,
    /// With --cost: days a nightly full tar.gz would be kept, for the comparison
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub tar_days: u32,
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct FindArgs {
    /// Glob matched against the name, or against the whole path if it contains '/'
    pub pattern: String,
    /// Match case-insensitively
    #[arg(short, long)]
    pub ignore_case: bool,
    /// Only in these snapshots (repeatable; default: all that match the filter)
    #[arg(short, long = "snapshot", value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub filter: Filter,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Remove every lock, not only stale ones (only when no prune, check or forget runs)
    #[arg(long)]
    pub remove_all: bool,
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// Files and directories to archive
    #[arg(required_unless_present = "cleanup")]
    pub paths: Vec<PathBuf>,
    /// Where the archive goes: s3://bucket/key.tar.gz, a local file, or - for stdout
    #[arg(long, value_name = "DEST", required_unless_present = "cleanup")]
    pub to: Option<String>,
    /// tar, tar.gz or tar.zst (default: from the destination's extension)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Compression level (gzip 1-9, default 6; zstd 1-19, default 3)
    #[arg(long)]
    pub level: Option<i32>,
    /// Compression threads (default: number of cores)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Exclude paths matching this glob (repeatable; as for backup)
    #[arg(short = 'e', long = "exclude")]
    pub excludes: Vec<String>,
    /// Read patterns to exclude from this file (one per line, '#' comments)
    #[arg(long = "exclude-file")]
    pub exclude_files: Vec<PathBuf>,
    /// Do not cross filesystem boundaries below the given paths
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Storage class of the S3 object
    #[arg(long, value_name = "CLASS", value_parser = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"])]
    pub storage_class: Option<String>,
    /// Abort the incomplete multipart uploads (of killed runs) under the
    /// s3:// prefix given with --to (or as the only path), then exit
    #[arg(long)]
    pub cleanup: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Snapshot: `latest`, an id or a unique id prefix
    pub snapshot: String,
    /// Path in the snapshot to export (default: everything)
    pub path: Option<PathBuf>,
    /// tar, tar.gz or tar.zst (default: from the output's extension; required for stdout);
    /// raw: an image snapshot as the raw image
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Where the archive goes: a file, s3://bucket/key, or - for stdout (default)
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: String,
    /// Compression level (gzip 1-9, default 6; zstd 1-19, default 3)
    #[arg(long)]
    pub level: Option<i32>,
    /// Compression threads (default: number of cores)
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub filter: Filter,
    #[command(flatten)]
    pub cold: ColdArgs,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The tar archive: a file, s3://bucket/key, or - for stdin (.tar, .tar.gz, .tar.zst;
    /// the compression is recognized from the content)
    pub archive: String,
    /// Host name recorded in the snapshot (default: this machine's)
    #[arg(long)]
    pub host: Option<String>,
    /// Snapshot time (RFC 3339, e.g. 2024-05-01T03:00:00Z; default: the newest mtime in the archive)
    #[arg(long)]
    pub time: Option<String>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Directory the archive's relative names are placed under (default: /)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub prefix: PathBuf,
}

/// A retention policy's flags, shared by `forget` (snapshots) and
/// `ec2 forget` (snapshot sets).
#[derive(Args, Debug, Clone, Default)]
pub struct Keep {
    /// Keep the N newest snapshots (sets)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_last: u32,
    /// Keep the newest of each of the last N hours that have snapshots
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_hourly: u32,
    /// Keep the newest of each of the last N days that have snapshots
    /// (`forget`: local days, UTC days with --utc; `ec2 forget`: UTC days)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_daily: u32,
    /// Keep the newest of each of the last N ISO weeks that have snapshots
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_weekly: u32,
    /// Keep the newest of each of the last N months that have snapshots
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_monthly: u32,
    /// Keep the newest of each of the last N years that have snapshots
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_yearly: u32,
    /// Keep everything newer than the newest one minus this span (e.g. 2d, 1y2m3d4h)
    #[arg(long, value_name = "SPAN")]
    pub keep_within: Option<String>,
    /// Keep what has all of these tags (comma-separated; repeat for
    /// alternatives; EC2 sets: KEY=VALUE tags)
    #[arg(long = "keep-tag", value_name = "TAG[,TAG]")]
    pub keep_tags: Vec<String>,
}
