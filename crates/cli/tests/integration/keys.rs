//! Passwords: `key add|list|remove|passwd`.

use crate::support::{Coffer, PASSWORD, arg, listing, write};
use serde_json::Value;

fn keys(c: &Coffer) -> Vec<Value> {
    c.run(&["key", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .expect("key list --json is an array")
        .clone()
}

fn with_password(c: &mut Coffer, pw: &str) -> i32 {
    c.password = pw.into();
    let code = c.run(&["snapshots"]).code;
    c.password = PASSWORD.into();
    code
}

#[test]
fn added_key_opens_the_repository_and_can_be_removed() {
    let mut c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    c.backup(&[&src], &[]);
    assert_eq!(keys(&c).len(), 1);

    let out = c.run_env(
        &["key", "add", "--json"],
        &[("COFFER_NEW_PASSWORD", "second password")],
    );
    let added = out.ok().json()["id"]
        .as_str()
        .expect("key add --json prints the id")
        .to_string();
    let list = keys(&c);
    assert_eq!(list.len(), 2, "{list:?}");
    let current: Vec<&Value> = list.iter().filter(|k| k["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list:?}");
    assert_ne!(
        current[0]["id"],
        added.as_str(),
        "the key in use is the first one"
    );
    assert_eq!(
        c.run(&["key", "list"])
            .ok()
            .stdout
            .lines()
            .filter(|l| l.contains(&added[..8]))
            .count(),
        1
    );

    // Both passwords open it, and the second one sees the same snapshot.
    assert_eq!(with_password(&mut c, PASSWORD), 0);
    assert_eq!(with_password(&mut c, "second password"), 0);
    assert_eq!(with_password(&mut c, "third password"), 12);
    c.password = "second password".into();
    let target = c.path("target");
    c.restore("latest", &target, &[]).ok();
    c.password = PASSWORD.into();

    // Remove the added key (by a prefix of its id): only the first opens.
    c.run(&["key", "remove", &added[..10]]).ok();
    assert_eq!(keys(&c).len(), 1);
    assert_eq!(with_password(&mut c, "second password"), 12);
    assert_eq!(with_password(&mut c, PASSWORD), 0);
    // Removing it again, or an unknown key, is a one-line error.
    c.run(&["key", "remove", &added]).code(1).one_line_error();
}

#[test]
fn the_key_in_use_cannot_be_removed() {
    let c = Coffer::init();
    let id = keys(&c)[0]["id"].as_str().unwrap().to_string();
    let before = listing(&c.repo);
    let out = c.run(&["key", "remove", &id]);
    out.code(1);
    let line = out.one_line_error();
    assert!(line.contains("in use"), "{line}");
    assert!(
        before == listing(&c.repo),
        "a refused removal changed the repository"
    );
    assert_eq!(keys(&c).len(), 1);
}

#[test]
fn passwd_changes_the_password() {
    let mut c = Coffer::init();
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    c.backup(&[&src], &[]);
    let old_id = keys(&c)[0]["id"].as_str().unwrap().to_string();
    let out = c.run_env(
        &["key", "passwd", "--json"],
        &[("COFFER_NEW_PASSWORD", "new password")],
    );
    let new_id = out.ok().json()["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(
        with_password(&mut c, PASSWORD),
        12,
        "the old password must stop working"
    );
    assert_eq!(with_password(&mut c, "new password"), 0);
    c.password = "new password".into();
    let list = keys(&c);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], new_id.as_str());
    assert_eq!(list[0]["current"], true);
    c.run(&["check"]).ok();
}

#[test]
fn new_password_from_a_file_and_empty_passwords() {
    let mut c = Coffer::init();
    let file = c.path("new-pw");
    std::fs::write(&file, "from a file\n").unwrap();
    c.run(&["key", "add", "--new-password-file", arg(&file)])
        .ok();
    assert_eq!(with_password(&mut c, "from a file"), 0);
    // An empty new password is refused and adds nothing.
    c.run_env(&["key", "add"], &[("COFFER_NEW_PASSWORD", "")])
        .code(1)
        .one_line_error();
    assert_eq!(keys(&c).len(), 2);
    // No new password and no terminal: an error, not a hang.
    c.run(&["key", "add"]).code(1).one_line_error();
}
