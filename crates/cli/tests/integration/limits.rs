//! A process that may start no thread at all (RLIMIT_NPROC reached, as
//! under a tight systemd `TasksMax=` or a busy shared account): `backup`
//! stops with one line saying so (exit 1), never a panic; `restore` does
//! all its work on the main thread and restores exactly.

use crate::support::{Coffer, arg, assert_restored, restored, write};
use coffer_testkit::fixture::pseudo_random;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;

/// A user id with no processes, so that the limit of one task is reached
/// by coffer's own main thread.
const USER: u32 = 54_321;

/// Runs `coffer ARGS…` as `USER` with at most one task for that user.
fn run_with_one_task(c: &Coffer, args: &[&str]) -> crate::support::Out {
    let mut cmd = c.command(args);
    cmd.env("RUST_BACKTRACE", "0");
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let one = libc::rlimit {
                rlim_cur: 1,
                rlim_max: 1,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &one) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("cannot run coffer");
    crate::support::Out::from_output(args.join(" "), out)
}

#[test]
fn without_threads_backup_fails_cleanly_and_restore_still_works() {
    let mut c = Coffer::new();
    let src = c.path("src");
    write(&src.join("big.bin"), pseudo_random(3, 2_000_000));
    for i in 0..30 {
        write(&src.join(format!("small/{i}.txt")), format!("file {i}\n"));
    }
    for entry in walkdir(c.path("")) {
        chown(entry, Some(USER), Some(USER)).unwrap();
    }
    c.as_user = Some(USER);
    c.run(&["init"]).ok();

    let out = run_with_one_task(&c, &["backup", arg(&src)]);
    out.code(1);
    let line = out.stderr.trim();
    assert!(
        line.lines().count() == 1 && line.contains("cannot start a thread"),
        "{}",
        out.show()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.show());

    // With threads the backup is made; without them it still restores.
    c.run(&["backup", "-q", arg(&src)]).ok();
    let target = c.path("target");
    let out = run_with_one_task(&c, &["restore", "latest", "--target", arg(&target)]);
    out.ok();
    assert_restored(&src, &restored(&target, &src));
}

/// Every path below `root`, `root` included.
fn walkdir(root: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.clone()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() && !out[i].is_symlink() {
            let mut children: Vec<_> = std::fs::read_dir(&out[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}
