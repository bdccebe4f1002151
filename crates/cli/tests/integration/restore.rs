//! `restore` at the edges: what it says and how it exits when files fail,
//! an include matches nothing, or the target holds a symlink on the way.

use crate::support::{Coffer, arg, files_below, restored};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn data_packs(repo: &Path) -> BTreeSet<PathBuf> {
    files_below(&repo.join("data")).into_iter().collect()
}

#[test]
fn restore_summary_counts_files_that_failed_as_failed() {
    let c = Coffer::init();
    let src = c.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("kept"), b"first\n").unwrap();
    c.backup(&[&src], &[]);
    let repo = PathBuf::from(c.location());
    let before = data_packs(&repo);
    fs::write(src.join("lost"), b"second\n").unwrap();
    c.backup(&[&src], &[]);
    for p in data_packs(&repo).difference(&before) {
        fs::remove_file(p).unwrap();
    }
    let target = c.path("target");
    let out = c.restore("latest", &target, &[]);
    out.code(3);
    assert!(
        out.stdout.contains(": 1 files (") && out.stdout.contains("; 1 failed"),
        "{}",
        out.show()
    );
    assert!(out.stderr.contains("lost"), "{}", out.show());
    let json = c.restore("latest", &c.path("target2"), &["--json"]);
    json.code(3);
    let summary = json.json_lines().pop().unwrap();
    assert_eq!(summary["files"], 1, "{summary}");
    assert_eq!(summary["failed"].as_array().unwrap().len(), 1, "{summary}");
}

#[test]
fn restore_include_that_matches_nothing_says_so() {
    let c = Coffer::init();
    let src = c.path("src");
    fs::create_dir_all(src.join("etc/ssh")).unwrap();
    fs::write(src.join("etc/ssh/config"), b"c\n").unwrap();
    c.backup(&[&src], &[]);
    let s = arg(&src);
    let target = c.path("target");
    let typo = format!("{s}/etc/shh");
    let out = c.restore("latest", &target, &["--include", &typo]);
    out.code(1);
    let line = out.one_line_error();
    assert!(
        line.contains("matches nothing") && line.contains(&typo),
        "{line}"
    );
    assert!(!target.join(s.trim_start_matches('/')).exists());
    // With another that matches: restored, the typo named, exit 3.
    let good = format!("{s}/etc/ssh");
    let out = c.restore("latest", &target, &["--include", &good, "--include", &typo]);
    out.code(3);
    assert!(out.stderr.contains(&typo), "{}", out.show());
    assert!(restored(&target, &src).join("etc/ssh/config").is_file());
}

#[test]
fn restore_include_below_a_planted_symlink_leaves_its_destination_alone() {
    let c = Coffer::init();
    let src = c.path("src");
    fs::create_dir_all(src.join("etc/ssh")).unwrap();
    fs::write(src.join("etc/ssh/sshd_config"), b"ours\n").unwrap();
    c.backup(&[&src], &[]);
    let elsewhere = c.path("elsewhere");
    fs::create_dir_all(elsewhere.join("ssh")).unwrap();
    fs::write(elsewhere.join("ssh/sshd_config"), b"theirs\n").unwrap();
    fs::write(elsewhere.join("ssh/other"), b"theirs\n").unwrap();
    let include = format!("{}/etc/ssh", arg(&src));
    for (i, extra) in [&[][..], &["--delete"], &["--overwrite", "never"]]
        .iter()
        .enumerate()
    {
        let target = c.path(&format!("target{i}"));
        let planted = restored(&target, &src).join("etc");
        fs::create_dir_all(planted.parent().unwrap()).unwrap();
        symlink(&elsewhere, &planted).unwrap();
        let mut flags = vec!["--include", include.as_str()];
        flags.extend(extra.iter());
        let out = c.restore("latest", &target, &flags);
        out.code(3);
        assert!(out.stderr.contains("symlink"), "{}", out.show());
        // The ancestors were there already and the two directories below
        // the symlink were never reached: the summary counts none.
        let summary = "0 files (0 B), 0 directories";
        assert!(out.stdout.contains(summary), "{flags:?}: {}", out.show());
        assert_eq!(
            fs::read(elsewhere.join("ssh/sshd_config")).unwrap(),
            b"theirs\n"
        );
        assert!(elsewhere.join("ssh/other").exists(), "{flags:?}");
        assert_eq!(files_below(&elsewhere).len(), 2, "{flags:?}");
    }
}
