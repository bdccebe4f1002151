//! `coffer copy`: snapshots from another repository into this one.

use crate::args::CopyArgs;
use crate::output::{json, size, time};
use crate::profile::{Value, config_file, load};
use crate::settings::{Settings, snapshot_filter, storage_class};
use coffer_core::{CopyOptions, CopyResult, Error, Result, copy};
use std::path::PathBuf;

/// The source's repository and password options: the `--from-*` options,
/// else the profile `--from-profile` names.
fn source(a: &CopyArgs, s: &Settings) -> Result<Settings> {
    let mut repo = a.from_repo.clone();
    let mut file = a.from_password_file.clone();
    let mut command = a.from_password_command.clone();
    if let Some(name) = &a.from_profile {
        let Some(path) = config_file(s.config.as_deref())? else {
            return Err(Error::invalid(format!(
                "--from-profile {name}: no config file (COFFER_CONFIG, ~/.config/coffer/coffer.toml, /etc/coffer/coffer.toml)"
            )));
        };
        let p = load(&path, Some(name))?;
        let one = |key: &str| match p.entries.get(key).map(|e| &e.value) {
            Some(Value::One(v)) => Some(v.clone()),
            _ => None,
        };
        // The profile's password only with its own repository.
        if repo.is_none() && file.is_none() && command.is_none() {
            file = one("password-file").map(PathBuf::from);
            command = one("password-command");
        }
        repo = repo.or_else(|| one("repo"));
    }
    let Some(repo) = repo.filter(|r| !r.is_empty()) else {
        return Err(Error::invalid(
            "no repository to copy from: give --from-repo (or COFFER_FROM_REPOSITORY, or --from-profile)",
        ));
    };
    s.source(repo, (file, command), a.from_endpoint_url.clone())
}

pub fn run(a: CopyArgs, s: &Settings) -> Result<i32> {
    let from = source(&a, s)?;
    let opts = CopyOptions {
        ids: a.snapshots.clone(),
        filter: snapshot_filter(&a.filter),
        dry_run: a.dry_run,
        connections: s.connections,
        data_class: storage_class(a.data_storage_class.as_deref())?,
    };
    let source = from.open()?;
    let dest = s.open()?;
    let r = copy(&source, &dest, &opts)?;
    if s.json {
        json(&serde_json::json!({
            "dry_run": a.dry_run,
            "snapshots": r.snapshots,
            "totals": r.totals,
            "requests": {"source": from.requests(), "destination": s.requests()},
        }))?;
    } else {
        text(&r, a.dry_run, s);
    }
    Ok(0)
}

fn text(r: &CopyResult, dry_run: bool, s: &Settings) {
    let new: Vec<_> = r.snapshots.iter().filter(|c| !c.already).collect();
    if !s.quiet {
        for c in &r.snapshots {
            let to = match (c.already, c.copy) {
                (true, Some(id)) => format!("already copied as {}", id.short()),
                (false, Some(id)) => format!("copied as {}", id.short()),
                _ => "would be copied".to_string(),
            };
            println!(
                "{}  {}  {}  {}: {to}",
                c.source.short(),
                time(c.time, s.utc),
                c.host,
                c.paths.join(" ")
            );
        }
    }
    let t = &r.totals;
    match dry_run {
        true => println!(
            "would copy {} snapshot(s); {} copied before",
            new.len(),
            r.snapshots.len() - new.len()
        ),
        false => println!(
            "copied {} snapshot(s) ({} copied before): read {} files ({}), {} files known; added {} blobs ({}, {} stored)",
            new.len(),
            r.snapshots.len() - new.len(),
            t.files_read,
            size(t.bytes_read),
            t.files_reused,
            t.blobs_new,
            size(t.bytes_new),
            size(t.bytes_stored),
        ),
    }
}
