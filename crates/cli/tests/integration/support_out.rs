//! The result of one run of the `coffer` binary, and the checks every
//! test makes on it (exit code, no panic, JSON, one-line errors).

use super::clip;
use serde_json::Value;
use std::process::Output;

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Out {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from_output(what: String, out: Output) -> Out {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or_else(|| {
            panic!(
                "`{what}` was killed by a signal ({:?})\nstderr:\n{stderr}",
                out.status
            )
        });
        let o = Out {
            what,
            code,
            stdout,
            stderr,
        };
        assert!(
            !o.stderr.contains("panicked") && code != 101,
            "`{}` panicked:\n{}",
            o.what,
            o.stderr
        );
        o
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            expected,
            "`{}` exited {} (expected {expected})\n{}",
            self.what,
            self.code,
            self.show()
        );
        self
    }

    /// Asserts a non-zero exit code.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert_ne!(
            self.code,
            0,
            "`{}` should have failed\n{}",
            self.what,
            self.show()
        );
        self
    }

    /// stdout and stderr for a failure message, each clipped to a few KiB.
    pub fn show(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }

    /// stdout and stderr together, for "does the output name X" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// stdout as one JSON document; after status lines (a long backup or
    /// restore prints one a second), the last line.
    #[track_caller]
    pub fn json(&self) -> Value {
        let last = self.stdout.trim_end().lines().last().unwrap_or("");
        serde_json::from_str(&self.stdout)
            .or_else(|_| serde_json::from_str(last))
            .unwrap_or_else(|e| {
                panic!(
                    "`{}` printed invalid JSON ({e}):\n{}",
                    self.what, self.stdout
                )
            })
    }

    /// stdout as JSON lines (one document per non-empty line).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("`{}` printed an invalid JSON line ({e}): {l}", self.what)
                })
            })
            .collect()
    }

    /// Asserts stderr is exactly one line (an error message) and returns it.
    #[track_caller]
    pub fn one_line_error(&self) -> &str {
        let err = self.stderr.trim_end();
        assert!(
            !err.is_empty() && !err.contains('\n'),
            "`{}` should print one line on stderr, printed:\n{}",
            self.what,
            self.stderr
        );
        assert!(
            err.contains("error"),
            "`{}`: not an error message: {err}",
            self.what
        );
        err
    }
}
