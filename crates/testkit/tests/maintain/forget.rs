//! forget removes snapshot objects only, by policy per group or by id; an
//! empty policy and a dry run remove nothing.

use crate::support::*;
use coffer_core::Kind;
use coffer_core::Store;
use coffer_core::{ForgetOptions, forget};
use coffer_core::{GroupBy, Policy};
use std::sync::Arc;

const DAY_NS: i64 = 24 * HOUR_NS;

fn by_policy_and_by_id(store: Arc<dyn Store>) {
    let src = tempfile::tempdir().unwrap();
    let repo = init(&store);
    let a = tree(src.path(), "a", 1, 2, 5_000);
    let b = tree(src.path(), "b", 2, 2, 5_000);
    let t0 = 1_700_000_000_000_000_000i64;
    // Group a: four days, two snapshots on the last day; group b: one.
    let a_snaps: Vec<_> = [0, DAY_NS, 2 * DAY_NS, 3 * DAY_NS, 3 * DAY_NS + HOUR_NS]
        .iter()
        .map(|dt| backup_at(&repo, &a, Some(t0 + dt)).id)
        .collect();
    let b_snap = backup_at(&repo, &b, Some(t0)).id;
    let packs = pack_bytes(store.as_ref());
    let daily_2 = ForgetOptions {
        policy: Policy {
            daily: 2,
            ..Default::default()
        },
        now: t0 + 10 * DAY_NS,
        ..Default::default()
    };

    let dry = forget(
        &repo,
        &ForgetOptions {
            dry_run: true,
            ..daily_2.clone()
        },
    )
    .unwrap();
    assert_eq!(dry.removed.len(), 3);
    assert_eq!(
        count(store.as_ref(), "snapshots/"),
        6,
        "a dry run removes nothing"
    );

    let r = forget(&repo, &daily_2).unwrap();
    assert_eq!(r.groups.len(), 2, "grouped by host and paths");
    let mut removed = r.removed.clone();
    removed.sort();
    let mut want = vec![a_snaps[0], a_snaps[1], a_snaps[3]];
    want.sort();
    assert_eq!(
        removed, want,
        "the newest of each of the last two days stay"
    );
    let left: Vec<_> = repo.snapshots().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(left.len(), 3);
    assert!(left.contains(&b_snap) && left.contains(&a_snaps[4]) && left.contains(&a_snaps[2]));
    assert_eq!(
        pack_bytes(store.as_ref()),
        packs,
        "forget leaves the data to prune"
    );

    // One group for all: daily 1 keeps only the newest snapshot overall.
    let one_group = ForgetOptions {
        policy: Policy {
            daily: 1,
            ..Default::default()
        },
        group_by: GroupBy::parse("").unwrap(),
        now: t0 + 10 * DAY_NS,
        ..Default::default()
    };
    assert_eq!(forget(&repo, &one_group).unwrap().removed.len(), 2);

    let empty = ForgetOptions::default();
    let err = forget(&repo, &empty).unwrap_err();
    assert_eq!(err.kind(), Kind::InvalidInput);
    assert!(err.to_string().contains("no policy"), "{err}");

    let by_id = ForgetOptions {
        ids: vec![a_snaps[4].short()],
        ..Default::default()
    };
    assert_eq!(forget(&repo, &by_id).unwrap().removed, [a_snaps[4]]);
    assert_eq!(count(store.as_ref(), "snapshots/"), 0);
    assert_eq!(count(store.as_ref(), "locks/"), 0);
    let unknown = ForgetOptions {
        ids: vec!["abcdef".into()],
        ..Default::default()
    };
    assert_eq!(forget(&repo, &unknown).unwrap_err().kind(), Kind::NotFound);
    assert_checks(&store);
}

#[test]
fn local_forget_by_policy_and_by_id() {
    let d = tempfile::tempdir().unwrap();
    by_policy_and_by_id(local_store(d.path()));
}

#[test]
fn s3_forget_by_policy_and_by_id() {
    by_policy_and_by_id(s3_store("forget"));
}
