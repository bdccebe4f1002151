//! `coffer copy`: snapshots from one repository into another with another
//! password, key and chunker seed (local to S3 and back); what the copy
//! restores is what the original restores (rsync -naHAXc); copying again
//! copies nothing; tomorrow's snapshot reads only what changed; data the
//! destination already holds is not stored twice.

use crate::archive::{fixture_for_tar, rsync_differences};
use crate::support::*;
use std::path::Path;

/// `copy` into `dest` from `src` (its password in a file).
fn copy(dest: &Coffer, src: &Coffer, extra: &[&str]) -> Out {
    let pw = dest.path("from-password");
    write(&pw, format!("{}\n", src.password));
    let mut args = vec![
        "copy",
        "--json",
        "--from-password-file",
        arg(&pw),
        "--from-repo",
    ];
    let from = src.location().to_str().unwrap().to_string();
    args.push(&from);
    args.extend_from_slice(extra);
    let mut cmd = dest.command(&args);
    if let Some(s3) = &src.s3 {
        cmd.arg("--from-endpoint-url").arg(&s3.endpoint);
        for (k, v) in crate::archive::s3_env().into_iter().skip(1) {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().unwrap();
    Out::from_output(describe(&args), out)
}

/// Both restores of `snapshot` equal, compared by rsync.
fn assert_same_restores(a: (&Coffer, &str), b: (&Coffer, &str), root: &Path) {
    let (ta, tb) = (a.0.path("restore-a"), b.0.path("restore-b"));
    a.0.restore(a.1, &ta, &[]).ok();
    b.0.restore(b.1, &tb, &[]).ok();
    let sub = root.strip_prefix("/").unwrap();
    // rsync cannot name what is deeper than its own path limit: the
    // comparison below covers that part.
    let diff = rsync_differences(&ta.join(sub), &tb.join(sub), &["long"]);
    assert!(
        diff.is_empty(),
        "the copy restores differently:\n{}",
        diff.join("\n")
    );
    assert_restored(&ta.join(sub), &tb.join(sub));
    std::fs::remove_dir_all(&ta).unwrap();
    std::fs::remove_dir_all(&tb).unwrap();
}

fn a_copy_restores_as_its_original(from: Backend, to: Backend) {
    let src = Coffer::init_on(from);
    let mut dest = Coffer::on(to);
    dest.password = "another password".into();
    dest.run(&["init"]).ok();
    let fx = fixture_for_tar(&src);
    src.backup(&[&fx.root], &["--tag", "first"]);
    write(&fx.root.join("added.txt"), "new in the second snapshot\n");
    src.backup(&[&fx.root], &[]);
    let ids = src.snapshot_ids();

    let out = copy(&dest, &src, &[]);
    out.ok();
    let r = out.json();
    let copied = r["snapshots"].as_array().unwrap();
    assert_eq!(copied.len(), 2, "{r}");
    assert!(copied.iter().all(|c| c["already"] == false), "{r}");
    assert!(r["totals"]["files_read"].as_u64().unwrap() > 5, "{r}");
    let new = dest.snapshot_ids();
    assert_eq!(new.len(), 2);
    for (s, d) in ids.iter().zip(&new) {
        let cat = dest.run(&["cat", "snapshot", d]).json();
        assert_eq!(cat["original"], s.as_str(), "{cat}");
    }
    assert_eq!(
        dest.run(&["cat", "snapshot", &new[0]]).json()["tags"][0],
        "first"
    );
    assert_same_restores((&src, &ids[1]), (&dest, &new[1]), &fx.root);
    assert_same_restores((&src, &ids[0]), (&dest, &new[0]), &fx.root);
    dest.run(&["check", "--read-data"]).ok();

    // Again: nothing read, nothing stored.
    let before = [
        dest.objects("data/"),
        dest.objects("index/"),
        dest.objects("snapshots/"),
    ];
    let out = copy(&dest, &src, &[]);
    out.ok();
    let r = out.json();
    assert!(
        r["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["already"] == true),
        "{r}"
    );
    assert_eq!(r["totals"]["files_read"], 0, "{r}");
    let after = [
        dest.objects("data/"),
        dest.objects("index/"),
        dest.objects("snapshots/"),
    ];
    assert_eq!(before, after);

    // Tomorrow's snapshot: only the changed file is read.
    write(&fx.root.join("added.txt"), "changed on the third day\n");
    src.backup(&[&fx.root], &[]);
    let out = copy(&dest, &src, &["latest"]);
    out.ok();
    let r = out.json();
    assert_eq!(r["totals"]["files_read"], 1, "{r}");
    assert!(r["totals"]["files_reused"].as_u64().unwrap() > 5, "{r}");
    let third = dest.snapshot_ids();
    assert_eq!(third.len(), 3);
    assert_same_restores((&src, "latest"), (&dest, "latest"), &fx.root);
    dest.run(&["check", "--read-data"]).ok();
}

#[test]
fn copy_local_to_s3_restores_as_the_original() {
    a_copy_restores_as_its_original(Backend::Local, Backend::S3);
}

#[test]
fn copy_s3_to_local_restores_as_the_original() {
    a_copy_restores_as_its_original(Backend::S3, Backend::Local);
}

#[test]
fn data_the_destination_holds_is_not_stored_again() {
    let src = Coffer::init();
    let dest = other_repo("dest");
    let tree = src.path("tree");
    write(
        &tree.join("big.bin"),
        coffer_testkit::fixture::pseudo_random(7, 6 << 20),
    );
    write(&tree.join("small.txt"), "small\n");
    src.backup(&[&tree], &[]);
    // The destination backed up the same files itself: its chunker (another
    // seed) cut them otherwise, and the copy, cut again by that chunker,
    // finds every blob there.
    dest.backup(&[&tree], &[]);
    let (_, before) = dest.size();
    let out = copy(&dest, &src, &[]);
    out.ok();
    let r = out.json();
    assert_eq!(r["totals"]["files_read"], 2, "{r}");
    let (_, after) = dest.size();
    assert!(
        after < before + 64 * 1024,
        "the copy stored {} bytes for data already there",
        after - before
    );
    dest.run(&["check", "--read-data"]).ok();
}

#[test]
fn bad_sources_are_clear_errors() {
    let src = Coffer::init();
    let dest = Coffer::init();
    let tree = src.path("tree");
    write(&tree.join("a.txt"), "a\n");
    src.backup(&[&tree], &[]);
    // No source.
    let out = dest.run(&["copy"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    out.one_line_error();
    assert!(out.stderr.contains("--from-repo"), "{}", out.stderr);
    // The wrong password for the source.
    let pw = dest.path("wrong");
    write(&pw, "wrong\n");
    let from = src.location().to_str().unwrap().to_string();
    let out = dest.run(&[
        "copy",
        "--from-repo",
        &from,
        "--from-password-file",
        arg(&pw),
    ]);
    assert_ne!(out.code, 0);
    out.one_line_error();
    // Into itself.
    let env = [("COFFER_FROM_PASSWORD", src.password.as_str())];
    let out = src.run_env(&["copy", "--from-repo", &from], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("same repository"), "{}", out.stderr);
    // A dry run lists and writes nothing.
    let out = dest.run_env(&["copy", "--dry-run", "--from-repo", &from], &env);
    out.ok();
    assert!(
        out.stdout.contains("would copy 1 snapshot"),
        "{}",
        out.stdout
    );
    assert!(dest.snapshot_ids().is_empty());
}

#[test]
fn a_killed_copy_leaves_a_clean_destination_and_a_rerun_finishes() {
    let src = Coffer::init();
    let dest = other_repo("dest");
    let tree = src.path("tree");
    for i in 0..4 {
        write(
            &tree.join(format!("big-{i}.bin")),
            coffer_testkit::fixture::pseudo_random(i + 1, 24 << 20),
        );
    }
    write(&tree.join("small.txt"), "small\n");
    src.backup(&[&tree], &[]);
    let pw = dest.path("from-password");
    write(&pw, format!("{}\n", src.password));
    let from = src.location().to_str().unwrap().to_string();
    let args = [
        "copy",
        "--from-password-file",
        arg(&pw),
        "--from-repo",
        &from,
    ];
    // Killed once the first pack is stored, before the snapshot.
    kill_once_a_pack_is_stored(&dest, &args);
    assert!(dest.snapshot_ids().is_empty());
    dest.run(&["check"]).ok();
    let out = copy(&dest, &src, &[]);
    out.ok();
    assert_eq!(dest.snapshot_ids().len(), 1);
    let (ta, tb) = (src.path("a"), dest.path("b"));
    src.restore("latest", &ta, &[]).ok();
    dest.restore("latest", &tb, &[]).ok();
    assert_restored(&restored(&ta, &tree), &restored(&tb, &tree));
    dest.run(&["check", "--read-data"]).ok();
}

#[test]
fn from_profile_names_the_source() {
    let src = Coffer::init();
    let dest = other_repo("dest");
    let tree = src.path("tree");
    write(&tree.join("a.txt"), "a\n");
    src.backup(&[&tree], &[]);
    let pw = dest.path("src.pw");
    write(&pw, format!("{}\n", src.password));
    let cfg = dest.path("coffer.toml");
    write(
        &cfg,
        format!(
            "[profile.src]\nrepo = {:?}\npassword-file = {:?}\n",
            src.location().to_str().unwrap(),
            pw.to_str().unwrap()
        ),
    );
    let out = dest.run(&[
        "--config",
        arg(&cfg),
        "copy",
        "--json",
        "--from-profile",
        "src",
    ]);
    out.ok();
    assert_eq!(
        out.json()["snapshots"][0]["already"],
        false,
        "{}",
        out.stdout
    );
    let out = dest.run(&["--config", arg(&cfg), "copy", "--from-profile", "nope"]);
    assert_ne!(out.code, 0);
    out.one_line_error();
}
