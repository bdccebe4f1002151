//! The one directory walker: every walk of a file system (backup listing,
//! progress totals, cache warm-up, archive and its read-ahead) lists
//! directories here, applies the same excludes (patterns and tag files)
//! and the same `--one-file-system` rule, and never recurses.
//!
//! Input: root paths, a [`Select`] (what is left out), `one_file_system`.
//! Output: [`Step`]s in tree order: depth first, a directory before what is
//! below it, names in byte order (the order trees are stored in, so the
//! order dedup and tree building rely on).
//! Invariants: depth is bounded by memory and open files, not by a thread's
//! stack (an explicit stack of open directories, one per level); every
//! directory is opened through its parent's descriptor without following
//! symlinks, so path length is unlimited; paths are built for excludes and
//! messages only. What cannot be read is a [`Step::Error`] and the walk
//! goes on.

use super::Meta;
use super::at::Dir;
use crate::format::tree::NodeKind;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a walk leaves out.
pub trait Select {
    /// Whether `path` (absolute) is left out, with everything below it.
    fn excluded(&self, path: &Path, is_dir: bool) -> bool;
    /// If the directory `dir`, whose sorted entry `names` are given, is
    /// tagged (`--exclude-if-present`, `--exclude-caches`), the names it
    /// keeps.
    fn tagged(&self, dir: &Dir, names: &[OsString]) -> Option<Vec<OsString>>;
}

/// Leaves nothing out.
pub struct All;

impl Select for All {
    fn excluded(&self, _: &Path, _: bool) -> bool {
        false
    }
    fn tagged(&self, _: &Dir, _: &[OsString]) -> Option<Vec<OsString>> {
        None
    }
}

/// Whether a walk goes into a directory on device `dev` below a root on
/// `root_dev` (`--one-file-system` stops at other devices).
pub fn descends(one_file_system: bool, dev: u64, root_dev: u64) -> bool {
    !one_file_system || dev == root_dev
}

/// One entry of a listed directory.
pub struct Child {
    pub name: OsString,
    pub path: PathBuf,
    /// Its lstat, or why it could not be read.
    pub meta: io::Result<Meta>,
}

/// Lists the open directory `dir` (full path `path`): names in byte order,
/// tag files applied, each entry lstat'ed, excluded entries left out (an
/// entry whose lstat failed is kept with its error, for the caller to
/// report).
pub fn list(dir: &Dir, path: &Path, select: &dyn Select) -> io::Result<Vec<Child>> {
    let mut names = dir.names()?;
    if let Some(keep) = select.tagged(dir, &names) {
        names = keep;
    }
    let mut children = Vec::with_capacity(names.len());
    for name in names {
        let path = path.join(&name);
        let meta = dir.stat(&name).map(|st| Meta::from_stat(&st));
        if let Ok(m) = &meta
            && select.excluded(&path, m.kind == NodeKind::Dir)
        {
            continue;
        }
        children.push(Child { name, path, meta });
    }
    Ok(children)
}

/// What a [`Walk`] yields.
pub enum Step {
    /// An entry, `name` in `dir`. A directory comes before its entries
    /// (`entered`: the walk goes into it; false when it is on another
    /// file system).
    Entry {
        dir: Arc<Dir>,
        name: OsString,
        path: PathBuf,
        meta: Meta,
        root_dev: u64,
        entered: bool,
    },
    /// `path` could not be read (`what` it was doing); it is left out.
    Error {
        path: PathBuf,
        what: &'static str,
        error: io::Error,
    },
}

/// A directory being walked: what is left of its listing.
struct Frame {
    dir: Arc<Dir>,
    children: std::vec::IntoIter<Child>,
    root_dev: u64,
}

/// A depth-first walk of some root paths, one [`Step`] at a time.
pub struct Walk<'a> {
    select: &'a dyn Select,
    one_file_system: bool,
    roots: std::vec::IntoIter<PathBuf>,
    stack: Vec<Frame>,
}

impl<'a> Walk<'a> {
    /// Walks `roots` (absolute, normalized) in the given order.
    pub fn new(roots: Vec<PathBuf>, select: &'a dyn Select, one_file_system: bool) -> Self {
        Walk {
            select,
            one_file_system,
            roots: roots.into_iter(),
            stack: Vec::new(),
        }
    }

