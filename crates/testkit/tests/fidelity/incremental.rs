//! A backup with a parent snapshot takes an unchanged entry's xattrs and
//! symlink target from the parent instead of reading them again. These
//! tests change exactly those (xattrs, ACLs, a capability, a symlink's
//! target) between two backups and check that the second snapshot has the
//! new values: the ctime each change moves is what makes them seen.

use crate::support::{Repo, find_node, require_root, restore_errors, restored, tool};
use coffer_testkit::fixture::{self, paths};
use coffer_testkit::{CompareOptions, compare_trees};
use std::path::Path;

fn xattr<'a>(node: &'a coffer_core::format::tree::Node, name: &str) -> Option<&'a [u8]> {
    node.xattrs
        .iter()
        .find(|x| x.name == name.as_bytes())
        .map(|x| x.value.as_slice())
}

#[test]
fn metadata_changed_after_the_parent_backup_is_in_the_next_snapshot() {
    require_root();
    let r = Repo::new();
    let fx = fixture::build(&r.path("fixture")).unwrap();
    let first = r.backup(&[&fx.root], |_| {});
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);

    // Xattrs, an ACL, a capability, a directory's xattr, a symlink's target.
    let file = fx.path(paths::XATTR_FILE);
    xattr::set(&file, "user.added", b"new value").unwrap();
    let dir = fx.path(paths::XATTR_DIR);
    xattr::set(&dir, "user.dir-added", b"d").unwrap();
    let acl = fx.path(paths::ACL_FILE);
    tool("setfacl", &["-m", "u:4242:r", acl.to_str().unwrap()], None);
    let cap = fx.path(paths::CAPABILITY);
    tool("setcap", &["-r", cap.to_str().unwrap()], None);
    let link = fx.path(paths::LINK_RELATIVE);
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("somewhere/else", &link).unwrap();

    let second = r.backup(&[&fx.root], |_| {});
    assert!(second.skipped.is_empty(), "{:?}", second.skipped);
    assert_eq!(
        second.parent,
        Some(first.id),
        "the second backup has a parent"
    );

    let node = find_node(&r.repo, &second, &file);
    assert_eq!(xattr(&node, "user.added"), Some(&b"new value"[..]));
    let node = find_node(&r.repo, &second, &dir);
    assert_eq!(xattr(&node, "user.dir-added"), Some(&b"d"[..]));
    let node = find_node(&r.repo, &second, &cap);
    assert_eq!(
        xattr(&node, "security.capability"),
        None,
        "capability removed"
    );
    let node = find_node(&r.repo, &second, &link);
    assert_eq!(node.target.as_deref(), Some(&b"somewhere/else"[..]));

    // Restored, the whole tree equals the source as it is now.
    let target = r.path("target");
    let res = r.restore(&second, &target, |_| {});
    assert!(res.failed.is_empty(), "{}", restore_errors(&res));
    let dst = restored(&target, &fx.root);
    let diffs: Vec<String> = compare_trees(&fx.root, &dst, &CompareOptions::default())
        .into_iter()
        .filter(|d| d.path != Path::new(paths::SOCKET))
        .map(|d| d.to_string())
        .collect();
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
    let acl_of = |root: &Path| tool("getfacl", &["-P", "-n", paths::ACL_FILE], Some(root));
    assert_eq!(acl_of(&fx.root), acl_of(&dst));
    assert!(acl_of(&dst).contains("user:4242:r--"), "{}", acl_of(&dst));
}

#[test]
fn an_unchanged_tree_backed_up_again_has_the_same_root() {
    require_root();
    let r = Repo::new();
    let fx = fixture::build(&r.path("fixture")).unwrap();
    let first = r.backup(&[&fx.root], |_| {});
    let second = r.backup(&[&fx.root], |_| {});
    assert_eq!(second.parent, Some(first.id));
    // Taking xattrs and targets from the parent gives the very same
    // trees as reading them: the directory of the fixture is one blob.
    let a = find_node(&r.repo, &first, &fx.root);
    let b = find_node(&r.repo, &second, &fx.root);
    assert_eq!(a.subtree, b.subtree);
    let forced = r.backup(&[&fx.root], |o| o.force = true);
    assert_eq!(find_node(&r.repo, &forced, &fx.root).subtree, a.subtree);
}
