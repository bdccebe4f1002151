//! Stages 2 and 3 of a restore: create the planned files (under their
//! temporary names) in parallel, then fetch each pack once and write its
//! blobs where they belong; the write that completes a file sets its
//! length and metadata and renames it into place.
//!
//! Input: a [`Plan`]. Output: files on disk; failures collected per file.
//! Invariants: a file's temporary name is renamed to its final name only
//! when every blob it needs was written and its metadata applied; a file
//! that failed leaves no temporary file behind and its old version (if
//! any) untouched. A file where nothing was is written under its own name
//! (no rename), and removed if it fails. A file whose content is complete
//! but whose owner, mode or xattrs cannot be applied is kept (and
//! reported). Every file is reached through its directory's descriptor
//! ([`super::dirs`]) and reopened only if it is still the inode created.
//! Only the store failing stops the restore.

use super::plan::{PackPlan, Plan};
use super::planned::Target;
use super::{Failed, write};
use crate::blob::Wanted;
use crate::error::parallel;
use crate::error::{Error, Result};
use crate::fs::{ApplyOptions, Entry, Owners, apply_metadata};
use crate::progress::Progress;
use crate::repo::Repository;
use std::fs::File;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// `remaining` of a file that could not be created: its blobs are skipped.
const NOT_CREATED: u32 = u32::MAX;

pub struct Run<'a> {
    pub repo: &'a Repository,
    pub plan: &'a Plan,
    pub owners: &'a Owners,
    pub apply: ApplyOptions,
    pub progress: &'a dyn Progress,
    remaining: Vec<AtomicU32>,
    file_failed: Vec<AtomicBool>,
    /// The inode each file was created as (0: not yet).
    inodes: Vec<AtomicU64>,
    pub failed: Mutex<Vec<Failed>>,
    /// Files restored whose metadata could not all be applied.
    pub metadata_failed: Mutex<Vec<Failed>>,
}

impl<'a> Run<'a> {
    pub fn new(
        repo: &'a Repository,
        plan: &'a Plan,
        owners: &'a Owners,
        apply: ApplyOptions,
        progress: &'a dyn Progress,
    ) -> Self {
        Run {
            repo,
            plan,
            owners,
            apply,
            progress,
            remaining: plan
                .blobs_per_file
                .iter()
                .map(|&n| AtomicU32::new(n))
                .collect(),
            file_failed: plan.files.iter().map(|_| AtomicBool::new(false)).collect(),
            inodes: plan.files.iter().map(|_| AtomicU64::new(0)).collect(),
            failed: Mutex::new(Vec::new()),
            metadata_failed: Mutex::new(Vec::new()),
        }
    }

    /// Creates every file, then writes every pack's blobs with as many
    /// workers as `threads` and `connections` together; returns the first
    /// store error, if one stopped the restore.
    pub fn run(&self, threads: usize, connections: usize) -> Result<()> {
        parallel(threads, self.plan.files.len(), |i| self.create(i));
        let fatal: Mutex<Option<Error>> = Mutex::new(None);
        parallel(threads, self.plan.copies.len(), |i| {
            if let Err(e) = self.copy(i) {
                fatal.lock().expect("poisoned").get_or_insert(e);
            }
        });
        parallel(threads + connections, self.plan.packs.len(), |i| {
            if let Err(e) = self.pack(&self.plan.packs[i]) {
                fatal.lock().expect("poisoned").get_or_insert(e);
            }
        });
        match fatal.into_inner().expect("poisoned") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn fail(&self, file: usize, error: Error) {
        if !self.file_failed[file].swap(true, Ordering::Relaxed) {
            let path = self.plan.files[file].path.clone();
            self.progress.warning(&path, &error.to_string());
            self.failed
                .lock()
                .expect("poisoned")
                .push(Failed { path, error });
        }
    }

    /// Whether `file` failed (its content is not restored).
    pub fn has_failed(&self, file: usize) -> bool {
        self.file_failed[file].load(Ordering::Relaxed)
    }

    fn dir(&self, file: usize) -> Result<std::sync::Arc<crate::fs::at::Dir>> {
        let f = &self.plan.files[file];
        self.plan
            .dirs_open
            .get(f.dir)
            .map_err(|e| Error::io("cannot open directory", f.path.display(), e))
    }

    /// Removes what was written of `file` under its temporary name (or its
    /// own, when nothing was there before).
    fn discard(&self, file: usize) {
        if let Ok(d) = self.dir(file) {
            write::discard(&d, &self.plan.files[file].temp());
        }
    }

    fn create(&self, file: usize) {
        let f = &self.plan.files[file];
        if self.plan.blobs_per_file[file] == 1 {
            return; // created with its content by `pack`, in one open
        }
        let made = self
            .dir(file)
            .and_then(|d| write::create_new(&d, &f.temp(), f.temp_n != 0, &f.path));
        match made {
            Err(e) => {
                self.fail(file, e);
                self.remaining[file].store(NOT_CREATED, Ordering::Relaxed);
            }
            Ok(open) => {
                self.inodes[file].store(write::inode(&open), Ordering::Relaxed);
                if self.plan.blobs_per_file[file] == 0 {
                    self.finish_file(file, true, Some(&open));
                }
            }
        }
    }

    /// One blob of `file` is done (written or failed).
    fn blob_done(&self, file: usize) {
        if self.remaining[file].fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish_file(file, true, None);
        }
    }

