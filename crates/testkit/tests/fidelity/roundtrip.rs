//! The whole fixture, backed up and restored elsewhere, is the same tree:
//! by our comparison, by rsync, getfacl and getcap; a 1 GiB sparse file
//! keeps its holes; restored Debian binaries run in a chroot.

use crate::support::{
    Repo, allocated, fixture_differences, require_root, restore_errors, restored, tool,
};
use coffer_testkit::fixture::{self, Feature, paths, pseudo_random};
use coffer_testkit::{CompareOptions, compare_trees};
use std::os::unix::fs::FileExt;
use std::path::Path;

#[test]
fn fixture_round_trips_exactly_by_our_compare_and_by_rsync() {
    require_root();
    let r = Repo::new();
    let fx = fixture::build(&r.path("fixture")).unwrap();
    for f in [
        Feature::LongPath,
        Feature::Sparse,
        Feature::Ownership,
        Feature::PosixAcl,
        Feature::DefaultAcl,
        Feature::FileCapability,
        Feature::TrustedXattr,
        Feature::CharDevice,
        Feature::BlockDevice,
        Feature::Hardlinks,
        Feature::NoPermissions,
    ] {
        assert!(fx.has(f), "the fixture lacks {f:?}:\n{fx}");
    }
    let b = r.backup(&[&fx.root], |_| {});
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);
    let target = r.path("target");
    let res = r.restore(&b, &target, |o| o.verify = true);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    assert_eq!(
        res.verified,
        res.files - 2,
        "every written file verified (hardlinks are names)"
    );
    let dst = restored(&target, &fx.root);
    assert_eq!(
        res.sockets,
        vec![dst.join(paths::SOCKET)],
        "the socket is reported as skipped"
    );

    // Our comparison: everything but the socket, which is not recreated.
    let diffs: Vec<String> = fixture_differences(&fx.root, &dst);
    assert!(diffs.is_empty(), "{fx}differences:\n{}", diffs.join("\n"));

    // The referee: rsync compares checksums, perms, owners (numeric),
    // times, devices, hardlinks, ACLs and xattrs, and lists what it would
    // change. The socket is left out (not restored, by design), and so is
    // the path longer than PATH_MAX, which rsync cannot reach (our
    // comparison above walks it through descriptors).
    let (src_arg, dst_arg) = (
        format!("{}/", fx.root.display()),
        format!("{}/", dst.display()),
    );
    let out = tool(
        "rsync",
        &[
            "-naHAXc",
            "--numeric-ids",
            "--itemize-changes",
            "--exclude=/special/socket",
            "--exclude=/long/",
            &src_arg,
            &dst_arg,
        ],
        None,
    );
    assert!(out.trim().is_empty(), "rsync lists differences:\n{out}");

    // ACLs and capabilities as their own tools print them.
    let acl = |dir: &Path| tool("getfacl", &["-R", "-P", "-n", "xattrs"], Some(dir));
    assert_eq!(acl(&fx.root), acl(&dst));
    let caps = |dir: &Path| tool("getcap", &["-r", "."], Some(dir));
    let (caps_src, caps_dst) = (caps(&fx.root), caps(&dst));
    assert!(caps_src.contains("cap_net_bind_service"), "{caps_src}");
    assert_eq!(caps_src, caps_dst);

    // du of the sparse file.
    let (before, after) = (
        allocated(&fx.path(paths::SPARSE)),
        allocated(&dst.join(paths::SPARSE)),
    );
    eprintln!("sparse.bin: {before} bytes allocated, restored {after}");
    assert!(
        after <= before,
        "restored sparse file allocates {after} > {before}"
    );
}

