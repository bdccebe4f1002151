//! Profiles: named sets of options in a TOML file, so a server's backups
//! run as `coffer --profile web backup` with nothing else on the line.
//!
//! The file is `--config FILE` (or `COFFER_CONFIG`), else the first that
//! exists of `$XDG_CONFIG_HOME/coffer/coffer.toml` (`~/.config/…`) and
//! `/etc/coffer/coffer.toml`. It holds a `[default]` section, applied to
//! every command, and `[profile.NAME]` sections chosen with `--profile NAME`
//! (or `COFFER_PROFILE`); `inherit = "other"` starts a profile from another
//! one. Keys are the long flag names of the commands (`repo`,
//! `password-file`, `exclude`, `keep-daily`, …) plus `paths`, the paths to
//! back up or archive.
//!
//! This module reads and merges the file; [`inject`] turns the result into
//! command-line arguments, so clap applies one set of rules to both: a flag
//! given on the command line beats the profile, the profile beats the
//! environment, the environment beats the default.

pub mod inject;

/// What the profile did to this run's command line (set once, in main).
pub static APPLIED: std::sync::OnceLock<inject::Applied> = std::sync::OnceLock::new();

use coffer_core::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml_edit::{Item, Table, Value as Toml};

/// Where a setting was written: file, line, column and section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// `default` or `profile.NAME`.
    pub section: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} [{}]",
            self.file.display(),
            self.line,
            self.column,
            self.section
        )
    }
}

/// A setting's value, as TOML gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    /// A string, or a number written as text.
    One(String),
    List(Vec<String>),
}

/// A value as TOML would write it: numbers and booleans bare, text quoted.
pub fn shown(s: &str) -> String {
    if s == "true" || s == "false" || s.parse::<i64>().is_ok() || s.parse::<f64>().is_ok() {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::One(s) => f.write_str(&shown(s)),
            Value::List(v) => {
                let items: Vec<String> = v.iter().map(|s| shown(s)).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// One setting of the chosen profile.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    pub origin: Origin,
}

/// The settings that apply to this run: `[default]`, then each inherited
/// profile, then the chosen one, later ones replacing earlier keys.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub file: Option<PathBuf>,
    /// The chosen profile, if any.
    pub name: Option<String>,
    /// The sections applied, first to last (`default`, `profile.base`, …).
    pub sections: Vec<String>,
    pub entries: BTreeMap<String, Entry>,
}

/// The config file for this run: `explicit` (must exist), else the first
/// default location that exists, else none.
pub fn config_file(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(Error::invalid("config file not found").with_location(p.display()));
        }
        return Ok(Some(p.to_path_buf()));
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let candidates = xdg
        .map(|d| d.join("coffer/coffer.toml"))
        .into_iter()
        .chain([PathBuf::from("/etc/coffer/coffer.toml")]);
    for c in candidates {
        // A file this user may not read (root's 0600 /etc/coffer/coffer.toml
        // seen by another user) is not this user's configuration.
        match std::fs::File::open(&c) {
            Ok(_) if c.is_file() => return Ok(Some(c)),
            Err(e)
                if e.kind() != std::io::ErrorKind::NotFound
                    && e.kind() != std::io::ErrorKind::PermissionDenied =>
            {
                return Err(Error::io("cannot read config file", c.display(), e));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Reads `file` and merges the sections that apply to profile `name`.
pub fn load(file: &Path, name: Option<&str>) -> Result<Profile> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io("cannot read config file", file.display(), e))?;
    let doc = toml_edit::Document::parse(text.clone()).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
        Error::invalid(format!(
            "{}:{line}:{column}: {}",
            file.display(),
            e.message().trim()
        ))
    })?;
    let src = Source { file, text: &text };
    let (default, profiles) = sections(doc.as_table(), &src)?;
    // The chain of sections, most general first.
    let mut chain = match name {
        Some(n) => inherit_chain(n, &profiles, &src)?,
        None => Vec::new(),
    };
    if let Some(t) = default {
        if t.contains_key("inherit") {
            let o = src.at(t.key("inherit").and_then(|k| k.span()), "default");
            return Err(Error::invalid(format!(
                "{o}: [default] cannot inherit: it is what every profile starts from"
            )));
        }
        chain.push(("default".to_string(), t));
    }
    chain.reverse();
    Ok(Profile {
        file: Some(file.to_path_buf()),
        name: name.map(String::from),
        sections: chain.iter().map(|(s, _)| s.clone()).collect(),
        entries: merge(chain, &src)?,
    })
}

