//! `check`: report every problem, not just the first.
//!
//! Structure: every key file matches its id (the hash of its bytes) and
//! decodes; every index object decodes; every pack the index names exists
//! with the right size; every snapshot decodes; every tree reachable from a
//! snapshot decodes and every blob it refers to is in the index. Packs no
//! index names are a note (an interrupted backup leaves them), not an error.
//! With `read_data`: every pack is downloaded, its hash compared with its
//! id, its header decoded, and every blob decrypted and re-hashed.

use crate::crypto::Sealed;
use crate::error::{Kind, Result};
use crate::format::index::IndexFile;
use crate::format::pack;
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::id::{IndexId, PackId, SnapshotId, TreeId, hash_object};
use crate::repo::{PackInfo, Repository};
use crate::store::list_all;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    pub read_data: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    pub errors: Vec<String>,
    pub notes: Vec<String>,
    pub snapshots: u64,
    pub trees: u64,
    pub packs: u64,
    pub blobs_read: u64,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks `repo`. Only an error that stops the check itself (the store
/// unreachable) is returned as `Err`; problems go into the report.
pub fn check(repo: &Repository, opts: CheckOptions) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    // Opening skipped any damaged key file; name them here.
    r.errors
        .extend(repo.damaged_keys()?.iter().map(|e| e.to_string()));
    load_index(repo, &mut r)?;
    let packs: Vec<PackInfo> = repo.index().packs().to_vec();
    r.packs = packs.len() as u64;
    check_packs_exist(repo, &packs, &mut r)?;
    let roots = load_snapshots(repo, &mut r)?;
    check_trees(repo, &roots, &mut r);
    if opts.read_data {
        for p in &packs {
            read_pack(repo, p, &mut r)?;
        }
    }
    Ok(r)
}

fn load_index(repo: &Repository, r: &mut CheckReport) -> Result<()> {
    let mut files = Vec::new();
    for meta in list_all(repo.store().as_ref(), "index/")? {
        let Some(id) = meta
            .key
            .strip_prefix("index/")
            .and_then(|h| IndexId::parse(h).ok())
        else {
            r.notes.push(format!("unexpected object: {}", meta.key));
            continue;
        };
        match repo
            .load_sealed(Sealed::Index, &meta.key)
            .and_then(|p| IndexFile::decode(&p, &meta.key))
        {
            Ok(f) => files.push((id, f)),
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => r.errors.push(e.to_string()),
        }
    }
    // Build the index from what decoded, so the rest of the check can run.
    repo.replace_index(&files);
    Ok(())
}

fn check_packs_exist(repo: &Repository, packs: &[PackInfo], r: &mut CheckReport) -> Result<()> {
    let mut stored: HashMap<String, u64> = HashMap::new();
    for dir in ["data/", "tree/"] {
        for m in list_all(repo.store().as_ref(), dir)? {
            stored.insert(m.key, m.size);
        }
    }
    let mut named = HashSet::new();
    for p in packs {
        let key = pack::key(p.kind, &p.id);
        match stored.get(&key) {
            None => r.errors.push(format!("pack is missing: {key}")),
            Some(&size) if size != p.size => r.errors.push(format!(
                "pack has size {size}, index says {}: {key}",
                p.size
            )),
            Some(_) => {}
        }
        named.insert(key);
    }
    let mut unref: Vec<&String> = stored.keys().filter(|k| !named.contains(*k)).collect();
    unref.sort();
    for k in unref {
        r.notes.push(format!(
            "pack not named by any index (left by an interrupted backup; prune removes it): {k}"
        ));
    }
    Ok(())
}

fn load_snapshots(repo: &Repository, r: &mut CheckReport) -> Result<Vec<(SnapshotId, TreeId)>> {
    let mut roots = Vec::new();
    for meta in list_all(repo.store().as_ref(), "snapshots/")? {
        let Some(id) = meta
            .key
            .strip_prefix("snapshots/")
            .and_then(|h| SnapshotId::parse(h).ok())
        else {
            r.notes.push(format!("unexpected object: {}", meta.key));
            continue;
        };
        match repo
            .load_sealed(Sealed::Snapshot, &meta.key)
            .and_then(|p| Snapshot::decode(&p, &meta.key))
        {
            Ok(s) => roots.push((id, s.tree)),
            Err(e) if e.kind() == Kind::Fatal => return Err(e),
            Err(e) => r.errors.push(e.to_string()),
        }
        r.snapshots += 1;
    }
    Ok(roots)
}

fn check_trees(repo: &Repository, roots: &[(SnapshotId, TreeId)], r: &mut CheckReport) {
    let mut seen = HashSet::new();
    let mut todo: Vec<(TreeId, String)> = roots
        .iter()
        .map(|(s, t)| (*t, format!("snapshot {}", s.short())))
        .collect();
    while let Some((id, whose)) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        r.trees += 1;
        let tree = match repo.read_tree(&id) {
            Ok(t) => t,
            Err(e) => {
                r.errors
                    .push(format!("tree {} of {whose}: {e}", id.short()));
                continue;
            }
        };
        for n in &tree.nodes {
            if n.kind == NodeKind::Dir
                && let Some(sub) = n.subtree
            {
                todo.push((sub, whose.clone()));
            }
            for b in &n.content {
                if !repo.index().contains(b) {
                    r.errors.push(format!(
                        "blob {} of file {:?} in tree {} ({whose}) is not in the index",
                        b.short(),
                        String::from_utf8_lossy(&n.name),
                        id.short()
                    ));
                }
            }
        }
    }
}

fn read_pack(repo: &Repository, p: &PackInfo, r: &mut CheckReport) -> Result<()> {
    let key = pack::key(p.kind, &p.id);
    let bytes = match repo.store().get(&key, None) {
        Ok(b) => b,
        Err(e) if e.kind() == Kind::NotFound => return Ok(()), // reported above
        Err(e) if e.kind() == Kind::Fatal => return Err(e),
        Err(e) => {
            r.errors.push(e.to_string());
            return Ok(());
        }
    };
    if PackId(hash_object(&bytes)) != p.id {
        r.errors.push(format!("pack does not match its id: {key}"));
    }
    if let Err(e) = repo.decode_pack_header(&bytes, &key, p.kind) {
        r.errors.push(e.to_string());
    }
    let index = repo.index();
    for (id, loc) in index.blobs() {
        if index.packs()[loc.pack as usize].id != p.id {
            continue;
        }
        let range = loc.offset as usize..loc.offset as usize + loc.length as usize;
        let Some(sealed) = bytes.get(range) else {
            r.errors
                .push(format!("blob {} lies outside its pack: {key}", id.short()));
            continue;
        };
        r.blobs_read += 1;
        if let Err(e) = repo.open_blob(id, sealed, &key) {
            r.errors.push(e.to_string());
        }
    }
    Ok(())
}
