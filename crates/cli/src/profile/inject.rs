//! A profile becomes command-line arguments.
//!
//! The settings of the chosen profile that the command being run takes are
//! inserted after its name as `--key=value`, unless the command line
//! already gives that option; `paths` is appended when the command line
//! names no path. clap then parses the result as if it had been typed, so
//! the same validation, the same environment variables and the same
//! precedence apply to every source. A key that no command knows, or a
//! value the option refuses, is an error naming the file, line and column.

use super::{Entry, Origin, Profile, Value};
use clap::builder::ArgAction;
use clap::{Arg, Command, CommandFactory};
use coffer_core::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

/// The key naming the paths a command works on (its positional `paths`).
pub const PATHS: &str = "paths";

/// The command line to parse, and what the profile put into it.
#[derive(Debug, Default)]
pub struct Applied {
    pub argv: Vec<OsString>,
    pub profile: Profile,
    /// Option ids (clap's) whose value came from the profile, with where.
    pub from_profile: BTreeMap<String, Origin>,
}

/// Applies the profile chosen by `argv` and the environment to `argv`.
pub fn apply(argv: Vec<OsString>) -> Result<Applied> {
    let mut cmd = crate::args::Cli::command();
    cmd.build();
    let scan = scan(&cmd, &argv);
    // Help and version never depend on (or fail for) a config file.
    let asks_help = scan.longs.contains("help")
        || scan.longs.contains("version")
        || scan.shorts.contains(&'h')
        || scan.shorts.contains(&'V')
        || scan.path.first().is_some_and(|p| p == "help");
    if asks_help {
        return Ok(Applied {
            argv,
            ..Default::default()
        });
    }
    let explicit = scan.config.clone().or_else(|| {
        std::env::var_os("COFFER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let name = scan.profile.clone().or_else(|| {
        std::env::var("COFFER_PROFILE")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let Some(file) = super::config_file(explicit.as_deref())? else {
        if let Some(n) = name {
            return Err(Error::invalid(format!(
                "no config file for profile `{n}`: give --config FILE, or write $XDG_CONFIG_HOME/coffer/coffer.toml or /etc/coffer/coffer.toml"
            )));
        }
        return Ok(Applied {
            argv,
            ..Default::default()
        });
    };
    let profile = super::load(&file, name.as_deref())?;
    check_keys(&cmd, &profile)?;
    let leaf = scan.path.iter().fold(&cmd, |c, name| {
        c.find_subcommand(name).expect("scanned from this command")
    });
    let mut inserted: Vec<OsString> = Vec::new();
    let mut from_profile = BTreeMap::new();
    for (key, entry) in &profile.entries {
        let Some(arg) = leaf
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
        else {
            continue; // a setting of other commands
        };
        if scan.given(arg) {
            continue; // the command line beats the profile
        }
        inserted.extend(tokens(arg, key, entry)?);
        from_profile.insert(arg.get_id().to_string(), entry.origin.clone());
    }
    let mut out: Vec<OsString> = argv[..scan.after_command].to_vec();
    out.extend(inserted);
    out.extend_from_slice(&argv[scan.after_command..]);
    if let Some(entry) = profile.entries.get(PATHS)
        && let Some(arg) = leaf
            .get_arguments()
            .find(|a| a.get_id() == PATHS && a.is_positional())
        && !positional_given(&cmd, &out, &scan.path)
    {
        let values = match &entry.value {
            Value::One(s) => vec![s.clone()],
            Value::List(v) => v.clone(),
            Value::Bool(_) => {
                return Err(Error::invalid(format!(
                    "{}: paths: expects a list of paths",
                    entry.origin
                )));
            }
        };
        for v in &values {
            validate(arg, PATHS, v, &entry.origin)?;
        }
        if !argv.iter().any(|a| a == "--") {
            out.push("--".into());
        }
        out.extend(values.into_iter().map(OsString::from));
        from_profile.insert(PATHS.to_string(), entry.origin.clone());
    }
    Ok(Applied {
        argv: out,
        profile,
        from_profile,
    })
}

/// Every key must be a long option of some command, or `paths`, and its
/// value must suit that option (for at least one command that has it), so
/// a mistake is caught whichever command runs.
fn check_keys(cmd: &Command, profile: &Profile) -> Result<()> {
    let mut options: BTreeMap<String, Vec<&Arg>> = BTreeMap::new();
    let mut stack = vec![cmd];
    while let Some(c) = stack.pop() {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                options.entry(l.to_string()).or_default().push(a);
            }
        }
        stack.extend(c.get_subcommands());
    }
    for name in ["help", "version", "config", "profile"] {
        options.remove(name);
    }
    let mut known: BTreeSet<String> = options.keys().cloned().collect();
    known.insert(PATHS.to_string());
    for (key, entry) in &profile.entries {
        if let Some(args) = options.get(key) {
            let mut first_error = None;
            for a in args {
                match tokens(a, key, entry) {
                    Ok(_) => {
                        first_error = None;
                        break;
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        if !known.contains(key) {
            let close = known.iter().find(|k| {
                k.replace('_', "-") == key.replace('_', "-") || edit_distance(k, key) <= 2
            });
            let hint = close.map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            return Err(Error::invalid(format!(
                "{}: unknown key `{key}`{hint}: keys are the long option names of coffer's commands, and `paths`",
                entry.origin
            )));
        }
    }
    Ok(())
}

/// The arguments that carry `entry` for option `arg`.
fn tokens(arg: &Arg, key: &str, entry: &Entry) -> Result<Vec<OsString>> {
    let flag = format!("--{key}");
    let wrong = |why: &str| Error::invalid(format!("{}: {key}: {why}", entry.origin));
    match (arg.get_action(), &entry.value) {
        (ArgAction::SetTrue, Value::Bool(true)) => Ok(vec![flag.into()]),
        (ArgAction::SetTrue, Value::Bool(false)) => Ok(vec![]),
        (ArgAction::SetTrue, _) => Err(wrong("expects true or false")),
        (ArgAction::Count, Value::Bool(b)) => Ok(if *b { vec![flag.into()] } else { vec![] }),
        (ArgAction::Count, Value::One(n)) => {
            let n: usize = n
                .parse()
                .map_err(|_| wrong("expects true, false or a count"))?;
            Ok(vec![OsString::from(&flag); n.min(8)])
        }
        (ArgAction::Set, Value::List(_)) => Err(wrong("expects one value, not a list")),
        (ArgAction::Set, Value::Bool(_)) => Err(wrong("expects a value, not true/false")),
        (ArgAction::Set, Value::One(v)) => {
            validate(arg, key, v, &entry.origin)?;
            Ok(vec![format!("{flag}={v}").into()])
        }
        (ArgAction::Append, Value::Bool(_)) => {
            Err(wrong("expects a value or a list, not true/false"))
        }
        (ArgAction::Append, v) => {
            let values = match v {
                Value::One(s) => std::slice::from_ref(s),
                Value::List(l) => l.as_slice(),
                Value::Bool(_) => unreachable!("matched above"),
            };
            let mut out = Vec::new();
            for s in values {
                validate(arg, key, s, &entry.origin)?;
                out.push(format!("{flag}={s}").into());
            }
            Ok(out)
        }
        _ => Err(wrong("cannot be set in a profile")),
    }
}

/// Runs the option's own value parser on `value`: a bad value is reported
/// at its place in the file, not as if typed on the command line.
fn validate(arg: &Arg, key: &str, value: &str, origin: &Origin) -> Result<()> {
    let probe = Arg::new("value")
        .long("value")
        .action(ArgAction::Set)
        .value_parser(arg.get_value_parser().clone());
    let r = Command::new("coffer")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([OsString::from("--value"), OsString::from(value)]);
    r.map(|_| ()).map_err(|e| {
        let text = e.render().to_string();
        let why: Vec<&str> = text
            .lines()
            .map(|l| l.trim().trim_start_matches("error: "))
            .take_while(|l| !l.is_empty() && !l.starts_with("For more information"))
            .collect();
        let why = why
            .join("; ")
            .replace("'--value <value>'", &format!("'{key}'"));
        Error::invalid(format!("{origin}: {key}: {why}"))
    })
}

/// What the command line says before a profile is applied.
struct Scan {
    /// Subcommand names from the top, e.g. ["key", "add"].
    path: Vec<String>,
    /// Index in argv just after the last subcommand name.
    after_command: usize,
    config: Option<PathBuf>,
    profile: Option<String>,
    /// Long names and short letters given.
    longs: BTreeSet<String>,
    shorts: BTreeSet<char>,
}

impl Scan {
    fn given(&self, arg: &Arg) -> bool {
        arg.get_long().is_some_and(|l| self.longs.contains(l))
            || arg.get_short().is_some_and(|s| self.shorts.contains(&s))
            || arg
                .get_all_aliases()
                .into_iter()
                .flatten()
                .any(|a| self.longs.contains(a))
    }
}

/// Finds subcommands and options in `argv` the way clap will read them:
/// an option that takes a value consumes the next argument unless it has
/// `=value` (or, for a short option, the value attached).
fn scan(cmd: &Command, argv: &[OsString]) -> Scan {
    let mut s = Scan {
        path: Vec::new(),
        after_command: argv.len().min(1),
        config: None,
        profile: None,
        longs: BTreeSet::new(),
        shorts: BTreeSet::new(),
    };
    let mut here = cmd;
    let mut i = 1;
    let takes_value = |a: &Arg| matches!(a.get_action(), ArgAction::Set | ArgAction::Append);
    while i < argv.len() {
        let tok = argv[i].to_string_lossy().into_owned();
        i += 1;
        if tok == "--" {
            break;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            };
            let arg = here.get_arguments().find(|a| {
                a.get_long() == Some(name.as_str())
                    || a.get_all_aliases().into_iter().flatten().any(|x| x == name)
            });
            let value = match (&inline, arg) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(a)) if takes_value(a) => {
                    i += 1;
                    argv.get(i - 1).map(|v| v.to_string_lossy().into_owned())
                }
                _ => None,
            };
            match name.as_str() {
                "config" => s.config = value.map(PathBuf::from),
                "profile" => s.profile = value,
                _ => {}
            }
            s.longs.insert(name);
        } else if tok.len() > 1 && tok.starts_with('-') {
            for (n, c) in tok.chars().skip(1).enumerate() {
                s.shorts.insert(c);
                let arg = here.get_arguments().find(|a| a.get_short() == Some(c));
                if arg.is_some_and(takes_value) {
                    if n + 2 == tok.chars().count() {
                        i += 1; // the value is the next argument
                    }
                    break; // the rest of the cluster is the value
                }
            }
        } else if let Some(sub) = here.find_subcommand(&tok) {
            s.path.push(sub.get_name().to_string());
            s.after_command = i;
            here = sub;
        } else {
            // A positional argument of the command: no more subcommands,
            // but options may follow.
            continue;
        }
    }
    s
}

/// Whether the command line (profile options included) gives the leaf
/// command any path.
fn positional_given(cmd: &Command, argv: &[OsString], path: &[String]) -> bool {
    let Ok(mut m) = cmd.clone().ignore_errors(true).try_get_matches_from(argv) else {
        return false;
    };
    for name in path {
        match m.remove_subcommand() {
            Some((n, sub)) if &n == name => m = sub,
            _ => return false,
        }
    }
    m.try_get_raw(PATHS)
        .ok()
        .flatten()
        .is_some_and(|mut v| v.next().is_some())
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
