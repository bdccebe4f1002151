//! `check`: report every problem, not just the first.
//!
//! Structure: every key file matches its id (the hash of its bytes) and
//! decodes (a damaged one is a note: other keys still open the repository);
//! every index object decodes; every pack the index names exists with the
//! right size; every snapshot decodes; every tree reachable from a
//! snapshot decodes and every blob it refers to is in the index; every
//! snapshot catalog decodes (a damaged one is a note). Packs no
//! index names are a note (an interrupted backup leaves them), not an error.
//! With `read_data` (or a subset, see `check_data.rs`): every pack is
//! downloaded, its hash compared with its id, its header decoded, and every
//! blob decrypted and re-hashed.
//!
//! Prune's records are respected: a condemned pack (in a `prune/<id>`
//! record, no longer in the index) may be missing — it is waiting for
//! deletion or already deleted — and a blob a snapshot finds only in a
//! condemned pack that is still stored is a note (the next prune puts the
//! pack back into the index), not an error.

use super::check_data::{DataSubset, read_packs};
use crate::blob::ColdOptions;
use crate::crypto::Sealed;
use crate::error::{Kind, Result};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack;
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::id::{IndexId, SnapshotId, TreeId};
use crate::repo::{PackInfo, Repository};
use crate::store::list_all;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Read every pack.
    pub read_data: bool,
    /// What to do when packs to read are in an archive storage class.
    pub cold: ColdOptions,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    pub errors: Vec<String>,
    pub notes: Vec<String>,
    pub snapshots: u64,
    /// Snapshot catalogs that open.
    pub catalogs: u64,
    pub trees: u64,
    pub packs: u64,
    pub packs_read: u64,
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
    check_with(repo, opts, None, &crate::progress::NoProgress)
}

/// As [`check`], reading `subset` of the packs when `opts.read_data` is off.
pub fn check_with(
    repo: &Repository,
    opts: CheckOptions,
    subset: Option<DataSubset>,
    progress: &dyn crate::progress::Progress,
) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    // Opening skips a damaged key file; name them here. A note, not an
    // error: the data is intact and other keys open it.
    for e in repo.damaged_keys()? {
        r.notes.push(format!(
            "{e} (this key cannot open the repository; remove it with `coffer key remove`)"
        ));
    }
    if !repo.config_authenticated() {
        r.notes.push(
            "config is not authenticated: every key file predates config authentication; `coffer key passwd` (or `key add`) adds the tag".into(),
        );
    }
    load_index(repo, &mut r)?;
    let packs: Vec<PackInfo> = {
        let index = repo.index();
        let all = index.packs().iter();
        all.filter(|p| !index.is_condemned(&p.id))
            .copied()
            .collect()
    };
    r.packs = packs.len() as u64;
    let stored = check_packs_exist(repo, &packs, &mut r)?;
    let roots = load_snapshots(repo, &mut r)?;
    check_catalogs(repo, &mut r)?;
    check_trees(repo, &roots, &stored, &mut r);
    let to_read = match (opts.read_data, subset) {
        (true, _) => packs,
        (false, Some(subset)) => subset.select(&packs),
        (false, None) => Vec::new(),
    };
    if !to_read.is_empty() {
        repo.thaw_for_read(|| Ok(to_read.clone()), &opts.cold, progress)?;
    }
    read_packs(repo, &to_read, &mut r, progress)?;
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
    let condemned: Vec<IndexPack> = match repo.prune_records() {
        Ok(records) => records.into_iter().flat_map(|(_, rec)| rec.packs).collect(),
        Err(e) if e.kind() == Kind::Fatal => return Err(e),
        Err(e) => {
            r.errors.push(e.to_string());
            Vec::new()
        }
    };
    // Build the index from what decoded, so the rest of the check can run.
    repo.replace_index_with(&files, &condemned);
    Ok(())
}

/// Returns the keys of the stored packs.
fn check_packs_exist(
    repo: &Repository,
    packs: &[PackInfo],
    r: &mut CheckReport,
) -> Result<HashSet<String>> {
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
    let index = repo.index();
    let condemned: HashSet<String> = index
        .packs()
        .iter()
        .filter(|p| index.is_condemned(&p.id))
        .map(|p| pack::key(p.kind, &p.id))
        .collect();
    let waiting = condemned.iter().filter(|k| stored.contains_key(*k)).count();
    if waiting > 0 {
        r.notes.push(format!(
            "{waiting} pack(s) condemned by prune wait for their grace period before deletion"
        ));
    }
    let mut unref: Vec<&String> = stored
        .keys()
        .filter(|k| !named.contains(*k) && !condemned.contains(*k))
        .collect();
    unref.sort();
    for k in unref {
        r.notes.push(format!(
            "pack not named by any index (left by an interrupted backup; prune removes it): {k}"
        ));
    }
    Ok(stored.into_keys().collect())
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

/// A damaged catalog is a note: it only copies snapshot objects (checked
/// above), listings skip it, and the next catalog written supersedes it.
fn check_catalogs(repo: &Repository, r: &mut CheckReport) -> Result<()> {
    let (opened, damaged) = repo.catalogs()?;
    r.catalogs = opened.len() as u64;
    for id in damaged {
        r.notes.push(format!(
            "catalog/{} is damaged (a copy of snapshot objects: nothing is lost, listings read the snapshots instead, and the next prune replaces it)",
            id.to_hex()
        ));
    }
    Ok(())
}

fn check_trees(
    repo: &Repository,
    roots: &[(SnapshotId, TreeId)],
    stored: &HashSet<String>,
    r: &mut CheckReport,
) {
    let mut seen = HashSet::new();
    // Blobs only in condemned packs, by snapshot: (how many, the first).
    // One note a snapshot: a backup racing a prune can leave a whole
    // snapshot so (a note a blob was 98,000 lines for one such backup).
    let mut condemned: BTreeMap<String, (u64, String)> = BTreeMap::new();
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
                let name = String::from_utf8_lossy(&n.name);
                if let Some(problem) = blob_problem(repo, b, stored) {
                    let blob =
                        format!("blob {} of file {name:?} in tree {}", b.short(), id.short());
                    match problem {
                        ONLY_CONDEMNED => {
                            let c = condemned.entry(whose.clone()).or_insert((0, blob));
                            c.0 += 1;
                        }
                        _ => r.errors.push(format!("{blob} ({whose}) {problem}")),
                    }
                }
            }
        }
    }
    for (whose, (n, first)) in condemned {
        r.notes.push(match n {
            1 => format!("{first} ({whose}) {ONLY_CONDEMNED}"),
            _ => format!(
                "{first} ({whose}) {ONLY_CONDEMNED}, and so are {} more blobs of it",
                n - 1
            ),
        });
    }
}

const ONLY_CONDEMNED: &str =
    "is only in a pack condemned by prune (the next prune puts it back into the index)";

/// What is wrong with where a content blob is, if anything.
fn blob_problem(
    repo: &Repository,
    b: &crate::id::BlobId,
    stored: &HashSet<String>,
) -> Option<&'static str> {
    let index = repo.index();
    if index.contains(b) {
        return None;
    }
    match index.get(b) {
        None => Some("is not in the index"),
        Some((p, _)) if stored.contains(&pack::key(p.kind, &p.id)) => Some(ONLY_CONDEMNED),
        Some(_) => Some("is only in a pack condemned by prune that is gone"),
    }
}
