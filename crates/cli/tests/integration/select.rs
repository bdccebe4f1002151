//! Selecting what to read: snapshots by id, prefix, `latest` and filters;
//! paths with `ls PATH` and `restore --include/--exclude`; on a local and
//! on an S3 repository.

use crate::support::{Backend, Coffer, arg, files_below, restored, write};
use std::collections::BTreeSet;
use std::path::Path;

/// Three snapshots of two paths from two hosts with tags:
/// 0: alpha, [daily], a/   1: beta, [weekly, extra], b/   2: alpha, [weekly], a/
fn three_snapshots(backend: Backend) -> (Coffer, Vec<String>) {
    let c = Coffer::init_on(backend);
    let (a, b) = (c.path("a"), c.path("b"));
    write(&a.join("file"), b"version 1\n");
    write(&b.join("file"), b"b\n");
    c.backup(&[&a], &["--host", "alpha", "--tag", "daily"]);
    c.backup(
        &[&b],
        &["--host", "beta", "--tag", "weekly", "--tag", "extra"],
    );
    write(&a.join("file"), b"version 2, longer\n");
    c.backup(&[&a], &["--host", "alpha", "--tag", "weekly"]);
    let ids = c.snapshot_ids();
    assert_eq!(ids.len(), 3);
    (c, ids)
}

/// The snapshot object `cat snapshot SELECTOR` resolves to.
fn cat_snapshot(c: &Coffer, selector: &str) -> serde_json::Value {
    c.run(&["cat", "snapshot", selector]).ok().json()
}

/// What `ls --json SELECTOR FILTER…` lists below the test's directory:
/// (path, size) of each entry, which tells the three snapshots apart.
fn listed(c: &Coffer, args: &[&str]) -> Vec<(String, u64)> {
    let mut all = vec!["ls", "--json"];
    all.extend(args);
    let out = c.run(&all);
    let dir = arg(c.dir.path()).to_string();
    out.ok()
        .json_lines()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["size"].as_u64().unwrap(),
            )
        })
        .filter(|(p, _)| p.starts_with(&format!("{dir}/")))
        .collect()
}

per_store!(
    snapshots_are_selected_by_id_prefix_latest_and_filters,
    ambiguous_and_unknown_snapshot_ids_are_one_line_errors,
    restore_include_and_exclude_select_paths,
    ls_lists_a_path_of_a_snapshot,
);

fn snapshots_are_selected_by_id_prefix_latest_and_filters(backend: Backend) {
    let (c, ids) = three_snapshots(backend);
    let (a, b) = (c.path("a"), c.path("b"));
    let host_tags =
        |v: &serde_json::Value| (v["host"].as_str().unwrap().to_string(), v["tags"].clone());

    // Full ids and the shortest unique prefixes (any case) select each one.
    for (i, id) in ids.iter().enumerate() {
        let full = cat_snapshot(&c, id);
        let len = (1..=64)
            .find(|&n| ids.iter().filter(|o| o.starts_with(&id[..n])).count() == 1)
            .unwrap();
        assert_eq!(
            cat_snapshot(&c, &id[..len]),
            full,
            "prefix {} of snapshot {i}",
            &id[..len]
        );
        assert_eq!(
            cat_snapshot(&c, &id[..len.max(4)].to_ascii_uppercase()),
            full,
            "upper-case prefix"
        );
        assert_eq!(listed(&c, &[&id[..len]]), listed(&c, &[id]));
    }
    assert_eq!(
        host_tags(&cat_snapshot(&c, &ids[0])),
        ("alpha".into(), serde_json::json!(["daily"]))
    );
    assert_eq!(
        host_tags(&cat_snapshot(&c, &ids[1])),
        ("beta".into(), serde_json::json!(["weekly", "extra"]))
    );
    assert_eq!(cat_snapshot(&c, "latest"), cat_snapshot(&c, &ids[2]));

    // latest, narrowed by host, tag (a comma joins tags that must all be
    // present; repeating --tag means any of the sets) and path.
    let s: Vec<Vec<(String, u64)>> = ids.iter().map(|id| listed(&c, &[id])).collect();
    assert!(s[0] != s[1] && s[1] != s[2] && s[0] != s[2], "{s:?}");
    assert_eq!(listed(&c, &["latest"]), s[2]);
    assert_eq!(listed(&c, &["latest", "--host", "beta"]), s[1]);
    assert_eq!(listed(&c, &["latest", "--host", "alpha"]), s[2]);
    assert_eq!(listed(&c, &["latest", "--tag", "daily"]), s[0]);
    assert_eq!(listed(&c, &["latest", "--tag", "weekly"]), s[2]);
    assert_eq!(listed(&c, &["latest", "--tag", "weekly,extra"]), s[1]);
    assert_eq!(
        listed(&c, &["latest", "--tag", "daily", "--tag", "extra"]),
        s[1]
    );
    assert_eq!(listed(&c, &["latest", "--path", arg(&b)]), s[1]);
    assert_eq!(
        listed(&c, &["latest", "--path", arg(&a), "--tag", "daily"]),
        s[0]
    );
    // An id must also match the filter.
    assert_eq!(listed(&c, &[&ids[1], "--host", "beta"]), s[1]);
    c.run(&["ls", &ids[1], "--host", "alpha"])
        .code(1)
        .one_line_error();

    // `snapshots` takes the same filters.
    let count = |args: &[&str]| {
        let mut all = vec!["snapshots", "--json"];
        all.extend(args);
        c.run(&all).ok().json().as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 3);
    assert_eq!(count(&["--host", "alpha"]), 2);
    assert_eq!(count(&["--host", "alpha", "--host", "beta"]), 3);
    assert_eq!(count(&["--tag", "weekly"]), 2);
    assert_eq!(count(&["--path", arg(&a)]), 2);
    assert_eq!(count(&["--host", "gamma"]), 0);

    // Restore selects the same way.
    let target = c.path("target");
    c.restore("latest", &target, &["--host", "alpha", "--tag", "daily"])
        .ok();
    assert_eq!(
        std::fs::read(restored(&target, &a.join("file"))).unwrap(),
        b"version 1\n"
    );
    assert!(!restored(&target, &b).exists());
}