#[test]
fn one_gib_sparse_file_is_read_and_restored_as_holes() {
    require_root();
    let r = Repo::new();
    let src = r.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let p = src.join("disk.img");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(1 << 30).unwrap();
    // 4 MiB of data in three places, one at the very start, the file ends in a hole.
    let extents = [
        (0u64, 1u64 << 20),
        (300 << 20, 2 << 20),
        ((700 << 20) + 4096, 1 << 20),
    ];
    for (i, &(off, len)) in extents.iter().enumerate() {
        f.write_all_at(&pseudo_random(i as u64 + 1, len as usize), off)
            .unwrap();
    }
    f.sync_all().unwrap();
    let before = allocated(&p);
    assert!(
        before < 8 << 20,
        "the filesystem made no holes ({before} bytes allocated)"
    );

    let b = r.backup(&[&src], |_| {});
    let sum = &b.snapshot.summary;
    assert!(
        sum.bytes_read <= 5 << 20,
        "only data regions are read: {sum:?}"
    );
    assert_eq!(sum.total_bytes, 1 << 30, "{sum:?}");
    let node = crate::support::find_node(&r.repo, &b, &p);
    assert_eq!(node.holes.len(), 3, "{:?}", node.holes);
    assert_eq!(node.holes[0], (1 << 20, (300 << 20) - (1 << 20)));
    assert_eq!(node.size, 1 << 30);

    let target = r.path("target");
    let res = r.restore(&b, &target, |o| o.verify = true);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let back = restored(&target, &p);
    let after = allocated(&back);
    eprintln!("1 GiB sparse file: {before} bytes allocated, restored {after}");
    assert!(
        after <= before,
        "restored file allocates {after} > {before}"
    );
    let diffs = compare_trees(&src, &restored(&target, &src), &CompareOptions::default());
    assert!(diffs.is_empty(), "{diffs:?}");
}

/// Debian's own files (owners, modes, setuid, symlinked /bin and /lib)
/// restored into a directory must run there as a system: a shell in a
/// chroot lists a setuid binary with its mode.
#[test]
fn restored_debian_binaries_run_in_a_chroot() {
    require_root();
    let r = Repo::new();
    // The dynamic loader and libraries these programs need, as ldd lists them.
    let programs = ["/usr/bin/sh", "/usr/bin/dash", "/usr/bin/ls", "/usr/bin/su"];
    let mut paths: Vec<std::path::PathBuf> = programs.iter().map(|p| p.into()).collect();
    for prog in programs {
        for line in tool("ldd", &[prog], None).lines() {
            if let Some(lib) = line.split_whitespace().find(|w| w.starts_with('/')) {
                // The file and its name (often a symlink) in the real directory.
                let lib = Path::new(lib);
                let dir = std::fs::canonicalize(lib.parent().unwrap()).unwrap();
                paths.push(std::fs::canonicalize(lib).unwrap());
                paths.push(dir.join(lib.file_name().unwrap()));
            }
        }
    }
    for link in ["/bin", "/lib", "/lib64", "/usr/lib64"] {
        if std::fs::symlink_metadata(link).is_ok() {
            paths.push(link.into());
        }
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let b = r.backup(&refs, |_| {});
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);
    let root = r.path("chroot");
    let res = r.restore(&b, &root, |_| {});
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let out = tool(
        "chroot",
        &[
            root.to_str().unwrap(),
            "/bin/sh",
            "-c",
            "ls -ln /usr/bin/su && echo chroot-ok",
        ],
        None,
    );
    assert!(out.contains("chroot-ok"), "{out}");
    assert!(
        out.starts_with("-rwsr-xr-x 1 0 0 "),
        "su keeps setuid root: {out}"
    );
}

/// Zero blocks are not written on restore (they stay holes): files that
/// end in zeros, or are all zeros, must still get their full length.
#[test]
fn files_ending_in_zeros_keep_their_length() {
    let r = Repo::new();
    let src = r.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut small = vec![b'a'; 4096];
    small.resize(4096 + 8192, 0);
    std::fs::write(src.join("small"), &small).unwrap();
    let mut big = pseudo_random(9, 2 << 20);
    big.resize(3 << 20, 0);
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("zeros"), vec![0u8; 100 << 10]).unwrap();
    let b = r.backup(&[&src], |_| {});
    let target = r.path("target");
    let res = r.restore(&b, &target, |o| o.verify = true);
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let diffs = compare_trees(&src, &restored(&target, &src), &CompareOptions::default());
    assert!(diffs.is_empty(), "{diffs:?}");
}
