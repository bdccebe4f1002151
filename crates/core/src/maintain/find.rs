//! `find`: which snapshots hold paths that match a pattern.
//!
//! Input: snapshots and a glob. A pattern without `/` is matched against
//! each entry's name (`*.conf`); a pattern with `/` against the whole
//! absolute path in the snapshot, `*` not crossing `/` (`/etc/**/*.conf`);
//! one that does not start with `/` may match at any depth (`nginx/*.conf`
//! is `**/nginx/*.conf`). Output: a call of `each` per match, snapshot by
//! snapshot in the order given, in tree order within one.
//! For name patterns, a subtree found to hold no match is not read again
//! for later snapshots that share it (unchanged directories).

use crate::error::{Error, Result};
use crate::format::tree::Node;
use crate::id::TreeId;
use crate::repo::{Repository, SnapshotRef};
use globset::{GlobBuilder, GlobMatcher};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Pattern {
    matcher: GlobMatcher,
    whole_path: bool,
}

impl Pattern {
    pub fn new(pattern: &str, ignore_case: bool) -> Result<Pattern> {
        if pattern.is_empty() {
            return Err(Error::invalid("an empty pattern matches nothing"));
        }
        let whole_path = pattern.contains('/');
        let glob = if whole_path && !pattern.starts_with('/') {
            format!("**/{pattern}")
        } else {
            pattern.to_string()
        };
        let matcher = GlobBuilder::new(&glob)
            .literal_separator(true)
            .case_insensitive(ignore_case)
            .build()
            .map_err(|e| Error::invalid(format!("invalid pattern ({e})")).with_location(pattern))?
            .compile_matcher();
        Ok(Pattern {
            matcher,
            whole_path,
        })
    }

    fn matches(&self, path: &Path, name: &[u8]) -> bool {
        if self.whole_path {
            self.matcher.is_match(path)
        } else {
            self.matcher.is_match(OsStr::from_bytes(name))
        }
    }
}

/// Calls `each(snapshot, path, node)` for every match; returns how many.
pub fn find(
    repo: &Repository,
    snapshots: &[SnapshotRef],
    pattern: &Pattern,
    each: &mut dyn FnMut(&SnapshotRef, &Path, &Node) -> Result<()>,
) -> Result<u64> {
    // Subtrees known to hold no match (valid for name patterns only: a
    // path pattern's result depends on where the subtree is).
    let mut barren: HashSet<TreeId> = HashSet::new();
    let mut n = 0;
    for s in snapshots {
        let mut found = Vec::new();
        let mut w = Walk {
            repo,
            pattern,
            barren: (!pattern.whole_path).then_some(&mut barren),
            found: &mut found,
        };
        w.tree(s.snapshot.tree, Path::new("/"))?;
        for (path, node) in &found {
            n += 1;
            each(s, path, node)?;
        }
    }
    Ok(n)
}

struct Walk<'a> {
    repo: &'a Repository,
    pattern: &'a Pattern,
    barren: Option<&'a mut HashSet<TreeId>>,
    found: &'a mut Vec<(PathBuf, Node)>,
}

/// A tree being searched: its id, path, what is left of its entries and
/// whether a match was found in it so far.
struct Frame {
    id: TreeId,
    dir: PathBuf,
    nodes: std::vec::IntoIter<Node>,
    any: bool,
}

impl Walk<'_> {
    /// Collects the matches below `id`, depth first in tree order, on a
    /// stack of its own (depth costs no thread stack).
    fn tree(&mut self, id: TreeId, dir: &Path) -> Result<()> {
        let mut stack: Vec<Frame> = Vec::new();
        if let Some(f) = self.open(id, dir.to_path_buf())? {
            stack.push(f);
        }
        while let Some(frame) = stack.last_mut() {
            let Some(n) = frame.nodes.next() else {
                let done = stack.pop().expect("a frame");
                if let Some(parent) = stack.last_mut() {
                    parent.any |= done.any;
                }
                if !done.any
                    && let Some(b) = self.barren.as_mut()
                {
                    b.insert(done.id);
                }
                continue;
            };
            let path = frame.dir.join(OsStr::from_bytes(&n.name));
            let sub = n.subtree;
            if self.pattern.matches(&path, &n.name) {
                self.found.push((path.clone(), n));
                frame.any = true;
            }
            if let Some(sub) = sub
                && let Some(f) = self.open(sub, path)?
            {
                stack.push(f);
            }
        }
        Ok(())
    }

    /// The frame of tree `id`; `None` when it is known to hold no match.
    fn open(&self, id: TreeId, dir: PathBuf) -> Result<Option<Frame>> {
        if self.barren.as_ref().is_some_and(|b| b.contains(&id)) {
            return Ok(None);
        }
        Ok(Some(Frame {
            id,
            dir,
            nodes: self.repo.read_tree(&id)?.nodes.into_iter(),
            any: false,
        }))
    }
}