    /// The next root: its parent opened, its lstat read; `None` when it
    /// is excluded.
    fn root(&mut self, path: PathBuf) -> Option<Step> {
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
            _ => (PathBuf::from("/"), OsString::from(".")),
        };
        let dir = match Dir::open(&parent) {
            Ok(d) => Arc::new(d),
            Err(error) => {
                return Some(Step::Error {
                    path,
                    what: "cannot open",
                    error,
                });
            }
        };
        match dir.stat(&name) {
            Ok(st) => {
                let meta = Meta::from_stat(&st);
                if self.select.excluded(&path, meta.kind == NodeKind::Dir) {
                    return None;
                }
                Some(self.enter(dir, name, path, meta, meta.dev))
            }
            Err(error) => Some(Step::Error {
                path,
                what: "cannot stat",
                error,
            }),
        }
    }

    /// The step for an entry; a directory the walk goes into is listed
    /// first (one that cannot be listed is an error, left out whole).
    fn enter(
        &mut self,
        dir: Arc<Dir>,
        name: OsString,
        path: PathBuf,
        meta: Meta,
        root_dev: u64,
    ) -> Step {
        let entered =
            meta.kind == NodeKind::Dir && descends(self.one_file_system, meta.dev, root_dev);
        if entered {
            let listed = dir
                .child(&name)
                .and_then(|sub| list(&sub, &path, self.select).map(|c| (sub, c)));
            match listed {
                Ok((sub, children)) => self.stack.push(Frame {
                    dir: Arc::new(sub),
                    children: children.into_iter(),
                    root_dev,
                }),
                Err(error) => {
                    return Step::Error {
                        path,
                        what: "cannot list",
                        error,
                    };
                }
            }
        }
        Step::Entry {
            dir,
            name,
            path,
            meta,
            root_dev,
            entered,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                let root = self.roots.next()?;
                match self.root(root) {
                    Some(step) => return Some(step),
                    None => continue, // excluded
                }
            };
            let Some(child) = frame.children.next() else {
                self.stack.pop();
                continue;
            };
            let (dir, root_dev) = (Arc::clone(&frame.dir), frame.root_dev);
            return Some(match child.meta {
                Ok(meta) => self.enter(dir, child.name, child.path, meta, root_dev),
                Err(error) => Step::Error {
                    path: child.path,
                    what: "cannot stat",
                    error,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rustix::fs::Mode;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    /// Makes a chain of `levels` directories named `d` below `root` (past
    /// PATH_MAX, through descriptors) with a file at the bottom; returns
    /// the bottom's path.
    pub fn chain(root: &Path, levels: usize) -> PathBuf {
        let mut dir = Dir::open(root).unwrap();
        let mut path = root.to_path_buf();
        for _ in 0..levels {
            rustix::fs::mkdirat(dir.fd(), "d", Mode::from_raw_mode(0o755)).unwrap();
            dir = dir.child(OsStr::new("d")).unwrap();
            path.push("d");
        }
        let f = rustix::fs::openat(
            dir.fd(),
            "bottom",
            rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY,
            Mode::from_raw_mode(0o644),
        )
        .unwrap();
        drop(f);
        path.join("bottom")
    }

    /// Runs `f` on a thread with a small stack: a walk that recursed once
    /// per level would overflow it long before the bottom of a deep chain.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    /// Removes a temporary directory on a thread with a stack deep enough
    /// for std's remove_dir_all.
    fn remove(tmp: tempfile::TempDir) {
        std::thread::Builder::new()
            .stack_size(512 << 20)
            .spawn(move || drop(tmp))
            .unwrap()
            .join()
            .unwrap();
    }

    fn paths(walk: Walk) -> Vec<PathBuf> {
        walk.map(|s| match s {
            Step::Entry { path, .. } => path,
            Step::Error { path, error, .. } => panic!("{}: {error}", path.display()),
        })
        .collect()
    }

    #[test]
    fn a_chain_deeper_than_any_stack_is_walked_to_the_bottom() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let bottom = chain(&root, 10_000);
        let walked = on_small_stack(move || paths(Walk::new(vec![root], &All, false)));
        assert_eq!(
            walked.len(),
            10_002,
            "the root, 10,000 directories, the file"
        );
        assert_eq!(walked.last(), Some(&bottom));
        remove(tmp);
    }

    struct Pattern(&'static str);
    impl Select for Pattern {
        fn excluded(&self, path: &Path, _: bool) -> bool {
            path.file_name().is_some_and(|n| n == self.0)
        }
        fn tagged(&self, _: &Dir, names: &[OsString]) -> Option<Vec<OsString>> {
            names
                .iter()
                .any(|n| n == "TAG")
                .then(|| vec![OsString::from("TAG")])
        }
    }

    #[test]
    fn excludes_tags_and_other_file_systems_are_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for d in ["a/skip/x", "a/keep", "t/sub"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in ["a/keep/f", "t/TAG", "t/other"] {
            std::fs::write(r.join(f), b"x").unwrap();
        }
        let walked = paths(Walk::new(vec![r.to_path_buf()], &Pattern("skip"), false));
        let rel: Vec<_> = walked
            .iter()
            .map(|p| p.strip_prefix(r).unwrap().to_path_buf())
            .collect();
        let want = ["", "a", "a/keep", "a/keep/f", "t", "t/TAG"];
        assert_eq!(rel, want.iter().map(PathBuf::from).collect::<Vec<_>>());
        // /dev/pts is another file system than /dev: one_file_system
        // yields it without going into it.
        let entered = |one_fs| {
            Walk::new(vec![PathBuf::from("/dev")], &All, one_fs).find_map(|s| match s {
                Step::Entry { path, entered, .. } if path == Path::new("/dev/pts") => Some(entered),
                _ => None,
            })
        };
        assert_eq!(entered(true), Some(false));
        assert_eq!(entered(false), Some(true));
    }

    /// A tree to build: each entry a name and what it is.
    #[derive(Debug, Clone)]
    enum Spec {
        File,
        Link,
        Dir(Vec<(Vec<u8>, Spec)>),
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let leaf = prop_oneof![Just(Spec::File), Just(Spec::Link)];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop::collection::vec((name(), inner), 0..6).prop_map(Spec::Dir)
        })
    }

    /// Names that sort differently as bytes and as text, non-UTF-8 ones
    /// and ones that look like options.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'B', b'-', b'.', b'_', b'z', 0xc3, 0xff]),
            1..5,
        )
        .prop_filter("a file name", |n| n != b"." && n != b"..")
    }

    fn build(at: &Path, spec: &Spec) {
        match spec {
            Spec::File => std::fs::write(at, b"x").unwrap(),
            Spec::Link => std::os::unix::fs::symlink("..", at).unwrap(),
            Spec::Dir(entries) => {
                std::fs::create_dir(at).unwrap();
                for (n, s) in entries {
                    let p = at.join(OsStr::from_bytes(n));
                    if std::fs::symlink_metadata(&p).is_err() {
                        build(&p, s);
                    }
                }
            }
        }
    }

    /// What `find ROOT` prints, in the order the walk must give: depth
    /// first, names by bytes (the order of `Path`'s components).
    fn find(root: &Path) -> Vec<PathBuf> {
        let out = std::process::Command::new("find")
            .arg(root)
            .arg("-print0")
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut found: Vec<PathBuf> = out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(OsStr::from_bytes(p)))
            .collect();
        found.sort();
        found
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The walk yields exactly the entries `find` does, in tree order,
        /// whatever the shape (a deep chain hangs below each tree).
        #[test]
        fn walk_yields_what_find_does_in_tree_order(s in spec(), depth in 0usize..400) {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("r");
            build(&root, &Spec::Dir(vec![(b"t".to_vec(), s)]));
            chain(&root, depth);
            let want = find(&root);
            let walked = {
                let root = root.clone();
                on_small_stack(move || paths(Walk::new(vec![root], &All, false)))
            };
            prop_assert_eq!(walked, want);
        }
    }
}
