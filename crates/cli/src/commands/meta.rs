//! About coffer itself: `version`, `completions SHELL`, `man DIR`, all
//! generated from the one command-line definition so they cannot drift.

use crate::args::{Cli, Global};
use clap::CommandFactory;
use coffer_core::{Error, Result};
use std::path::Path;

/// `coffer --version` and `coffer version`: version and git commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("COFFER_GIT_COMMIT"),
    ")"
);

/// What this build can do.
/// What this binary can do: the cargo features it was built with among them.
fn features() -> Vec<&'static str> {
    [
        ("local", true),
        ("s3", cfg!(feature = "s3")),
        ("ec2", cfg!(feature = "ec2")),
        ("profiles", true),
        ("schedule", true),
        ("metrics", true),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

pub fn version(g: &Global) -> Result<i32> {
    if g.json {
        crate::output::json(&serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "git_commit": env!("COFFER_GIT_COMMIT"),
            "features": features(),
            "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        }))?;
    } else {
        println!("coffer {VERSION}");
        println!("features: {}", features().join(", "));
    }
    Ok(0)
}

pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "coffer", &mut std::io::stdout());
    Ok(0)
}

/// Writes `coffer.1` and one page per command and subcommand.
pub fn man(dir: &Path, g: &Global) -> Result<i32> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot make", dir.display(), e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = Vec::new();
    let mut stack = vec![(String::from("coffer"), cmd)];
    while let Some((name, c)) = stack.pop() {
        for sub in c.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            stack.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        // clap names are &'static str (without its `string` feature); a
        // few bytes per page, once, in a command that then exits.
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let page = c.clone().name(leaked).display_name(name.replace('-', " "));
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut out)
            .map_err(|e| Error::io("cannot render man page", &name, e))?;
        std::fs::write(&path, out).map_err(|e| Error::io("cannot write", path.display(), e))?;
        pages.push(path);
    }
    pages.sort();
    if !g.quiet && !g.json {
        println!("wrote {} man pages into {}", pages.len(), dir.display());
    }
    Ok(0)
}
