//! Restores by a user other than root, and metadata that cannot be applied:
//! the content is kept and each such entry reported once; setuid and
//! setgid bits are dropped unless asked for.

use crate::support::{Repo, as_nobody, require_root, restore_errors, restored};
use coffer_core::NoProgress;
use coffer_core::{RestoreOptions, restore};
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::Path;

fn write(p: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Lets nobody read everything below `dir` (the repository).
fn readable(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let add = if m.is_dir() { 0o555 } else { 0o444 };
        fs::set_permissions(&p, fs::Permissions::from_mode(m.permissions().mode() | add)).unwrap();
        if m.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
}

#[test]
fn metadata_that_cannot_be_applied_keeps_the_content_and_drops_setid() {
    require_root();
    let r = Repo::new();
    let src = r.path("src");
    write(&src.join("trusted"), b"content kept\n", 0o644);
    // Only root may set trusted.* attributes.
    xattr::set(src.join("trusted"), "trusted.coffer", b"v").unwrap();
    write(&src.join("setuid"), b"#!/bin/sh\n", 0o4755);
    write(&src.join("setgid"), b"#!/bin/sh\n", 0o2755);
    write(&src.join("plain"), b"plain\n", 0o640);
    let b = r.backup(&[&src], |_| {});
    readable(r.dir.path());
    for keep_setid in [false, true] {
        let target = r.path(&format!("target-{keep_setid}"));
        fs::create_dir(&target).unwrap();
        chown(&target, Some(65534), Some(65534)).unwrap();
        let mut opts = RestoreOptions::new(target.clone());
        opts.keep_setid = keep_setid;
        let res = as_nobody(|| restore(&r.repo, b.snapshot.tree, &opts, &NoProgress)).unwrap();
        assert!(res.failed.is_empty(), "{}", restore_errors(&res));
        let dst = restored(&target, &src);
        let failed: Vec<_> = res.metadata_failed.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            failed,
            vec![dst.join("trusted")],
            "one report, for that file only"
        );
        assert_eq!(fs::read(dst.join("trusted")).unwrap(), b"content kept\n");
        assert_eq!(res.files, 4);
        let mode = |n: &str| fs::metadata(dst.join(n)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("plain"), 0o640);
        let (suid, sgid) = if keep_setid {
            (0o4755, 0o2755)
        } else {
            (0o755, 0o755)
        };
        assert_eq!(mode("setuid"), suid, "keep_setid {keep_setid}");
        assert_eq!(mode("setgid"), sgid, "keep_setid {keep_setid}");
    }
}
