//! What every integration test shares: a runner for the real `coffer`
//! binary against a repository in a fresh temporary directory (or under a
//! fresh prefix on the S3 test server), and small helpers for trees and
//! repository objects.
//!
//! Tests that must hold on every store take a [`Backend`] and are declared
//! once with [`per_store!`], which makes a `local` and an `s3` test of them.
//!
//! Every run checks what must hold for any command on any input: the
//! process exits normally (no signal, no panic exit code) and stderr never
//! contains "panicked".

use coffer_core::S3Store;
use coffer_core::{PutHints, Store, list_all};
use coffer_testkit::{CompareOptions, assert_same_trees};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

#[path = "support_out.rs"]
mod out;
pub use out::Out;
#[path = "support_repos.rs"]
mod repos;
pub use repos::{empty_packs, kill_once_a_pack_is_stored, other_repo};

/// Declares tests that run the same body on every store: for each
/// `fn NAME(backend: Backend)` given, a module `NAME` with the tests
/// `local` and `s3`. Attributes before the name apply to both; one after
/// `=> s3:` only to the S3 test.
///
/// ```ignore
/// per_store!(round_trip, other_test => s3: #[ignore = "bug: …"]);
/// ```
macro_rules! per_store {
    ($($(#[$both:meta])* $name:ident $(=> s3: #[$s3:meta])?),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                $(#[$both])*
                fn local() {
                    super::$name(crate::support::Backend::Local)
                }

                #[test]
                $(#[$both])*
                $(#[$s3])?
                fn s3() {
                    super::$name(crate::support::Backend::S3)
                }
            }
        )+
    };
}

/// Where a test's repository lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A directory in the test's temporary directory.
    Local,
    /// A fresh prefix in a bucket of the S3 test server that `.ci/run`
    /// starts (`COFFER_TEST_S3_ENDPOINT`; the test fails when it is unset).
    S3,
}

impl Backend {
    /// `small` on S3, `full` locally: the S3 variants of the heavier tests
    /// use less data to keep the suite's runtime reasonable.
    pub fn scaled(self, full: u64, small: u64) -> u64 {
        match self {
            Backend::Local => full,
            Backend::S3 => small,
        }
    }
}

/// The bucket on the S3 test server that holds this binary's repositories,
/// each under its own prefix. One bucket rather than one per test: each
/// SeaweedFS bucket takes volumes of its own, and `weed mini` has only a
/// few dozen (then every PUT fails with InternalError).
const S3_BUCKET: &str = "ct-cli-integration";

/// The S3 side of a [`Coffer`]: the repository location and a store on it
/// for reading and damaging objects behind the binary's back. Its objects
/// are deleted when it is dropped, unless the test failed.
pub struct S3Repo {
    pub location: String,
    pub endpoint: String,
    pub store: S3Store,
}

impl S3Repo {
    /// An empty prefix for the running test in the shared bucket (created
    /// once per process; creating an existing bucket is not an error).
    /// Fails the test when COFFER_TEST_S3_ENDPOINT is not set.
    fn fresh() -> S3Repo {
        static BUCKET: OnceLock<()> = OnceLock::new();
        BUCKET.get_or_init(|| {
            coffer_testkit::s3::store(&format!("s3://{S3_BUCKET}"))
                .create_bucket()
                .unwrap_or_else(|e| panic!("cannot create the test bucket {S3_BUCKET}: {e}"))
        });
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let thread = std::thread::current();
        let test: String = thread
            .name()
            .unwrap_or("test")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let unique = format!(
            "{}-{nanos:08x}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let location = format!("s3://{S3_BUCKET}/{test}/{unique}/repo");
        let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT")
            .expect("coffer_testkit::s3::store checked COFFER_TEST_S3_ENDPOINT");
        let store = coffer_testkit::s3::store(&location);
        let there = list_all(&store, "").unwrap_or_else(|e| panic!("cannot list {location}: {e}"));
        assert!(there.is_empty(), "{location} is not empty: {there:?}");
        S3Repo {
            location,
            endpoint,
            store,
        }
    }
}

impl Drop for S3Repo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the repository is left in {} to look at", self.location);
            return;
        }
        let keys = list_all(&self.store, "")
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", self.location));
        for m in keys {
            self.store
                .delete(&m.key)
                .unwrap_or_else(|e| panic!("cannot delete {} in {}: {e}", m.key, self.location));
        }
    }
}

