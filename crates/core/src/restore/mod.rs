//! Restore: a snapshot (or part of it) becomes a directory tree again.
//!
//! ```text
//! walk the snapshot's trees (this thread): create directories, links,
//!   devices; queue files → writers (threads) read blobs, write content
//!   (zeros become holes), apply metadata → hardlinks → directory metadata
//!   last, deepest first (writing into a directory changes its mtime)
//! ```
//! A file whose data is damaged or missing is reported and left out (or
//! left partial), and every other file is restored.

mod write;

use crate::backup::Excludes;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::fs::{ApplyOptions, Owners, apply_metadata};
use crate::id::TreeId;
use crate::progress::Progress;
use crate::repo::Repository;
use crossbeam_channel::bounded;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Restore only paths matching (or below a path matching) one of these.
    pub include: Vec<String>,
    /// Never restore paths matching these (nor anything below them).
    pub exclude: Vec<String>,
    pub numeric_owner: bool,
    pub threads: usize,
}

impl RestoreOptions {
    pub fn new(target: PathBuf) -> Self {
        RestoreOptions {
            target,
            include: Vec::new(),
            exclude: Vec::new(),
            numeric_owner: false,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2),
        }
    }
}

/// A path that could not be restored (fully), and why.
#[derive(Debug)]
pub struct Failed {
    pub path: PathBuf,
    pub error: Error,
}

#[derive(Debug, Default)]
pub struct RestoreResult {
    pub files: u64,
    pub dirs: u64,
    pub other: u64,
    pub bytes: u64,
    pub failed: Vec<Failed>,
}

struct FileTask {
    path: PathBuf,
    node: Node,
}

struct Walk<'a> {
    repo: &'a Repository,
    include: Option<Excludes>,
    exclude: Excludes,
    owners: &'a Owners,
    apply: ApplyOptions,
    files: crossbeam_channel::Sender<FileTask>,
    result: &'a Mutex<RestoreResult>,
    progress: &'a dyn Progress,
    /// Directories to finish (metadata) after all files: (path, node).
    dirs: Vec<(PathBuf, Node)>,
    /// First restored path of each multiply-linked file: (dev, inode) -> path.
    link_first: HashMap<(u64, u64), PathBuf>,
    links: Vec<(PathBuf, PathBuf)>,
}

/// Restores the snapshot tree `root` below `opts.target`.
pub fn restore(repo: &Repository, root: TreeId, opts: &RestoreOptions, progress: &dyn Progress) -> Result<RestoreResult> {
    std::fs::create_dir_all(&opts.target)
        .map_err(|e| Error::io("cannot create target directory", opts.target.display(), e))?;
    let owners = Owners::new();
    let apply = ApplyOptions { numeric_owner: opts.numeric_owner, chown: rustix::process::geteuid().is_root() };
    let result = Mutex::new(RestoreResult::default());
    let (tx, rx) = bounded::<FileTask>(opts.threads * 16);
    let (dirs, links) = std::thread::scope(|s| -> Result<_> {
        for _ in 0..opts.threads.max(1) {
            let (rx, result, owners) = (rx.clone(), &result, &owners);
            s.spawn(move || {
                for task in rx.iter() {
                    let r = write::write_file(repo, &task.path, &task.node)
                        .and_then(|_| apply_metadata(&task.path, &task.node, owners, apply));
                    let mut res = result.lock().expect("poisoned");
                    res.files += 1;
                    res.bytes += task.node.size;
                    if let Err(error) = r {
                        progress.warning(&task.path, &error.to_string());
                        res.failed.push(Failed { path: task.path, error });
                    } else {
                        progress.entry_done(&task.path, task.node.size, task.node.size);
                    }
                }
            });
        }
        drop(rx);
        let mut walk = Walk {
            repo,
            include: if opts.include.is_empty() { None } else { Some(Excludes::new(&opts.include, Vec::new())?) },
            exclude: Excludes::new(&opts.exclude, Vec::new())?,
            owners: &owners,
            apply,
            files: tx,
            result: &result,
            progress,
            dirs: Vec::new(),
            link_first: HashMap::new(),
            links: Vec::new(),
        };
        walk.tree(root, Path::new("/"), &opts.target, false)?;
        let Walk { dirs, links, .. } = walk; // drops the sender: writers finish
        Ok((dirs, links))
    })?;
    let mut res = result.into_inner().expect("poisoned");
    for (path, first) in links {
        let r = std::fs::hard_link(&first, &path).map_err(|e| Error::io("cannot create hardlink", path.display(), e));
        match r {
            Ok(()) => res.files += 1,
            Err(error) => res.failed.push(Failed { path, error }),
        }
    }
    // Deepest first, so setting a directory's times is never undone by a child.
    for (path, node) in dirs.into_iter().rev() {
        if let Err(error) = apply_metadata(&path, &node, &owners, apply) {
            res.failed.push(Failed { path, error });
        }
    }
    Ok(res)
}

