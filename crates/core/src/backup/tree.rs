//! Stage 3: receive the walker's events in order, wait for each file's
//! content, and write one tree blob per directory, bottom-up.

use super::read::FileError;
use super::walk::{Event, Pending, Status};
use crate::blob::BlobWriter;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::snapshot::Summary;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::TreeId;
use crate::progress::{Change, Progress};
use crossbeam_channel::Receiver;
use std::path::PathBuf;

/// A path that could not be backed up, and why.
#[derive(Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub error: Error,
}

pub struct TreeBuilder<'a> {
    pub writer: &'a BlobWriter,
    pub progress: &'a dyn Progress,
    pub summary: Summary,
    pub skipped: Vec<Skipped>,
    /// Files that changed while they were read.
    pub changed: Vec<PathBuf>,
}

impl TreeBuilder<'_> {
    /// Consumes every event; returns the root tree id.
    pub fn run(&mut self, events: &Receiver<Vec<Event>>) -> Result<TreeId> {
        // (directory node, its entries so far); the bottom is the root "/".
        let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
        for event in events.iter().flatten() {
            match event {
                Event::Enter(node) => stack.push((Some(node), Vec::new())),
                Event::Leave => {
                    let (node, children) = stack.pop().expect("walker balances Enter/Leave");
                    let mut node = node.expect("only the root has no node");
                    node.subtree = Some(self.save_tree(children)?);
                    self.summary.dirs += 1;
                    stack.last_mut().expect("root stays").1.push(node);
                }
                Event::Entry {
                    node,
                    path,
                    status,
                    pending,
                } => {
                    if let Some(node) = self.finish_entry(node, path, status, pending)? {
                        stack.last_mut().expect("root stays").1.push(node);
                    }
                }
                Event::Skipped(path, error) => {
                    self.progress.warning(&path, &error.to_string());
                    self.summary.errors += 1;
                    self.skipped.push(Skipped { path, error });
                }
            }
        }
        let (_, children) = stack.pop().expect("root stays");
        if !stack.is_empty() {
            // The walker stopped part way (it failed): no snapshot of half a tree.
            return Err(Error::fatal("the walk of the tree ended before its end"));
        }
        self.save_tree(children)
    }

    fn finish_entry(
        &mut self,
        mut node: Node,
        path: PathBuf,
        status: Status,
        pending: Pending,
    ) -> Result<Option<Node>> {
        let mut bytes_read = 0;
        if let Pending::Reading(rx) = pending {
            let read = rx
                .recv()
                .map_err(|_| Error::fatal("a reader stopped").with_location(path.display()))?;
            match read {
                Ok(r) => {
                    if r.changed_while_reading {
                        self.progress.changed_while_reading(&path);
                        self.changed.push(path.clone());
                    }
                    node.content = r.content;
                    node.holes = r.holes;
                    node.size = r.size;
                    bytes_read = r.bytes_read;
                }
                // The repository failing is fatal; a file failing is not.
                Err(FileError::Repository(e)) => return Err(e),
                Err(FileError::Unreadable(e)) => {
                    self.progress.warning(&path, &e.to_string());
                    self.summary.errors += 1;
                    self.skipped.push(Skipped { path, error: e });
                    return Ok(None);
                }
            }
        }
        if node.kind == NodeKind::File {
            match status {
                Status::New => self.summary.files_new += 1,
                Status::Changed => self.summary.files_changed += 1,
                Status::Unchanged => self.summary.files_unchanged += 1,
            }
            let change = match status {
                Status::New => Some(Change::New),
                Status::Changed => Some(Change::Modified),
                Status::Unchanged => None,
            };
            if let Some(change) = change {
                self.progress.file_read(&path, change, node.size);
            }
            self.summary.total_bytes += node.size;
            self.summary.bytes_read += bytes_read;
        } else {
            self.summary.other_entries += 1;
        }
        self.progress.entry_done(&path, bytes_read, node.size);
        Ok(Some(node))
    }

    fn save_tree(&self, children: Vec<Node>) -> Result<TreeId> {
        let tree = Tree::new(children);
        let (id, _) = self.writer.add(
            BlobKind::Tree,
            &tree.encode_checked("a directory being backed up")?,
        )?;
        Ok(id.tree())
    }
}
