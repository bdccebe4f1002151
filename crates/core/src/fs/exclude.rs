//! Which paths a backup skips (and which a restore selects): glob
//! patterns, exact paths, and tag files that mark directories.
//!
//! Patterns, gitignore-style, matched against absolute paths:
//! - a pattern starting with `/` is anchored at the filesystem root
//!   (`/var/cache/*`, `/home/*/.cache`);
//! - any other pattern matches at any depth, as if it began with `**/`
//!   (`*.tmp`, `.cache`, `node_modules/.bin`);
//! - `*` and `?` never match `/`, `**` matches across directories, `[ab]`
//!   is a class, `\` escapes;
//! - a trailing `/` matches directories only (`build/`).
//!
//! An excluded directory is not entered. A tagged directory (one holding an
//! `--exclude-if-present` name, or a CACHEDIR.TAG with the standard
//! signature) keeps its entry and its tag files, and nothing else.

use crate::error::{Error, Result};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The name of a cache directory tag (<https://bford.info/cachedir/>).
pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
/// What a CACHEDIR.TAG file must begin with to count.
pub const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// `--preset server`: what a whole-server backup of `/` leaves out. The
/// directories themselves are kept (they are mount points a restored system
/// needs), only their contents go: kernel and device views (`/proc`, `/sys`,
/// `/dev`), runtime state (`/run`), temporary files (`/tmp`, `/var/tmp`)
/// and caches that programs rebuild (`/var/cache`); plus the usual swap
/// files. Active swap files are found by [`swap_files`]; the preset also
/// turns on one-file-system and the local repository is always excluded.
pub const SERVER_EXCLUDES: &[&str] = &[
    "/proc/*",
    "/sys/*",
    "/dev/*",
    "/run/*",
    "/tmp/*",
    "/var/tmp/*",
    "/var/cache/*",
    "/swapfile",
    "/swap.img",
];

/// The swap files (not partitions) listed in `/proc/swaps`' text.
pub fn swap_files(proc_swaps: &str) -> Vec<PathBuf> {
    proc_swaps
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, kind) = (f.next()?, f.next()?);
            // The kernel writes spaces in names as \040.
            (kind == "file").then(|| PathBuf::from(name.replace("\\040", " ")))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Excludes {
    /// Patterns for any entry.
    any: GlobSet,
    /// Patterns that end in `/`: directories only.
    dirs: GlobSet,
    exact: Vec<PathBuf>,
    /// `--exclude-if-present` names.
    tags: Vec<OsString>,
    /// `--exclude-caches`.
    caches: bool,
}

fn glob(pattern: &str) -> Result<Glob> {
    let anchored = if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("**/{pattern}")
    };
    GlobBuilder::new(&anchored)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| {
            Error::invalid(format!("invalid exclude pattern ({e})")).with_location(pattern)
        })
}

impl Excludes {
    pub fn new(patterns: &[String], exact: Vec<PathBuf>) -> Result<Self> {
        let (mut any, mut dirs) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for p in patterns {
            if p.is_empty() || p == "/" {
                return Err(Error::invalid("empty exclude pattern").with_location(format!("'{p}'")));
            }
            match p.strip_suffix('/') {
                Some(dir) => dirs.add(glob(dir.trim_end_matches('/'))?),
                None => any.add(glob(p)?),
            };
        }
        let set = |b: GlobSetBuilder| {
            b.build()
                .map_err(|e| Error::invalid(format!("invalid exclude patterns ({e})")))
        };
        Ok(Excludes {
            any: set(any)?,
            dirs: set(dirs)?,
            exact,
            tags: Vec::new(),
            caches: false,
        })
    }

    #[cfg(test)]
    pub fn none() -> Self {
        Excludes {
            any: GlobSet::empty(),
            dirs: GlobSet::empty(),
            exact: Vec::new(),
            tags: Vec::new(),
            caches: false,
        }
    }

    /// Also skips the contents of directories that hold one of `names`, and
    /// with `caches` of those holding a valid CACHEDIR.TAG.
    pub fn with_tags(mut self, names: &[String], caches: bool) -> Result<Self> {
        for n in names {
            if n.is_empty() || n.contains('/') || n == "." || n == ".." {
                return Err(
                    Error::invalid("--exclude-if-present takes a file name, not a path")
                        .with_location(format!("'{n}'")),
                );
            }
            self.tags.push(OsString::from(n));
        }
        self.caches = caches;
        Ok(self)
    }

    /// Whether `path` (absolute) is excluded; `is_dir` tells whether it is a
    /// directory (patterns ending in `/` match only those).
    pub fn is_excluded(&self, path: &Path, is_dir: bool) -> bool {
        self.exact.iter().any(|e| e == path)
            || (!self.any.is_empty() && self.any.is_match(path))
            || (is_dir && !self.dirs.is_empty() && self.dirs.is_match(path))
    }

    /// Whether any tag rule is set (the walker only looks for tags then).
    pub fn has_tags(&self) -> bool {
        self.caches || !self.tags.is_empty()
    }

