//! The directories a restore works in, each reached from the target down
//! without following a symlink, and known by what it is (device, inode),
//! not by its path.
//!
//! Input: the target (opened once, as the user named it) and, as the plan
//! goes down, each directory opened or made below an earlier one. Output:
//! an open [`Dir`] per directory, shared by the threads that fill it.
//! Invariants: every file-system call of a restore is made relative to a
//! descriptor handed out here; a directory is opened only with
//! [`crate::fs::at::open_beneath`] (no symlink, nothing outside its
//! parent), and one reopened (after its descriptor was closed to bound the
//! open files) must still be the same inode, so a directory swapped for a
//! symlink or another directory meanwhile is refused, never entered.
//! Descriptors are kept, not reopened per file: at most [`Dirs::cap`] at
//! once, enough to hold every directory of most restores.

use crate::fs::at::Dir;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::sync::{Arc, Mutex};

/// Index of a directory in [`Dirs`]; 0 is the target.
pub type DirId = u32;

struct Known {
    parent: DirId,
    name: OsString,
    ident: (u64, u64),
}

pub struct Dirs {
    known: Vec<Known>,
    /// `None` only in a dry run into a target that does not exist.
    root: Option<Arc<Dir>>,
    open: Mutex<HashMap<DirId, Arc<Dir>>>,
    cap: usize,
}

/// The error for a directory that is no longer the one this restore made
/// or opened (renamed away, replaced by another or by a symlink).
pub fn replaced() -> io::Error {
    io::Error::other("it was replaced during the restore; nothing was written through it")
}

impl Dirs {
    /// Starts at the opened target.
    pub fn new(target: Option<Dir>) -> io::Result<Dirs> {
        let ident = match &target {
            Some(t) => t.ident()?,
            None => (0, 0),
        };
        // A quarter of the open-files limit: the rest is for the files
        // being written and the store.
        let cap = (crate::fs::open_files_limit() / 4).clamp(16, 16_384) as usize;
        Ok(Dirs {
            known: vec![Known {
                parent: 0,
                name: OsString::new(),
                ident,
            }],
            root: target.map(Arc::new),
            open: Mutex::new(HashMap::new()),
            cap,
        })
    }

    /// Records `dir`, just opened as `name` in `parent`.
    pub fn add(&mut self, parent: DirId, name: &OsStr, dir: Dir) -> io::Result<DirId> {
        let id = self.known.len() as DirId;
        self.known.push(Known {
            parent,
            name: name.to_os_string(),
            ident: dir.ident()?,
        });
        self.keep(id, Arc::new(dir));
        Ok(id)
    }

    fn keep(&self, id: DirId, dir: Arc<Dir>) {
        let mut open = self.open.lock().expect("poisoned");
        if open.len() >= self.cap {
            // Full: drop half (the threads using one keep it open).
            let drop: Vec<DirId> = open.keys().copied().take(self.cap / 2).collect();
            for d in drop {
                open.remove(&d);
            }
        }
        open.insert(id, dir);
    }

    /// The open directory `id`: kept, or reopened from its nearest open
    /// ancestor down, each step checked to be the same inode as before.
    pub fn get(&self, id: DirId) -> io::Result<Arc<Dir>> {
        let root = || {
            self.root
                .clone()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        };
        if id == 0 {
            return root();
        }
        let mut chain = Vec::new();
        let mut at = id;
        let mut dir = loop {
            if at == 0 {
                break root()?;
            }
            if let Some(d) = self.open.lock().expect("poisoned").get(&at) {
                break Arc::clone(d);
            }
            chain.push(at);
            at = self.known[at as usize].parent;
        };
        for &step in chain.iter().rev() {
            let k = &self.known[step as usize];
            let child = dir.child(&k.name)?;
            if child.ident()? != k.ident {
                return Err(replaced());
            }
            dir = Arc::new(child);
            self.keep(step, Arc::clone(&dir));
        }
        Ok(dir)
    }

    /// `id` opened anew from its parent by name, if it still is the
    /// directory this restore recorded: what its final metadata is
    /// applied through.
    pub fn reopen_checked(&self, id: DirId) -> io::Result<Dir> {
        let k = &self.known[id as usize];
        let parent = self.get(k.parent)?;
        let dir = parent.child(&k.name)?;
        if dir.ident()? != k.ident {
            return Err(replaced());
        }
        Ok(dir)
    }
}