fn ambiguous_and_unknown_snapshot_ids_are_one_line_errors(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    write(&src.join("f"), b"x");
    // 17 snapshots: two of them must share their first hex digit.
    for i in 0..17 {
        c.backup(&[&src], &["--tag", &format!("n{i}")]);
    }
    let ids = c.snapshot_ids();
    assert_eq!(ids.len(), 17);
    let shared = (0..16u8)
        .map(|d| format!("{d:x}"))
        .find(|d| ids.iter().filter(|id| id.starts_with(d.as_str())).count() > 1)
        .expect("pigeonhole");
    let unknown = (0..0x10000u32)
        .map(|n| format!("{n:04x}"))
        .find(|p| !ids.iter().any(|id| id.starts_with(p.as_str())))
        .unwrap();

    for cmd in [
        &["cat", "snapshot"][..],
        &["ls"],
        &["restore", "--target", "/nonexistent-target"],
    ] {
        for (sel, words) in [
            (shared.as_str(), "match"),
            (unknown.as_str(), "no snapshot"),
        ] {
            let mut args = cmd.to_vec();
            args.push(sel);
            let out = c.run(&args);
            let line = out.code(1).one_line_error().to_string();
            assert!(
                line.contains(words) && line.contains(sel),
                "`{}`: {line}",
                out.what
            );
            assert!(
                out.stdout.is_empty(),
                "`{}` printed: {}",
                out.what,
                out.stdout
            );
        }
    }
    assert!(
        !Path::new("/nonexistent-target").exists(),
        "a failed selection must not create the target"
    );
    // Not hex at all, and a filter nothing matches.
    c.run(&["ls", "not-an-id"]).code(1).one_line_error();
    c.run(&["ls", "latest", "--host", "nosuchhost"])
        .code(1)
        .one_line_error();
    // Longer than an id.
    let long = format!("{}0", ids[0]);
    c.run(&["ls", &long]).code(1).one_line_error();
}

/// The files of the sample tree (it also has an empty directory).
const SAMPLE_FILES: &[&str] = &[
    "docs/a.txt",
    "docs/b.md",
    "src/main.rs",
    "src/lib.rs",
    "src/deep/x.rs",
    "src/deep/y.txt",
    "top.txt",
];

/// The tree the path selection tests restore parts of.
fn sample_tree(c: &Coffer) -> std::path::PathBuf {
    let src = c.path("src");
    for rel in SAMPLE_FILES {
        write(&src.join(rel), format!("content of {rel}\n"));
    }
    std::fs::create_dir_all(src.join("empty")).unwrap();
    src
}

