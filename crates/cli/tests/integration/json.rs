//! `--json` on every command prints machine-readable output: it parses,
//! and holds the fields a script needs.

use crate::support::{Coffer, arg, write};
use serde_json::Value;
use std::os::unix::fs::symlink;
use std::path::Path;

#[test]
fn every_command_prints_json() {
    let c = Coffer::new();
    let init = c.run(&["init", "--json"]).ok().json();
    assert_eq!(init["version"], 1, "{init}");
    assert!(
        init["id"].as_str().is_some_and(|id| id.len() == 64),
        "{init}"
    );

    let src = c.path("src");
    write(&src.join("a.txt"), b"hello\n");
    write(&src.join("dir/b.bin"), vec![7u8; 5000]);
    symlink("a.txt", src.join("link")).unwrap();

    let id = backup_prints_its_summary(&c, &src);
    let snap = snapshots_prints_the_snapshot(&c, &src, &id);
    ls_prints_each_entry(&c, &src);
    restore_and_check_print_json(&c, &id);
    cat_prints_json(&c, &init, &snap, &id);

    let keys = c.run(&["key", "list", "--json"]).ok().json();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");

    // An unknown object kind is a one-line error.
    c.run(&["cat", "nonsense"]).code(1).one_line_error();
    c.run(&["cat", "tree"]).code(1).one_line_error();
}

/// `backup --json`: the snapshot id and the summary's counts. Returns the
/// snapshot id.
fn backup_prints_its_summary(c: &Coffer, src: &Path) -> String {
    let backup = c.backup(&[src], &["--tag", "t1"]);
    let id = backup["snapshot_id"]
        .as_str()
        .expect("snapshot_id")
        .to_string();
    assert_eq!(id.len(), 64);
    for field in [
        "files_new",
        "files_changed",
        "files_unchanged",
        "bytes_read",
        "bytes_new",
        "total_bytes",
    ] {
        assert!(
            backup["summary"][field].is_u64(),
            "no summary.{field}: {backup}"
        );
    }
    assert_eq!(backup["summary"]["files_new"], 2, "{backup}");
    assert_eq!(backup["summary"]["total_bytes"], 5006, "{backup}");
    assert!(
        backup["skipped"].as_array().is_some_and(Vec::is_empty),
        "{backup}"
    );
    id
}

