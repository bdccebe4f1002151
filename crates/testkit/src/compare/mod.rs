//! Compares two trees entry by entry and reports every difference that a
//! backup and restore must not introduce.
//!
//! Both trees are walked through open directory descriptors, never
//! following symlinks, so paths longer than PATH_MAX are compared too. The
//! roots themselves are compared as the entry `.`.
//!
//! Checked: presence, file type, content (regular files), symlink target
//! bytes, permission bits with setuid/setgid/sticky (not for symlinks,
//! whose mode Linux fixes at 0777), uid/gid, mtime in ns (regular files,
//! symlinks, directories), device numbers, every visible xattr (so ACLs and
//! capabilities), hardlink structure within each tree, and allocated size of
//! regular files (holes). Not checked: atime (reading a file may change it),
//! ctime (cannot be set), inode numbers, directory sizes.

mod diff;
#[cfg(test)]
mod tests;

pub use diff::{Difference, What, escape};

use crate::at::{DirFd, Meta, xattrs};
use rustix::fs::FileType;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What [`compare_trees`] checks beyond presence, type, content and targets.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// uid and gid.
    pub owners: bool,
    /// mtime in ns of regular files, symlinks and directories.
    pub mtime: bool,
    pub xattrs: bool,
    /// Xattr names starting with any of these are ignored (e.g. `security.selinux`).
    pub ignore_xattrs: Vec<String>,
    /// Names that are hardlinks of one another in one tree must be in the other.
    pub hardlinks: bool,
    /// When set, a regular file in `b` may not allocate more than the same
    /// file in `a` plus this many bytes (holes must stay holes).
    pub sparse_slack: Option<u64>,
}

impl Default for CompareOptions {
    /// Everything, with 64 KiB of allocation slack (a few filesystem blocks).
    fn default() -> Self {
        CompareOptions {
            owners: true,
            mtime: true,
            xattrs: true,
            ignore_xattrs: Vec::new(),
            hardlinks: true,
            sparse_slack: Some(64 << 10),
        }
    }
}

impl CompareOptions {
    /// Everything this process can expect to be restored: owners only when
    /// running as root.
    pub fn for_current_user() -> Self {
        CompareOptions {
            owners: rustix::process::geteuid().is_root(),
            ..Default::default()
        }
    }
}

/// Every difference between the trees at `a` and `b`, sorted by path.
pub fn compare_trees(a: &Path, b: &Path, opts: &CompareOptions) -> Vec<Difference> {
    let mut walk = Walk {
        opts,
        diffs: Vec::new(),
        inodes: [HashMap::new(), HashMap::new()],
    };
    match (DirFd::open(a), DirFd::open(b)) {
        (Ok(da), Ok(db)) => walk.entry(&da, &db, OsStr::new("."), Path::new(".")),
        (ra, rb) => {
            for (side, r) in [(Side::A, ra), (Side::B, rb)] {
                if let Err(e) = r {
                    walk.report(
                        Path::new("."),
                        What::Unreadable {
                            side,
                            error: e.to_string(),
                        },
                    );
                }
            }
        }
    }
    if opts.hardlinks {
        walk.hardlinks();
    }
    let mut diffs = walk.diffs;
    // By components, as the walk goes; stable, so one entry's differences
    // keep their order.
    diffs.sort_by(|x, y| x.path.cmp(&y.path));
    diffs
}

/// Panics, listing every difference one per line, unless the trees match.
#[track_caller]
pub fn assert_same_trees(a: &Path, b: &Path, opts: &CompareOptions) {
    let diffs = compare_trees(a, b, opts);
    if !diffs.is_empty() {
        let list: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
        panic!(
            "{} and {} differ in {} places:\n{}",
            a.display(),
            b.display(),
            diffs.len(),
            list.join("\n")
        );
    }
}

/// Which tree a [`What::Unreadable`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

struct Walk<'o> {
    opts: &'o CompareOptions,
    diffs: Vec<Difference>,
    /// Per tree: (dev, ino) of every non-directory → its relative paths.
    inodes: [HashMap<(u64, u64), Vec<PathBuf>>; 2],
}