impl Walk<'_> {
    fn fail(&self, path: PathBuf, error: Error) {
        self.progress.warning(&path, &error.to_string());
        self.result.lock().expect("poisoned").failed.push(Failed { path, error });
    }

    /// Restores the entries of tree `id` (snapshot path `snap_dir`) into `dir`.
    /// `selected`: an ancestor matched an include pattern.
    fn tree(&mut self, id: TreeId, snap_dir: &Path, dir: &Path, selected: bool) -> Result<bool> {
        let tree = match self.repo.read_tree(&id) {
            Ok(t) => t,
            Err(e) if e.kind() == crate::error::Kind::Fatal => return Err(e),
            Err(e) => {
                self.fail(dir.to_path_buf(), e);
                return Ok(false);
            }
        };
        let mut any = false;
        for node in tree.nodes {
            let name = OsStr::from_bytes(&node.name);
            let snap_path = snap_dir.join(name);
            if self.exclude.is_excluded(&snap_path) {
                continue;
            }
            let sel = selected || self.include.as_ref().is_none_or(|inc| inc.is_excluded(&snap_path));
            let path = dir.join(name);
            if node.kind == NodeKind::Dir {
                if sel {
                    self.make_dir(&path)?;
                }
                let sub = node.subtree.expect("decoder checks dirs have subtrees");
                let had = self.tree(sub, &snap_path, &path, sel)?;
                if sel || had {
                    self.result.lock().expect("poisoned").dirs += 1;
                    self.dirs.push((path, node));
                    any = true;
                }
                continue;
            }
            if !sel {
                continue;
            }
            if !any && !selected {
                // First selected entry of a directory reached only through
                // include patterns: make sure it exists.
                std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir.display(), e))?;
            }
            any = true;
            self.entry(path, node)?;
        }
        Ok(any)
    }

    fn make_dir(&self, path: &Path) -> Result<()> {
        match std::fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            Err(_) => std::fs::create_dir_all(path).map_err(|e| Error::io("cannot create directory", path.display(), e)),
        }
    }

    fn entry(&mut self, path: PathBuf, node: Node) -> Result<()> {
        if node.kind == NodeKind::File && node.links > 1 {
            if let Some(first) = self.link_first.get(&(node.dev, node.inode)) {
                self.links.push((path, first.clone()));
                return Ok(());
            }
            self.link_first.insert((node.dev, node.inode), path.clone());
        }
        if node.kind == NodeKind::File {
            return self.files.send(FileTask { path, node }).map_err(|_| Error::fatal("restore writers stopped"));
        }
        let r = write::make_special(&path, &node).and_then(|made| {
            if made { apply_metadata(&path, &node, self.owners, self.apply) } else { Ok(()) }
        });
        self.result.lock().expect("poisoned").other += 1;
        if let Err(e) = r {
            self.fail(path, e);
        }
        Ok(())
    }
}
