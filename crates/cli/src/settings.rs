//! Validated settings built once from the arguments and the environment:
//! where the repository is, and how to get its password.

use crate::args::{Filter, Global};
use coffer_core::repo::{InitOptions, Repository, SnapshotFilter, SnapshotRef};
use coffer_core::store::Store;
use coffer_core::store::open::{StoreOptions, open_store};
use coffer_core::store::s3::{ChecksumMode, S3Settings};
use coffer_core::{Error, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
pub struct Settings {
    pub repo: String,
    pub json: bool,
    pub quiet: bool,
    pub connections: usize,
    store: StoreOptions,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
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
        let repo = match &g.repo {
            Some(r) if !r.is_empty() => r.clone(),
            // Without HOME there is no default: commands that need no
            // repository (archive) still run; the others fail when they
            // open it (`store`).
            _ => default_repo()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        Ok(Settings {
            repo,
            json: g.json,
            quiet: g.quiet,
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
                },
            },
            password_file: g.password_file.clone(),
            password_command: g.password_command.clone(),
        })
    }

    /// How to reach S3 (for objects outside a repository: archives).
    pub fn s3(&self) -> &S3Settings {
        &self.store.s3
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
        open_store(&self.repo, &self.store)
    }

    /// Makes sure the S3 bucket exists before `init`: creates it when
    /// asked, else fails with a hint.
    pub fn prepare_bucket(&self, create: bool) -> Result<()> {
        if self.is_local() {
            return Ok(());
        }
        let s3 = coffer_core::store::s3::connect(&self.repo, &self.store.s3)?;
        if create {
            s3.create_bucket()
        } else {
            s3.check_bucket()
        }
    }

    /// Whether the repository is a local directory (and so may be created
    /// by `backup` when it does not exist yet).
    pub fn is_local(&self) -> bool {
        !self.repo.contains("://")
    }

    /// The password: COFFER_PASSWORD, --password-file, --password-command,
    /// else a no-echo prompt on the terminal.
    pub fn password(&self, confirm: bool) -> Result<Vec<u8>> {
        if let Some(p) = std::env::var_os("COFFER_PASSWORD") {
            return Ok(std::os::unix::ffi::OsStringExt::into_vec(p));
        }
        if let Some(f) = &self.password_file {
            return read_first_line_file(f);
        }
        if let Some(cmd) = &self.password_command {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| Error::io("cannot run password command", cmd, e))?;
            if !out.status.success() {
                return Err(
                    Error::invalid(format!("password command failed ({})", out.status))
                        .with_location(cmd),
                );
            }
            return Ok(first_line(&out.stdout));
        }
        prompt("password", confirm)
    }

    pub fn open(&self) -> Result<Arc<Repository>> {
        let pw = self.password(false)?;
        let repo = Repository::open(self.store()?, &pw)?;
        for (_, e) in repo.skipped_index() {
            eprintln!(
                "coffer: warning: damaged index object skipped (`coffer repair index` rebuilds the index): {e}"
            );
        }
        Ok(Arc::new(repo))
    }

    pub fn open_without_index(&self) -> Result<Repository> {
        let pw = self.password(false)?;
        Repository::open_without_index(self.store()?, &pw)
    }

    /// Creates the repository; used by `init` and by a first `backup` to
    /// the local default.
    pub fn init(&self) -> Result<Arc<Repository>> {
        let store = self.store()?;
        let pw = self.password(true)?;
        Ok(Arc::new(Repository::init(
            store,
            &pw,
            InitOptions::default(),
        )?))
    }

    /// Opens the repository, creating it first if it is local and absent.
    /// Returns whether it was created.
    pub fn open_or_create_local(&self) -> Result<(Arc<Repository>, bool)> {
        let store = self.store()?;
        if self.is_local() && !Repository::exists(store.as_ref())? {
            return Ok((self.init()?, true));
        }
        Ok((self.open()?, false))
    }
}

/// The password for a new key: --new-password-file / COFFER_NEW_PASSWORD, else a prompt twice.
pub fn new_password(file: &Option<PathBuf>) -> Result<Vec<u8>> {
    if let Some(p) = std::env::var_os("COFFER_NEW_PASSWORD") {
        return Ok(std::os::unix::ffi::OsStringExt::into_vec(p));
    }
    if let Some(f) = file {
        return read_first_line_file(f);
    }
    prompt("new password", true)
}

fn first_line(b: &[u8]) -> Vec<u8> {
    let line = b.split(|&c| c == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line).to_vec()
}

fn read_first_line_file(f: &PathBuf) -> Result<Vec<u8>> {
    let b = std::fs::read(f).map_err(|e| Error::io("cannot read password file", f.display(), e))?;
    Ok(first_line(&b))
}

fn prompt(what: &str, confirm: bool) -> Result<Vec<u8>> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            "no password given: set COFFER_PASSWORD, COFFER_PASSWORD_FILE or --password-command (no terminal to ask on)",
        ));
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

/// A `--storage-class` / `--data-storage-class` value.
pub fn storage_class(name: Option<&str>) -> Result<coffer_core::store::StorageClass> {
    use coffer_core::store::StorageClass as C;
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
pub fn policy(k: &crate::args::Keep) -> Result<coffer_core::maintain::retention::Policy> {
    Ok(coffer_core::maintain::retention::Policy {
        last: k.keep_last,
        hourly: k.keep_hourly,
        daily: k.keep_daily,
        weekly: k.keep_weekly,
        monthly: k.keep_monthly,
        yearly: k.keep_yearly,
        within: k
            .keep_within
            .as_deref()
            .map(coffer_core::maintain::retention::Span::parse)
            .transpose()?,
        tags: k.keep_tags.clone(),
    })
}
