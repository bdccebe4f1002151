//! One difference between two trees, printed as one line:
//! `<relative path>: <what differs>`, with bytes that are not printable
//! ASCII escaped so names with newlines stay on their line.

use super::Side;
use rustix::fs::FileType;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Relative to the compared roots; `.` is the roots themselves.
    pub path: PathBuf,
    pub what: What,
}

/// What differs; `a` is the first tree's value, `b` the second's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    OnlyInA,
    OnlyInB,
    Type {
        a: FileType,
        b: FileType,
    },
    Size {
        a: u64,
        b: u64,
    },
    /// Same size, different bytes from `offset` on.
    Content {
        offset: u64,
    },
    SymlinkTarget {
        a: Vec<u8>,
        b: Vec<u8>,
    },
    /// Permission bits, `0o7777`.
    Mode {
        a: u32,
        b: u32,
    },
    /// (uid, gid).
    Owner {
        a: (u32, u32),
        b: (u32, u32),
    },
    /// (seconds, nanoseconds).
    Mtime {
        a: (i64, u64),
        b: (i64, u64),
    },
    Device {
        a: u64,
        b: u64,
    },
    /// `None` where the attribute is absent.
    Xattr {
        name: Vec<u8>,
        a: Option<Vec<u8>>,
        b: Option<Vec<u8>>,
    },
    /// All names of this entry's inode within each tree, sorted.
    Hardlinks {
        a: Vec<PathBuf>,
        b: Vec<PathBuf>,
    },
    /// Allocated bytes: `b` fills holes that `a` has.
    Allocated {
        a: u64,
        b: u64,
    },
    /// The entry could not be read, so it was not compared.
    Unreadable {
        side: Side,
        error: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            escape(self.path.as_os_str().as_bytes()),
            self.what
        )
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::OnlyInA => write!(f, "only in a"),
            What::OnlyInB => write!(f, "only in b"),
            What::Type { a, b } => write!(f, "type {a:?} != {b:?}"),
            What::Size { a, b } => write!(f, "size {a} != {b}"),
            What::Content { offset } => write!(f, "content differs from byte {offset}"),
            What::SymlinkTarget { a, b } => {
                write!(f, "symlink target \"{}\" != \"{}\"", escape(a), escape(b))
            }
            What::Mode { a, b } => write!(f, "mode {a:04o} != {b:04o}"),
            What::Owner { a, b } => write!(f, "owner {}:{} != {}:{}", a.0, a.1, b.0, b.1),
            What::Mtime { a, b } => {
                write!(f, "mtime {}.{:09} != {}.{:09}", a.0, a.1, b.0, b.1)
            }
            What::Device { a, b } => {
                let (ma, na) = (rustix::fs::major(*a), rustix::fs::minor(*a));
                let (mb, nb) = (rustix::fs::major(*b), rustix::fs::minor(*b));
                write!(f, "device {ma}:{na} != {mb}:{nb}")
            }
            What::Xattr { name, a, b } => {
                let show = |v: &Option<Vec<u8>>| match v {
                    None => "absent".to_string(),
                    Some(v) => format!("\"{}\"", escape(v)),
                };
                write!(f, "xattr {} {} != {}", escape(name), show(a), show(b))
            }
            What::Hardlinks { a, b } => {
                let show = |v: &[PathBuf]| {
                    let names: Vec<String> =
                        v.iter().map(|p| escape(p.as_os_str().as_bytes())).collect();
                    format!("[{}]", names.join(", "))
                };
                write!(f, "hardlinks {} != {}", show(a), show(b))
            }
            What::Allocated { a, b } => {
                write!(
                    f,
                    "allocated {b} bytes, more than the original's {a} (holes filled)"
                )
            }
            What::Unreadable { side, error } => write!(f, "cannot read in {side:?}: {error}"),
        }
    }
}

/// Printable ASCII as is (`\` doubled), everything else as `\xNN`, so
/// output stays one line and shows the exact bytes. Very long values keep
/// their head and tail (where names differ) and say how long they are.
pub fn escape(bytes: &[u8]) -> String {
    // Enough to recognise a path or a value; a PATH_MAX path in full would
    // drown the report.
    const HEAD: usize = 120;
    const TAIL: usize = 360;
    if bytes.len() > HEAD + TAIL {
        let (head, tail) = (&bytes[..HEAD], &bytes[bytes.len() - TAIL..]);
        return format!("{}…({} bytes)…{}", escape(head), bytes.len(), escape(tail));
    }
    let mut out = String::new();
    for &c in bytes {
        match c {
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out
}
