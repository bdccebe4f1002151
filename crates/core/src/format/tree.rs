//! Tree blobs: one per directory, entries sorted by name bytes. A tree blob
//! is stored like file content (payload, sealed, in a tree pack) and its blob
//! id is its [`crate::id::TreeId`]. Unchanged directories encode to identical
//! bytes and so dedup.
//!
//! Fields equal to their default are left out of the CBOR map (decoders must
//! treat a missing field as its default), which keeps trees small.

use super::{check_version, from_cbor, to_cbor};
use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    #[default]
    File,
    Dir,
    Symlink,
    Chardev,
    Blockdev,
    Fifo,
    Socket,
}

/// One extended attribute (any namespace: user, trusted, security, system;
/// POSIX ACLs and file capabilities are xattrs too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One directory entry with every bit of metadata a restored system needs.
///
/// Hardlinks: every name of a multiply-linked file is stored as a `file`
/// node with its content (blobs dedup, so this costs nothing) plus `links`,
/// `dev` and `inode`; restore links names that share (dev, inode), and a
/// partial restore of one name still gets the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Node {
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    #[serde(rename = "type")]
    pub kind: NodeKind,
    /// st_mode without the file-type bits: permissions, setuid, setgid, sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "is_default")]
    pub user: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub group: String,
    /// Times in ns since the Unix epoch.
    pub mtime: i64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub atime: i64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub ctime: i64,
    /// Apparent size (files), else 0.
    #[serde(default, skip_serializing_if = "is_default")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub inode: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub dev: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub links: u64,
    /// Device number of a char/block device.
    #[serde(default, skip_serializing_if = "is_default")]
    pub rdev: u64,
    /// Symlink target, raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_bytes")]
    pub target: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
    /// Holes of a sparse file as (offset, length); content blobs hold only
    /// the data between them, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holes: Vec<(u64, u64)>,
    /// Content of a file: blob ids in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    /// Tree of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<TreeId>,
}

impl Node {
    /// The rules of docs/FORMAT.md §12 for one node beyond its name: a
    /// subtree exactly on directories, content only on files, a target only
    /// on symlinks, and holes that are non-empty, sorted, non-overlapping
    /// and within `size`. Returns why a node breaks them.
    fn check(&self) -> std::result::Result<(), &'static str> {
        if (self.kind == NodeKind::Dir) != self.subtree.is_some() {
            return Err("has a subtree only if it is a directory");
        }
        if self.kind != NodeKind::File && !self.content.is_empty() {
            return Err("has content but is not a file");
        }
        if self.kind != NodeKind::Symlink && self.target.is_some() {
            return Err("has a link target but is not a symlink");
        }
        let mut end = 0u64;
        for &(offset, len) in &self.holes {
            match offset.checked_add(len) {
                Some(hole_end) if len > 0 && offset >= end && hole_end <= self.size => {
                    end = hole_end
                }
                _ => {
                    return Err("has holes that are empty, unsorted, overlapping or past its size");
                }
            }
        }
        Ok(())
    }
}

mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => serde_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<serde_bytes::ByteBuf>::deserialize(d)?.map(|b| b.into_vec()))
    }
}

/// Whether `name` can be an entry of a directory: not empty, `.` or `..`,
/// no `/` and no NUL.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tree {
    pub version: u32,
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn new(mut nodes: Vec<Node>) -> Self {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Tree {
            version: super::FORMAT_VERSION,
            nodes,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Encodes a tree about to be stored, refusing one that [`Tree::decode`]
    /// would refuse: a snapshot coffer writes is always readable, whatever
    /// names its input held (`what` names the directory in the error).
    pub fn encode_checked(&self, what: &str) -> Result<Vec<u8>> {
        self.check(what)?;
        Ok(self.encode())
    }

    /// Decodes and validates a tree: sorted, unique, sane names; each node
    /// carries only the fields of its type (see `Node::check`).
    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let t: Tree = match super::tree_fast::decode(plain) {
            Some(t) => t,
            None => from_cbor(plain, what)?,
        };
        check_version(t.version, what)?;
        t.check(what)?;
        Ok(t)
    }

    /// The rules of docs/FORMAT.md §12: names are sorted and unique, none
    /// is empty, `.` or `..`, or holds `/` or NUL; each node is sane.
    fn check(&self, what: &str) -> Result<()> {
        for (i, n) in self.nodes.iter().enumerate() {
            if !valid_name(&n.name) {
                return Err(Error::corrupt(
                    format!(
                        "tree holds an invalid file name {:?}",
                        String::from_utf8_lossy(&n.name)
                    ),
                    what,
                ));
            }
            if i > 0 && self.nodes[i - 1].name >= n.name {
                return Err(Error::corrupt(
                    "tree entries are not sorted and unique",
                    what,
                ));
            }
            n.check()
                .map_err(|why| Error::corrupt(format!("tree entry {why}"), what))?;
        }
        Ok(())
    }

    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.as_slice().cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's last line of defence: a tree its readers would refuse
    /// is never stored, whatever name reached it.
    #[test]
    fn trees_readers_refuse_are_never_encoded_for_storing() {
        let file = |name: &[u8]| Node {
            name: name.to_vec(),
            kind: NodeKind::File,
            ..Node::default()
        };
        let good = Tree::new(vec![file(b"a"), file(b"b")]);
        let bytes = good.encode_checked("test").unwrap();
        assert_eq!(Tree::decode(&bytes, "test").unwrap(), good);
        for bad in [&b"a\0b"[..], b"", b".", b"..", b"a/b"] {
            let t = Tree::new(vec![file(bad)]);
            let e = t.encode_checked("dir").unwrap_err();
            assert!(e.to_string().contains("invalid file name"), "{e}");
            assert!(Tree::decode(&t.encode(), "dir").is_err());
        }
        let twice = Tree::new(vec![file(b"a"), file(b"a")]);
        assert!(twice.encode_checked("dir").is_err());
    }
}
