//! Creating repositories: `init`, and the first `backup` to the default
//! location (the only one a backup creates, see `defaults.rs`).

use crate::support::{Coffer, arg, listing, write};

#[test]
fn init_twice_is_an_error_and_changes_nothing() {
    let c = Coffer::init();
    let before = listing(&c.repo);
    let out = c.run(&["init"]);
    out.code(1);
    let line = out.one_line_error();
    assert!(
        line.contains("already exists") && line.contains(arg(&c.repo)),
        "{line}"
    );
    assert!(
        before == listing(&c.repo),
        "a second init changed the repository"
    );
    // Also with another password.
    let out = c.run_env(&["init"], &[("COFFER_PASSWORD", "other")]);
    out.code(1).one_line_error();
    assert!(before == listing(&c.repo));
}

#[test]
fn init_refuses_an_empty_password() {
    let c = Coffer::new();
    c.run_env(&["init"], &[("COFFER_PASSWORD", "")])
        .code(1)
        .one_line_error();
    assert!(!c.repo.join("config").exists());
}

#[test]
fn backup_without_repo_uses_the_default_location_below_home() {
    let c = Coffer::default_location();
    let src = c.path("src");
    write(&src.join("f"), b"f\n");
    let out = c.run(&["backup", arg(&src)]);
    out.ok();
    assert!(
        out.all().contains("created") && out.all().contains(arg(&c.repo)),
        "{}",
        out.show()
    );
    assert!(
        c.repo.join("config").is_file(),
        "no repository at {}",
        c.repo.display()
    );
    assert_eq!(
        c.run(&["snapshots", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The second backup does not create it again.
    let out = c.run(&["backup", arg(&src)]);
    assert!(!out.ok().all().contains("created"), "{}", out.show());
    // COFFER_REPOSITORY takes precedence over the default.
    let other = c.path("elsewhere");
    let elsewhere = [("COFFER_REPOSITORY", arg(&other))];
    c.run_env(&["init"], &elsewhere).ok();
    c.run_env(&["backup", arg(&src)], &elsewhere).ok();
    assert_eq!(
        c.run_env(&["snapshots", "--json"], &elsewhere)
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.run(&["snapshots", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