/// A repository location in its own temporary directory (or S3 bucket), and
/// the binary run against it with a password in the environment.
pub struct Coffer {
    pub dir: TempDir,
    /// The local repository directory (unused by an S3 repository).
    pub repo: PathBuf,
    /// Set for an S3 repository: `--repo` names it instead of `repo`.
    pub s3: Option<S3Repo>,
    pub password: String,
    /// Pass `--repo`; when false the binary picks its default location.
    pub pass_repo: bool,
    /// Run as this uid and gid (through `setpriv`) instead of root.
    pub as_user: Option<u32>,
}

impl Coffer {
    /// A location where no repository exists yet.
    pub fn new() -> Coffer {
        let dir = tempfile::Builder::new()
            .prefix("coffer-it-")
            .tempdir()
            .expect("tempdir");
        let repo = dir.path().join("repo");
        Coffer {
            dir,
            repo,
            s3: None,
            password: PASSWORD.to_string(),
            pass_repo: true,
            as_user: None,
        }
    }

    /// No `--repo` and no COFFER_REPOSITORY: the default location below
    /// HOME (which is this test's temporary directory).
    pub fn default_location() -> Coffer {
        let mut c = Coffer::new();
        c.repo = c.dir.path().join(".local/share/coffer/repo");
        c.pass_repo = false;
        c
    }

    /// A location on `backend` where no repository exists yet (for S3, a
    /// fresh prefix named after the running test in the shared test bucket).
    pub fn on(backend: Backend) -> Coffer {
        let mut c = Coffer::new();
        if backend == Backend::S3 {
            c.s3 = Some(S3Repo::fresh());
        }
        c
    }

    /// A freshly initialized local repository.
    pub fn init() -> Coffer {
        Coffer::init_on(Backend::Local)
    }

    /// A freshly initialized repository on `backend`.
    pub fn init_on(backend: Backend) -> Coffer {
        let c = Coffer::on(backend);
        c.run(&["init"]).ok();
        c
    }

    /// What `--repo` names: the S3 location or the local directory.
    pub fn location(&self) -> &OsStr {
        match &self.s3 {
            Some(s3) => s3.location.as_ref(),
            None => self.repo.as_os_str(),
        }
    }

