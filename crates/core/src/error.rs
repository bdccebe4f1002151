//! One public error type: a kind (which maps to a documented exit code),
//! what went wrong, where (a path or an object key), and the source.
//! Printed as one line: `what: where: source`.

use std::fmt;

/// The few kinds of failure a caller may act on. Each maps to an exit code
/// (see docs/EXIT-CODES.md); the mapping is part of coffer's stable interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else that stops the command (I/O, bad arguments, ...).
    Fatal,
    /// The repository does not exist at the given location.
    NoRepository,
    /// The repository is locked by another process (prune/check only).
    Locked,
    /// No key of the repository opens with the given password.
    WrongPassword,
    /// Bytes read from the repository failed authentication or decoding.
    Corrupt,
    /// An object or item that was asked for does not exist.
    NotFound,
    /// An object that is only ever created already exists.
    AlreadyExists,
    /// The repository or object uses a format this version cannot read.
    Unsupported,
    /// The user's input (arguments, patterns, ids) is not valid.
    InvalidInput,
    /// Data the command needs is in an archive storage class (GLACIER,
    /// DEEP_ARCHIVE) and not restored yet.
    Cold,
}

impl Kind {
    /// The process exit code for an error of this kind.
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::NoRepository => 10,
            Kind::Locked => 11,
            Kind::WrongPassword => 12,
            Kind::Cold => 13,
            _ => 1,
        }
    }
}

/// Exit code of a backup that finished but could not read some files.
pub const EXIT_INCOMPLETE: i32 = 3;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// coffer's error: kind + what + where + source, one line when printed.
pub struct Error {
    kind: Kind,
    what: String,
    location: Option<String>,
    source: Option<Source>,
    transient: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, what: impl Into<String>) -> Self {
        Error {
            kind,
            what: what.into(),
            location: None,
            source: None,
            transient: false,
        }
    }

    /// An error of `kind` about `location` (a path or an object key).
    pub fn at(kind: Kind, what: impl Into<String>, location: impl fmt::Display) -> Self {
        Error::new(kind, what).with_location(location)
    }

    /// A worker thread's panic as an error: `who` ("a file reader") and
    /// the panic's message. Workers are run under `catch_unwind` so that a
    /// bug in one stops the command with one line, not a cascade of panics.
    pub fn from_panic(who: &str, payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Error::fatal(format!("internal error: {who} panicked ({message})"))
    }

    pub fn fatal(what: impl Into<String>) -> Self {
        Error::new(Kind::Fatal, what)
    }

    pub fn corrupt(what: impl Into<String>, location: impl fmt::Display) -> Self {
        Error::at(Kind::Corrupt, what, location)
    }

    pub fn invalid(what: impl Into<String>) -> Self {
        Error::new(Kind::InvalidInput, what)
    }

    /// An I/O error on `path`; not-found and already-exists keep their kind.
    pub fn io(what: impl Into<String>, path: impl fmt::Display, e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => Kind::NotFound,
            std::io::ErrorKind::AlreadyExists => Kind::AlreadyExists,
            _ => Kind::Fatal,
        };
        let transient = matches!(
            e.kind(),
            std::io::ErrorKind::Interrupted
                | std::io::ErrorKind::TimedOut
                | std::io::ErrorKind::WouldBlock
        );
        let mut err = Error::at(kind, what, path).with_source(e);
        err.transient = transient;
        err
    }

    pub fn with_location(mut self, location: impl fmt::Display) -> Self {
        self.location = Some(location.to_string());
        self
    }

    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub fn transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Whether trying again may succeed (network hiccup, throttling).
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)?;
        if let Some(loc) = &self.location {
            write!(f, ": {loc}")?;
        }
        if let Some(src) = &self.source {
            // Keep the whole chain on one line.
            let mut s: Option<&(dyn std::error::Error + 'static)> = Some(src.as_ref());
            while let Some(e) = s {
                let text = e.to_string();
                if !text.is_empty() {
                    write!(f, ": {}", text.replace('\n', " "))?;
                }
                s = e.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self)
    }
}

/// The cause is kept, for callers that look at it (downcast to an
/// `io::Error`, walk the chain); `Display` prints the chain too, on the
/// same line, because that one line is what a user sees.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Starts `f` on a thread of the scope `s`. A thread the OS refuses to
/// start (a process or memory limit) is an error naming `who`, not the
/// panic `Scope::spawn` would raise.
pub fn spawn_scoped<'s, 'e, T: Send + 's>(
    s: &'s std::thread::Scope<'s, 'e>,
    who: &str,
    f: impl FnOnce() -> T + Send + 's,
) -> Result<std::thread::ScopedJoinHandle<'s, T>> {
    std::thread::Builder::new()
        .spawn_scoped(s, f)
        .map_err(|e| Error::io("cannot start a thread", who, e))
}

/// Runs `f(0..n)` on `threads` threads, each taking the next index: the
/// calling thread and `threads - 1` helpers. A helper the OS refuses to
/// start (a process limit) leaves its share to the others.
pub fn parallel(threads: usize, n: usize, f: impl Fn(usize) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= n {
                break;
            }
            f(i);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.min(n.max(1)) {
            if std::thread::Builder::new().spawn_scoped(s, work).is_err() {
                break;
            }
        }
        work();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_cause_for_callers_to_inspect() {
        use std::error::Error as _;
        let io = std::io::Error::from_raw_os_error(28);
        let e = Error::io("cannot write", "/x", io);
        let cause = e.source().expect("a source");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error");
        assert_eq!(io.raw_os_error(), Some(28));
        assert!(Error::fatal("no cause").source().is_none());
    }

    #[test]
    fn prints_one_line_with_location_and_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied");
        let e = Error::io("cannot read file", "/etc/shadow", io);
        assert_eq!(
            e.to_string(),
            "cannot read file: /etc/shadow: Permission denied"
        );
        assert_eq!(e.kind(), Kind::Fatal);
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn kinds_map_to_documented_exit_codes() {
        assert_eq!(Kind::NoRepository.exit_code(), 10);
        assert_eq!(Kind::Locked.exit_code(), 11);
        assert_eq!(Kind::WrongPassword.exit_code(), 12);
        assert_eq!(Kind::Corrupt.exit_code(), 1);
    }
}
