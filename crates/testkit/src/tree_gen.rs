//! Reproducible trees of any size, made from a seed and a file count alone
//! (nothing stored): what the scale tests and `bench/scale` back up.
//!
//! File `i` is a pure function of `(seed, i)`: its directory, name, size,
//! content and kind. So a tree of a million files is made again bit for bit
//! on any machine, and a change round ([`change`]) is too.
//!
//! The shape, per file (shares of the file count):
//! - sizes: 1 % empty, 70 % up to 2 KiB, 24 % 2–8 KiB, 4.9 % 8–64 KiB,
//!   0.1 % 64 KiB–1 MiB (mean about 4 KiB, median about 1 KiB, as on a
//!   system's `/etc`, `/usr/share` or a mail spool);
//! - content: about half text (words from a small vocabulary, compresses
//!   like source or configuration), the rest pseudo-random;
//! - 10 % duplicate the content of an earlier file (another name for the
//!   same bytes: dedup, not a hardlink);
//! - 0.5 % are hardlinks to an earlier file;
//! - 0.1 % are sparse: 1 MiB with a hole in the middle.
//!
//! Directories: files go 1 to 200 to a directory (about 100 on average),
//! directories nest 16 to a parent, three levels deep, and one directory
//! holds [`WIDE_DIR_FILES`] files of its own when the tree has at least ten
//! times that many (the widest directory a restore must hold at once).

use crate::at::with_path;
use crate::fixture::XorShift;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Files in the one wide directory of a large tree.
pub const WIDE_DIR_FILES: u64 = 10_000;

/// What [`generate`] and [`change`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenReport {
    pub files: u64,
    pub dirs: u64,
    pub hardlinks: u64,
    pub sparse: u64,
    pub duplicates: u64,
    /// Bytes of file content (apparent sizes, hardlinks counted once).
    pub bytes: u64,
    /// Files changed by a change round.
    pub changed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular { size: u64, content: u64, text: bool },
    Hardlink { to: u64 },
    Sparse { content: u64 },
}

