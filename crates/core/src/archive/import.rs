//! A tar archive becomes a snapshot: old `tar czf` backups join the
//! deduplicated repository and restore like any backup.
//!
//! Input: a tar stream (plain, gzip or zstd, recognized by its first
//! bytes): pax, ustar, GNU (long names, old sparse) and v7 members. Output:
//! a snapshot whose trees hold every member at `prefix`/its name.
//! Invariants: content is chunked and stored like a backup's (same blobs,
//! so it dedups with them); pax sparse files (GNU formats 0.0, 0.1, 1.0)
//! keep their holes; `SCHILY.xattr.*` become xattrs and `SCHILY.acl.*`
//! become the ACL xattrs (unless the archive also carried those); hardlink
//! members become names that share an inode number, so restore links them;
//! a member whose name climbs out with `..` is refused (skipped and
//! reported); directories the archive implies but does not hold are made
//! with mode 0755 owned by root. Memory: the tree metadata of the archive
//! (a few hundred bytes per entry), not its content.

pub use super::fields::{components, open_input, pax_ns};
use super::fields::{map_number, num};
use super::pax::{acl_binary, dev_join};
use super::read::{Member, TarReader};
use crate::blob::BlobWriter;
use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::snapshot::{Snapshot, Summary};
use crate::format::tree::{Node, NodeKind, Tree, Xattr};
use crate::fs::Owners;
use crate::id::{SnapshotId, TreeId};
use crate::progress::Progress;
use crate::repo::Repository;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub host: String,
    pub user: String,
    /// ns since the epoch; default: the newest mtime in the archive.
    pub time: Option<i64>,
    pub tags: Vec<String>,
    /// Where relative member names are placed (absolute).
    pub prefix: PathBuf,
    pub connections: usize,
    /// Names the source in the snapshot's excludes-free record and errors.
    pub source: String,
    /// Where the store counts its requests: recorded in the snapshot.
    pub requests: Option<std::sync::Arc<crate::store::RequestLog>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportResult {
    pub id: SnapshotId,
    pub snapshot: Snapshot,
    /// Members left out, with the reason.
    pub skipped: Vec<String>,
}

/// A directory being assembled.
#[derive(Default)]
struct Dir {
    /// Its own member's metadata, if the archive had one.
    node: Option<Node>,
    dirs: BTreeMap<Vec<u8>, Dir>,
    leaves: BTreeMap<Vec<u8>, Node>,
}

/// Dropped level by level: the default drop would recurse once per level
/// of an archive's nesting, which a deep archive makes overflow the stack.
impl Drop for Dir {
    fn drop(&mut self) {
        let mut below: Vec<Dir> = std::mem::take(&mut self.dirs).into_values().collect();
        while let Some(mut d) = below.pop() {
            below.extend(std::mem::take(&mut d.dirs).into_values());
        }
    }
}

impl Dir {
    fn dir_mut(&mut self, comps: &[Vec<u8>]) -> &mut Dir {
        let mut d = self;
        for c in comps {
            d.leaves.remove(c);
            d = d.dirs.entry(c.clone()).or_default();
        }
        d
    }

    fn leaf_mut(&mut self, comps: &[Vec<u8>]) -> Option<&mut Node> {
        let (last, parents) = comps.split_last()?;
        let mut d = self;
        for c in parents {
            d = d.dirs.get_mut(c)?;
        }
        d.leaves.get_mut(last)
    }
}

/// A sparse file's data regions (offset, length) and its real size.
type SparseLayout = (Vec<(u64, u64)>, u64);

struct Importer<'a> {
    writer: &'a BlobWriter,
    chunker: &'a Chunker,
    owners: &'a Owners,
    progress: &'a dyn Progress,
    root: Dir,
    /// Inode numbers given to files that have hardlinks, and their names.
    links: HashMap<u64, u64>,
    next_inode: u64,
    newest: i64,
    summary: Summary,
    skipped: Vec<String>,
    /// First components of members (the snapshot's paths).
    tops: std::collections::BTreeSet<Vec<u8>>,
    has_root: bool,
    /// The archive's name, for errors.
    source: &'a str,
}

