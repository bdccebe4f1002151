//! `coffer tag`: tags change, data and ids of the rest do not; the old
//! snapshot is replaced by one recording it as `original`; a run killed
//! between storing the new snapshot and removing the old one is finished
//! by the next, without a second copy; on local and S3 repositories.

use crate::support::*;
use serde_json::Value;

fn snapshots(c: &Coffer) -> Vec<Value> {
    let out = c.run(&["snapshots", "--json"]);
    out.ok();
    out.json().as_array().unwrap().clone()
}

fn tags(s: &Value) -> Vec<String> {
    s["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn retag_roundtrip(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    write(&src.join("a.txt"), "alpha\n");
    write(&src.join("sub/b.txt"), "beta\n");
    c.backup(&[&src], &["--tag", "nightly"]);
    c.backup(&[&src], &["--tag", "weekly"]);
    let before = snapshots(&c);
    let (first, second) = (
        before[0]["id"].as_str().unwrap(),
        before[1]["id"].as_str().unwrap(),
    );

    // Add and remove on one snapshot: it is replaced, the other is not.
    let out = c.run(&[
        "tag",
        "--json",
        "--add",
        "keep,audit",
        "--remove",
        "nightly",
        &first[..8],
    ]);
    out.ok();
    let r = out.json();
    assert_eq!(r["changed"].as_array().unwrap().len(), 1, "{r}");
    let new = r["changed"][0]["new"].as_str().unwrap().to_string();
    assert_eq!(r["changed"][0]["original"], first, "{r}");
    let after = snapshots(&c);
    let ids: Vec<&str> = after.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(ids.contains(&second) && ids.contains(&new.as_str()) && !ids.contains(&first));
    let retagged = after.iter().find(|s| s["id"] == new.as_str()).unwrap();
    assert_eq!(tags(retagged), ["keep", "audit"]);
    assert_eq!(
        retagged["time"], before[0]["time"],
        "the time stays the backup's"
    );
    let cat = c.run(&["cat", "snapshot", &new]);
    cat.ok();
    assert_eq!(cat.json()["original"], first, "{}", cat.stdout);

    // Nothing to change: nothing replaced.
    let out = c.run(&["tag", "--json", "--add", "keep", &new]);
    out.ok();
    assert_eq!(out.json()["unchanged"].as_array().unwrap().len(), 1);
    assert_eq!(snapshots(&c).len(), 2);

    // --set on every snapshot a filter matches; the original stays the first.
    c.run(&["tag", "--set", "archive", "--tag", "keep"]).ok();
    let set = snapshots(&c);
    let archived: Vec<&Value> = set.iter().filter(|s| tags(s) == ["archive"]).collect();
    assert_eq!(archived.len(), 1, "{set:?}");
    let id = archived[0]["id"].as_str().unwrap();
    assert_eq!(c.run(&["cat", "snapshot", id]).json()["original"], first);

    // The data is untouched: it restores, and check passes.
    let target = c.path("target");
    c.restore(id, &target, &[]).ok();
    assert_restored(&src, &restored(&target, &src));
    c.run(&["check", "--read-data"]).ok();
}

#[test]
fn tags_change_and_the_data_stays_local() {
    retag_roundtrip(Backend::Local);
}

#[test]
fn tags_change_and_the_data_stays_s3() {
    retag_roundtrip(Backend::S3);
}

#[test]
fn a_tag_run_stopped_after_storing_the_new_snapshot_is_finished_by_the_next() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("a.txt"), "alpha\n");
    c.backup(&[&src], &[]);
    let old = c.snapshot_ids()[0].clone();
    let old_key = format!("snapshots/{old}");
    let old_bytes = c.read_object(&old_key);
    let out = c.run(&["tag", "--json", "--add", "x", &old]);
    out.ok();
    let new = out.json()["changed"][0]["new"]
        .as_str()
        .unwrap()
        .to_string();
    // The state a kill between the two steps leaves: both objects.
    c.write_object(&old_key, &old_bytes);
    assert_eq!(c.snapshot_ids().len(), 2);
    let out = c.run(&["tag", "--json", "--add", "x", &old]);
    out.ok();
    assert_eq!(
        out.json()["changed"][0]["new"],
        new.as_str(),
        "{}",
        out.stdout
    );
    assert_eq!(c.snapshot_ids(), [new]);
}

#[test]
fn bad_tag_arguments_are_refused_and_change_nothing() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("a.txt"), "alpha\n");
    c.backup(&[&src], &["--tag", "t"]);
    let before = c.snapshot_ids();
    // A command line clap refuses is 2; a request refused after parsing
    // (nothing to do, not a tag, no such snapshot) is 1.
    for (args, code) in [
        (vec!["tag", "--set", "a", "--add", "b", "latest"], 2),
        (vec!["tag", "latest"], 1),
        (vec!["tag", "--add", " x", "latest"], 1),
        (vec!["tag", "--add", "x", "deadbeef"], 1),
    ] {
        let out = c.run(&args);
        assert_eq!(out.code, code, "{}: {}", out.what, out.stderr);
        if code == 1 {
            out.one_line_error();
        }
    }
    let out = c.run(&["tag", "--dry-run", "--add", "x", "latest"]);
    out.ok();
    assert!(
        out.stdout.contains("would change 1 snapshot"),
        "{}",
        out.stdout
    );
    assert_eq!(c.snapshot_ids(), before);
}