/// The config file's path and text, to say where a setting was written.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// The origin of the text at `span` (line 1, column 1 without one),
    /// in `section`.
    fn at(&self, span: Option<std::ops::Range<usize>>, section: &str) -> Origin {
        let (line, column) = span.map_or((1, 1), |s| line_col(self.text, s.start));
        Origin {
            file: self.file.to_path_buf(),
            line,
            column,
            section: section.to_string(),
        }
    }
}

/// The file's `[default]` section and its `[profile.NAME]` sections by
/// name; anything else at the top level is an error.
fn sections<'t>(
    root: &'t Table,
    src: &Source,
) -> Result<(Option<&'t Table>, BTreeMap<String, &'t Table>)> {
    let mut profiles: BTreeMap<String, &Table> = BTreeMap::new();
    let mut default: Option<&Table> = None;
    for (key, item) in root.iter() {
        let span = root.key(key).and_then(|k| k.span());
        match (key, item) {
            ("default", Item::Table(t)) => default = Some(t),
            ("profile", Item::Table(t)) => {
                for (pname, pitem) in t.iter() {
                    let Item::Table(p) = pitem else {
                        let o = src.at(t.key(pname).and_then(|k| k.span()), "profile");
                        return Err(Error::invalid(format!(
                            "{o}: `profile.{pname}` must be a section: [profile.{pname}]"
                        )));
                    };
                    profiles.insert(pname.to_string(), p);
                }
            }
            _ => {
                return Err(Error::invalid(format!(
                    "{}: unknown section or key `{key}` (the file holds [default] and [profile.NAME] sections)",
                    src.at(span, "top level")
                )));
            }
        }
    }
    Ok((default, profiles))
}

