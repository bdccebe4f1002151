//! What a restore reports: files that failed are counted as failed, not
//! as restored; include patterns that match nothing are named.

use crate::support::{Repo, restored};
use coffer_core::Kind;
use coffer_core::NoProgress;
use coffer_core::{RestoreOptions, restore};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn packs(repo: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for sub in fs::read_dir(repo.join("data")).unwrap() {
        for p in fs::read_dir(sub.unwrap().path()).unwrap() {
            out.insert(p.unwrap().path());
        }
    }
    out
}

#[test]
fn files_whose_content_is_lost_are_counted_as_failed_not_restored() {
    let r = Repo::new();
    let src = r.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("kept"), b"in the first pack\n").unwrap();
    r.backup(&[&src], |_| {});
    let before = packs(&r.path("repo"));
    fs::write(src.join("lost"), b"in the second pack\n").unwrap();
    let b = r.backup(&[&src], |_| {});
    for p in packs(&r.path("repo")).difference(&before) {
        fs::remove_file(p).unwrap();
    }
    let target = r.path("target");
    let res = r.restore(&b, &target, |_| {});
    let dst = restored(&target, &src);
    let failed: Vec<_> = res.failed.iter().map(|f| f.path.clone()).collect();
    assert_eq!(failed, vec![dst.join("lost")]);
    assert_eq!(res.files, 1, "only the file that was restored");
    assert_eq!(res.bytes, 18);
    assert_eq!(fs::read(dst.join("kept")).unwrap(), b"in the first pack\n");
    assert!(!dst.join("lost").exists());
}

#[test]
fn include_patterns_that_match_nothing_are_named() {
    let r = Repo::new();
    let src = r.path("src");
    fs::create_dir_all(src.join("etc/ssh")).unwrap();
    fs::write(src.join("etc/ssh/config"), b"c").unwrap();
    let b = r.backup(&[&src], |_| {});
    let s = src.display();
    let target = r.path("target");
    let mut opts = RestoreOptions::new(target.clone());
    opts.include = vec![format!("{s}/etc/shh"), format!("{s}/nothing")];
    let e = restore(&r.repo, b.snapshot.tree, &opts, &NoProgress).unwrap_err();
    assert_eq!(e.kind(), Kind::InvalidInput);
    assert!(e.to_string().contains("etc/shh"), "{e}");
    assert!(!restored(&target, &src).exists(), "nothing restored");

    // One that matches, one that does not, and one inside what the first
    // selects (matched, though its parent selected it already).
    let res = r.restore(&b, &target, |o| {
        o.include = vec![
            format!("{s}/etc"),
            format!("{s}/nothing"),
            format!("{s}/etc/ssh/config"),
        ]
    });
    assert_eq!(res.unmatched, vec![format!("{s}/nothing")]);
    assert!(restored(&target, &src).join("etc/ssh/config").exists());
}
