//! `check --read-data[-subset]`: download packs and verify every byte.
//!
//! Input: the packs the index names and which of them to read: all, the
//! n-th of t groups (`1/10`: a pack is in group `first 8 bytes of its id
//! mod t`, so `1/10` … `10/10` together read every pack exactly once and a
//! group is the same on every run), or a random share (`5%`, at least one
//! pack). Output: problems in the report. Each pack is read whole: its hash
//! is compared with its id, its header decoded and checked against the
//! index, every blob opened and re-hashed.

use super::check::CheckReport;
use crate::error::{Error, Kind, Result};
use crate::format::pack::{self, PackBlob};
use crate::id::{BlobId, PackId, hash_object};
use crate::progress::Progress;
use crate::repo::{BlobLoc, PackInfo, Repository};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which packs `--read-data-subset` reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DataSubset {
    /// Group `n` of `t` (1-based).
    Part(u32, u32),
    /// A random share, in percent (0 < p ≤ 100).
    Percent(f64),
}

impl DataSubset {
    /// Parses `n/t` or `p%`.
    pub fn parse(s: &str) -> Result<DataSubset> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid --read-data-subset ({why}; expected e.g. 1/10 or 5%)"
            ))
            .with_location(s)
        };
        if let Some(p) = s.trim().strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad("not a number"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(bad("the share must be above 0% and at most 100%"));
            }
            return Ok(DataSubset::Percent(p));
        }
        let (n, t) = s.trim().split_once('/').ok_or_else(|| bad("no / or %"))?;
        let n: u32 = n.trim().parse().map_err(|_| bad("not a number"))?;
        let t: u32 = t.trim().parse().map_err(|_| bad("not a number"))?;
        if t == 0 || n == 0 || n > t {
            return Err(bad("n/t needs 1 ≤ n ≤ t"));
        }
        Ok(DataSubset::Part(n, t))
    }

    /// The packs of this subset, in a stable order.
    pub fn select(self, packs: &[PackInfo]) -> Vec<PackInfo> {
        let mut out: Vec<PackInfo> = match self {
            DataSubset::Part(n, t) => packs
                .iter()
                .filter(|p| group(&p.id) % t as u64 == (n - 1) as u64)
                .copied()
                .collect(),
            DataSubset::Percent(p) => {
                use rand::seq::SliceRandom;
                let want = ((packs.len() as f64 * p / 100.0).ceil() as usize).min(packs.len());
                let mut all = packs.to_vec();
                all.shuffle(&mut rand::thread_rng());
                all.truncate(want.max(usize::from(!packs.is_empty())));
                all
            }
        };
        out.sort_by_key(|p| p.id);
        out
    }
}

fn group(id: &PackId) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id.as_bytes()[..8]);
    u64::from_be_bytes(b)
}

/// Packs read at once: a GET waiting on the network leaves its core to
/// another; each holds one whole pack in memory.
const PARALLEL_READS: usize = 4;