/// `snapshots --json`: the one snapshot with its fields. Returns it.
fn snapshots_prints_the_snapshot(c: &Coffer, src: &Path, id: &str) -> Value {
    let snaps = c.run(&["snapshots", "--json"]).ok().json();
    let snap = snaps.as_array().expect("an array")[0].clone();
    assert_eq!(snap["id"], id);
    assert_eq!(snap["short_id"], &id[..8]);
    assert_eq!(snap["paths"], serde_json::json!([arg(src)]));
    assert_eq!(snap["tags"], serde_json::json!(["t1"]));
    assert!(
        snap["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{snap}"
    );
    assert!(
        snap["host"].is_string() && snap["tree"].is_string(),
        "{snap}"
    );
    snap
}

/// `ls --json`: one line per entry, with its type, size and link target.
fn ls_prints_each_entry(c: &Coffer, src: &Path) {
    let ls = c
        .run(&["ls", "--json", "latest", arg(src)])
        .ok()
        .json_lines();
    let kinds: Vec<(&str, &str)> = ls
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    let p = |rel: &str| arg(&src.join(rel)).to_string();
    assert_eq!(
        kinds,
        [
            (arg(src), "dir"),
            (p("a.txt").as_str(), "file"),
            (p("dir").as_str(), "dir"),
            (p("dir/b.bin").as_str(), "file"),
            (p("link").as_str(), "symlink")
        ]
    );
    assert_eq!(ls[1]["size"], 6);
    assert_eq!(ls[4]["target"], "a.txt");
}

/// `restore --json` counts what it restored; `check --json` (with and
/// without `--read-data`) finds no errors.
fn restore_and_check_print_json(c: &Coffer, id: &str) {
    let restore = c.restore(id, &c.path("target"), &["--json"]).ok().json();
    assert_eq!(restore["snapshot_id"], id);
    assert_eq!(restore["files"], 2, "{restore}");
    assert_eq!(restore["bytes"], 5006, "{restore}");
    assert!(
        restore["failed"].as_array().is_some_and(Vec::is_empty),
        "{restore}"
    );

    for args in [
        &["check", "--json"][..],
        &["check", "--json", "--read-data"],
    ] {
        let check = c.run(args).ok().json();
        assert!(
            check["errors"].as_array().is_some_and(Vec::is_empty),
            "{check}"
        );
        assert_eq!(check["snapshots"], 1, "{check}");
    }
}

/// cat prints JSON always (it is for debugging): config, snapshot, tree,
/// index, pack and key.
fn cat_prints_json(c: &Coffer, init: &Value, snap: &Value, id: &str) {
    let config = c.run(&["cat", "config"]).ok().json();
    assert_eq!(config["version"], 1);
    assert_eq!(config["id"], init["id"]);
    let snapshot = c.run(&["cat", "snapshot", &id[..8]]).ok().json();
    assert_eq!(snapshot["tree"], snap["tree"]);
    assert_eq!(snapshot["paths"], snap["paths"]);
    let tree = c
        .run(&["cat", "tree", snap["tree"].as_str().unwrap()])
        .ok()
        .json();
    assert!(
        tree["nodes"].as_array().is_some_and(|n| !n.is_empty()),
        "{tree}"
    );
    assert_eq!(c.run(&["cat", "tree", "latest"]).ok().json(), tree);
    let index_key = c.objects("index/").pop().expect("an index object");
    let index = c
        .run(&["cat", "index", index_key.trim_start_matches("index/")])
        .ok()
        .json();
    let packs = index["packs"].as_array().expect("index packs");
    assert!(
        packs.iter().any(|p| p["kind"] == "data") && packs.iter().any(|p| p["kind"] == "tree"),
        "{index}"
    );
    let pack_id = packs[0]["id"].as_str().unwrap();
    let header = c.run(&["cat", "pack", pack_id]).ok().json();
    assert_eq!(
        header["blobs"], packs[0]["blobs"],
        "the pack header repeats the index"
    );
    let key_key = c.objects("keys/").pop().unwrap();
    let key = c
        .run(&["cat", "key", &key_key.trim_start_matches("keys/")[..8]])
        .ok()
        .json();
    assert_eq!(key["kdf"], "argon2id", "{key}");
}

/// With `--json`, backup and restore stream status lines on stdout before
/// the summary: files and bytes done, and the totals (counted while the
/// backup runs), final by the end.
#[test]
fn json_progress_streams_status_lines() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    for i in 0..400 {
        write(
            &src.join(format!("d{}/f{i}", i % 7)),
            vec![i as u8; 3000 + i],
        );
    }
    let fast = [("COFFER_PROGRESS_INTERVAL_MS", "1")];
    let out = c.run_env(&["backup", "--json", arg(&src)], &fast);
    out.ok();
    let lines = out.json_lines();
    let (summary, status) = lines.split_last().expect("a summary");
    assert_eq!(summary["message_type"], "summary", "{summary}");
    assert!(!status.is_empty(), "no status lines:\n{}", out.stdout);
    let mut done = 0;
    for s in status {
        assert_eq!(s["message_type"], "status", "{s}");
        let now = s["files_done"].as_u64().expect("files_done");
        assert!(now >= done, "files_done went back: {s}");
        done = now;
        if s["totals_final"] == true {
            assert_eq!(s["total_files"], 400, "{s}");
            let total: u64 = (0..400).map(|i| 3000 + i).sum();
            assert_eq!(s["total_bytes"], total, "{s}");
            assert!(s["percent_done"].as_f64().is_some_and(|p| p <= 1.0), "{s}");
        }
    }

    let id = summary["snapshot_id"].as_str().unwrap().to_string();
    let target = c.path("target");
    let out = c.run_env(&["restore", &id, "--target", arg(&target), "--json"], &fast);
    out.ok();
    let lines = out.json_lines();
    let (summary, status) = lines.split_last().expect("a summary");
    assert_eq!(summary["message_type"], "summary", "{summary}");
    for s in status {
        assert_eq!(s["message_type"], "status", "{s}");
        if s["totals_final"] == true {
            assert_eq!(s["total_files"], 400, "{s}");
        }
    }
}
