//! The prune plan on hand-made inputs: each case names the guarantee it
//! pins (what is kept, repacked, condemned, deleted, resurrected).

use super::MaxUnused;
use super::plan::{Inputs, Plan, plan};
use super::refs::References;
use crate::format::index::IndexPack;
use crate::format::pack::{BlobKind, PackBlob};
use crate::id::{BlobId, PackId, PruneRecordId};
use crate::repo::PruneRecord;
use std::collections::{HashMap, HashSet};

fn blob(n: u8) -> BlobId {
    BlobId([n; 32])
}

/// A data pack `n` holding blobs `ids`, 100 bytes each.
fn pack(n: u8, ids: &[u8]) -> IndexPack {
    IndexPack {
        id: PackId([n; 32]),
        kind: BlobKind::Data,
        size: 100 * ids.len() as u64 + 50,
        blobs: ids
            .iter()
            .enumerate()
            .map(|(i, b)| PackBlob {
                id: blob(*b),
                offset: 100 * i as u32,
                length: 100,
                raw_length: 90,
                in_group: None,
            })
            .collect(),
    }
}

fn record(n: u8, time: i64, packs: &[IndexPack]) -> (PruneRecordId, PruneRecord) {
    (
        PruneRecordId([n; 32]),
        PruneRecord {
            version: 1,
            time,
            packs: packs.to_vec(),
        },
    )
}

fn stored(packs: &[&IndexPack]) -> HashMap<PackId, (BlobKind, u64)> {
    packs.iter().map(|p| (p.id, (p.kind, p.size))).collect()
}

fn used(ids: &[u8]) -> References {
    References {
        snapshots: HashMap::new(),
        counts: ids.iter().map(|b| (blob(*b), 1)).collect(),
    }
}

fn ids(packs: &[IndexPack]) -> Vec<u8> {
    let mut v: Vec<u8> = packs.iter().map(|p| p.id.0[0]).collect();
    v.sort();
    v
}

fn run(
    current: &[IndexPack],
    store: &[&IndexPack],
    records: &[(PruneRecordId, PruneRecord)],
    used_ids: &[u8],
    max_unused: MaxUnused,
) -> Plan {
    plan(&Inputs {
        current,
        stored: &stored(store),
        young: &HashSet::new(),
        archived: &HashSet::new(),
        records,
        used: &used(used_ids),
        max_unused,
        mature_before: 1000,
    })
}

#[test]
fn keeps_used_condemns_unused_repacks_beyond_the_limit() {
    let (full, empty, half) = (pack(1, &[1, 2]), pack(2, &[3, 4]), pack(3, &[5, 6]));
    let current = [full.clone(), empty.clone(), half.clone()];
    let store = [&full, &empty, &half];
    let p = run(&current, &store, &[], &[1, 2, 5], MaxUnused::Percent(0.0));
    assert_eq!(ids(&p.keep), [1]);
    assert_eq!(
        ids(&p.condemn),
        [2, 3],
        "unused and repacked packs are condemned"
    );
    assert_eq!(p.repack.len(), 1);
    assert_eq!(
        p.repack[0].copy.iter().map(|b| b.id).collect::<Vec<_>>(),
        [blob(5)]
    );
    assert!(
        p.delete.is_empty(),
        "nothing is deleted in the run that condemns it"
    );
    assert_eq!(p.stats.used_blobs, 3);
    assert_eq!(p.stats.used_bytes, 300);

    let p = run(&current, &store, &[], &[1, 2, 5], MaxUnused::Unlimited);
    assert_eq!(ids(&p.keep), [1, 3], "tolerated waste stays");
    assert_eq!(p.stats.unused_bytes_kept, 100);
    // 100 unused bytes next to 300 used is 25 %: within 30 %, not within 20 %.
    assert!(
        run(&current, &store, &[], &[1, 2, 5], MaxUnused::Percent(30.0))
            .repack
            .is_empty()
    );
    assert_eq!(
        run(&current, &store, &[], &[1, 2, 5], MaxUnused::Percent(20.0))
            .repack
            .len(),
        1
    );
}

#[test]
fn a_duplicate_blob_counts_once() {
    let (a, b) = (pack(1, &[1, 2]), pack(2, &[2, 3]));
    let p = run(
        &[a.clone(), b.clone()],
        &[&a, &b],
        &[],
        &[1, 2, 3],
        MaxUnused::Percent(0.0),
    );
    assert_eq!(p.stats.used_blobs, 3);
    // Both packs are fully used before dedup; the copy of blob 2 in one of
    // them is waste, so that pack is repacked with only its own blob.
    assert_eq!(p.repack.len(), 1);
    assert_eq!(p.repack[0].copy.len(), 1);
}

#[test]
fn mature_condemned_packs_are_deleted_unless_needed_or_named_again() {
    let (gone, needed, again, live) = (pack(1, &[1]), pack(2, &[2]), pack(3, &[3]), pack(4, &[4]));
    let records = [record(
        9,
        500,
        &[gone.clone(), needed.clone(), again.clone()],
    )];
    let current = [again.clone(), live.clone()];
    let p = run(
        &current,
        &[&gone, &needed, &again, &live],
        &records,
        &[2, 3, 4],
        MaxUnused::Unlimited,
    );
    assert_eq!(ids(&p.delete), [1]);
    assert_eq!(
        p.resurrect,
        [needed.id],
        "a snapshot saved since needs it: back in the index"
    );
    assert_eq!(ids(&p.keep), [2, 3, 4]);
    assert_eq!(p.finished_records, [PruneRecordId([9; 32])]);
    assert!(p.missing.is_empty());
}