/// Reads `packs` whole and verifies them (see the module documentation),
/// [`PARALLEL_READS`] at a time; problems are reported in pack order.
pub fn read_packs(
    repo: &Repository,
    packs: &[PackInfo],
    r: &mut CheckReport,
    progress: &dyn Progress,
) -> Result<()> {
    if packs.is_empty() {
        return Ok(());
    }
    progress.phase("read", "packs");
    progress.totals(packs.len() as u64, packs.iter().map(|p| p.size).sum(), true);
    // The blobs of each pack, from the index, grouped once.
    let mut by_pack: HashMap<PackId, Vec<(BlobId, BlobLoc)>> = HashMap::new();
    {
        let index = repo.index();
        for (id, loc) in index.blobs() {
            by_pack
                .entry(index.packs()[loc.pack as usize].id)
                .or_default()
                .push((*id, *loc));
        }
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<CheckReport>>>> =
        packs.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(p) = packs.get(i) else { break };
            let blobs = by_pack.get(&p.id).map(Vec::as_slice).unwrap_or_default();
            let mut part = CheckReport::default();
            let done = read_pack(repo, p, blobs, &mut part).map(|_| part);
            let stop = done.is_err();
            *results[i].lock().expect("poisoned") = Some(done);
            if stop {
                // Fatal: the others stop too.
                next.store(packs.len(), Ordering::Relaxed);
                break;
            }
            let key = pack::key(p.kind, &p.id);
            progress.entry_done(std::path::Path::new(&key), p.size, p.size);
        }
    };
    // The calling thread reads too; a helper the OS refuses to start (a
    // process limit) leaves its share to the others.
    std::thread::scope(|s| {
        for _ in 1..PARALLEL_READS.min(packs.len()) {
            if std::thread::Builder::new().spawn_scoped(s, work).is_err() {
                break;
            }
        }
        work();
    });
    for done in results {
        match done.into_inner().expect("poisoned") {
            Some(Ok(part)) => {
                r.errors.extend(part.errors);
                r.packs_read += part.packs_read;
                r.blobs_read += part.blobs_read;
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    Ok(())
}

fn read_pack(
    repo: &Repository,
    p: &PackInfo,
    blobs: &[(BlobId, BlobLoc)],
    r: &mut CheckReport,
) -> Result<()> {
    let key = pack::key(p.kind, &p.id);
    let bytes = match repo.store().get(&key, None) {
        Ok(b) => b,
        Err(e) if e.kind() == Kind::NotFound => return Ok(()), // reported already
        Err(e) if e.kind() == Kind::Fatal => return Err(e),
        Err(e) => {
            r.errors.push(e.to_string());
            return Ok(());
        }
    };
    r.packs_read += 1;
    if PackId(hash_object(&bytes)) != p.id {
        r.errors.push(format!("pack does not match its id: {key}"));
    }
    match repo.decode_pack_header(&bytes, &key, p.kind) {
        Ok(h) => {
            let listed: HashMap<BlobId, PackBlob> = h.blobs.iter().map(|b| (b.id, *b)).collect();
            for (id, loc) in blobs {
                if listed.get(id) != Some(&loc.entry(*id)) {
                    r.errors.push(format!(
                        "the index places blob {} where the pack header does not: {key}",
                        id.short()
                    ));
                }
            }
        }
        Err(e) => r.errors.push(e.to_string()),
    }
    // A group is opened once for all its blobs (and a damaged one is
    // reported once).
    let mut group: Option<(u32, Option<Vec<u8>>)> = None;
    let mut blobs = blobs.to_vec();
    blobs.sort_by_key(|(_, loc)| (loc.offset, loc.slice()));
    for (id, loc) in &blobs {
        let range = loc.offset as usize..loc.offset as usize + loc.length as usize;
        let Some(sealed) = bytes.get(range) else {
            r.errors
                .push(format!("blob {} lies outside its pack: {key}", id.short()));
            continue;
        };
        r.blobs_read += 1;
        let checked = match loc.slice() {
            None => repo.open_blob(id, sealed, &key).map(drop),
            Some(slice) => {
                if group.as_ref().is_none_or(|g| g.0 != loc.offset) {
                    let what = format!("{key} (compression group at {})", loc.offset);
                    let opened = repo.open_unit(sealed, &what);
                    let opened = opened.map_err(|e| r.errors.push(e.to_string())).ok();
                    group = Some((loc.offset, opened));
                }
                let what = format!("{key} (blob {})", id.short());
                match &group.as_ref().expect("just opened").1 {
                    Some(plain) => repo.blob_in_group(id, plain, slice, &what).map(drop),
                    None => Ok(()), // reported with the group
                }
            }
        };
        if let Err(e) = checked {
            r.errors.push(e.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::BlobKind;

    fn packs(n: u8) -> Vec<PackInfo> {
        (0..n)
            .map(|i| PackInfo {
                id: PackId([i.wrapping_mul(37); 32]),
                kind: BlobKind::Data,
                size: 1,
            })
            .collect()
    }

    #[test]
    fn parts_cover_every_pack_exactly_once() {
        let all = packs(50);
        let mut seen: Vec<PackId> = (1..=7)
            .flat_map(|n| DataSubset::Part(n, 7).select(&all))
            .map(|p| p.id)
            .collect();
        seen.sort();
        let mut want: Vec<PackId> = all.iter().map(|p| p.id).collect();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn percent_reads_at_least_one_pack() {
        assert_eq!(DataSubset::Percent(1.0).select(&packs(10)).len(), 1);
        assert_eq!(DataSubset::Percent(50.0).select(&packs(10)).len(), 5);
        assert_eq!(DataSubset::Percent(100.0).select(&packs(3)).len(), 3);
        assert!(DataSubset::Percent(5.0).select(&[]).is_empty());
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(DataSubset::parse("1/10").unwrap(), DataSubset::Part(1, 10));
        assert_eq!(DataSubset::parse("5%").unwrap(), DataSubset::Percent(5.0));
        for bad in ["0/10", "11/10", "1/0", "x/2", "0%", "101%", "5", "", "nan%"] {
            assert!(DataSubset::parse(bad).is_err(), "{bad}");
        }
    }
}
