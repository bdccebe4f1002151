//! One file per command; each builds options, makes one library call and
//! renders the result as text or JSON. Each returns the exit code.

mod archive;
mod backup;
mod backup_stream;
mod cat;
mod check;
mod config;
mod cost;
mod diff;
#[cfg(feature = "ec2")]
mod ec2;
mod export;
mod find;
mod forget;
mod image;
mod import;
mod init;
mod key;
mod ls;
pub mod meta;
mod mount;
mod prune;
pub mod repair;
mod restore;
mod copy;
mod rewrite;
mod schedule;
mod snapshots;
mod stats;
mod tag;
mod unlock;

use crate::args::{Command, Global};
use crate::settings::Settings;
use coffer_core::Result;

pub fn run(command: Command, g: &Global) -> Result<i32> {
    // A backup's hooks run around everything it does, opening the
    // repository included (a `before` hook may mount the disk it is on).
    if let Command::Backup(a) = command {
        let hooks = a.hooks.clone();
        return crate::hooks::around(&hooks, "backup", || {
            let s = Settings::new(g)?;
            backup::run(a, &s)
        });
    }
    let s = match command {
        // The EC2 commands use no repository: they need neither its settings
        // nor HOME to find the default one (a systemd service may not have it).
        #[cfg(feature = "ec2")]
        Command::Ec2(c) => return ec2::run(c, g),
        // Showing settings needs no repository either.
        Command::Config(c) => return config::run(c, g),
        Command::Completions { shell } => return meta::completions(shell),
        Command::Man { dir } => return meta::man(&dir, g),
        Command::Version => return meta::version(g),
        Command::Schedule(c) => return schedule::run(c, g),
        _ => Settings::new(g)?,
    };
    let s = &s;
    match command {
        Command::Init(a) => init::run(a, s),
        Command::Backup(a) => backup::run(a, s),
        Command::Snapshots(a) => snapshots::run(a, s),
        Command::Ls(a) => ls::run(a, s),
        Command::Restore(a) => restore::run(a, s),
        Command::Check(a) => check::run(a, s),
        Command::Cat(a) => cat::run(a, s),
        Command::Key(k) => key::run(k, s),
        Command::Forget(a) => forget::run(a, s),
        Command::Tag(a) => tag::run(a, s),
        Command::Rewrite(a) => rewrite::run(a, s),
        Command::Copy(a) => copy::run(a, s),
        Command::Mount(a) => mount::run(a, s),
        Command::Image(c) => image::run(c, s),
        Command::Unlock(a) => unlock::run(a, s),
        Command::Prune(a) => prune::run(a, s),
        Command::Repair(c) => repair::run(c, s),
        Command::Diff(a) => diff::run(a, s),
        Command::Stats(a) => stats::run(a, s),
        Command::Find(a) => find::run(a, s),
        Command::Archive(a) => archive::run(a, s),
        Command::Export(a) => export::run(a, s),
        Command::Import(a) => import::run(a, s),
        #[cfg(feature = "ec2")]
        Command::Ec2(c) => ec2::run(c, g),
        Command::Config(c) => config::run(c, g),
        Command::Completions { shell } => meta::completions(shell),
        Command::Man { dir } => meta::man(&dir, g),
        Command::Version => meta::version(g),
        Command::Schedule(c) => schedule::run(c, g),
    }
}
