//! What the fidelity tests share: a fresh local repository, backup and
//! restore with options, and running referee tools.

use coffer_core::LocalStore;
use coffer_core::NoProgress;
use coffer_core::format::key::KdfParams;
use coffer_core::{BackupOptions, BackupResult, backup};
use coffer_core::{InitOptions, Repository};
use coffer_core::{RestoreOptions, RestoreResult, restore};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A scratch directory with a repository in `dir/repo`.
pub struct Repo {
    pub dir: tempfile::TempDir,
    pub repo: Arc<Repository>,
}

#[track_caller]
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the fidelity tests run as root (as CI does): owners, devices and capabilities need it"
    );
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Self::init(&dir.path().join("repo"));
        Repo { dir, repo }
    }

    pub fn init(at: &Path) -> Arc<Repository> {
        let store = Arc::new(LocalStore::new(at));
        let opts = InitOptions {
            kdf: KdfParams::insecure_fast(),
            ..Default::default()
        };
        Arc::new(Repository::init(store, b"pw", opts).unwrap())
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn backup(&self, paths: &[&Path], tweak: impl FnOnce(&mut BackupOptions)) -> BackupResult {
        let mut opts = BackupOptions::new(paths.iter().map(|p| p.to_path_buf()).collect());
        opts.threads = 2;
        tweak(&mut opts);
        backup(Arc::clone(&self.repo), &opts, &NoProgress).unwrap()
    }

    pub fn restore(
        &self,
        b: &BackupResult,
        target: &Path,
        tweak: impl FnOnce(&mut RestoreOptions),
    ) -> RestoreResult {
        let mut opts = RestoreOptions::new(target.to_path_buf());
        opts.snapshot_paths = b.snapshot.paths.iter().map(PathBuf::from).collect();
        tweak(&mut opts);
        restore(&self.repo, b.snapshot.tree, &opts, &NoProgress).unwrap()
    }
}

/// Where `src` (absolute) lands when restored below `target`.
pub fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

/// Runs a referee tool; panics with its output if it cannot run or fails.
#[track_caller]
/// How `dst` differs from the fixture at `src`, one line each: everything
/// but the socket, which a restore does not recreate.
pub fn fixture_differences(src: &Path, dst: &Path) -> Vec<String> {
    use coffer_testkit::compare::What;
    use coffer_testkit::fixture::paths;
    let all = coffer_testkit::compare_trees(src, dst, &coffer_testkit::CompareOptions::default());
    all.into_iter()
        .filter(|d| !(d.path == Path::new(paths::SOCKET) && d.what == What::OnlyInA))
        .map(|d| d.to_string())
        .collect()
}

pub fn tool(program: &str, args: &[&str], dir: Option<&Path>) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): .ci/run installs it (apt-get install rsync acl libcap2-bin)")
    });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Errors of a restore or backup as lines, for assertion messages.
pub fn errors(failed: &[(PathBuf, String)]) -> String {
    failed
        .iter()
        .map(|(p, e)| format!("{}: {e}", p.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn restore_errors(r: &RestoreResult) -> String {
    errors(
        &r.failed
            .iter()
            .map(|f| (f.path.clone(), f.error.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// Allocated bytes of `path` (st_blocks × 512).
pub fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().blocks() * 512
}

/// The snapshot's node for `path` (absolute).
pub fn find_node(
    repo: &Repository,
    b: &BackupResult,
    path: &Path,
) -> coffer_core::format::tree::Node {
    use std::os::unix::ffi::OsStrExt;
    let mut tree = repo.read_tree(&b.snapshot.tree).unwrap();
    let names: Vec<_> = path.strip_prefix("/").unwrap().iter().collect();
    for (i, name) in names.iter().enumerate() {
        let node = tree
            .find(name.as_bytes())
            .unwrap_or_else(|| panic!("{} not in the snapshot", path.display()))
            .clone();
        if i + 1 == names.len() {
            return node;
        }
        tree = repo.read_tree(&node.subtree.unwrap()).unwrap();
    }
    unreachable!("paths have a name")
}

/// Runs `f` on a new thread whose credentials (only its own: raw
/// syscalls, not libc's process-wide wrappers) are nobody's, with no
/// supplementary groups and so no capabilities; threads it starts inherit
/// them.
pub fn as_nobody<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    const NOBODY: libc::c_long = 65534;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscalls on this thread's credentials.
            unsafe {
                assert_eq!(
                    libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()),
                    0
                );
                assert_eq!(
                    libc::syscall(libc::SYS_setresgid, NOBODY, NOBODY, NOBODY),
                    0
                );
                assert_eq!(
                    libc::syscall(libc::SYS_setresuid, NOBODY, NOBODY, NOBODY),
                    0
                );
            }
            f()
        })
        .join()
        .unwrap()
    })
}

/// Everything below `dir` (not following symlinks): per path its type,
/// mode, owner, mtime, size, content or link target, and xattrs. Two equal
/// fingerprints mean nothing below `dir` changed.
pub fn fingerprint(dir: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let mut h = DefaultHasher::new();
        if m.file_type().is_file() {
            std::fs::read(&p).unwrap().hash(&mut h);
        } else if m.file_type().is_symlink() {
            std::fs::read_link(&p).unwrap().hash(&mut h);
        } else if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
        for name in xattr::list(&p).unwrap() {
            (&name, xattr::get(&p, &name).unwrap()).hash(&mut h);
        }
        let mtime = m.mtime_nsec() + m.mtime() * 1_000_000_000;
        out.insert(
            p.clone(),
            format!(
                "mode {:o} owner {}:{} size {} mtime {mtime} data {:x}",
                m.mode(),
                m.uid(),
                m.gid(),
                if m.is_dir() { 0 } else { m.size() },
                h.finish()
            ),
        );
    }
    out
}

/// Asserts that nothing below `dir` differs from `before`.
#[track_caller]
pub fn assert_unchanged(dir: &Path, before: &std::collections::BTreeMap<PathBuf, String>) {
    let after = fingerprint(dir);
    let diff: Vec<String> = before
        .iter()
        .filter(|(p, v)| after.get(*p) != Some(v))
        .map(|(p, v)| format!("{}: {v} -> {:?}", p.display(), after.get(p)))
        .chain(
            after
                .keys()
                .filter(|p| !before.contains_key(*p))
                .map(|p| format!("{}: appeared", p.display())),
        )
        .collect();
    assert!(
        diff.is_empty(),
        "changed outside the target:\n{}",
        diff.join("\n")
    );
}
