//! `prune` keeps its reference counts in the repository's cache directory
//! (local repositories too): the next prune reads only the trees of the
//! snapshots added or forgotten since, `--no-cache` counts from nothing,
//! and the file is private.

use crate::support::{Backend, Coffer, write};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn prune(c: &Coffer, global: &[&str]) -> Value {
    let mut args: Vec<&str> = global.to_vec();
    args.extend(["--json", "prune", "--now"]);
    c.run(&args).ok().json()
}

fn counts_file(dir: &Path) -> Option<std::path::PathBuf> {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().is_some_and(|n| n == "prune-references") {
                return Some(p);
            }
        }
    }
    None
}

fn prune_keeps_its_counts_in_the_cache(backend: Backend) {
    let c = Coffer::init_on(backend);
    let src = c.path("src");
    for d in ["a", "b", "c"] {
        write(&src.join(d).join("f"), format!("{d} one\n"));
    }
    c.backup(&[&src], &[]);
    write(&src.join("a/f"), b"a two\n");
    c.backup(&[&src], &[]);

    let first = prune(&c, &[]);
    assert_eq!(first["counts_reused"], false, "{first}");
    let all = first["trees_read"].as_u64().unwrap();
    assert!(all >= 5, "{first}");
    let file = counts_file(&c.path(".cache/coffer")).expect("counts kept in the cache");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    c.run(&["forget", "--keep-last", "1"]).ok();
    let second = prune(&c, &[]);
    assert_eq!(second["counts_reused"], true, "{second}");
    let read = second["trees_read"].as_u64().unwrap();
    assert!(read > 0 && read < all, "{second}");

    let uncached = prune(&c, &["--no-cache"]);
    assert_eq!(uncached["counts_reused"], false, "{uncached}");
    c.run(&["check"]).ok();
}

per_store!(prune_keeps_its_counts_in_the_cache);
