//! Database dumps as snapshots: `backup --stdin-from-command -- sqlite3 DB
//! .dump` and `backup --stdin`. The dump comes back byte for byte and loads
//! into a new database; a second dump of a slightly changed database adds
//! little; a command that fails or is killed leaves no snapshot.

use crate::support::{Coffer, arg};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 is missing: `bash .ci/run` installs it (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A database whose dump is ~20 MB: many chunks, so dedup shows.
fn database(c: &Coffer) -> std::path::PathBuf {
    let db = c.path("app.db");
    sqlite(
        &db,
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000)
         INSERT INTO t SELECT x, hex(randomblob(48)) FROM c;",
    );
    db
}

#[test]
fn a_database_dump_is_backed_up_deduplicated_and_loads_back() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let db = database(&c);
    let dump = |c: &Coffer| {
        let out = c.run(&[
            "backup",
            "--json",
            "--stdin-from-command",
            "--stdin-filename",
            "dumps/app.sql",
            "--tag",
            "db",
            "--",
            "sqlite3",
            arg(&db),
            ".dump",
        ]);
        out.ok();
        out.json()
    };
    let first = dump(&c);
    let total = first["summary"]["total_bytes"].as_u64().unwrap();
    assert!(total > 15_000_000, "{first}");
    sqlite(&db, "UPDATE t SET v = 'changed' WHERE id = 100000;");
    let second = dump(&c);
    let new = second["summary"]["bytes_new"].as_u64().unwrap();
    assert!(
        new < total / 4,
        "a one-row change added {new} of {total} bytes"
    );

    let id = second["snapshot_id"].as_str().unwrap();
    let ls = c.run(&["ls", id]);
    ls.ok();
    assert!(ls.stdout.contains("/dumps/app.sql"), "{}", ls.show());
    let target = c.path("restored");
    c.restore(id, &target, &[]).ok();
    let restored = target.join("dumps/app.sql");
    let expected = Command::new("sqlite3")
        .arg(&db)
        .arg(".dump")
        .output()
        .unwrap()
        .stdout;
    assert_eq!(std::fs::read(&restored).unwrap(), expected, "dump differs");
    // The restored dump loads into a new database with the same rows.
    let copy = c.path("copy.db");
    let load = Command::new("sqlite3")
        .arg(&copy)
        .stdin(std::fs::File::open(&restored).unwrap())
        .status()
        .unwrap();
    assert!(load.success());
    let q = "SELECT count(*), sum(length(v)), max(v = 'changed') FROM t;";
    assert_eq!(sqlite(&copy, q), sqlite(&db, q));
    c.run(&["check", "--read-data"]).ok();
}

#[test]
fn stdin_is_one_file_of_a_snapshot() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut child = c
        .command(&[
            "backup",
            "--json",
            "--stdin",
            "--stdin-filename",
            "blob.bin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = crate::support::Out::from_output(
        "backup --stdin".into(),
        child.wait_with_output().unwrap(),
    );
    out.ok();
    let id = out.json()["snapshot_id"].as_str().unwrap().to_string();
    let target = c.path("restored");
    c.restore(&id, &target, &[]).ok();
    assert_eq!(std::fs::read(target.join("blob.bin")).unwrap(), data);
}

#[test]
fn a_failing_or_killed_command_leaves_no_snapshot() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let db = database(&c);
    let script = format!("sqlite3 {} .dump; exit 7", db.display());
    for (cmd, why) in [
        (script.as_str(), "exited with status 7"),
        (
            "head -c 5000000 /dev/zero; kill -9 $$",
            "was killed by signal 9",
        ),
    ] {
        let out = c.run(&["backup", "--stdin-from-command", "--", "sh", "-c", cmd]);
        assert_eq!(out.code, 1, "{}", out.show());
        let err = out.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{}", out.show());
        assert!(
            err.contains(why) && err.contains("no snapshot saved"),
            "{}",
            out.show()
        );
        assert!(c.snapshot_ids().is_empty(), "{}", out.show());
    }
    let out = c.run(&["backup", "--stdin-from-command", "--", "/nonexistent/dump"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot run the command"),
        "{}",
        out.show()
    );
    let out = c.run(&["backup", "--stdin", "--stdin-filename", "../x"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--stdin-filename"), "{}", out.show());
    c.run(&["check"]).ok();
}
