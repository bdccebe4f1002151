//! Validated settings built once from the arguments and the environment:
//! where the repository is, and how to get its password.

use crate::args::{Filter, Global};
use coffer_core::{ChecksumMode, S3Settings};
use coffer_core::{Error, Result};
use coffer_core::{InitOptions, Repository, SnapshotFilter, SnapshotRef};
use coffer_core::{RequestLog, Store};
use coffer_core::{StoreOptions, open_store};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
pub struct Settings {
    pub repo: String,
    pub json: bool,
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    pub connections: usize,
    store: StoreOptions,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
    /// Whether `repo` is the embedded default (the only location a
    /// `backup` may create a repository at).
    default_repo: bool,
    /// Show times (and count retention periods) in UTC.
    pub utc: bool,
    /// How long to wait for another process's lock (`--retry-lock`).
    lock_wait: std::time::Duration,
    /// Whether this is the source of a `copy` (its password comes from the
    /// `--from-*` options and COFFER_FROM_* variables).
    from: bool,
    /// `--config` (or COFFER_CONFIG).
    pub config: Option<PathBuf>,
}

/// `$XDG_DATA_HOME/coffer/repo`, else `~/.local/share/coffer/repo`.
pub fn default_repo() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("coffer/repo"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::invalid("no repository given (--repo or COFFER_REPOSITORY) and HOME is not set")
        })?;
    Ok(PathBuf::from(home).join(".local/share/coffer/repo"))
}

/// A new local repository goes into a new or empty directory only: one
/// that holds anything else is a mistyped path (`/home`, a mount point),
/// and mixing a repository into it would make `prune` and the files'
/// owners fight over it.
fn refuse_non_empty(dir: &str) -> Result<()> {
    let has_entries = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if has_entries {
        return Err(Error::invalid(
            "directory is not empty and holds no repository (init needs a new or empty directory)",
        )
        .with_location(dir));
    }
    Ok(())
}

/// Refuses a location that looks like a URL but is not one coffer knows
/// (`s3:/bucket`, `s3:bucket`, `S3://…`, `file://…`): taken as a local path
/// it would silently make a directory named `s3:`. A local path that
/// really starts with `NAME:` can be written `./NAME:…` or `local:NAME:…`.
fn check_location(repo: &str) -> Result<()> {
    if repo.starts_with("s3://") || repo.starts_with("local:") {
        return Ok(());
    }
    let scheme = repo.split_once(':').map(|(s, _)| s);
    if let Some(s) = scheme
        && !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        let hint = if s.eq_ignore_ascii_case("s3") {
            "write s3://bucket/prefix"
        } else {
            "use s3://bucket/prefix, or ./PATH for a local directory"
        };
        return Err(
            Error::invalid(format!("malformed repository location ({hint})")).with_location(repo),
        );
    }
    Ok(())
}

/// Where S3 requests and retries are counted; with `-v` each retry is
/// printed as it happens.
fn request_log(verbose: bool) -> Arc<RequestLog> {
    if !verbose {
        return Arc::default();
    }
    RequestLog::with_observer(|r| {
        eprintln!(
            "retry: {} {} (attempt {}) after {}",
            r.method, r.url, r.attempt, r.cause
        )
    })
}