/// Profile `name` and the profiles it inherits from, most specific first,
/// each with its section name (`profile.NAME`). An error for a profile
/// that does not exist, a bad `inherit`, or a loop.
fn inherit_chain<'t>(
    name: &str,
    profiles: &BTreeMap<String, &'t Table>,
    src: &Source,
) -> Result<Vec<(String, &'t Table)>> {
    let mut chain: Vec<(String, &Table)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut next = Some((name.to_string(), None::<Origin>));
    while let Some((pname, from)) = next.take() {
        if seen.contains(&pname) {
            return Err(Error::invalid(format!(
                "{}: profiles inherit from each other in a loop: {} -> {pname}",
                from.map_or_else(|| src.file.display().to_string(), |o| o.to_string()),
                seen.join(" -> ")
            )));
        }
        let Some(&t) = profiles.get(&pname) else {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            let place = from.map_or_else(|| src.file.display().to_string(), |o| o.to_string());
            return Err(Error::invalid(format!(
                "{place}: no profile `{pname}` (profiles: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let section = format!("profile.{pname}");
        if let Some(item) = t.get("inherit") {
            let o = src.at(t.key("inherit").and_then(|k| k.span()), &section);
            let Some(parent) = item.as_str() else {
                return Err(Error::invalid(format!(
                    "{o}: inherit: expects the name of another profile, as a string"
                )));
            };
            next = Some((parent.to_string(), Some(o)));
        }
        seen.push(pname);
        chain.push((section, t));
    }
    Ok(chain)
}

/// The settings of `chain`'s sections, most general first, later ones
/// replacing earlier keys; `inherit` is not a setting.
fn merge(chain: Vec<(String, &Table)>, src: &Source) -> Result<BTreeMap<String, Entry>> {
    let mut entries = BTreeMap::new();
    for (section, table) in chain {
        for (key, item) in table.iter() {
            if key == "inherit" {
                continue;
            }
            let origin = src.at(table.key(key).and_then(|k| k.span()), &section);
            let value =
                value_of(item).map_err(|why| Error::invalid(format!("{origin}: {key}: {why}")))?;
            entries.insert(key.to_string(), Entry { value, origin });
        }
    }
    Ok(entries)
}

/// A TOML value as a setting: booleans, strings, numbers, and arrays of
/// strings or numbers; anything else is a type error.
fn value_of(item: &Item) -> std::result::Result<Value, String> {
    let scalar = |v: &Toml| -> Option<String> {
        match v {
            Toml::String(s) => Some(s.value().clone()),
            Toml::Integer(i) => Some(i.value().to_string()),
            Toml::Float(f) => Some(f.value().to_string()),
            _ => None,
        }
    };
    match item {
        Item::Value(Toml::Boolean(b)) => Ok(Value::Bool(*b.value())),
        Item::Value(Toml::Array(a)) => a
            .iter()
            .map(|v| scalar(v).ok_or("a list may hold only strings and numbers".to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Value::List),
        Item::Value(v) => scalar(v)
            .map(Value::One)
            .ok_or_else(|| "expects a string, a number, true/false, or a list".to_string()),
        Item::Table(_) | Item::ArrayOfTables(_) => {
            Err("expects a value, not a section".to_string())
        }
        Item::None => Err("has no value".to_string()),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("coffer.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn profiles_inherit_and_default_comes_first() {
        let (_d, p) = write(
            "[default]\npassword-file = \"/pw\"\nconnections = 2\n\n[profile.base]\nrepo = \"/r\"\ntag = [\"a\"]\n\n[profile.web]\ninherit = \"base\"\ntag = [\"nightly\", \"web\"]\nkeep-daily = 7\none-file-system = true\n",
        );
        let prof = load(&p, Some("web")).unwrap();
        assert_eq!(prof.sections, ["default", "profile.base", "profile.web"]);
        let e = &prof.entries;
        assert_eq!(e["password-file"].value, Value::One("/pw".into()));
        assert_eq!(e["connections"].value, Value::One("2".into()));
        assert_eq!(e["repo"].origin.section, "profile.base");
        assert_eq!(
            e["tag"].value,
            Value::List(vec!["nightly".into(), "web".into()])
        );
        assert_eq!(
            (e["keep-daily"].origin.line, e["keep-daily"].origin.column),
            (12, 1)
        );
        assert_eq!(e["one-file-system"].value, Value::Bool(true));
        assert!(!e.contains_key("inherit"));
        let none = load(&p, None).unwrap();
        assert_eq!(none.sections, ["default"]);
        assert_eq!(none.entries.len(), 2);
    }

    #[test]
    fn mistakes_name_file_line_and_column() {
        let (_d, p) = write(
            "[default]\nrepo = \"/r\"\n\n[profile.a]\ninherit = \"b\"\n[profile.b]\ninherit = \"a\"\n",
        );
        let e = load(&p, Some("a")).unwrap_err().to_string();
        assert!(e.contains("loop"), "{e}");
        let e = load(&p, Some("zz")).unwrap_err().to_string();
        assert!(e.contains("no profile `zz` (profiles: a, b)"), "{e}");

        let (_d, p) = write("[default]\nrepo = \"/r\n");
        let e = load(&p, None).unwrap_err().to_string();
        assert!(e.contains("coffer.toml:2:"), "{e}");

        let (_d, p) = write("[defaults]\nrepo = \"/r\"\n");
        let e = load(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("coffer.toml:1:2") && e.contains("`defaults`"),
            "{e}"
        );

        let (_d, p) = write("[default]\nexclude = [[\"x\"]]\n");
        let e = load(&p, None).unwrap_err().to_string();
        assert!(e.contains("coffer.toml:2:1 [default]: exclude:"), "{e}");
    }
}