    /// A path inside this test's temporary directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The binary with a clean environment: this repository, this password,
    /// HOME inside the temporary directory (so the default repository is
    /// never the real one), stdin closed (so nothing can prompt).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let bin = env!("CARGO_BIN_EXE_coffer");
        let mut cmd = match self.as_user {
            None => Command::new(bin),
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg(bin);
                c
            }
        };
        for v in [
            "COFFER_REPOSITORY",
            "COFFER_PASSWORD",
            "COFFER_PASSWORD_FILE",
            "COFFER_PASSWORD_COMMAND",
            "COFFER_NEW_PASSWORD",
            "COFFER_NEW_PASSWORD_FILE",
            "COFFER_FROM_REPOSITORY",
            "COFFER_FROM_PASSWORD",
            "COFFER_FROM_PASSWORD_FILE",
            "COFFER_FROM_PASSWORD_COMMAND",
            "XDG_DATA_HOME",
            "XDG_CACHE_HOME",
            "COFFER_CACHE_DIR",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "COFFER_PROFILE",
            "XDG_CONFIG_HOME",
        ] {
            cmd.env_remove(v);
        }
        // A config file of this machine (/etc/coffer/coffer.toml) must not
        // reach the tests: they run with an empty one unless they give
        // --config themselves.
        cmd.env("COFFER_CONFIG", empty_config());
        cmd.env("HOME", self.dir.path())
            .env("COFFER_PASSWORD", &self.password)
            .stdin(Stdio::null());
        if let Some(s3) = &self.s3 {
            let var = |n: &str| std::env::var(n).unwrap_or_else(|_| "test".into());
            cmd.env("AWS_ENDPOINT_URL", &s3.endpoint)
                .env("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID"))
                .env("AWS_SECRET_ACCESS_KEY", var("AWS_SECRET_ACCESS_KEY"))
                .env("AWS_REGION", "us-east-1");
        }
        if self.pass_repo {
            cmd.arg("--repo").arg(self.location());
        }
        cmd.args(args);
        cmd
    }

    /// Runs `coffer --repo REPO ARGS…` with extra environment and waits.
    pub fn run_env<S: AsRef<OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", describe(args)));
        Out::from_output(describe(args), out)
    }

    /// Runs `coffer --repo REPO ARGS…` and waits.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        self.run_env(args, &[])
    }

    /// `backup --json EXTRA… PATHS…`; asserts exit 0 and returns the summary.
    #[track_caller]
    pub fn backup(&self, paths: &[&Path], extra: &[&str]) -> Value {
        let mut args: Vec<&OsStr> = vec!["backup".as_ref(), "--json".as_ref()];
        args.extend(extra.iter().map(OsStr::new));
        args.extend(paths.iter().map(|p| p.as_os_str()));
        let out = self.run(&args);
        out.ok();
        let v = out.json();
        assert_eq!(v["message_type"], "summary", "{v}");
        v
    }

    /// `restore SNAPSHOT --target TARGET EXTRA…`.
    pub fn restore(&self, snapshot: &str, target: &Path, extra: &[&str]) -> Out {
        let mut args: Vec<&OsStr> = vec![
            "restore".as_ref(),
            snapshot.as_ref(),
            "--target".as_ref(),
            target.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        self.run(&args)
    }

    /// Ids of all snapshots, oldest first.
    pub fn snapshot_ids(&self) -> Vec<String> {
        let out = self.run(&["snapshots", "--json"]);
        out.ok();
        out.json()
            .as_array()
            .expect("snapshots --json prints an array")
            .iter()
            .map(|s| s["id"].as_str().expect("snapshot id").to_string())
            .collect()
    }

    /// Removes the local cache of a remote repository (in HOME, which is the
    /// test's temporary directory), as on a machine that never read it: the
    /// next command reads index, snapshots and trees from the store again.
    pub fn drop_cache(&self) {
        let dir = self.path(".cache/coffer");
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", dir.display()));
        }
    }

    /// Object keys of the repository under `prefix`, sorted (locally the
    /// files below it, `.tmp-*` included).
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        match &self.s3 {
            Some(s3) => {
                let mut keys: Vec<String> = list_all(&s3.store, prefix)
                    .unwrap_or_else(|e| panic!("cannot list {}: {e}", s3.location))
                    .into_iter()
                    .map(|m| m.key)
                    .collect();
                keys.sort();
                keys
            }
            None => files_below(&self.repo)
                .iter()
                .map(|p| arg(p.strip_prefix(&self.repo).expect("below the repository")).to_string())
                .filter(|k| k.starts_with(prefix))
                .collect(),
        }
    }

    /// The bytes of object `key`.
    pub fn read_object(&self, key: &str) -> Vec<u8> {
        match &self.s3 {
            Some(s3) => s3
                .store
                .get(key, None)
                .unwrap_or_else(|e| panic!("cannot get {key} from {}: {e}", s3.location)),
            None => {
                let path = self.repo.join(key);
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            }
        }
    }

    /// Replaces object `key` with `bytes` (behind the binary's back).
    pub fn write_object(&self, key: &str, bytes: &[u8]) {
        match &self.s3 {
            Some(s3) => s3
                .store
                .put(key, bytes, &PutHints::default())
                .unwrap_or_else(|e| panic!("cannot put {key} to {}: {e}", s3.location)),
            None => {
                let path = self.repo.join(key);
                fs::write(&path, bytes)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()))
            }
        }
    }

    /// The size of object `key` in bytes.
    pub fn object_len(&self, key: &str) -> usize {
        let len = match &self.s3 {
            Some(s3) => {
                s3.store
                    .head(key)
                    .unwrap_or_else(|e| panic!("cannot head {key} in {}: {e}", s3.location))
                    .size
            }
            None => {
                let path = self.repo.join(key);
                fs::metadata(&path)
                    .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
                    .len()
            }
        };
        len as usize
    }

    /// XORs the byte at `offset` of object `key` with `mask` (a flipped bit
    /// when `mask` has one bit set).
    #[track_caller]
    pub fn flip_object_byte(&self, key: &str, offset: usize, mask: u8) {
        let mut bytes = self.read_object(key);
        assert!(offset < bytes.len(), "{key} has only {} bytes", bytes.len());
        bytes[offset] ^= mask;
        self.write_object(key, &bytes);
    }

    /// Bytes the repository takes in its store and apparent bytes: locally
    /// the allocated blocks and the file sizes, on S3 the sum of the
    /// object sizes (twice).
    pub fn size(&self) -> (u64, u64) {
        if let Some(s3) = &self.s3 {
            let total = list_all(&s3.store, "")
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", s3.location))
                .iter()
                .map(|m| m.size)
                .sum();
            return (total, total);
        }
        let mut disk = 0;
        let mut apparent = 0;
        for p in files_below(&self.repo) {
            let md = fs::symlink_metadata(&p).expect("stat");
            disk += md.blocks() * 512;
            apparent += md.len();
        }
        (disk, apparent)
    }
}

