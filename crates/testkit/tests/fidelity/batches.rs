//! A restore planned and written in batches (as one of more than 100,000
//! files is) brings back the same tree as one planned whole: here with
//! batches of two files, so hardlinks, sparse files, duplicates and
//! directory metadata all cross batch boundaries.

use crate::support::{Repo, fixture_differences, require_root, restore_errors, restored};
use coffer_testkit::fixture::{self, pseudo_random};

#[test]
fn the_fixture_restored_two_files_at_a_time_is_the_same_tree() {
    require_root();
    let r = Repo::new();
    let fx = fixture::build(&r.path("fixture")).unwrap();
    // Duplicates far apart: the same bytes first and last in the walk.
    for name in ["aaa-first", "zzz-last"] {
        let dir = fx.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..5 {
            let data = pseudo_random(77 + k, 3_000);
            std::fs::write(dir.join(format!("dup{k}")), &data).unwrap();
        }
    }
    let b = r.backup(&[&fx.root], |_| {});
    let target = r.path("target");
    let res = r.restore(&b, &target, |o| {
        o.batch_files = 2;
        o.verify = true;
    });
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let dst = restored(&target, &fx.root);
    let diffs: Vec<String> = fixture_differences(&fx.root, &dst);
    assert!(diffs.is_empty(), "{fx}differences:\n{}", diffs.join("\n"));
}