#[test]
fn immature_packs_wait_and_a_later_record_restarts_the_wait() {
    let (a, b, c) = (pack(1, &[1]), pack(2, &[2]), pack(3, &[3]));
    let records = [
        record(8, 500, &[a.clone(), b.clone()]),
        record(9, 2000, &[b.clone(), c.clone()]),
    ];
    let p = run(&[], &[&a, &b, &c], &records, &[3], MaxUnused::Unlimited);
    assert_eq!(ids(&p.delete), [1], "b was condemned again later: it waits");
    assert_eq!(p.pending, 1);
    assert_eq!(
        p.resurrect,
        [c.id],
        "needed packs come back even before maturity"
    );
    assert_eq!(p.finished_records, [PruneRecordId([8; 32])]);
}

#[test]
fn already_deleted_packs_are_skipped_and_orphans_condemned() {
    let (deleted, orphan) = (pack(1, &[1]), pack(2, &[2]));
    let records = [record(9, 500, &[deleted])];
    let p = run(&[], &[&orphan], &records, &[], MaxUnused::Unlimited);
    assert!(p.delete.is_empty());
    assert_eq!(p.orphans, 1);
    assert_eq!(ids(&p.condemn), [2]);
    assert!(
        p.condemn[0].blobs.is_empty(),
        "an orphan's blobs are not known"
    );
}

#[test]
fn damage_is_reported_not_pruned_around() {
    let (a, lost) = (pack(1, &[1]), pack(2, &[2]));
    let p = run(
        &[a.clone(), lost.clone()],
        &[&a],
        &[],
        &[1, 2, 7],
        MaxUnused::Unlimited,
    );
    assert_eq!(p.missing_packs, [lost.id]);
    assert_eq!(p.missing, [blob(2), blob(7)]);
}

#[test]
fn max_unused_parses_percent_sizes_and_unlimited() {
    assert_eq!(MaxUnused::parse("5%").unwrap(), MaxUnused::Percent(5.0));
    assert_eq!(MaxUnused::parse("100%").unwrap(), MaxUnused::Unlimited);
    assert_eq!(MaxUnused::parse("unlimited").unwrap(), MaxUnused::Unlimited);
    assert_eq!(
        MaxUnused::parse("500M").unwrap(),
        MaxUnused::Bytes(500 << 20)
    );
    assert_eq!(MaxUnused::parse("2g").unwrap(), MaxUnused::Bytes(2 << 30));
    assert_eq!(MaxUnused::parse("1024").unwrap(), MaxUnused::Bytes(1024));
    for bad in ["", "%", "-1%", "101%", "5x", "M", "99999999999T", "nan%"] {
        assert!(MaxUnused::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(MaxUnused::Percent(50.0).allowed(100), 100);
    assert_eq!(MaxUnused::Percent(0.0).allowed(100), 0);
}

/// A pack inside its storage class's minimum duration is billed to its end
/// anyway: it is not repacked (the copy would be paid on top) but kept and
/// counted; an unused young pack is still condemned (deleting it costs
/// nothing more than keeping it).
#[test]
fn young_packs_are_not_repacked_but_unused_ones_still_go() {
    let (half, empty) = (pack(3, &[5, 6]), pack(2, &[3, 4]));
    let current = [half.clone(), empty.clone()];
    let store = [&half, &empty];
    let young: HashSet<PackId> = [half.id, empty.id].into();
    let p = plan(&Inputs {
        current: &current,
        stored: &stored(&store),
        young: &young,
        archived: &HashSet::new(),
        records: &[],
        used: &used(&[5]),
        max_unused: MaxUnused::Percent(0.0),
        mature_before: 1000,
    });
    assert!(p.repack.is_empty(), "a young pack is not repacked");
    assert_eq!(ids(&p.keep), [3]);
    assert_eq!(ids(&p.condemn), [2], "an unused young pack is condemned");
    assert_eq!(
        (p.stats.young_packs_kept, p.stats.young_bytes_kept),
        (1, half.size)
    );
    assert_eq!(p.stats.unused_bytes_kept, 100);
}

/// An archived pack (GLACIER, DEEP_ARCHIVE) is never read back by prune:
/// not repacked however much of it is unused, but an unused one is
/// condemned like any other.
#[test]
fn archived_packs_are_not_repacked_but_unused_ones_still_go() {
    let (half, empty, hot) = (pack(3, &[5, 6]), pack(2, &[3, 4]), pack(4, &[7, 8]));
    let current = [half.clone(), empty.clone(), hot.clone()];
    let store = [&half, &empty, &hot];
    let archived: HashSet<PackId> = [half.id, empty.id].into();
    let p = plan(&Inputs {
        current: &current,
        stored: &stored(&store),
        young: &HashSet::new(),
        archived: &archived,
        records: &[],
        used: &used(&[5, 7]),
        max_unused: MaxUnused::Percent(0.0),
        mature_before: 1000,
    });
    let repacked: Vec<PackId> = p.repack.iter().map(|r| r.pack.id).collect();
    assert_eq!(repacked, [hot.id], "only the hot pack is repacked");
    assert_eq!(ids(&p.keep), [3]);
    assert_eq!(ids(&p.condemn), [2, 4], "the unused archived pack goes");
    assert_eq!(
        (p.stats.archived_packs_kept, p.stats.archived_bytes_kept),
        (1, half.size)
    );
}