/// The node at `path` (absolute, as backed up) in snapshot `snap`, read
/// through `cat tree` from the snapshot's root down.
pub fn tree_node(c: &Coffer, snap: &str, path: &Path) -> Value {
    let snapshot = c.run(&["cat", "snapshot", snap]);
    let mut tree = snapshot.ok().json()["tree"]
        .as_str()
        .expect("snapshot has a tree")
        .to_string();
    let names: Vec<String> = path
        .iter()
        .skip(1)
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    for (i, name) in names.iter().enumerate() {
        let out = c.run(&["cat", "tree", &tree]);
        let t = out.ok().json();
        let node = t["nodes"]
            .as_array()
            .expect("tree has nodes")
            .iter()
            .find(|n| n["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no {name} in tree {tree}: {t}"))
            .clone();
        if i + 1 == names.len() {
            return node;
        }
        tree = node["subtree"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no subtree: {node}"))
            .to_string();
    }
    unreachable!("path has at least one component")
}

/// `s` cut to its first and last 2 KiB.
pub fn clip(s: &str) -> String {
    const KEEP: usize = 2048;
    if s.len() <= 2 * KEEP {
        return s.to_string();
    }
    let head = s
        .char_indices()
        .take_while(|(i, _)| *i < KEEP)
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8());
    let tail = s
        .char_indices()
        .find(|(i, _)| *i >= s.len() - KEEP)
        .map_or(s.len(), |(i, _)| i);
    format!(
        "{}\n…({} bytes left out)…\n{}",
        &s[..head],
        tail - head,
        &s[tail..]
    )
}

/// A path as an argument (the tests' temporary paths are UTF-8).
pub fn arg(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("not UTF-8: {}", p.display()))
}

/// `coffer ARGS…` for messages.
pub fn describe<S: AsRef<OsStr>>(args: &[S]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    format!("coffer {}", words.join(" "))
}

/// Every regular file below `root`, sorted.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        {
            let e = e.expect("dir entry");
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Every entry below `root` (relative path → size, mtime, content), to show
/// that nothing was written.
pub fn listing(root: &Path) -> BTreeMap<String, (u64, i64, i64, Vec<u8>)> {
    files_below(root)
        .into_iter()
        .map(|p| {
            let md = fs::symlink_metadata(&p).expect("stat");
            let rel = p
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .into_owned();
            (
                rel,
                (
                    md.len(),
                    md.mtime(),
                    md.mtime_nsec(),
                    fs::read(&p).unwrap_or_default(),
                ),
            )
        })
        .collect()
}

/// Where a restore into `target` puts the backed-up path `src`.
pub fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").expect("absolute source path"))
}

/// Asserts that `b` holds what `a` holds: bytes, types, modes, times,
/// xattrs, hardlinks, and owners (the tests run as root).
#[track_caller]
pub fn assert_restored(a: &Path, b: &Path) {
    assert_same_trees(a, b, &CompareOptions::for_current_user());
}

/// A summary field of a `backup --json` result.
#[track_caller]
pub fn summary_u64(v: &Value, field: &str) -> u64 {
    v["summary"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no summary.{field} in {v}"))
}

/// Writes `content` to `path`, creating parent directories.
pub fn write(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).expect("mkdir");
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A small server-like tree: `big.bin` of `big` pseudo-random bytes (from
/// `seed`) and `configs` small files under `etc/`.
pub fn config_tree(src: &Path, seed: u64, big: usize, configs: usize) {
    write(
        &src.join("big.bin"),
        coffer_testkit::fixture::pseudo_random(seed, big),
    );
    for i in 0..configs {
        write(
            &src.join(format!("etc/f{i}.conf")),
            format!("setting {i}\n"),
        );
    }
}

/// An empty config file, shared by every test of this run.
fn empty_config() -> &'static Path {
    static EMPTY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("coffer-it-{}-empty.toml", std::process::id()));
        std::fs::write(&p, "").expect("cannot write an empty config file");
        p
    })
}
