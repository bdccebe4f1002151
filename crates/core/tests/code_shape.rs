//! The shape of the code, kept by the build's tests: every Rust file of the
//! workspace (crates and fuzz targets) stays under 650 lines, and every
//! function under 100 lines (from its `fn` line to the closing brace at
//! the same indentation). Split along the data flow, not by cutting a
//! function in arbitrary halves.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 650;
const MAX_FN_LINES: usize = 100;

/// Every `.rs` file under `dir` (build output excluded).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The workspace's Rust sources: every crate and the fuzz targets.
fn workspace_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = rust_files(&root.join("crates"));
    files.extend(rust_files(&root.join("fuzz/fuzz_targets")));
    assert!(files.len() > 100, "found only {} files", files.len());
    files
}

/// The name of the function a line declares, if it declares one with a
/// body (a trait method without a body ends in `;`).
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    if line.trim_end().ends_with(';') {
        return None;
    }
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// Functions longer than `MAX_FN_LINES` in `text`: (name, first line, length).
fn long_functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared_fn(line) else {
            continue;
        };
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        let Some(end) = lines[i + 1..].iter().position(|l| *l == close) else {
            continue;
        };
        let len = end + 2;
        if len > MAX_FN_LINES {
            out.push((name.to_string(), i + 1, len));
        }
    }
    out
}

#[test]
fn no_file_over_650_lines() {
    let long: Vec<String> = workspace_files()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            (n >= MAX_FILE_LINES).then(|| format!("{}: {n} lines", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "files to split:\n{}", long.join("\n"));
}

#[test]
fn no_function_over_100_lines() {
    let mut long = Vec::new();
    for p in workspace_files() {
        let text = std::fs::read_to_string(&p).unwrap();
        for (name, line, len) in long_functions(&text) {
            long.push(format!("{}:{line}: fn {name}: {len} lines", p.display()));
        }
    }
    assert!(long.is_empty(), "functions to split:\n{}", long.join("\n"));
}

/// The checker itself finds what it is meant to find.
#[test]
fn the_checker_finds_a_long_function() {
    let body = "    x += 1;\n".repeat(MAX_FN_LINES);
    let text = format!(
        "trait T {{\n    fn f(&self);\n}}\n\npub fn long() {{\n{body}}}\n\nfn short() {{\n}}\n"
    );
    assert_eq!(
        long_functions(&text),
        vec![("long".to_string(), 5, MAX_FN_LINES + 2)]
    );
}