impl Importer<'_> {
    /// Chunks `len` bytes of `r` into blobs.
    fn store(
        &mut self,
        r: &mut dyn Read,
        len: u64,
        what: &str,
        content: &mut Vec<crate::id::BlobId>,
    ) -> Result<u64> {
        let writer = self.writer;
        let mut n = 0u64;
        let what = format!("{what} in {}", self.source);
        self.chunker.chunks(r.take(len), len, &what, &mut |chunk| {
            n += chunk.len() as u64;
            let (id, _) = writer.add(BlobKind::Data, &chunk)?;
            content.push(id);
            Ok(())
        })?;
        if n != len {
            return Err(Error::corrupt(
                format!("archive ends inside a member ({n} of {len} bytes)"),
                &what,
            ));
        }
        Ok(n)
    }

    fn member(&mut self, m: Member, data: &mut dyn Read) -> Result<()> {
        let get = |k: &str| m.pax(k).map(<[u8]>::to_vec);
        let name = get("GNU.sparse.name").unwrap_or_else(|| m.name.clone());
        // A NUL byte is shown as `\0`: a warning is one line of text.
        let shown = String::from_utf8_lossy(&name).replace('\0', "\\0");
        let comps = match components(&name) {
            Ok(c) => c,
            Err(why) => {
                self.skip(&shown, why);
                return Ok(());
            }
        };
        if let Some(why) = m.invalid {
            self.skip(&shown, why);
            return Ok(());
        }
        let Some(kind) = kind_of(m.flag, &name) else {
            let why = format!("unsupported member type {:?}", m.flag as char);
            self.skip(&shown, &why);
            return Ok(());
        };
        let (Ok(uid), Ok(gid)) = (u32::try_from(m.uid), u32::try_from(m.gid)) else {
            self.skip(&shown, "owner id does not fit in 32 bits");
            return Ok(());
        };
        let mtime = get("mtime").and_then(|v| pax_ns(&v)).unwrap_or(m.mtime);
        self.newest = self.newest.max(mtime);
        let mut node = Node {
            name: comps.last().cloned().unwrap_or_default(),
            kind,
            mode: m.mode & 0o7777,
            uid,
            gid,
            user: String::from_utf8_lossy(&m.user).into_owned(),
            group: String::from_utf8_lossy(&m.group).into_owned(),
            mtime,
            atime: get("atime").and_then(|v| pax_ns(&v)).unwrap_or(0),
            links: 1,
            ..Node::default()
        };
        node.xattrs = self.xattrs(&m);
        match m.flag {
            b'2' if m.link.is_empty() || m.link.contains(&0) => {
                self.skip(
                    &shown,
                    "symlink target is empty or holds a NUL byte (no file system can hold it)",
                );
                return Ok(());
            }
            b'2' => node.target = Some(m.link.clone()),
            b'3' | b'4' => node.rdev = dev_join(m.devmajor, m.devminor),
            b'1' => return self.hardlink(&shown, &comps, node, &m.link),
            _ => {}
        }
        if kind == NodeKind::File {
            self.content(&m, data, &mut node, &shown)?;
            self.summary.files_new += 1;
            self.summary.total_bytes += node.size;
        } else if kind == NodeKind::Dir {
            self.summary.dirs += 1;
        } else {
            self.summary.other_entries += 1;
        }
        self.progress
            .entry_done(Path::new(&shown), node.size, node.size);
        self.place(comps, node);
        Ok(())
    }

    /// The xattrs a member's pax records carry (`SCHILY.xattr.*`), with
    /// the ACLs of `SCHILY.acl.*` in binary form where no xattr holds them;
    /// sorted by name, the last value of a name winning, as when a tool
    /// applies them in order.
    fn xattrs(&self, m: &Member) -> Vec<Xattr> {
        let get = |k: &str| m.pax(k).map(<[u8]>::to_vec);
        let mut xattrs = Vec::new();
        for (k, v) in &m.pax {
            if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                xattrs.push(Xattr {
                    name: x.as_bytes().to_vec(),
                    value: v.clone(),
                });
            }
        }
        for (key, xname) in [
            ("SCHILY.acl.access", "system.posix_acl_access"),
            ("SCHILY.acl.default", "system.posix_acl_default"),
        ] {
            if let Some(t) = get(key)
                && !xattrs.iter().any(|x| x.name == xname.as_bytes())
                && let Some(bin) = acl_binary(
                    &String::from_utf8_lossy(&t),
                    &|n| self.owners.uid_of(n),
                    &|n| self.owners.gid_of(n),
                )
            {
                xattrs.push(Xattr {
                    name: xname.as_bytes().to_vec(),
                    value: bin,
                });
            }
        }
        xattrs.reverse();
        xattrs.sort_by(|a, b| a.name.cmp(&b.name));
        xattrs.dedup_by(|a, b| a.name == b.name);
        xattrs
    }

    /// The data regions and real size of a sparse member (pax 0.0, 0.1 and
    /// 1.0, old GNU), reading a 1.0 map from the front of `data`.
    fn sparse_regions(
        m: &Member,
        data: &mut dyn Read,
        shown: &str,
    ) -> Result<Option<SparseLayout>> {
        if let Some(gnu) = &m.gnu_sparse {
            return Ok(Some(gnu.clone()));
        }
        let Some(real) = m
            .pax("GNU.sparse.realsize")
            .or_else(|| m.pax("GNU.sparse.size"))
            .and_then(num)
        else {
            return Ok(None);
        };
        let bad_map = || Error::corrupt("malformed sparse map", shown);
        if m.pax("GNU.sparse.major") == Some(b"1") {
            let mut consumed = 0u64;
            let n = map_number(data, &mut consumed).ok_or_else(bad_map)?;
            let mut regions = Vec::new();
            for _ in 0..n {
                let o = map_number(data, &mut consumed).ok_or_else(bad_map)?;
                let l = map_number(data, &mut consumed).ok_or_else(bad_map)?;
                regions.push((o, l));
            }
            let pad = (512 - consumed % 512) % 512;
            std::io::copy(&mut data.take(pad), &mut std::io::sink())
                .map_err(|err| Error::io("cannot read", shown, err))?;
            return Ok(Some((regions, real)));
        }
        if let Some(map) = m.pax("GNU.sparse.map") {
            let nums: Option<Vec<u64>> = map.split(|&b| b == b',').map(num).collect();
            let nums = nums.ok_or_else(bad_map)?;
            return Ok(Some((
                nums.chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| (c[0], c[1]))
                    .collect(),
                real,
            )));
        }
        // 0.0: GNU.sparse.offset / GNU.sparse.numbytes pairs, in order.
        let offsets = m
            .pax
            .iter()
            .filter(|(k, _)| k == "GNU.sparse.offset")
            .map(|(_, v)| num(v));
        let lengths = m
            .pax
            .iter()
            .filter(|(k, _)| k == "GNU.sparse.numbytes")
            .map(|(_, v)| num(v));
        let regions: Option<Vec<(u64, u64)>> =
            offsets.zip(lengths).map(|(o, l)| Some((o?, l?))).collect();
        Ok(Some((regions.ok_or_else(bad_map)?, real)))
    }

    fn content(
        &mut self,
        m: &Member,
        data: &mut dyn Read,
        node: &mut Node,
        shown: &str,
    ) -> Result<()> {
        let mut content = Vec::new();
        match Self::sparse_regions(m, data, shown)? {
            Some((regions, real)) => {
                let mut at = 0u64;
                for (o, l) in regions {
                    if o < at || o.checked_add(l).is_none_or(|end| end > real) {
                        return Err(Error::corrupt("malformed sparse map", shown));
                    }
                    if o > at {
                        node.holes.push((at, o - at));
                    }
                    if l > 0 {
                        self.store(data, l, shown, &mut content)?;
                    }
                    at = o + l;
                }
                if at < real {
                    node.holes.push((at, real - at));
                }
                node.size = real;
            }
            None => node.size = self.store(data, m.size, shown, &mut content)?,
        }
        self.summary.bytes_read += node.size;
        node.content = content;
        Ok(())
    }

    fn hardlink(
        &mut self,
        shown: &str,
        comps: &[Vec<u8>],
        mut node: Node,
        target: &[u8],
    ) -> Result<()> {
        let tcomps = match components(target) {
            Ok(c) => c,
            Err(why) => {
                self.skip(shown, &format!("hardlink target: {why}"));
                return Ok(());
            }
        };
        let next = self.next_inode + 1;
        let Some(first) = self
            .root
            .leaf_mut(&tcomps)
            .filter(|n| n.kind == NodeKind::File)
        else {
            self.skip(
                shown,
                "hardlink to a file that is not in the archive before it",
            );
            return Ok(());
        };
        if first.inode == 0 {
            first.inode = next;
            self.next_inode = next;
        }
        let inode = first.inode;
        let name = node.name.clone();
        node = first.clone();
        node.name = name;
        *self.links.entry(inode).or_insert(1) += 1;
        self.summary.files_new += 1;
        self.summary.total_bytes += node.size;
        self.place(comps.to_vec(), node);
        Ok(())
    }

    fn place(&mut self, comps: Vec<Vec<u8>>, node: Node) {
        match comps.first() {
            None => {
                self.has_root = true;
                if node.kind == NodeKind::Dir {
                    self.root.node = Some(node);
                }
                return;
            }
            Some(top) => {
                self.tops.insert(top.clone());
            }
        }
        let (last, parents) = comps.split_last().expect("not empty");
        let parent = self.root.dir_mut(parents);
        if node.kind == NodeKind::Dir {
            parent.leaves.remove(last);
            parent.dirs.entry(last.clone()).or_default().node = Some(node);
        } else {
            parent.dirs.remove(last);
            parent.leaves.insert(last.clone(), node);
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.progress.warning(Path::new(name), why);
        self.summary.errors += 1;
        self.skipped.push(format!("{name}: {why}"));
    }

    /// Stores the trees of `d` bottom-up; returns its tree id. The
    /// directories being stored are a stack of their own (depth costs no
    /// thread stack), each emptied as it is stored.
    fn save(&self, d: Dir, time: i64) -> Result<TreeId> {
        let mut stack = vec![SaveFrame::new(Vec::new(), d)];
        loop {
            let top = stack.last_mut().expect("a frame");
            if let Some((name, sub)) = top.dirs.next() {
                stack.push(SaveFrame::new(name, sub));
                continue;
            }
            let mut done = stack.pop().expect("a frame");
            for (_, mut node) in std::mem::take(&mut done.leaves) {
                if node.inode != 0 {
                    node.links = self.links.get(&node.inode).copied().unwrap_or(1);
                }
                done.nodes.push(node);
            }
            let tree = Tree::new(done.nodes).encode_checked(self.source)?;
            let (id, _) = self.writer.add(BlobKind::Tree, &tree)?;
            let Some(parent) = stack.last_mut() else {
                return Ok(id.tree());
            };
            let mut node = done.node.unwrap_or_else(|| implied_dir(time));
            node.name = done.name;
            node.kind = NodeKind::Dir;
            node.subtree = Some(id.tree());
            parent.nodes.push(node);
        }
    }
}