/// A stateless hash of `(seed, i, salt)` (splitmix64).
fn mix(seed: u64, i: u64, salt: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A size drawn from the distribution in the module documentation.
fn size_of(r: u64) -> u64 {
    let share = r % 10_000;
    let within = r >> 20;
    match share {
        0..100 => 0,
        100..7_100 => 1 + within % 2048,
        7_100..9_500 => 2048 + within % (6 << 10),
        9_500..9_990 => (8 << 10) + within % (56 << 10),
        _ => (64 << 10) + within % (960 << 10),
    }
}

fn kind_of(seed: u64, i: u64) -> Kind {
    let r = mix(seed, i, 1);
    let pick = r % 1000;
    if i > 0 && pick < 5 {
        return Kind::Hardlink {
            to: mix(seed, i, 2) % i,
        };
    }
    if pick == 5 {
        return Kind::Sparse { content: i };
    }
    // A duplicate takes the size and content of an earlier regular file.
    let source = if i > 0 && (10..110).contains(&pick) {
        let j = mix(seed, i, 3) % i;
        match kind_of(seed, j) {
            Kind::Regular { .. } => j,
            _ => i,
        }
    } else {
        i
    };
    let r = mix(seed, source, 4);
    Kind::Regular {
        size: size_of(r),
        content: source,
        text: r.is_multiple_of(2),
    }
}

/// Files per leaf directory: 1..=200, about 100 on average.
fn dir_files(seed: u64, d: u64) -> u64 {
    1 + mix(seed, d, 5) % 200
}

/// The path (relative to the root) of leaf directory `d`: three levels of
/// 16 above it, e.g. `a3/0f/7c/d000123`.
fn dir_path(d: u64) -> PathBuf {
    let h = d.wrapping_mul(0x9E37_79B9) >> 4;
    PathBuf::from(format!(
        "{:02x}/{:02x}/{:02x}/d{d:06}",
        h & 0xf,
        (h >> 4) & 0xf,
        (h >> 8) & 0xf
    ))
}

/// Where every file goes: `(leaf directory path, first file, count)`.
fn layout(seed: u64, files: u64) -> Vec<(PathBuf, u64, u64)> {
    let mut out = Vec::new();
    let mut first = 0;
    if files >= 10 * WIDE_DIR_FILES {
        out.push((PathBuf::from("wide"), 0, WIDE_DIR_FILES));
        first = WIDE_DIR_FILES;
    }
    let mut d = 0;
    while first < files {
        let n = dir_files(seed, d).min(files - first);
        out.push((dir_path(d), first, n));
        first += n;
        d += 1;
    }
    out
}

const WORDS: [&str; 32] = [
    "the", "server", "backup", "config", "restore", "error", "value", "user", "home", "var", "etc",
    "log", "mail", "data", "index", "file", "path", "system", "daemon", "network", "port", "host",
    "key", "time", "size", "true", "false", "none", "allow", "deny", "include", "default",
];

/// The content of a regular file.
fn content(seed: u64, id: u64, size: u64, text: bool, buf: &mut Vec<u8>) {
    buf.clear();
    let mut rng = XorShift::new(mix(seed, id, 6) | 1);
    if !text {
        buf.resize(size as usize, 0);
        rng.fill(buf);
        return;
    }
    while (buf.len() as u64) < size {
        let r = rng.next_u64();
        buf.extend_from_slice(WORDS[(r % 32) as usize].as_bytes());
        buf.push(if r.is_multiple_of(11) { b'\n' } else { b' ' });
        if r.is_multiple_of(97) {
            buf.extend_from_slice(format!("{}", r >> 40).as_bytes());
        }
    }
    buf.truncate(size as usize);
}

fn file_name(i: u64) -> String {
    format!("f{i:07}")
}

/// Makes the tree of `files` files from `seed` under `root` (created; it
/// must not hold an earlier tree).
pub fn generate(root: &Path, files: u64, seed: u64) -> io::Result<GenReport> {
    let mut report = GenReport::default();
    let mut buf = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new(); // leaf directory of each file so far, by dir
    let mut dir_of: Vec<u32> = Vec::with_capacity(files as usize);
    for (n, (dir, first, count)) in layout(seed, files).into_iter().enumerate() {
        let dir = root.join(dir);
        fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        report.dirs += 1;
        paths.push(dir.clone());
        for i in first..first + count {
            dir_of.push(n as u32);
            let path = dir.join(file_name(i));
            match kind_of(seed, i) {
                Kind::Hardlink { to } => {
                    let target = paths[dir_of[to as usize] as usize].join(file_name(to));
                    fs::hard_link(&target, &path).map_err(|e| with_path(e, &path))?;
                    report.hardlinks += 1;
                }
                Kind::Sparse { content: id } => {
                    write_sparse(&path, seed, id)?;
                    report.sparse += 1;
                    report.bytes += 1 << 20;
                }
                Kind::Regular {
                    size,
                    content: id,
                    text,
                } => {
                    content(seed, id, size, text, &mut buf);
                    fs::write(&path, &buf).map_err(|e| with_path(e, &path))?;
                    report.duplicates += u64::from(id != i);
                    report.bytes += size;
                }
            }
            report.files += 1;
        }
    }
    Ok(report)
}

/// 1 MiB: 64 KiB of data, a hole, 64 KiB of data at the end.
fn write_sparse(path: &Path, seed: u64, id: u64) -> io::Result<()> {
    let mut buf = Vec::new();
    content(seed, id, 64 << 10, false, &mut buf);
    let mut f = File::create(path).map_err(|e| with_path(e, path))?;
    f.write_all(&buf).map_err(|e| with_path(e, path))?;
    f.seek(SeekFrom::Start((1 << 20) - (64 << 10)))
        .map_err(|e| with_path(e, path))?;
    f.write_all(&buf).map_err(|e| with_path(e, path))
}

/// Change round `round` (1, 2, …) of a tree made by [`generate`] with the
/// same `files` and `seed`: `percent` of the regular files (every one
/// whose hash says so) get 4 KiB appended or their first 4 KiB rewritten,
/// and `percent / 10` of the file count are added as new files under
/// `new-<round>/`. Rounds are cumulative, in order.
pub fn change(
    root: &Path,
    files: u64,
    seed: u64,
    round: u64,
    percent: f64,
) -> io::Result<GenReport> {
    let mut report = GenReport::default();
    let every = (100.0 / percent.max(0.001)) as u64;
    let mut buf = Vec::new();
    for (dir, first, count) in layout(seed, files) {
        for i in first..first + count {
            if !mix(seed, i, 100 + round).is_multiple_of(every) {
                continue;
            }
            let Kind::Regular { .. } = kind_of(seed, i) else {
                continue;
            };
            let path = root.join(&dir).join(file_name(i));
            content(seed, i ^ (round << 40), 4096, false, &mut buf);
            let mut f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| with_path(e, &path))?;
            if i % 2 == 0 {
                f.seek(SeekFrom::End(0)).map_err(|e| with_path(e, &path))?;
            }
            f.write_all(&buf).map_err(|e| with_path(e, &path))?;
            report.changed += 1;
            report.bytes += 4096;
        }
    }
    let new = (files as f64 * percent / 1000.0) as u64;
    if new > 0 {
        let dir = root.join(format!("new-{round}"));
        fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        report.dirs += 1;
        for k in 0..new {
            let id = (round << 48) | k;
            let size = size_of(mix(seed, id, 4));
            content(seed, id, size, k % 2 == 0, &mut buf);
            let path = dir.join(file_name(k));
            fs::write(&path, &buf).map_err(|e| with_path(e, &path))?;
            report.files += 1;
            report.bytes += size;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;

    fn tree(root: &Path) -> HashMap<PathBuf, (u64, Vec<u8>)> {
        let mut out = HashMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let m = fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_path_buf();
                    out.insert(rel, (m.nlink(), fs::read(&p).unwrap()));
                }
            }
        }
        out
    }

    #[test]
    fn the_same_seed_makes_the_same_tree_and_the_shape_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let ra = generate(&a, 5_000, 7).unwrap();
        let rb = generate(&b, 5_000, 7).unwrap();
        assert_eq!(ra, rb);
        assert_eq!(tree(&a), tree(&b));
        assert_eq!(ra.files, 5_000);
        assert!(ra.hardlinks > 5 && ra.hardlinks < 60, "{ra:?}");
        assert!(ra.duplicates > 200 && ra.duplicates < 800, "{ra:?}");
        assert!(ra.sparse >= 1 && ra.sparse < 20, "{ra:?}");
        let mean = ra.bytes / ra.files;
        assert!((1_500..12_000).contains(&mean), "mean {mean}");
        let c = dir.path().join("c");
        generate(&c, 5_000, 8).unwrap();
        assert_ne!(tree(&a), tree(&c));
    }

    #[test]
    fn a_change_round_changes_about_the_share_asked_and_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        generate(&a, 4_000, 3).unwrap();
        generate(&b, 4_000, 3).unwrap();
        let before = tree(&a);
        let r = change(&a, 4_000, 3, 1, 1.0).unwrap();
        change(&b, 4_000, 3, 1, 1.0).unwrap();
        let after = tree(&a);
        assert_eq!(after, tree(&b));
        assert!(r.changed >= 15 && r.changed <= 70, "{r:?}");
        assert_eq!(r.files, 4);
        let differ = before
            .iter()
            .filter(|(p, v)| after.get(*p) != Some(v))
            .count();
        assert!(differ as u64 >= r.changed, "{differ} {r:?}");
    }

    #[test]
    fn a_large_tree_has_one_wide_directory() {
        let l = layout(1, 10 * WIDE_DIR_FILES);
        assert_eq!(l[0], (PathBuf::from("wide"), 0, WIDE_DIR_FILES));
        assert_eq!(l.iter().map(|d| d.2).sum::<u64>(), 10 * WIDE_DIR_FILES);
        assert!(l.iter().skip(1).all(|d| d.2 <= 200));
    }
}
