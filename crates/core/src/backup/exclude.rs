//! Which paths a backup skips: glob patterns and explicit paths.
//!
//! A pattern without `/` matches a file name anywhere (`*.tmp`, `.cache`);
//! a pattern with `/` matches the whole absolute path (`/var/cache/**`,
//! `/home/*/.cache`). `**` matches across directories.

use crate::error::{Error, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Excludes {
    names: GlobSet,
    paths: GlobSet,
    exact: Vec<PathBuf>,
}

fn build(patterns: &[&String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = GlobBuilder::new(p.trim_end_matches('/'))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| {
                Error::invalid(format!("invalid exclude pattern ({e})")).with_location(p)
            })?;
        b.add(g);
    }
    b.build()
        .map_err(|e| Error::invalid(format!("invalid exclude patterns ({e})")))
}

impl Excludes {
    pub fn new(patterns: &[String], exact: Vec<PathBuf>) -> Result<Self> {
        let (with_slash, names): (Vec<&String>, Vec<&String>) =
            patterns.iter().partition(|p| p.contains('/'));
        Ok(Excludes {
            names: build(&names)?,
            paths: build(&with_slash)?,
            exact,
        })
    }

    pub fn none() -> Self {
        Excludes {
            names: GlobSet::empty(),
            paths: GlobSet::empty(),
            exact: Vec::new(),
        }
    }

    /// Whether `path` (absolute) is excluded.
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.exact.iter().any(|e| e == path) {
            return true;
        }
        if !self.names.is_empty()
            && let Some(name) = path.file_name()
            && self
                .names
                .is_match(Path::new(std::ffi::OsStr::from_bytes(name.as_bytes())))
        {
            return true;
        }
        !self.paths.is_empty() && self.paths.is_match(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_anywhere_paths_match_whole() {
        let ex = Excludes::new(
            &[
                "*.tmp".into(),
                "/var/cache/**".into(),
                "/home/*/.cache".into(),
            ],
            vec![PathBuf::from("/srv/repo")],
        )
        .unwrap();
        assert!(ex.is_excluded(Path::new("/etc/x.tmp")));
        assert!(ex.is_excluded(Path::new("/var/cache/apt/a")));
        assert!(ex.is_excluded(Path::new("/home/bob/.cache")));
        assert!(!ex.is_excluded(Path::new("/home/bob/x/.cache")));
        assert!(ex.is_excluded(Path::new("/srv/repo")));
        assert!(!ex.is_excluded(Path::new("/etc/passwd")));
    }

    #[test]
    fn bad_pattern_is_a_clear_error() {
        let e = Excludes::new(&["a[".into()], vec![]).unwrap_err();
        assert!(e.to_string().contains("invalid exclude pattern"), "{e}");
    }
}
