//! The dependency order of `coffer_core`, kept by the build's tests: the
//! top-level `mod` lines of `src/lib.rs` are in data-flow order, and no
//! module names (`crate::x`) one declared below it. Moving a shared piece
//! down to where both sides can reach it is the fix; reordering the lines
//! so a cycle hides is not possible (a cycle fails whatever the order).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules, in the order `src/lib.rs` declares them.
fn declared(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect()
}

/// Every `.rs` file of module `m`: `src/m.rs` or everything under `src/m/`.
fn files(src: &Path, m: &str) -> Vec<PathBuf> {
    let single = src.join(format!("{m}.rs"));
    if single.exists() {
        return vec![single];
    }
    let mut out = Vec::new();
    let mut dirs = vec![src.join(m)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level modules `text` names through `crate::`: `crate::x::…`,
/// and each first segment of a `crate::{x::…, y}` group. Comments count
/// too (a doc link to a lower module is as much a reach as a `use`).
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside braces.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

#[test]
fn no_module_uses_one_declared_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = declared(&src);
    assert!(order.len() >= 10, "lib.rs declares {order:?}");
    let mut wrong = Vec::new();
    for (rank, m) in order.iter().enumerate() {
        for file in files(&src, m) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in named(&text) {
                if let Some(at) = order.iter().position(|o| *o == used)
                    && at > rank
                {
                    wrong.push(format!(
                        "{} uses crate::{used}, declared below {m}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules reach below themselves:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_plain_paths_groups_and_nested_groups() {
    let text = "use crate::fs::at::Dir;\nuse crate::{blob::{A, B}, repo, store::X};\n// [`crate::archive`]";
    let got: Vec<String> = named(text).into_iter().collect();
    assert_eq!(got, ["archive", "blob", "fs", "repo", "store"]);
}
