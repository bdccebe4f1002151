//! diff, stats and find on snapshots with known differences.

use crate::support::*;
use coffer_core::DataSubset;
use coffer_core::{CheckOptions, check_with};
use coffer_core::{DiffChange as Change, diff};
use coffer_core::{Pattern, find};
use coffer_core::{StatsMode, stats};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn diff_stats_and_find_see_what_changed() {
    let src = tempfile::tempdir().unwrap();
    let d = tempfile::tempdir().unwrap();
    let store = local_store(d.path());
    let repo = init(&store);
    let root = tree(src.path(), "t", 1, 3, 10_000); // f0 f1 f2
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/a.conf"), b"one").unwrap();
    fs::write(root.join("kind"), b"file first").unwrap();
    let a = backup_of(&repo, &root);

    fs::remove_file(root.join("f0")).unwrap(); // removed
    fs::write(root.join("f1"), b"new content").unwrap(); // modified
    fs::set_permissions(root.join("f2"), fs::Permissions::from_mode(0o600)).unwrap(); // metadata
    fs::write(root.join("sub/b.conf"), b"two").unwrap(); // added
    fs::remove_file(root.join("kind")).unwrap();
    fs::create_dir(root.join("kind")).unwrap(); // type changed
    fs::write(root.join("kind/inner"), b"x").unwrap(); // added below it
    let b = backup_of(&repo, &root);

    let mut seen = BTreeMap::new();
    let totals = diff(&repo, a.snapshot.tree, b.snapshot.tree, &mut |e| {
        let rel = e
            .path
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().into_owned());
        if let Ok(rel) = rel {
            seen.insert(rel, e.change);
        }
        Ok(())
    })
    .unwrap();
    let want: BTreeMap<String, Change> = [
        ("", Change::Metadata), // the directory itself: its mtime
        ("f0", Change::Removed),
        ("f1", Change::Modified),
        ("f2", Change::Metadata),
        ("kind", Change::TypeChanged),
        ("kind/inner", Change::Added),
        ("sub", Change::Metadata),
        ("sub/b.conf", Change::Added),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c))
    .collect();
    assert_eq!(seen, want);
    assert!(totals.bytes_removed >= 20_000, "{totals:?}");
    assert!(totals.blobs_added > 0, "{totals:?}");

    let roots = [(a.id, a.snapshot.tree), (b.id, b.snapshot.tree)];
    let s = stats(&repo, &roots[..1], StatsMode::RestoreSize).unwrap();
    assert_eq!(s.files, Some(5));
    assert_eq!(s.restore_size, Some(30_000 + 3 + 10));
    let both = stats(&repo, &roots, StatsMode::RestoreSize).unwrap();
    assert_eq!(both.files, Some(5 + 5));
    let dedup = stats(&repo, &roots, StatsMode::Deduplicated).unwrap();
    let raw = stats(&repo, &roots, StatsMode::Raw).unwrap();
    assert_eq!(dedup.blobs, raw.blobs);
    assert!(
        raw.stored_size.unwrap() > 0 && raw.repository_size.unwrap() >= raw.stored_size.unwrap()
    );

    let snaps = repo.snapshots().unwrap();
    let mut hits = Vec::new();
    let pattern = Pattern::new("*.CONF", true).unwrap();
    let n = find(&repo, &snaps, &pattern, &mut |s, path, node| {
        hits.push((
            s.id,
            path.file_name().unwrap().to_string_lossy().into_owned(),
            node.size,
        ));
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3, "{hits:?}");
    assert!(hits.contains(&(b.id, "b.conf".to_string(), 3)));
    let by_path = Pattern::new("sub/a.conf", false).unwrap();
    assert_eq!(
        find(&repo, &snaps, &by_path, &mut |_, _, _| Ok(())).unwrap(),
        2
    );
    assert!(Pattern::new("[", false).is_err());
    assert!(Pattern::new("", false).is_err());

    // A subset reads some packs; 1/2 and 2/2 together read all of them.
    let part = |n| {
        check_with(
            &open(&store),
            CheckOptions::default(),
            Some(DataSubset::Part(n, 2)),
            &coffer_core::NoProgress,
        )
        .unwrap()
    };
    let (one, two) = (part(1), part(2));
    assert!(one.ok() && two.ok());
    assert_eq!(one.packs_read + two.packs_read, one.packs);
}
