//! Rewriting a snapshot's trees without some of their entries: what
//! `repair snapshots` (entries whose data is lost) and `rewrite` (entries
//! matching excludes) share. Trees are rewritten bottom-up with an explicit
//! stack (no recursion: a tree may be thousands of levels deep); an
//! unchanged subtree keeps its id, so the new snapshot dedups with the old
//! one everywhere but on the paths to what was left out, and data blobs are
//! never read or written.
//!
//! Input: a root tree and a [`Judge`] that says which entries go (and, for
//! a copy into another repository, how each kept entry's content maps).
//! Output: the new root's id and the paths left out, or the root itself
//! lost.

use crate::blob::BlobWriter;
use crate::error::{Kind, Result};
use crate::format::pack::BlobKind;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::TreeId;
use crate::repo::Repository;
use std::collections::HashMap;

/// Decides which entries of a snapshot are left out.
pub(crate) trait Judge {
    /// Whether `node`, at `path` (absolute, `/`-separated bytes), is left
    /// out. A directory left out is not read.
    fn leave_out(&mut self, path: &[u8], node: &Node) -> bool;
    /// Whether what is left out of a tree depends on its id alone (not on
    /// where it is): then each distinct tree is rewritten once.
    fn by_id(&self) -> bool;
    /// A subtree at `path` cannot be read: `Ok` leaves it out, an error
    /// stops the rewrite.
    fn lost_tree(&mut self, path: &[u8], why: &str) -> Result<()>;
    /// Whether every tree is stored anew, changed or not (trees written
    /// into another repository, whose key gives them other ids).
    fn rekeys(&self) -> bool {
        false
    }
    /// Changes a kept entry that is not a directory (its content, for a
    /// copy into another repository); only called when the judge
    /// [`rekeys`](Self::rekeys).
    fn map(&mut self, _path: &[u8], _node: &mut Node) -> Result<()> {
        Ok(())
    }
}

/// What became of a tree.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// The tree cannot be read (not in the index, or damaged).
    Lost(String),
    /// Its (new) id, and the paths below it that were left out (relative).
    Kept { id: TreeId, left_out: Vec<Vec<u8>> },
}

/// A tree being rewritten: its nodes, the next one to look at, the nodes kept.
struct Frame {
    id: TreeId,
    path: Vec<u8>,
    nodes: Vec<Node>,
    next: usize,
    kept: Vec<Node>,
    left_out: Vec<Vec<u8>>,
    changed: bool,
}

/// Reads a tree: `Ok(Err(why))` if it is lost (not in the index, or
/// damaged); `Err` only if the store fails.
fn read(repo: &Repository, id: TreeId) -> Result<std::result::Result<Tree, String>> {
    match repo.read_tree(&id) {
        Ok(t) => Ok(Ok(t)),
        Err(e) if matches!(e.kind(), Kind::NotFound | Kind::Corrupt) => Ok(Err(e.to_string())),
        Err(e) => Err(e),
    }
}

fn join(path: &[u8], name: &[u8]) -> Vec<u8> {
    match path {
        b"/" => [b"/", name].concat(),
        _ => [path, b"/", name].concat(),
    }
}

/// Rewrites the tree `root` without what `judge` leaves out and without
/// subtrees that cannot be read (each a path left out). New trees go to
/// `writer`; without one (a dry run) only their ids are computed. `memo`
/// remembers rewritten trees across calls when the judge decides by id.
pub(crate) fn rewrite_tree(
    repo: &Repository,
    writer: Option<&BlobWriter>,
    root: TreeId,
    judge: &mut dyn Judge,
    memo: &mut HashMap<TreeId, Outcome>,
) -> Result<Outcome> {
    let by_id = judge.by_id();
    let rekeys = judge.rekeys();
    let frame = |id: TreeId, path: Vec<u8>, tree: Tree| Frame {
        id,
        path,
        nodes: tree.nodes,
        next: 0,
        kept: Vec::new(),
        left_out: Vec::new(),
        changed: rekeys,
    };
    if let Some(o) = memo.get(&root).filter(|_| by_id) {
        return Ok(o.clone());
    }
    let mut stack = match read(repo, root)? {
        Ok(t) => vec![frame(root, b"/".to_vec(), t)],
        Err(why) => return Ok(Outcome::Lost(why)),
    };
    // The outcome of the frame popped last, for the node that pushed it.
    let mut done: Option<Outcome> = None;
    while let Some(top) = stack.last_mut() {
        if top.next == top.nodes.len() {
            let f = stack.pop().expect("a frame");
            let id = match f.changed {
                true => save_tree(repo, writer, Tree::new(f.kept))?,
                false => f.id,
            };
            let o = Outcome::Kept {
                id,
                left_out: f.left_out,
            };
            if by_id {
                memo.insert(f.id, o.clone());
            }
            done = Some(o);
            continue;
        }
        let node = &top.nodes[top.next];
        let path = join(&top.path, &node.name);
        if done.is_none() && judge.leave_out(&path, node) {
            top.left_out.push(node.name.clone());
            top.changed = true;
            top.next += 1;
            continue;
        }
        let Some(sub) = node.subtree.filter(|_| node.kind == NodeKind::Dir) else {
            let mut node = node.clone();
            if rekeys {
                judge.map(&path, &mut node)?;
            }
            top.kept.push(node);
            top.next += 1;
            continue;
        };
        let outcome = match (done.take(), memo.get(&sub).filter(|_| by_id)) {
            (Some(o), _) => o,
            (None, Some(o)) => o.clone(),
            (None, None) => match read(repo, sub)? {
                Ok(t) => {
                    stack.push(frame(sub, path, t));
                    continue; // back to this node once `sub` is done
                }
                Err(why) => Outcome::Lost(why),
            },
        };
        if let Outcome::Lost(why) = &outcome {
            judge.lost_tree(&path, why)?;
        }
        let mut node = node.clone();
        top.next += 1;
        match outcome {
            Outcome::Lost(_) => {
                top.left_out.push(node.name.clone());
                top.changed = true;
            }
            Outcome::Kept { id, left_out } => {
                for l in left_out {
                    top.left_out.push([node.name.as_slice(), b"/", &l].concat());
                }
                if id != sub {
                    node.subtree = Some(id);
                    top.changed = true;
                }
                top.kept.push(node);
            }
        }
    }
    Ok(done.expect("the root was rewritten"))
}

/// Stores a rewritten tree (without a writer, only computes its id).
fn save_tree(repo: &Repository, writer: Option<&BlobWriter>, tree: Tree) -> Result<TreeId> {
    let bytes = tree.encode();
    let id = match writer {
        Some(w) => w.add(BlobKind::Tree, &bytes)?.0,
        None => repo.key().blob_id(&bytes),
    };
    Ok(TreeId(id.0))
}