/// A directory being stored by [`Importer::save`].
struct SaveFrame {
    name: Vec<u8>,
    node: Option<Node>,
    dirs: std::collections::btree_map::IntoIter<Vec<u8>, Dir>,
    leaves: BTreeMap<Vec<u8>, Node>,
    /// Its entries stored so far.
    nodes: Vec<Node>,
}

impl SaveFrame {
    fn new(name: Vec<u8>, mut d: Dir) -> Self {
        SaveFrame {
            name,
            node: d.node.take(),
            dirs: std::mem::take(&mut d.dirs).into_iter(),
            leaves: std::mem::take(&mut d.leaves),
            nodes: Vec::new(),
        }
    }
}

/// A directory the archive implies but does not hold.
fn implied_dir(time: i64) -> Node {
    Node {
        kind: NodeKind::Dir,
        mode: 0o755,
        user: "root".into(),
        group: "root".into(),
        mtime: time,
        links: 1,
        ..Node::default()
    }
}

/// The snapshot's paths: the prefix, or (for an archive without a root
/// member) each top-level name below it.
fn snapshot_paths<'a>(
    prefix: &Path,
    has_root: bool,
    tops: impl IntoIterator<Item = &'a Vec<u8>>,
) -> Vec<String> {
    let prefix_path = PathBuf::from("/").join(prefix);
    let tops: Vec<&Vec<u8>> = tops.into_iter().collect();
    if has_root || tops.is_empty() {
        return vec![prefix_path.to_string_lossy().into_owned()];
    }
    tops.iter()
        .map(|t| {
            prefix_path
                .join(String::from_utf8_lossy(t).as_ref())
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Imports the tar stream `input` into `repo` as a new snapshot.
pub fn import(
    repo: Arc<Repository>,
    input: Box<dyn Read + Send>,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportResult> {
    let started = Instant::now();
    if !opts.prefix.is_absolute() {
        return Err(Error::invalid("--prefix must be an absolute path")
            .with_location(opts.prefix.display()));
    }
    let prefix: Vec<Vec<u8>> =
        components(opts.prefix.as_os_str().as_encoded_bytes()).map_err(|why| {
            Error::invalid(format!("--prefix: {why}")).with_location(opts.prefix.display())
        })?;
    let chunker = Chunker::new(repo.config().chunker.clone(), repo.key().gear_seed);
    let writer = BlobWriter::new(Arc::clone(&repo), opts.connections, Default::default());
    let owners = Owners::new();
    let mut imp = Importer {
        writer: &writer,
        chunker: &chunker,
        owners: &owners,
        progress,
        root: Dir::default(),
        links: HashMap::new(),
        next_inode: 0,
        newest: i64::MIN,
        summary: Summary::default(),
        skipped: Vec::new(),
        tops: Default::default(),
        has_root: false,
        source: &opts.source,
    };
    let mut reader = TarReader::new(open_input(input)?);
    let mut members = 0u64;
    while let Some(m) = reader
        .next_member()
        .map_err(|e| Error::io("cannot read the archive", &opts.source, e))?
    {
        imp.member(m, &mut reader.data())?;
        members += 1;
    }
    if members == 0 {
        return Err(
            Error::invalid("the archive holds no members (empty, or not a tar archive)")
                .with_location(&opts.source),
        );
    }
    let time = opts.time.unwrap_or(if imp.newest == i64::MIN {
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    } else {
        imp.newest
    });
    // Place the archive's tree under the prefix.
    let mut tree = std::mem::take(&mut imp.root);
    for c in prefix.iter().rev() {
        let mut up = Dir::default();
        up.dirs.insert(c.clone(), tree);
        tree = up;
    }
    let paths = snapshot_paths(&opts.prefix, imp.has_root, &imp.tops);
    let root = imp.save(tree, time)?;
    let summary = std::mem::take(&mut imp.summary);
    let skipped = std::mem::take(&mut imp.skipped);
    drop(imp);
    let snapshot = Snapshot {
        original: None,
        image: None,
        version: crate::format::FORMAT_VERSION,
        time,
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths,
        tags: opts.tags.clone(),
        tree: root,
        parent: None,
        excludes: Vec::new(),
        program_version: crate::VERSION.to_string(),
        summary,
    };
    let (id, snapshot) = crate::blob::save_snapshot(
        &repo,
        writer,
        snapshot,
        started,
        (
            opts.requests.as_deref(),
            crate::store::StorageClass::Standard,
        ),
        progress,
    )?;
    Ok(ImportResult {
        id,
        snapshot,
        skipped,
    })
}

/// The kind of node a member's type flag makes (a regular member whose
/// name ends in `/` is an old-style directory); `None` for types coffer
/// does not store.
fn kind_of(flag: u8, name: &[u8]) -> Option<NodeKind> {
    Some(match flag {
        b'0' | b'7' if name.ends_with(b"/") => NodeKind::Dir,
        b'0' | b'7' | b'S' | b'1' => NodeKind::File,
        b'5' => NodeKind::Dir,
        b'2' => NodeKind::Symlink,
        b'3' => NodeKind::Chardev,
        b'4' => NodeKind::Blockdev,
        b'6' => NodeKind::Fifo,
        _ => return None,
    })
}