impl Walk<'_> {
    fn report(&mut self, path: &Path, what: What) {
        self.diffs.push(Difference {
            path: path.to_path_buf(),
            what,
        });
    }

    fn unreadable(&mut self, path: &Path, side: Side, e: io::Error) {
        self.report(
            path,
            What::Unreadable {
                side,
                error: e.to_string(),
            },
        );
    }

    /// Compares the entry `name` of `da` and `db`, and what is below it.
    fn entry(&mut self, da: &DirFd, db: &DirFd, name: &OsStr, rel: &Path) {
        let (ma, mb) = match (da.stat(name), db.stat(name)) {
            (Ok(ma), Ok(mb)) => (ma, mb),
            (Err(e), _) => return self.unreadable(rel, Side::A, e),
            (_, Err(e)) => return self.unreadable(rel, Side::B, e),
        };
        if ma.file_type != mb.file_type {
            return self.report(
                rel,
                What::Type {
                    a: ma.file_type,
                    b: mb.file_type,
                },
            );
        }
        self.metadata(&ma, &mb, rel);
        if self.opts.xattrs {
            self.xattrs(da, db, name, rel);
        }
        match ma.file_type {
            FileType::RegularFile => self.content(da, db, name, rel, &ma, &mb),
            FileType::Symlink => match (da.readlink(name), db.readlink(name)) {
                (Ok(ta), Ok(tb)) if ta != tb => {
                    self.report(rel, What::SymlinkTarget { a: ta, b: tb })
                }
                (Ok(_), Ok(_)) => {}
                (Err(e), _) => self.unreadable(rel, Side::A, e),
                (_, Err(e)) => self.unreadable(rel, Side::B, e),
            },
            FileType::Directory if name == "." => self.children(da, db, rel),
            FileType::Directory => match (da.child(name), db.child(name)) {
                (Ok(ca), Ok(cb)) => self.children(&ca, &cb, rel),
                (Err(e), _) => self.unreadable(rel, Side::A, e),
                (_, Err(e)) => self.unreadable(rel, Side::B, e),
            },
            _ => {}
        }
    }

    fn metadata(&mut self, ma: &Meta, mb: &Meta, rel: &Path) {
        let t = ma.file_type;
        if t != FileType::Directory {
            for (side, m) in [(0, ma), (1, mb)] {
                self.inodes[side]
                    .entry((m.dev, m.ino))
                    .or_default()
                    .push(rel.to_path_buf());
            }
        }
        if t != FileType::Symlink && ma.perm != mb.perm {
            self.report(
                rel,
                What::Mode {
                    a: ma.perm,
                    b: mb.perm,
                },
            );
        }
        if self.opts.owners && (ma.uid, ma.gid) != (mb.uid, mb.gid) {
            self.report(
                rel,
                What::Owner {
                    a: (ma.uid, ma.gid),
                    b: (mb.uid, mb.gid),
                },
            );
        }
        let timed = matches!(
            t,
            FileType::RegularFile | FileType::Symlink | FileType::Directory
        );
        if self.opts.mtime && timed && ma.mtime != mb.mtime {
            self.report(
                rel,
                What::Mtime {
                    a: ma.mtime,
                    b: mb.mtime,
                },
            );
        }
        let device = matches!(t, FileType::CharacterDevice | FileType::BlockDevice);
        if device && ma.rdev != mb.rdev {
            self.report(
                rel,
                What::Device {
                    a: ma.rdev,
                    b: mb.rdev,
                },
            );
        }
        if t == FileType::RegularFile
            && let Some(slack) = self.opts.sparse_slack
            && mb.allocated > ma.allocated.saturating_add(slack)
        {
            self.report(
                rel,
                What::Allocated {
                    a: ma.allocated,
                    b: mb.allocated,
                },
            );
        }
    }

    fn xattrs(&mut self, da: &DirFd, db: &DirFd, name: &OsStr, rel: &Path) {
        let read = |d: &DirFd| -> io::Result<BTreeMap<OsString, Vec<u8>>> {
            let all = xattrs(&d.proc_path(name))?;
            Ok(all.into_iter().filter(|(n, _)| !self.ignored(n)).collect())
        };
        let (xa, xb) = match (read(da), read(db)) {
            (Ok(xa), Ok(xb)) => (xa, xb),
            (Err(e), _) => return self.unreadable(rel, Side::A, e),
            (_, Err(e)) => return self.unreadable(rel, Side::B, e),
        };
        let names: BTreeSet<&OsString> = xa.keys().chain(xb.keys()).collect();
        for n in names {
            let (va, vb) = (xa.get(n), xb.get(n));
            if va != vb {
                let what = What::Xattr {
                    name: n.as_bytes().to_vec(),
                    a: va.cloned(),
                    b: vb.cloned(),
                };
                self.report(rel, what);
            }
        }
    }

    fn ignored(&self, name: &OsStr) -> bool {
        self.opts
            .ignore_xattrs
            .iter()
            .any(|p| name.as_bytes().starts_with(p.as_bytes()))
    }

    fn content(&mut self, da: &DirFd, db: &DirFd, name: &OsStr, rel: &Path, ma: &Meta, mb: &Meta) {
        if ma.size != mb.size {
            return self.report(
                rel,
                What::Size {
                    a: ma.size,
                    b: mb.size,
                },
            );
        }
        let (fa, fb) = match (da.open_file(name), db.open_file(name)) {
            (Ok(fa), Ok(fb)) => (fa, fb),
            (Err(e), _) => return self.unreadable(rel, Side::A, e),
            (_, Err(e)) => return self.unreadable(rel, Side::B, e),
        };
        match first_difference(fa, fb) {
            Ok(None) => {}
            Ok(Some(offset)) => self.report(rel, What::Content { offset }),
            Err((side, e)) => self.unreadable(rel, side, e),
        }
    }

    fn children(&mut self, da: &DirFd, db: &DirFd, rel: &Path) {
        let (na, nb) = match (da.names(), db.names()) {
            (Ok(na), Ok(nb)) => (na, nb),
            (Err(e), _) => return self.unreadable(rel, Side::A, e),
            (_, Err(e)) => return self.unreadable(rel, Side::B, e),
        };
        let all: BTreeSet<&OsString> = na.iter().chain(nb.iter()).collect();
        for name in all {
            let child = if rel == Path::new(".") {
                PathBuf::from(name)
            } else {
                rel.join(name)
            };
            match (
                na.binary_search(name).is_ok(),
                nb.binary_search(name).is_ok(),
            ) {
                (true, true) => self.entry(da, db, name, &child),
                (true, false) => self.report(&child, What::OnlyInA),
                _ => self.report(&child, What::OnlyInB),
            }
        }
    }

    /// For every name that has other names for its inode in either tree,
    /// the set of those names must be the same in both.
    fn hardlinks(&mut self) {
        let group = |side: usize| -> HashMap<PathBuf, Vec<PathBuf>> {
            let mut by_path = HashMap::new();
            for paths in self.inodes[side].values() {
                let mut sorted = paths.clone();
                sorted.sort();
                for p in paths {
                    by_path.insert(p.clone(), sorted.clone());
                }
            }
            by_path
        };
        let (ga, gb) = (group(0), group(1));
        let mut seen = BTreeSet::new();
        let mut paths: Vec<&PathBuf> = ga.keys().collect();
        paths.sort();
        for p in paths {
            let (a, b) = (&ga[p], &gb[p]);
            if a != b && seen.insert((a.clone(), b.clone())) {
                self.report(
                    p,
                    What::Hardlinks {
                        a: a.clone(),
                        b: b.clone(),
                    },
                );
            }
        }
    }
}

/// Offset of the first differing byte of two equally long files.
fn first_difference(mut a: impl Read, mut b: impl Read) -> Result<Option<u64>, (Side, io::Error)> {
    const BUF: usize = 256 << 10;
    let (mut ba, mut bb) = (vec![0u8; BUF], vec![0u8; BUF]);
    let mut offset = 0u64;
    loop {
        let na = read_full(&mut a, &mut ba).map_err(|e| (Side::A, e))?;
        let nb = read_full(&mut b, &mut bb).map_err(|e| (Side::B, e))?;
        if ba[..na] != bb[..nb] {
            let i = ba[..na]
                .iter()
                .zip(&bb[..nb])
                .position(|(x, y)| x != y)
                .unwrap_or(na.min(nb));
            return Ok(Some(offset + i as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        offset += na as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
