//! The embedded default store: a directory on a local filesystem.
//!
//! A put writes a temporary file beside its destination, fsyncs it, then
//! renames (or, for create-only puts, hard-links) it into place and fsyncs the
//! directory, so a crash leaves either the whole object or nothing (plus at
//! worst a `.tmp-*` file that listings skip and `prune` may remove).
//!
//! Everything it creates is private whatever the umask: directories 0700,
//! files 0600. Key files are encrypted, but a copy lets anyone guess the
//! password offline; snapshots and packs leak sizes and counts.

use super::{ObjectMeta, PutHints, Store};
use crate::error::{Error, Kind, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const TMP_PREFIX: &str = ".tmp-";
/// Modes of what a local repository (or the cache) creates: owner only.
pub const PRIVATE_DIR: u32 = 0o700;
pub const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700 (the umask can only
/// take bits away). Existing directories keep their mode.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
}

/// Objects kept open for ranged reads (packs): a backup reads thousands of
/// tree blobs from a few packs, a restore many blobs from each pack.
const OPEN_FILES: usize = 16;

pub struct LocalStore {
    root: PathBuf,
    /// Recently read objects, most recent last. An object is immutable
    /// once stored; an entry is dropped when this store deletes or
    /// replaces its key.
    open: Mutex<Vec<(String, Arc<File>)>>,
}

impl LocalStore {
    /// A store rooted at `root`. The directory need not exist yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore {
            root: root.into(),
            open: Mutex::new(Vec::new()),
        }
    }

    /// `key` opened as a regular file, from the cache when it is there.
    fn open_object(&self, key: &str) -> Result<Arc<File>> {
        let mut open = self.open.lock().expect("open files lock");
        if let Some(i) = open.iter().position(|(k, _)| k == key) {
            let entry = open.remove(i);
            let file = Arc::clone(&entry.1);
            open.push(entry);
            return Ok(file);
        }
        drop(open);
        let file = Arc::new(self.open_file(key)?);
        let mut open = self.open.lock().expect("open files lock");
        if open.len() >= OPEN_FILES {
            open.remove(0);
        }
        open.push((key.to_string(), Arc::clone(&file)));
        Ok(file)
    }

    fn open_file(&self, key: &str) -> Result<File> {
        let path = self.path(key)?;
        let f = File::open(&path).map_err(|e| not_found_or(e, "cannot open object", key))?;
        if !f
            .metadata()
            .map_err(|e| Error::io("cannot stat object", key, e))?
            .is_file()
        {
            return Err(Error::at(Kind::NotFound, "not an object", key));
        }
        Ok(f)
    }

    fn forget_open(&self, key: &str) {
        self.open
            .lock()
            .expect("open files lock")
            .retain(|(k, _)| k != key);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key.is_empty()
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid("invalid object key").with_location(key));
        }
        Ok(self.root.join(key))
    }

    fn write_new(&self, dst: &Path, data: &[u8], create_only: bool) -> Result<()> {
        let dir = dst.parent().expect("keys always have a parent (the root)");
        create_private_dir(dir)
            .map_err(|e| Error::io("cannot create directory", dir.display(), e))?;
        let tmp = dir.join(format!("{TMP_PREFIX}{:016x}", rand::random::<u64>()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(PRIVATE_FILE)
                .open(&tmp)
                .map_err(|e| Error::io("cannot create file", tmp.display(), e))?;
            // Packs bypass the page cache; the rest (and any tail) is
            // written as usual.
            let rest = super::direct::write_prefix(&f, data);
            f.write_all(rest)
                .map_err(|e| Error::io("cannot write file", tmp.display(), e))?;
            f.sync_all()
                .map_err(|e| Error::io("cannot sync file", tmp.display(), e))?;
            if create_only {
                // link() fails with EEXIST atomically: never replaces an object.
                fs::hard_link(&tmp, dst)
                    .map_err(|e| Error::io("cannot store object", dst.display(), e))
            } else {
                fs::rename(&tmp, dst)
                    .map_err(|e| Error::io("cannot store object", dst.display(), e))
            }
        })();
        let _ = fs::remove_file(&tmp);
        result?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Store for LocalStore {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        let dst = self.path(key)?;
        self.forget_open(key);
        match self.write_new(&dst, data, hints.create_only) {
            Err(e) if e.kind() == Kind::AlreadyExists => super::create_only::settle_existing(
                self,
                key,
                data,
                Error::at(Kind::AlreadyExists, "object already exists", key),
            ),
            r => r,
        }
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        let Some(r) = range else {
            let mut buf = Vec::new();
            self.open_file(key)?
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("cannot read object", key, e))?;
            return Ok(buf);
        };
        let len = r.end.checked_sub(r.start).ok_or_else(|| {
            Error::invalid(format!("invalid range {}..{}", r.start, r.end)).with_location(key)
        })?;
        let mut buf = vec![0u8; len as usize];
        self.open_object(key)?
            .read_exact_at(&mut buf, r.start)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::corrupt(
                        format!("object is shorter than range {}..{}", r.start, r.end),
                        key,
                    )
                } else {
                    Error::io("cannot read object", key, e)
                }
            })?;
        Ok(buf)
    }

    fn head(&self, key: &str) -> Result<ObjectMeta> {
        let path = self.path(key)?;
        let md = fs::metadata(&path).map_err(|e| not_found_or(e, "cannot stat object", key))?;
        if !md.is_file() {
            return Err(Error::at(Kind::NotFound, "not an object", key));
        }
        Ok(ObjectMeta::new(key, md.len()))
    }

    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        // Start at the deepest directory named by the prefix, then filter.
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir_part)
        };
        walk_dirs(start, &mut |entry, below| {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Ok(());
            };
            if name.starts_with(TMP_PREFIX) {
                return Ok(());
            }
            let ft = entry
                .file_type()
                .map_err(|e| Error::io("cannot stat", entry.path().display(), e))?;
            let path = entry.path();
            let rel = path
                .strip_prefix(&self.root)
                .expect("walk stays under root");
            let Some(key) = rel.to_str() else {
                return Ok(());
            };
            if ft.is_dir() {
                let k = format!("{key}/");
                if k.starts_with(prefix) || prefix.starts_with(&k) {
                    below.push(path);
                }
            } else if ft.is_file() && key.starts_with(prefix) {
                let md = entry.metadata().ok();
                each(ObjectMeta {
                    modified: md.as_ref().map(std::os::unix::fs::MetadataExt::mtime),
                    ..ObjectMeta::new(key, md.map_or(0, |m| m.len()))
                })?;
            }
            Ok(())
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        self.forget_open(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) => match not_found_or(e, "cannot delete object", key) {
                e if e.kind() == Kind::NotFound => Ok(()),
                e => Err(e),
            },
        }
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn remove_fragments(&self, before: std::time::SystemTime) -> Result<u64> {
        let mut removed = 0;
        walk_dirs(self.root.clone(), &mut |entry, below| {
            let path = entry.path();
            let Ok(md) = fs::symlink_metadata(&path) else {
                return Ok(()); // gone meanwhile
            };
            let fragment = entry.file_name().to_string_lossy().starts_with(TMP_PREFIX);
            if md.is_dir() && !fragment {
                below.push(path);
            } else if md.is_file() && fragment && md.modified().is_ok_and(|t| t < before) {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("cannot remove", path.display(), e)),
                }
            }
            Ok(())
        })?;
        Ok(removed)
    }
}

/// Calls `visit` for every entry of `start` and of the directories it
/// pushes onto its second argument (iteratively; a directory gone
/// meanwhile is skipped).
fn walk_dirs(
    start: PathBuf,
    visit: &mut dyn FnMut(&fs::DirEntry, &mut Vec<PathBuf>) -> Result<()>,
) -> Result<()> {
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("cannot list directory", dir.display(), e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("cannot list directory", dir.display(), e))?;
            visit(&entry, &mut stack)?;
        }
    }
    Ok(())
}

/// An I/O error on `key`, where a key that names a directory of objects
/// (`EISDIR`) or goes below an object (`ENOTDIR`) is simply not found.
fn not_found_or(e: std::io::Error, what: &str, key: &str) -> Error {
    use std::io::ErrorKind::{IsADirectory, NotADirectory};
    if matches!(e.kind(), IsADirectory | NotADirectory) {
        Error::at(Kind::NotFound, "no such object", key).with_source(e)
    } else {
        Error::io(what, key, e)
    }
}