/// Files (not directories) below `dir`, relative, as strings.
fn files_rel(dir: &Path) -> BTreeSet<String> {
    if !dir.exists() {
        return BTreeSet::new();
    }
    files_below(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// (restore flags, with `{src}` for the source directory; the files
/// restored, relative to it). No files: the include matches nothing.
const INCLUDE_EXCLUDE_CASES: &[(&[&str], &[&str])] = &[
    (&[], SAMPLE_FILES),
    (
        &["--include", "*.rs"],
        &["src/main.rs", "src/lib.rs", "src/deep/x.rs"],
    ),
    (&["--include", "{src}/docs"], &["docs/a.txt", "docs/b.md"]),
    (
        &["--include", "{src}/src/deep/*"],
        &["src/deep/x.rs", "src/deep/y.txt"],
    ),
    (
        &["--include", "*.md", "--include", "{src}/top.txt"],
        &["docs/b.md", "top.txt"],
    ),
    (
        &["--exclude", "*.md"],
        &[
            "docs/a.txt",
            "src/main.rs",
            "src/lib.rs",
            "src/deep/x.rs",
            "src/deep/y.txt",
            "top.txt",
        ],
    ),
    (
        &["--exclude", "{src}/src"],
        &["docs/a.txt", "docs/b.md", "top.txt"],
    ),
    (
        &["--include", "{src}/src", "--exclude", "deep"],
        &["src/main.rs", "src/lib.rs"],
    ),
    (&["--include", "*.nothing"], &[]),
];

fn restore_include_and_exclude_select_paths(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = sample_tree(&c);
    c.backup(&[&src], &[]);
    let s = arg(&src).to_string();
    for (i, (flags, expected)) in INCLUDE_EXCLUDE_CASES.iter().enumerate() {
        let flags: Vec<String> = flags.iter().map(|f| f.replace("{src}", &s)).collect();
        restore_selects(&c, &src, &c.path(&format!("t{i}")), &flags, expected);
    }
    // The empty directory comes back with a full restore, not with an include of files.
    assert!(restored(&c.path("t0"), &src).join("empty").is_dir());
    assert!(!restored(&c.path("t1"), &src).join("empty").exists());
    // A bad pattern is a one-line error.
    c.run(&[
        "restore",
        "latest",
        "--target",
        arg(&c.path("bad")),
        "--include",
        "a[",
    ])
    .code(1)
    .one_line_error();
}

/// `restore latest` of `src` to `target` with `flags` restores exactly the
/// `expected` files (relative to `src`), each with its content; with none
/// expected, it fails saying the include matches nothing.
fn restore_selects(c: &Coffer, src: &Path, target: &Path, flags: &[String], expected: &[&str]) {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = c.restore("latest", target, &flags);
    if expected.is_empty() {
        // An include that matches nothing says so and restores nothing.
        out.code(1);
        assert!(
            out.one_line_error().contains("matches nothing"),
            "{}",
            out.show()
        );
    } else {
        out.ok();
    }
    let got = files_rel(&restored(target, src));
    assert_eq!(got, set(expected), "restore {flags:?}");
    for f in &got {
        let want = format!("content of {f}\n");
        assert_eq!(
            std::fs::read_to_string(restored(target, src).join(f)).unwrap(),
            want
        );
    }
}

fn ls_lists_a_path_of_a_snapshot(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = sample_tree(&c);
    c.backup(&[&src], &[]);
    let ls = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "--json", "latest"];
        all.extend(args);
        let out = c.run(&all);
        out.ok()
            .json_lines()
            .iter()
            .map(|l| l["path"].as_str().unwrap().to_string())
            .collect()
    };
    let p = |rel: &str| arg(&src.join(rel)).to_string();
    assert_eq!(
        ls(&[&p("src")]),
        [
            p("src"),
            p("src/deep"),
            p("src/deep/x.rs"),
            p("src/deep/y.txt"),
            p("src/lib.rs"),
            p("src/main.rs")
        ]
    );
    assert_eq!(
        ls(&[&p("src"), "--no-recursive"]),
        [p("src"), p("src/deep"), p("src/lib.rs"), p("src/main.rs")]
    );
    assert_eq!(ls(&[&p("docs/b.md")]), [p("docs/b.md")]);
    // Everything: the directories above the backed-up path, then the tree.
    let all = ls(&[]);
    let mut above: Vec<String> = src
        .ancestors()
        .skip(1)
        .map(|a| arg(a).to_string())
        .filter(|a| a != "/")
        .collect();
    above.reverse();
    assert_eq!(all[..above.len()], above[..], "{all:?}");
    assert_eq!(all.len(), above.len() + 12, "{all:?}");

    // Text output: one line per entry, like ls -l.
    let out = c.run(&["ls", "latest", &p("docs")]);
    let text = out.ok().stdout.clone();
    assert_eq!(text.lines().count(), 3, "{text}");
    let line = text
        .lines()
        .find(|l| l.ends_with("/docs/a.txt"))
        .expect("a.txt listed");
    assert!(line.starts_with("-rw") && line.contains(" root "), "{line}");

    // A path that is not in the snapshot, and a path below a file.
    c.run(&["ls", "latest", &p("nope")])
        .code(1)
        .one_line_error();
    c.run(&["ls", "latest", &p("top.txt/below")])
        .code(1)
        .one_line_error();
}
