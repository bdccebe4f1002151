//! `coffer config show`: the settings in effect, each with where it came
//! from (command line, profile with file and line, environment, default).

use crate::args::{Cli, ConfigCommand, Global};
use crate::profile::APPLIED;
use crate::profile::inject::Applied;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory};
use coffer_core::Result;
use std::path::Path;

/// Keys whose values are never printed.
fn secret(key: &str) -> bool {
    key.contains("password") && !key.ends_with("-file")
}

/// One line of the listing: key, value as shown, and where it came from.
type Row = (String, String, String);

pub fn run(c: ConfigCommand, g: &Global) -> Result<i32> {
    let ConfigCommand::Show = c;
    let applied = APPLIED.get();
    let mut rows = show_rows(applied);
    rows.extend(password_env_rows());
    let other = other_command_rows(applied, &rows);
    let file = applied.and_then(|a| a.profile.file.clone());
    let name = applied.and_then(|a| a.profile.name.clone());
    let sections = applied
        .map(|a| a.profile.sections.clone())
        .unwrap_or_default();
    if g.json {
        let rows_json = |r: &[Row]| {
            r.iter()
                .map(|(k, v, s)| serde_json::json!({"key": k, "value": v, "source": s}))
                .collect::<Vec<_>>()
        };
        crate::output::json(&serde_json::json!({
            "config_file": file.map(|f| f.display().to_string()),
            "profile": name,
            "sections": sections,
            "settings": rows_json(&rows),
            "for_other_commands": rows_json(&other),
        }))?;
        return Ok(0);
    }
    print_text(file.as_deref(), name.as_deref(), &sections, &rows, &other);
    Ok(0)
}

/// The settings `config show` itself takes (the global ones), parsed from
/// this run's command line as the profile rewrote it; unset ones left out.
fn show_rows(applied: Option<&Applied>) -> Vec<Row> {
    let argv = applied.map(|a| a.argv.clone()).unwrap_or_default();
    let mut cmd = Cli::command();
    cmd.build();
    let top = cmd.clone().get_matches_from(&argv);
    let (_, config) = top.subcommand().expect("config subcommand");
    let (_, m) = config.subcommand().expect("show subcommand");
    let show = cmd
        .find_subcommand("config")
        .and_then(|c| c.find_subcommand("show"))
        .expect("config show");
    let mut rows: Vec<Row> = Vec::new();
    for arg in show.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        if matches!(key, "help" | "config" | "profile") {
            continue;
        }
        let id = arg.get_id().as_str();
        let values: Vec<String> = m
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = source_of(arg, m, applied);
        if values.is_empty() && source == "not set" {
            continue;
        }
        rows.push((key.to_string(), shown_values(key, &values), source));
    }
    rows
}

/// Where option `arg`'s value came from: the profile (file and line), the
/// command line, the environment (which variable), its default, or not set.
fn source_of(arg: &Arg, m: &ArgMatches, applied: Option<&Applied>) -> String {
    let id = arg.get_id().as_str();
    match (
        applied.and_then(|a| a.from_profile.get(id)),
        m.value_source(id),
    ) {
        (Some(origin), _) => format!("profile, {origin}"),
        (None, Some(ValueSource::CommandLine)) => "command line".to_string(),
        (None, Some(ValueSource::EnvVariable)) => format!(
            "environment, {}",
            arg.get_env()
                .map_or(String::new(), |e| e.to_string_lossy().into_owned())
        ),
        (None, Some(ValueSource::DefaultValue)) => "default".to_string(),
        _ => "not set".to_string(),
    }
}

/// An option's values as TOML would write them (a flag without a value is
/// `true`); secrets are never shown.
fn shown_values(key: &str, values: &[String]) -> String {
    match values {
        _ if secret(key) => "(set, not shown)".to_string(),
        [] => "true".to_string(),
        [one] => crate::profile::shown(one),
        many => {
            let items: Vec<String> = many.iter().map(|s| crate::profile::shown(s)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// The password settings from the environment: a setting too, never shown
/// (but the password file's path is).
fn password_env_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for var in [
        "COFFER_PASSWORD",
        "COFFER_PASSWORD_FILE",
        "COFFER_PASSWORD_COMMAND",
    ] {
        if std::env::var_os(var).is_some() {
            let shown = if var == "COFFER_PASSWORD_FILE" {
                format!("{:?}", std::env::var(var).unwrap_or_default())
            } else {
                "(set, not shown)".to_string()
            };
            rows.push((
                var.to_lowercase().replace('_', "-"),
                shown,
                format!("environment, {var}"),
            ));
        }
    }
    rows
}

/// Settings of other commands that the profile holds: its keys not
/// already in `rows`.
fn other_command_rows(applied: Option<&Applied>, rows: &[Row]) -> Vec<Row> {
    let mut other: Vec<Row> = Vec::new();
    if let Some(a) = applied {
        for (key, e) in &a.profile.entries {
            if rows.iter().any(|r| &r.0 == key) {
                continue;
            }
            let shown = if secret(key) {
                "(set, not shown)".to_string()
            } else {
                e.value.to_string()
            };
            other.push((key.clone(), shown, format!("profile, {}", e.origin)));
        }
    }
    other
}

/// The listing as text: the config file and profile, then one aligned
/// `key = value  # source` line per setting.
fn print_text(
    file: Option<&Path>,
    name: Option<&str>,
    sections: &[String],
    rows: &[Row],
    other: &[Row],
) {
    match file {
        Some(f) => println!("config file: {}", f.display()),
        None => println!("config file: none"),
    }
    match name {
        Some(p) => println!("profile: {p} (sections applied: {})", sections.join(", ")),
        None if !sections.is_empty() => println!("profile: none (sections applied: default)"),
        None => println!("profile: none"),
    }
    let width = rows
        .iter()
        .chain(other)
        .map(|r| r.0.len() + r.1.len() + 3)
        .max()
        .unwrap_or(0);
    let print = |r: &[Row]| {
        for (k, v, s) in r {
            let left = format!("{k} = {v}");
            println!("{left:width$}  # {s}");
        }
    };
    println!();
    print(rows);
    if !other.is_empty() {
        println!("\nfor the commands that take them:");
        print(other);
    }
}
