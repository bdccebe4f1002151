//! Browsing a snapshot: find a path in its trees, list what is below it.

use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind};
use crate::id::TreeId;
use crate::repo::Repository;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Calls `each(path, node)` for `start` (an absolute path in the snapshot)
/// and, if it is a directory, for everything below it (only its direct
/// entries unless `recursive`), in tree order.
pub fn ls(
    repo: &Repository,
    root: TreeId,
    start: &Path,
    recursive: bool,
    each: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    let mut tree_id = root;
    let mut path = PathBuf::from("/");
    let mut node: Option<Node> = None;
    for c in start.components() {
        let Component::Normal(name) = c else { continue };
        let tree = match &node {
            None => repo.read_tree(&tree_id)?,
            Some(n) if n.kind == NodeKind::Dir => {
                tree_id = n.subtree.expect("decoder checks dirs have subtrees");
                repo.read_tree(&tree_id)?
            }
            Some(_) => {
                return Err(Error::at(
                    Kind::NotFound,
                    "not a directory in the snapshot",
                    path.display(),
                ));
            }
        };
        path.push(name);
        node = Some(tree.find(name.as_bytes()).cloned().ok_or_else(|| {
            Error::at(
                Kind::NotFound,
                "no such path in the snapshot",
                start.display(),
            )
        })?);
    }
    match node {
        None => walk(repo, root, &path, recursive, each),
        Some(n) => {
            each(&path, &n)?;
            match n.subtree {
                Some(sub) if n.kind == NodeKind::Dir => walk(repo, sub, &path, recursive, each),
                _ => Ok(()),
            }
        }
    }
}

/// Calls `each` for every entry of tree `id` (at `dir`) and, if
/// `recursive`, below, depth first in tree order. The trees being walked
/// are a stack of their remaining entries, so depth costs no thread stack.
fn walk(
    repo: &Repository,
    id: TreeId,
    dir: &Path,
    recursive: bool,
    each: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    let mut stack = vec![(dir.to_path_buf(), repo.read_tree(&id)?.nodes.into_iter())];
    while let Some((dir, nodes)) = stack.last_mut() {
        let Some(n) = nodes.next() else {
            stack.pop();
            continue;
        };
        let path = dir.join(OsStr::from_bytes(&n.name));
        each(&path, &n)?;
        if recursive && let Some(sub) = n.subtree {
            let nodes = repo.read_tree(&sub)?.nodes.into_iter();
            stack.push((path, nodes));
        }
    }
    Ok(())
}
