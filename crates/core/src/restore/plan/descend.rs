//! How the plan goes down the target: each directory is opened from its
//! parent by name without following a symlink (or made, where nothing is),
//! and directories on the way to an `--include`d path only when something
//! below them is restored.
//!
//! Input: the walk's current path as a stack of [`Frame`]s. Output: the
//! [`DirId`] of the directory to plan entries in. Invariants: a symlink or
//! non-directory on the way is reported once and nothing below it is
//! restored; a directory that exists is never replaced on the way, only
//! when the snapshot selects it.

use super::super::dirs::DirId;
use super::super::inplace::{Action, decide, same_metadata};
use super::super::planned::{ChangeKind, PlannedDir};
use super::super::write::make_dir;
use super::Planner;
use super::name_of;
use crate::error::{Error, Kind};
use crate::format::tree::{Node, NodeKind};
use std::path::{Path, PathBuf};

/// Where a directory on the walk's current path stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Open(DirId),
    /// Reached only through include patterns: opened (or made) when
    /// something below is restored.
    Pending,
    /// Not there (dry run): nothing below exists either.
    Absent,
    /// Could not be opened or made (reported once).
    Broken,
}

pub(super) struct Frame {
    pub(super) path: PathBuf,
    pub(super) state: State,
    /// This restore made it (or would, in a dry run): it is empty.
    pub(super) fresh: bool,
    /// Its place in `plan.dirs`, while pending.
    pub(super) planned: Option<usize>,
}

/// Why an `--include`d path cannot be restored below `path`.
pub(super) fn not_a_dir(path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => Error::at(
            Kind::Fatal,
            "not restored below a symlink or non-directory in the target (restore never follows one)",
            path.display(),
        ),
        _ => Error::io("cannot open directory", path.display(), e),
    }
}

impl Planner<'_> {
    pub(super) fn top(&self) -> &Frame {
        self.chain.last().expect("the target is always there")
    }

    /// Opens (or makes) the directories on the current path that are
    /// still pending, from the target down, none through a symlink.
    /// Returns the current directory: `Ok(None)` when it does not exist
    /// (dry run), `Err(())` when it cannot be reached (reported once).
    pub(super) fn ensure(&mut self) -> std::result::Result<Option<DirId>, ()> {
        let mut parent: Option<DirId> = None;
        for i in 0..self.chain.len() {
            match self.chain[i].state {
                State::Open(d) => parent = Some(d),
                State::Absent => parent = None,
                State::Broken => return Err(()),
                State::Pending => {
                    let (state, fresh) = self.open_pending(i, parent);
                    let frame = &mut self.chain[i];
                    frame.state = state;
                    frame.fresh = fresh;
                    match state {
                        State::Open(d) => {
                            parent = Some(d);
                            if let Some(at) = frame.planned.filter(|_| fresh) {
                                self.plan.dirs[at].dir = Some(d);
                            }
                        }
                        State::Absent => parent = None,
                        _ => return Err(()),
                    }
                }
            }
        }
        Ok(parent)
    }

    /// Opens the pending directory `chain[i]` in `parent`, or makes it
    /// where nothing is. Returns its state and whether it was made.
    fn open_pending(&mut self, i: usize, parent: Option<DirId>) -> (State, bool) {
        let path = self.chain[i].path.clone();
        let name = name_of(&path);
        let Some(parent) = parent else {
            return (State::Absent, true);
        };
        let fresh_parent = self.chain[i - 1].fresh;
        let pd = match self.dir_of(parent, &path) {
            Ok(d) => d,
            Err(e) => {
                self.fail(path, e);
                return (State::Broken, false);
            }
        };
        if !fresh_parent {
            match pd.child(name) {
                Ok(d) => {
                    return match self.plan.dirs_open.add(parent, name, d) {
                        Ok(id) => (State::Open(id), false),
                        Err(e) => {
                            self.fail(path.clone(), not_a_dir(&path, e));
                            (State::Broken, false)
                        }
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.fail(path.clone(), not_a_dir(&path, e));
                    return (State::Broken, false);
                }
            }
        }
        if self.dry_run {
            return (State::Absent, true);
        }
        let made = make_dir(&pd, name, &path).and_then(|d| {
            self.plan
                .dirs_open
                .add(parent, name, d)
                .map_err(|e| Error::io("cannot open directory", path.display(), e))
        });
        match made {
            Ok(id) => (State::Open(id), true),
            Err(e) => {
                self.fail(path, e);
                (State::Broken, false)
            }
        }
    }

    /// A selected directory: makes it if needed. Returns the frame to walk
    /// its entries in (`None`: skip them).
    pub(super) fn dir(&mut self, path: PathBuf, node: Node) -> Option<Frame> {
        let parent = self.ensure().ok()?;
        let fresh = self.top().fresh;
        let name = name_of(&path).to_os_string();
        let existing = match parent {
            Some(p) if !fresh => self.existing(p, &name, &node),
            _ => None,
        };
        let action = decide(&node, existing.as_ref(), self.overwrite);
        let is_there = existing
            .as_ref()
            .is_some_and(|e| e.meta.kind == NodeKind::Dir);
        let frame = |state, fresh| Frame {
            path: path.clone(),
            state,
            fresh,
            planned: None,
        };
        if action == Action::Keep && !is_there {
            self.plan.kept += 1;
            return None;
        }
        if matches!(action, Action::Keep | Action::Metadata) {
            if action == Action::Keep {
                self.plan.kept += 1;
            } else if self.dry_run
                && !existing
                    .as_ref()
                    .is_some_and(|e| same_metadata(&node, e, self.owner(&node)))
            {
                self.change(ChangeKind::Update, &path);
            }
            // Open what is there, never through a symlink (it may have
            // been swapped for one since it was looked at).
            let parent = parent?;
            let opened = self.dir_of(parent, &path).and_then(|pd| {
                let d = pd.child(&name).map_err(|e| not_a_dir(&path, e))?;
                self.plan
                    .dirs_open
                    .add(parent, &name, d)
                    .map_err(|e| Error::io("cannot open directory", path.display(), e))
            });
            let id = match opened {
                Ok(id) => id,
                Err(e) => {
                    self.fail(path.clone(), e);
                    return None;
                }
            };
            if action == Action::Metadata {
                self.plan.dirs.push(PlannedDir {
                    path: path.clone(),
                    node,
                    dir: Some(id),
                });
            }
            return Some(frame(State::Open(id), false));
        }
        let kind = if action == Action::Create {
            ChangeKind::New
        } else {
            ChangeKind::Replace
        };
        self.change(kind, &path);
        if self.dry_run {
            self.plan.dirs.push(PlannedDir {
                path: path.clone(),
                node,
                dir: None,
            });
            return Some(frame(State::Absent, true));
        }
        let parent = parent.expect("only a dry run has absent directories");
        let made = self.dir_of(parent, &path).and_then(|pd| {
            if action == Action::Replace {
                pd.remove_all(&name)
                    .map_err(|e| Error::io("cannot replace", path.display(), e))?;
            }
            let d = make_dir(&pd, &name, &path)?;
            self.plan
                .dirs_open
                .add(parent, &name, d)
                .map_err(|e| Error::io("cannot open directory", path.display(), e))
        });
        match made {
            Ok(id) => {
                self.plan.dirs.push(PlannedDir {
                    path: path.clone(),
                    node,
                    dir: Some(id),
                });
                Some(frame(State::Open(id), true))
            }
            Err(e) => {
                self.fail(path.clone(), e);
                None
            }
        }
    }
}