/// `--cache-dir`, else `$XDG_CACHE_HOME/coffer`, else `~/.cache/coffer`;
/// none with `--no-cache` (or when no home is known).
fn cache_dir(g: &Global) -> Result<Option<PathBuf>> {
    if g.no_cache {
        return Ok(None);
    }
    if let Some(d) = &g.cache_dir {
        return Ok(Some(d.clone()));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(Some(PathBuf::from(d).join("coffer")));
    }
    Ok(std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/coffer")))
}

impl Settings {
    pub fn new(g: &Global) -> Result<Self> {
        // Without HOME there is no default: commands that need no
        // repository (archive) still run; the others fail when they open it
        // (`store`).
        let default = default_repo()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (repo, default_repo) = match &g.repo {
            Some(r) if !r.is_empty() => (r.clone(), !default.is_empty() && *r == default),
            _ => (default, true),
        };
        Ok(Settings {
            repo,
            json: g.json,
            quiet: g.quiet,
            verbose: g.verbose,
            connections: g.connections.max(1),
            store: StoreOptions {
                cache_dir: cache_dir(g)?,
                s3: S3Settings {
                    endpoint: g.endpoint_url.clone(),
                    region: g.region.clone(),
                    path_style: g.s3_path_style,
                    checksum: g.s3_checksum.as_deref().map(|m| match m {
                        "when-supported" => ChecksumMode::WhenSupported,
                        _ => ChecksumMode::WhenRequired,
                    }),
                    connections: g.connections.max(1),
                    read_timeout: g.s3_timeout.map(std::time::Duration::from_secs),
                    max_attempts: g.s3_attempts,
                    requests: request_log(g.verbose > 0),
                    // Keys come from the SDK's chain, as in the AWS CLI.
                    credentials: None,
                },
            },
            password_file: g.password_file.clone(),
            password_command: g.password_command.clone(),
            default_repo,
            utc: g.utc,
            lock_wait: match &g.retry_lock {
                Some(d) => coffer_core::parse_duration(d)
                    .map_err(|e| Error::invalid(format!("--retry-lock: {e}")))?,
                None => std::time::Duration::ZERO,
            },
            from: false,
            config: g.config.clone(),
        })
    }

    /// The settings of a `copy`'s source: this run's options with another
    /// repository, password source and (optionally) endpoint.
    pub fn source(
        &self,
        repo: String,
        (password_file, password_command): (Option<PathBuf>, Option<String>),
        endpoint: Option<String>,
    ) -> Result<Settings> {
        check_location(&repo)?;
        let mut s = self.clone();
        s.repo = repo;
        s.default_repo = false;
        s.password_file = password_file;
        s.password_command = password_command;
        s.from = true;
        s.store.s3.requests = request_log(self.verbose > 0);
        if endpoint.is_some() {
            s.store.s3.endpoint = endpoint;
        }
        Ok(s)
    }

    /// How to reach S3 (for objects outside a repository: archives).
    pub fn s3(&self) -> &S3Settings {
        &self.store.s3
    }

    /// The S3 retries of this run, by cause (for `--json` summaries).
    pub fn retries(&self) -> serde_json::Value {
        let log = &self.store.s3.requests;
        serde_json::json!({"total": log.total(), "by_cause": log.by_cause()})
    }

    /// The S3 requests of this run, by the kind S3 bills, and the bytes
    /// sent and received (for `--json` summaries; all zero for a local
    /// repository).
    pub fn requests(&self) -> serde_json::Value {
        let log = &self.store.s3.requests;
        let by_kind = log.by_kind();
        let (sent, received) = log.bytes();
        serde_json::json!({
            "total": by_kind.values().sum::<u64>(),
            "by_kind": by_kind,
            "bytes_sent": sent,
            "bytes_received": received,
        })
    }

    /// Where the S3 store counts requests (recorded in snapshots); `None`
    /// for a local repository.
    pub fn request_log(&self) -> Option<Arc<coffer_core::RequestLog>> {
        (!self.is_local()).then(|| Arc::clone(&self.store.s3.requests))
    }

    /// This repository's directory in the local cache (`None` with
    /// `--no-cache`): prune keeps its reference counts there.
    pub fn repo_cache_dir(&self) -> Option<PathBuf> {
        coffer_core::cache_dir_for(&self.repo, self.store.cache_dir.as_deref())
    }

    /// The same settings without the local cache: `check` must read what is
    /// in the store, not a cached copy of it.
    pub fn uncached(&self) -> Settings {
        let mut s = self.clone();
        s.store.cache_dir = None;
        s
    }

    pub fn store(&self) -> Result<Arc<dyn Store>> {
        if self.repo.is_empty() {
            default_repo()?;
        }
        check_location(&self.repo)?;
        open_store(&self.repo, &self.store)
    }

    /// Makes sure the S3 bucket exists before `init`: creates it when
    /// asked, else fails with a hint.
    /// With `locked`, the bucket must have Object Lock (created so when
    /// `create` is set).
    pub fn prepare_bucket(&self, create: bool, locked: bool) -> Result<()> {
        check_location(&self.repo)?;
        if self.is_local() {
            if locked {
                return Err(Error::invalid(
                    "--object-lock is for S3 repositories (S3 Object Lock); a local disk has no such lock",
                ));
            }
            return Ok(());
        }
        #[cfg(feature = "s3")]
        {
            let s3 = coffer_core::connect_s3(&self.repo, &self.store.s3)?;
            match (create, locked) {
                (true, true) => s3.create_locked_bucket(),
                (true, false) => s3.create_bucket(),
                (false, true) => s3.check_bucket().and_then(|_| s3.require_lock()),
                (false, false) => s3.check_bucket(),
            }
        }
        #[cfg(not(feature = "s3"))]
        {
            let _ = (create, locked);
            Err(Error::invalid(
                "this build of coffer has no S3 support (built without the `s3` feature)",
            )
            .with_location(&self.repo))
        }
    }

    /// Whether the repository is a local directory (and so may be created
    /// by `backup` when it does not exist yet).
    pub fn is_local(&self) -> bool {
        !self.repo.contains("://")
    }

    /// The password from the one source [`PasswordSource::choose`] picked,
    /// else a no-echo prompt on the terminal. An empty password is refused.
    pub fn password(&self, confirm: bool) -> Result<Vec<u8>> {
        match self.from {
            false => {
                PasswordSource::choose(&self.password_file, &self.password_command, &REPO_VARS)?
                    .read("password", confirm)
            }
            true => {
                PasswordSource::choose(&self.password_file, &self.password_command, &FROM_VARS)?
                    .read("source repository's password", confirm)
            }
        }
    }

    pub fn open(&self) -> Result<Arc<Repository>> {
        let pw = self.password(false)?;
        let repo = Repository::open(self.store()?, &pw)?;
        repo.set_lock_wait(self.lock_wait);
        for (_, e) in repo.skipped_index() {
            eprintln!(
                "coffer: warning: damaged index object skipped (`coffer repair index` rebuilds the index): {e}"
            );
        }
        Ok(Arc::new(repo))
    }

    pub fn open_without_index(&self) -> Result<Repository> {
        let pw = self.password(false)?;
        let repo = Repository::open_without_index(self.store()?, &pw)?;
        repo.set_lock_wait(self.lock_wait);
        Ok(repo)
    }

    /// Creates the repository; used by `init` and by a first `backup` to
    /// the local default.
    pub fn init(&self) -> Result<Arc<Repository>> {
        self.init_with(InitOptions::default())
    }

    /// [`init`](Self::init) with these options (`init --object-lock`).
    pub fn init_with(&self, opts: InitOptions) -> Result<Arc<Repository>> {
        let store = self.store()?;
        if self.is_local() && !Repository::exists(store.as_ref())? {
            refuse_non_empty(self.repo.strip_prefix("local:").unwrap_or(&self.repo))?;
        }
        let pw = self.password(true)?;
        Ok(Arc::new(Repository::init(store, &pw, opts)?))
    }

    /// Opens the repository, creating it first only if it is the embedded
    /// default and absent: anywhere else a missing repository is a typo, an
    /// unmounted disk or a wrong bucket, and `open` says so (exit 10, with
    /// the `coffer init` hint). Returns whether it was created.
    pub fn open_or_create_default(&self) -> Result<(Arc<Repository>, bool)> {
        let store = self.store()?;
        if self.default_repo && !Repository::exists(store.as_ref())? {
            return Ok((self.init()?, true));
        }
        Ok((self.open()?, false))
    }

    /// [`open_or_create_default`](Self::open_or_create_default), saying on
    /// stderr when it created the repository.
    pub fn open_or_create_announced(&self) -> Result<Arc<Repository>> {
        let (repo, created) = self.open_or_create_default()?;
        if created && !self.quiet && !self.json {
            eprintln!(
                "created new repository {} at {}",
                repo.config().id.short(),
                self.repo
            );
        }
        Ok(repo)
    }
}

/// The password for a new key: --new-password-file, else COFFER_NEW_PASSWORD
/// or COFFER_NEW_PASSWORD_FILE (not both), else a prompt twice.
pub fn new_password(file: &Option<PathBuf>) -> Result<Vec<u8>> {
    let source = match file {
        Some(f) => PasswordSource::File(f.clone(), "--new-password-file"),
        None => from_env(&[
            ("COFFER_NEW_PASSWORD", Named::Value),
            ("COFFER_NEW_PASSWORD_FILE", Named::File),
        ])?
        .unwrap_or(PasswordSource::Prompt(
            "no new password given: set COFFER_NEW_PASSWORD or COFFER_NEW_PASSWORD_FILE, or pass --new-password-file",
        )),
    };
    source.read("new password", true)
}

/// Where the password comes from. Exactly one source is used: a flag on
/// the command line beats the environment, and two sources at the same
/// level are an error rather than a guess (a repository created with the
/// password nobody meant to use is as lost as one without a password).
#[derive(Clone, Debug)]
enum PasswordSource {
    /// The password itself, and the variable that held it.
    Value(Vec<u8>, &'static str),
    /// A file whose first line is the password, and what named it.
    File(PathBuf, &'static str),
    /// A shell command printing the password, and what named it (the
    /// command itself is never printed: it may hold a secret).
    Command(String, &'static str),
    /// Ask on the terminal; without one, fail with this hint.
    Prompt(&'static str),
}

#[derive(Clone, Copy)]
enum Named {
    Value,
    File,
    Command,
}

/// The options and variables a password may come from.
struct PasswordVars {
    flags: (&'static str, &'static str),
    env: [(&'static str, Named); 3],
    /// The error when none is given and there is no terminal.
    missing: &'static str,
}

/// A repository's password: `--password-file`, `--password-command`,
/// COFFER_PASSWORD, COFFER_PASSWORD_FILE, COFFER_PASSWORD_COMMAND.
const REPO_VARS: PasswordVars = PasswordVars {
    flags: ("--password-file", "--password-command"),
    env: [
        ("COFFER_PASSWORD", Named::Value),
        ("COFFER_PASSWORD_FILE", Named::File),
        ("COFFER_PASSWORD_COMMAND", Named::Command),
    ],
    missing: "no password given: set COFFER_PASSWORD, COFFER_PASSWORD_FILE or --password-command",
};

/// A `copy`'s source: the same with `from`.
const FROM_VARS: PasswordVars = PasswordVars {
    flags: ("--from-password-file", "--from-password-command"),
    env: [
        ("COFFER_FROM_PASSWORD", Named::Value),
        ("COFFER_FROM_PASSWORD_FILE", Named::File),
        ("COFFER_FROM_PASSWORD_COMMAND", Named::Command),
    ],
    missing: "no password given for the repository to copy from: set COFFER_FROM_PASSWORD, COFFER_FROM_PASSWORD_FILE or --from-password-file",
};

impl PasswordSource {
    /// The file or command option (`vars.flags`), else the one of the
    /// variables `vars.env` that is set, else the prompt.
    fn choose(
        file: &Option<PathBuf>,
        command: &Option<String>,
        vars: &PasswordVars,
    ) -> Result<PasswordSource> {
        let (file_flag, command_flag) = vars.flags;
        match (file, command) {
            (Some(_), Some(_)) => Err(Error::invalid(format!(
                "give either {file_flag} or {command_flag}, not both"
            ))),
            (Some(f), None) => Ok(PasswordSource::File(f.clone(), file_flag)),
            (None, Some(c)) => Ok(PasswordSource::Command(c.clone(), command_flag)),
            (None, None) => {
                Ok(from_env(&vars.env)?.unwrap_or(PasswordSource::Prompt(vars.missing)))
            }
        }
    }

    /// The password (`what` names it in the prompt and errors); an empty
    /// one is refused.
    fn read(&self, what: &str, confirm: bool) -> Result<Vec<u8>> {
        let (pw, named) = match self {
            PasswordSource::Value(v, n) => (v.clone(), *n),
            PasswordSource::File(f, n) => (read_first_line_file(f)?, *n),
            PasswordSource::Command(cmd, n) => (run_password_command(cmd, n)?, *n),
            PasswordSource::Prompt(missing) => (prompt(what, confirm, missing)?, "terminal"),
        };
        if pw.is_empty() {
            return Err(Error::invalid(format!("the {what} is empty")).with_location(named));
        }
        Ok(pw)
    }
}

/// The one variable of `vars` that is set, as a source; an error naming
/// both when two are set.
fn from_env(vars: &[(&'static str, Named)]) -> Result<Option<PasswordSource>> {
    let set: Vec<_> = vars
        .iter()
        .filter_map(|&(name, kind)| std::env::var_os(name).map(|v| (name, kind, v)))
        .collect();
    if let [a, b, ..] = &set[..] {
        return Err(Error::invalid(format!(
            "both {} and {} are set: unset one (or pass --password-file / --password-command, which beat the environment)",
            a.0, b.0
        )));
    }
    Ok(set.into_iter().next().map(|(name, kind, v)| match kind {
        Named::Value => PasswordSource::Value(std::os::unix::ffi::OsStringExt::into_vec(v), name),
        Named::File => PasswordSource::File(PathBuf::from(v), name),
        Named::Command => PasswordSource::Command(v.to_string_lossy().into_owned(), name),
    }))
}

/// Runs a password command; errors name the flag or variable that gave
/// it, never the command line (it may carry a secret).
fn run_password_command(cmd: &str, named: &str) -> Result<Vec<u8>> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Error::io("cannot run the password command", named, e))?;
    if !out.status.success() {
        return Err(
            Error::invalid(format!("the password command failed ({})", out.status))
                .with_location(named),
        );
    }
    Ok(first_line(&out.stdout))
}

fn first_line(b: &[u8]) -> Vec<u8> {
    let line = b.split(|&c| c == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line).to_vec()
}

fn read_first_line_file(f: &PathBuf) -> Result<Vec<u8>> {
    let b = std::fs::read(f).map_err(|e| Error::io("cannot read password file", f.display(), e))?;
    Ok(first_line(&b))
}

fn prompt(what: &str, confirm: bool, missing: &str) -> Result<Vec<u8>> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(format!("{missing} (no terminal to ask on)")));
    }
    let ask = |p: &str| {
        rpassword::prompt_password(p).map_err(|e| Error::io("cannot read password", "terminal", e))
    };
    let pw = ask(&format!("enter {what}: "))?;
    if confirm && ask(&format!("enter {what} again: "))? != pw {
        return Err(Error::invalid("the passwords do not match"));
    }
    Ok(pw.into_bytes())
}

pub fn snapshot_filter(f: &Filter) -> SnapshotFilter {
    SnapshotFilter {
        hosts: f.hosts.clone(),
        tags: f.tags.clone(),
        paths: f.paths.clone(),
    }
}

/// The snapshots named by `selectors` (ids, prefixes, `latest`), or every
/// snapshot the filter matches when none is named.
pub fn select_snapshots(
    repo: &Repository,
    selectors: &[String],
    filter: &Filter,
) -> Result<Vec<SnapshotRef>> {
    let filter = snapshot_filter(filter);
    if selectors.is_empty() {
        Ok(repo
            .snapshots()?
            .into_iter()
            .filter(|r| filter.matches(&r.snapshot))
            .collect())
    } else {
        selectors
            .iter()
            .map(|sel| repo.find_snapshot(sel, &filter))
            .collect()
    }
}

/// An `--archive-pack-size` value: `64M`, `256MiB`, `1G` (16 MiB to 1 GiB).
pub fn pack_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let shift = match unit.to_ascii_uppercase().as_str() {
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err("expected a size such as 64M or 1G".into()),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| "expected a size such as 64M or 1G")?;
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .unwrap_or(usize::MAX);
    if (16 << 20..=1 << 30).contains(&bytes) {
        Ok(bytes)
    } else {
        Err("must be from 16M to 1G".into())
    }
}

/// A `--storage-class` / `--data-storage-class` value.
pub fn storage_class(name: Option<&str>) -> Result<coffer_core::StorageClass> {
    use coffer_core::StorageClass as C;
    Ok(match name {
        None | Some("STANDARD") => C::Standard,
        Some("STANDARD_IA") => C::StandardIa,
        Some("ONEZONE_IA") => C::OnezoneIa,
        Some("INTELLIGENT_TIERING") => C::IntelligentTiering,
        Some("GLACIER_IR") => C::GlacierIr,
        Some("GLACIER") => C::Glacier,
        Some("DEEP_ARCHIVE") => C::DeepArchive,
        Some(other) => return Err(Error::invalid(format!("unknown storage class {other}"))),
    })
}

/// The retention policy the `--keep-*` flags give.
pub fn policy(k: &crate::args::Keep) -> Result<coffer_core::Policy> {
    Ok(coffer_core::Policy {
        last: k.keep_last,
        hourly: k.keep_hourly,
        daily: k.keep_daily,
        weekly: k.keep_weekly,
        monthly: k.keep_monthly,
        yearly: k.keep_yearly,
        within: k
            .keep_within
            .as_deref()
            .map(coffer_core::Span::parse)
            .transpose()?,
        tags: k.keep_tags.clone(),
    })
}
