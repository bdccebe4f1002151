//! Choosing what to back up: gitignore-style patterns, tag files.

use crate::support::{Repo, restored};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Every entry below `dir`, relative, directories with a trailing `/`.
fn entries(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if p.symlink_metadata().unwrap().is_dir() {
                out.insert(format!("{rel}/"));
                stack.push(p);
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

#[test]
fn patterns_and_tag_files_choose_what_is_backed_up() {
    let r = Repo::new();
    let src = r.path("src");
    write(&src.join("keep.txt"), b"k");
    write(&src.join("x.tmp"), b"t");
    write(&src.join("sub/y.tmp"), b"t");
    write(&src.join("sub/z.txt"), b"z");
    write(&src.join("build/out.o"), b"o");
    write(&src.join("notdir/build"), b"a file named build stays");
    write(&src.join("anchored/gone"), b"g");
    write(&src.join("sub/anchored/stays"), b"s");
    write(
        &src.join("cache/CACHEDIR.TAG"),
        b"Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n",
    );
    write(&src.join("cache/blob"), b"cached");
    write(&src.join("cache/sub/blob"), b"cached");
    write(&src.join("notcache/CACHEDIR.TAG"), b"no signature here");
    write(&src.join("notcache/data"), b"d");
    write(&src.join("private/.nobackup"), b"");
    write(&src.join("private/secret"), b"s");
    let s = src.display().to_string();
    let b = r.backup(&[&src], |o| {
        o.excludes = vec!["*.tmp".into(), "build/".into(), format!("{s}/anchored/*")];
        o.exclude_if_present = vec![".nobackup".into()];
        o.exclude_caches = true;
    });
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);
    let target = r.path("target");
    r.restore(&b, &target, |_| {});
    let expected: BTreeSet<String> = [
        "keep.txt",
        "sub/",
        "sub/z.txt",
        "sub/anchored/",
        "sub/anchored/stays",
        "notdir/",
        "notdir/build",
        "anchored/",
        "cache/",
        "cache/CACHEDIR.TAG",
        "notcache/",
        "notcache/CACHEDIR.TAG",
        "notcache/data",
        "private/",
        "private/.nobackup",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(entries(&restored(&target, &src)), expected);
}