    /// Opens the file this restore created for `file`, to write more.
    fn reopen(&self, file: usize) -> Result<File> {
        let f = &self.plan.files[file];
        let ino = self.inodes[file].load(Ordering::Relaxed);
        write::open_created(&*self.dir(file)?, &f.temp(), ino, &f.path)
    }

    /// Sets the final length (unless already set) and the metadata
    /// (through `open`, or the file reopened), and renames the file into
    /// place; a file that failed is discarded. Metadata that cannot be
    /// applied is reported, the content kept.
    fn finish_file(&self, file: usize, set_length: bool, open: Option<&File>) {
        let f = &self.plan.files[file];
        if self.file_failed[file].load(Ordering::Relaxed) {
            return self.discard(file);
        }
        let reopened = match open {
            Some(_) => None,
            None => match self.reopen(file) {
                Ok(o) => Some(o),
                Err(e) => {
                    self.discard(file);
                    return self.fail(file, e);
                }
            },
        };
        let r = Ok(open.or(reopened.as_ref()).expect("one of them"))
            .and_then(|open: &File| {
                if set_length {
                    open.set_len(f.node.size)
                        .map_err(|e| Error::io("cannot set length", f.path.display(), e))?;
                }
                Ok(apply_metadata(
                    &Entry::Fd(open),
                    &f.path,
                    &f.node,
                    self.owners,
                    self.apply,
                ))
            })
            .and_then(|meta| {
                if f.temp_n != 0 {
                    write::rename_into_place(&*self.dir(file)?, &f.temp(), f.name(), &f.path)?;
                }
                Ok(meta)
            });
        match r {
            Ok(meta) => {
                if let Err(e) = meta {
                    self.progress.warning(&f.path, &e.to_string());
                    self.metadata_failed.lock().expect("poisoned").push(Failed {
                        path: f.path.clone(),
                        error: e,
                    });
                }
                self.progress.entry_done(&f.path, f.node.size, f.node.size)
            }
            Err(e) => {
                self.discard(file);
                self.fail(file, e);
            }
        }
    }

    /// Reads the needed blobs of one pack (in few ranged GETs, through the
    /// shared pack reader) and writes them where they go.
    fn pack(&self, p: &PackPlan) -> Result<()> {
        let info = self.repo.index().packs()[p.pack as usize];
        let key = crate::format::pack::key(info.kind, &info.id);
        let wants: Vec<Wanted> = p.blobs.iter().map(|b| b.0).collect();
        // A missing or damaged pack or blob costs the files that need it; a
        // store that fails (network, permissions) stops the restore.
        self.repo.read_pack_blobs(&key, &wants, |i, plain| {
            for t in &p.blobs[i].1 {
                self.write_blob(t, &plain);
            }
            Ok(())
        })
    }

    /// Copies a blob from where an earlier batch restored it; fetches it
    /// when that copy is gone or no longer the blob.
    fn copy(&self, i: usize) -> Result<()> {
        let (target, copy, id, len) = &self.plan.copies[i];
        let dirs = &self.plan.dirs_open;
        let plain = match super::shared::read_copy(self.repo, dirs, copy, id, *len) {
            Some(data) => Ok(data),
            None => match self.repo.read_blob(id) {
                Err(e) if e.kind() == crate::error::Kind::Fatal => return Err(e),
                r => r,
            },
        };
        self.write_blob(target, &plain);
        Ok(())
    }

    /// Writes one blob's bytes (or its error) to one place in a file.
    fn write_blob(&self, t: &Target, plain: &Result<Vec<u8>>) {
        if self.remaining[t.file].load(Ordering::Relaxed) == NOT_CREATED {
            return;
        }
        let f = &self.plan.files[t.file];
        let whole = self.plan.blobs_per_file[t.file] == 1;
        let r = match plain {
            Ok(data) if whole => {
                let made = self.dir(t.file).and_then(|d| {
                    let what = (t.offset, &data[..], f.node.size);
                    write::write_whole(&d, &f.temp(), f.temp_n != 0, &f.path, what)
                });
                match made {
                    Ok(open) => return self.finish_file(t.file, false, Some(&open)),
                    Err(e) => Err(e),
                }
            }
            // All zeros: stays a hole.
            Ok(data) if data.iter().all(|&b| b == 0) => Ok(()),
            Ok(data) => self
                .reopen(t.file)
                .and_then(|o| write::write_at(&o, &f.path, t.offset, data)),
            Err(e) => Err(
                Error::new(e.kind(), format!("cannot restore content ({e})"))
                    .with_location(f.path.display()),
            ),
        };
        if let Err(e) = r {
            self.fail(t.file, e);
        }
        // A whole file was never created, or removed by `write_whole`:
        // nothing more comes.
        if !whole {
            self.blob_done(t.file);
        }
    }
}
