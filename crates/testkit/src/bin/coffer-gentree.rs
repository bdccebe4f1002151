//! Makes (or changes) a reproducible tree of any size for scale tests and
//! benchmarks; see `coffer_testkit::tree_gen`.
//!
//! ```text
//! coffer-gentree make   DIR --files N [--seed S]
//! coffer-gentree change DIR --files N [--seed S] --round R [--percent P]
//! ```
//! Prints what it made as one JSON line.

use coffer_testkit::tree_gen::{GenReport, change, generate};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: coffer-gentree make DIR --files N [--seed S]\n       \
    coffer-gentree change DIR --files N [--seed S] --round R [--percent P]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(r) => {
            println!(
                "{{\"files\":{},\"dirs\":{},\"hardlinks\":{},\"sparse\":{},\"duplicates\":{},\"bytes\":{},\"changed\":{}}}",
                r.files, r.dirs, r.hardlinks, r.sparse, r.duplicates, r.bytes, r.changed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coffer-gentree: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<GenReport, String> {
    let (mode, dir) = match args.as_slice() {
        [m, d, ..] if m == "make" || m == "change" => (m.clone(), PathBuf::from(d)),
        _ => return Err(USAGE.into()),
    };
    let mut files = None;
    let (mut seed, mut round, mut percent) = (1u64, None, 1.0f64);
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("invalid {flag}: {value}");
        match flag.as_str() {
            "--files" => files = Some(value.parse::<u64>().map_err(bad)?),
            "--seed" => seed = value.parse().map_err(bad)?,
            "--round" => round = Some(value.parse::<u64>().map_err(bad)?),
            "--percent" => {
                percent = value
                    .parse::<f64>()
                    .map_err(|_| format!("invalid {flag}: {value}"))?
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    let files = files.ok_or("--files is required")?;
    let io = |e: std::io::Error| e.to_string();
    if mode == "make" {
        generate(&dir, files, seed).map_err(io)
    } else {
        let round = round.ok_or("--round is required")?;
        change(&dir, files, seed, round, percent).map_err(io)
    }
}
