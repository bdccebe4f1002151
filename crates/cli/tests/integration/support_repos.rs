//! Repositories for tests that need a second one, a killed command, or
//! damaged packs.

use super::{Coffer, describe, files_below};
use std::process::Stdio;

/// A second, initialized local repository (in its own temporary directory,
/// under `name`) with another password: the other side of a `copy`.
pub fn other_repo(name: &str) -> Coffer {
    let mut c = Coffer::new();
    c.repo = c.path(name);
    c.password = "another password".into();
    c.run(&["init"]).ok();
    c
}

/// Runs `coffer ARGS` on `c` and kills it (SIGKILL) as soon as its first
/// pack is stored in the local repository. Panics if it finished first:
/// then the test would prove nothing.
pub fn kill_once_a_pack_is_stored(c: &Coffer, args: &[&str]) {
    let mut child = c
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let data = c.repo.join("data");
    let start = std::time::Instant::now();
    let stored = || {
        data.exists()
            && files_below(&data).iter().any(|f| {
                !f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
            })
    };
    while !stored() && start.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    assert!(
        !child.wait().unwrap().success(),
        "`{}` finished before it was killed",
        describe(args)
    );
}

/// Empties every pack of the local repository in place (a disk gone bad):
/// open handles see it too.
pub fn empty_packs(c: &Coffer) {
    for f in files_below(&c.repo.join("data")) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(0)
            .unwrap();
    }
}