    /// If the directory whose sorted entry `names` are given is tagged,
    /// the tag files it keeps; `open` reads an entry (for CACHEDIR.TAG's
    /// signature).
    pub fn tag_files(
        &self,
        names: &[OsString],
        open: impl Fn(&OsStr) -> std::io::Result<std::fs::File>,
    ) -> Option<Vec<OsString>> {
        let mut keep: Vec<OsString> = self
            .tags
            .iter()
            .filter(|t| names.contains(t))
            .cloned()
            .collect();
        let tag = OsStr::new(CACHEDIR_TAG);
        if self.caches && names.iter().any(|n| n == tag) && is_cachedir_tag(open(tag)) {
            keep.push(tag.to_os_string());
        }
        if keep.is_empty() {
            None
        } else {
            keep.sort();
            keep.dedup();
            Some(keep)
        }
    }
}

impl crate::fs::walk::Select for Excludes {
    fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        self.is_excluded(path, is_dir)
    }

    fn tagged(&self, dir: &crate::fs::at::Dir, names: &[OsString]) -> Option<Vec<OsString>> {
        if !self.has_tags() {
            return None;
        }
        self.tag_files(names, |n| dir.open_file(n))
    }
}

fn is_cachedir_tag(file: std::io::Result<std::fs::File>) -> bool {
    let mut head = Vec::with_capacity(CACHEDIR_SIGNATURE.len());
    file.and_then(|f| {
        f.take(CACHEDIR_SIGNATURE.len() as u64)
            .read_to_end(&mut head)
    })
    .is_ok()
        && head == CACHEDIR_SIGNATURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(patterns: &[&str]) -> Excludes {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Excludes::new(&p, vec![PathBuf::from("/srv/repo")]).unwrap()
    }

    #[test]
    fn floating_patterns_match_at_any_depth_anchored_from_the_root() {
        let ex = ex(&[
            "*.tmp",
            "/var/cache/*",
            "/home/*/.cache",
            "node_modules/.bin",
        ]);
        let yes = |p: &str| assert!(ex.is_excluded(Path::new(p), false), "{p}");
        let no = |p: &str| assert!(!ex.is_excluded(Path::new(p), false), "{p}");
        yes("/etc/x.tmp");
        yes("/x.tmp");
        yes("/var/cache/apt");
        no("/var/cache");
        yes("/home/bob/.cache");
        no("/home/bob/x/.cache");
        yes("/srv/web/node_modules/.bin");
        no("/srv/web/node_modules/.binx");
        yes("/srv/repo");
        no("/etc/passwd");
        no("/etc/x.tmp/inside");
    }

    #[test]
    fn trailing_slash_matches_directories_only_double_star_crosses() {
        let ex = ex(&["build/", "/data/**/*.log"]);
        assert!(ex.is_excluded(Path::new("/src/build"), true));
        assert!(!ex.is_excluded(Path::new("/src/build"), false));
        assert!(ex.is_excluded(Path::new("/data/a/b/c.log"), false));
        assert!(ex.is_excluded(Path::new("/data/c.log"), false));
        assert!(!ex.is_excluded(Path::new("/other/c.log"), false));
    }

    #[test]
    fn server_preset_keeps_mount_points_and_drops_swap_files() {
        let p: Vec<String> = SERVER_EXCLUDES.iter().map(|s| s.to_string()).collect();
        let ex = Excludes::new(&p, swap_files(SWAPS)).unwrap();
        assert!(!ex.is_excluded(Path::new("/proc"), true));
        assert!(ex.is_excluded(Path::new("/proc/1"), true));
        assert!(ex.is_excluded(Path::new("/var/cache/apt"), true));
        assert!(ex.is_excluded(Path::new("/srv/swap file"), false));
        assert_eq!(swap_files(SWAPS), vec![PathBuf::from("/srv/swap file")]);
        assert!(!ex.is_excluded(Path::new("/etc/passwd"), false));
    }

    const SWAPS: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
        /dev/sda2                               partition\t2097148\t\t0\t\t-2\n\
        /srv/swap\\040file                       file\t\t1048572\t\t0\t\t-3\n";

    #[test]
    fn bad_pattern_is_a_clear_error() {
        let e = Excludes::new(&["a[".into()], vec![]).unwrap_err();
        assert!(e.to_string().contains("invalid exclude pattern"), "{e}");
        let e = Excludes::none()
            .with_tags(&["a/b".into()], false)
            .unwrap_err();
        assert!(e.to_string().contains("file name"), "{e}");
    }

    #[test]
    fn tags_need_the_name_and_caches_the_signature() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(
            dir.join(CACHEDIR_TAG),
            b"Signature: 8a477f597d28d172789f06886806bc55\n# x",
        )
        .unwrap();
        std::fs::write(dir.join(".nobackup"), b"").unwrap();
        let open = |n: &OsStr| std::fs::File::open(dir.join(n));
        let names: Vec<OsString> = vec![CACHEDIR_TAG.into(), "data".into()];
        let ex = Excludes::none()
            .with_tags(&[".nobackup".into()], true)
            .unwrap();
        assert_eq!(ex.tag_files(&names, open), Some(vec![CACHEDIR_TAG.into()]));
        let names2: Vec<OsString> = vec![".nobackup".into(), "data".into()];
        assert_eq!(ex.tag_files(&names2, open), Some(vec![".nobackup".into()]));
        std::fs::write(dir.join(CACHEDIR_TAG), b"Signature: wrong").unwrap();
        assert_eq!(ex.tag_files(&names, open), None);
        assert_eq!(Excludes::none().tag_files(&names2, open), None);
    }
}
