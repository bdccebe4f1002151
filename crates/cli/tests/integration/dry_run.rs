//! `backup --dry-run` (what a backup would read and add, nothing written)
//! and `-vv` (each file a backup reads, one log line each).

use crate::support::{Backend, Coffer, arg, summary_u64, write};
use coffer_testkit::fixture::pseudo_random;

per_store!(a_dry_run_lists_what_would_be_read_and_writes_nothing,);

fn a_dry_run_lists_what_would_be_read_and_writes_nothing(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    write(&src.join("same.txt"), "never changes");
    write(&src.join("edited.bin"), pseudo_random(1, 300_000));
    c.backup(&[&src], &[]);
    // One file modified (new bytes), one added, one left alone.
    write(&src.join("edited.bin"), pseudo_random(2, 400_000));
    write(&src.join("sub/added.bin"), pseudo_random(3, 200_000));
    let objects = c.objects("");

    let out = c.run(&["backup", "--dry-run", arg(&src)]);
    out.ok();
    let edited = src.join("edited.bin");
    let added = src.join("sub/added.bin");
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("new") || l.starts_with("modified"))
        .collect();
    assert_eq!(
        listed,
        [
            format!("modified {} (390.6 KiB)", edited.display()),
            format!("new      {} (195.3 KiB)", added.display()),
        ],
        "{}",
        out.show()
    );
    assert!(
        out.stdout
            .contains("dry run: 1 new, 1 modified, 1 unchanged files"),
        "{}",
        out.show()
    );
    assert_eq!(c.objects(""), objects, "a dry run wrote to the repository");

    // --json: one verbose_status line per file, then the summary, whose
    // counts are what the real backup then adds.
    let out = c.run(&["backup", "--dry-run", "--json", arg(&src)]);
    out.ok();
    let lines = out.json_lines();
    let items: Vec<(&str, &str, u64)> = lines
        .iter()
        .filter(|v| v["message_type"] == "verbose_status")
        .map(|v| {
            (
                v["action"].as_str().unwrap(),
                v["item"].as_str().unwrap(),
                v["data_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("modified", arg(&edited), 400_000),
            ("new", arg(&added), 200_000)
        ]
    );
    let dry = lines.last().unwrap().clone();
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(c.objects(""), objects, "a dry run wrote to the repository");

    let real = c.backup(&[&src], &[]);
    for field in ["files_new", "files_changed", "blobs_new", "bytes_new"] {
        assert_eq!(
            summary_u64(&dry, field),
            summary_u64(&real, field),
            "{field}: dry run {dry}\nbackup {real}"
        );
    }
    assert!(summary_u64(&real, "bytes_new") >= 600_000, "{real}");
}

#[test]
fn a_dry_run_never_creates_a_repository() {
    let c = Coffer::new();
    let src = c.path("src");
    write(&src.join("f"), "x");
    let out = c.run(&["backup", "--dry-run", arg(&src)]);
    out.failed();
    out.one_line_error();
    assert!(!c.path("repo").exists(), "a dry run created a repository");
}

#[test]
fn a_dry_run_leaves_the_metrics_file_alone() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), "x");
    let metrics = c.path("coffer.prom");
    c.run(&[
        "backup",
        "--dry-run",
        "--metrics-file",
        arg(&metrics),
        arg(&src),
    ])
    .ok();
    assert!(
        !metrics.exists(),
        "a dry run reported itself to monitoring as a backup"
    );
}

#[test]
fn twice_verbose_logs_each_file_read_on_one_line() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("plain.txt"), "a");
    // A newline in a name must not split the log line.
    write(&src.join("two\nlines"), "b");
    let out = c.run(&["backup", "-vv", arg(&src)]);
    out.ok();
    let log: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("new "))
        .collect();
    assert_eq!(
        log,
        [
            format!("new      {} (1 B)", src.join("plain.txt").display()),
            format!("new      {}/two\\nlines (1 B)", src.display()),
        ],
        "{}",
        out.show()
    );
    // Once unchanged, nothing is read and nothing is logged; without -vv
    // no file is ever listed.
    let again = c.run(&["backup", "-vv", arg(&src)]);
    again.ok();
    assert!(!again.stderr.contains("new "), "{}", again.show());
    write(&src.join("plain.txt"), "changed");
    let quiet = c.run(&["backup", arg(&src)]);
    quiet.ok();
    assert!(!quiet.all().contains("plain.txt"), "{}", quiet.show());
}
