//! Hand-written, not `indicatif`: it would replace only the terminal
//! drawing, not the counters, phases or JSON status lines below.
//!
//! Rendering progress: a status line on a terminal (files and bytes done
//! of the total, rate, ETA, current file), refreshed twice a second on
//! stderr; nothing on a pipe unless asked: with `--json`, a status line of
//! JSON on stdout every second (as restic's). Warnings always go to
//! stderr, one line each (JSON lines with `--json`).

use crate::output::{one_line, size};
use coffer_core::{FileChange as Change, Progress};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes_read: AtomicU64,
    bytes_seen: AtomicU64,
    /// Bytes of files still being read.
    reading: AtomicU64,
    total_files: AtomicU64,
    total_bytes: AtomicU64,
    /// The totals are final (counting is over).
    totals_final: AtomicBool,
    current: Mutex<PathBuf>,
    done: AtomicBool,
    /// Nothing is drawn before this: the commands made of stages (check,
    /// forget, prune) have nothing to count until their first stage.
    drawing: AtomicBool,
    /// What is counted and what is done to it ("files", "backed up"), and
    /// since when (a new phase starts the clock again).
    stage: Mutex<Stage>,
}

struct Stage {
    unit: &'static str,
    verb: &'static str,
    since: Instant,
}

impl Default for Stage {
    fn default() -> Self {
        Stage {
            unit: "files",
            verb: "done",
            since: Instant::now(),
        }
    }
}

/// What a status shows, read from the counters at one moment.
struct Status {
    unit: &'static str,
    verb: &'static str,
    secs: f64,
    files: u64,
    bytes_read: u64,
    bytes_done: u64,
    total_files: u64,
    total_bytes: u64,
    totals_final: bool,
    current: String,
}

impl Status {
    fn read(c: &Counters) -> Status {
        let (unit, verb, since) = c
            .stage
            .lock()
            .map(|s| (s.unit, s.verb, s.since))
            .unwrap_or(("files", "done", Instant::now()));
        Status {
            unit,
            verb,
            secs: since.elapsed().as_secs_f64().max(0.001),
            files: c.files.load(Ordering::Relaxed),
            bytes_read: c.bytes_read.load(Ordering::Relaxed) + c.reading.load(Ordering::Relaxed),
            bytes_done: c.bytes_seen.load(Ordering::Relaxed) + c.reading.load(Ordering::Relaxed),
            total_files: c.total_files.load(Ordering::Relaxed),
            total_bytes: c.total_bytes.load(Ordering::Relaxed),
            totals_final: c.totals_final.load(Ordering::Relaxed),
            current: c
                .current
                .lock()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// Done as a fraction of the total bytes (of files when all are empty).
    fn fraction(&self) -> Option<f64> {
        if !self.totals_final {
            return None;
        }
        let f = if self.total_bytes > 0 {
            self.bytes_done as f64 / self.total_bytes as f64
        } else if self.total_files > 0 {
            self.files as f64 / self.total_files as f64
        } else {
            return None;
        };
        Some(f.min(1.0))
    }

    /// Seconds left at the rate so far.
    fn remaining(&self) -> Option<u64> {
        let f = self.fraction()?;
        (f > 0.0).then(|| (self.secs * (1.0 - f) / f).round() as u64)
    }

    fn line(&self) -> String {
        let (unit, verb) = (self.unit, self.verb);
        let rate = size((self.bytes_read as f64 / self.secs) as u64);
        let elapsed = clock(self.secs as u64);
        let mut line = match (self.fraction(), self.remaining()) {
            (Some(f), eta) => format!(
                "[{elapsed}] {:.0}%{} {}/{} {unit} {verb}, {}/{}, {rate}/s",
                f * 100.0,
                eta.map(|r| format!(" ETA {}", clock(r)))
                    .unwrap_or_default(),
                self.files,
                self.total_files,
                size(self.bytes_done),
                size(self.total_bytes),
            ),
            (None, _) => format!(
                "[{elapsed}] {} {unit} {verb}, {}, {rate}/s",
                self.files,
                size(self.bytes_done),
            ),
        };
        line += "  ";
        line += &self.current;
        // Keep to one terminal line: a line that wraps is not erased by
        // the next one.
        let width = terminal_width().saturating_sub(1).max(20);
        if line.chars().count() > width {
            line = line.chars().take(width - 1).collect::<String>() + "…";
        }
        line
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "message_type": "status",
            "stage": format!("{} {}", self.unit, self.verb),
            "seconds_elapsed": self.secs as u64,
            "seconds_remaining": self.remaining(),
            "percent_done": self.fraction(),
            "files_done": self.files,
            "total_files": self.total_files,
            "bytes_done": self.bytes_done,
            "total_bytes": self.total_bytes,
            "bytes_read": self.bytes_read,
            "totals_final": self.totals_final,
            "current_file": self.current,
        })
    }
}

/// Columns of the terminal on stderr (80 when it cannot be asked).
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&c| c > 0)
        .unwrap_or(80)
}

/// `h:mm:ss`, or `m:ss` under an hour.
fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Where the files a backup reads are listed, one line each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileList {
    Off,
    /// On stdout: the output of `backup --dry-run`.
    Stdout,
    /// On stderr with the warnings: a log of the run (`-vv`).
    Stderr,
}

/// The CLI's progress sink for backup and restore.
pub struct Reporter {
    json: bool,
    files: FileList,
    counters: Arc<Counters>,
    render: Option<std::thread::JoinHandle<()>>,
    /// Whether a status line is on screen (to clear it before a warning).
    live: bool,
    /// Whether JSON status lines go to stdout.
    status: bool,
    /// `--cold-days`, for the prices of a plan of archived data.
    cold_days: u32,
}

impl Reporter {
    /// `verb` names the work ("backed up", "restored"). The status line is
    /// drawn only when stderr is a terminal and neither --quiet nor --json;
    /// JSON status lines are printed with --json unless --quiet.
    pub fn new(json: bool, quiet: bool, verb: &'static str) -> Self {
        let counters = Arc::new(Counters::default());
        counters.drawing.store(true, Ordering::Relaxed);
        if let Ok(mut s) = counters.stage.lock() {
            s.verb = verb;
        }
        let live = !json && !quiet && std::io::stderr().is_terminal();
        let status = json && !quiet;
        let render = (live || status).then(|| {
            let c = Arc::clone(&counters);
            std::thread::spawn(move || draw_loop(&c, status))
        });
        Reporter {
            json,
            files: FileList::Off,
            counters,
            render,
            live,
            status,
            cold_days: 2,
        }
    }

    /// Prices a plan of archived data for restored copies kept `days` days.
    pub fn cold_days(mut self, days: u32) -> Self {
        self.cold_days = days;
        self
    }

    /// A status line on a terminal only, never JSON status lines: for the
    /// commands whose `--json` output is one document (check, prune, forget).
    /// Nothing is drawn until the command's first stage
    /// ([`Progress::phase`]): `check` without `--read-data` shows nothing.
    pub fn terminal_only(s: &crate::settings::Settings, verb: &'static str) -> Self {
        let r = Reporter::new(false, s.quiet || s.json, verb);
        r.counters.drawing.store(false, Ordering::Relaxed);
        r
    }

    /// Lists each file read (new or modified) as `new /path (size)`, or as
    /// a `verbose_status` JSON line with --json.
    pub fn list_files(mut self, to: FileList) -> Self {
        self.files = to;
        self
    }

    /// Stops the status line and clears it.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.counters.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.render.take() {
            let _ = h.join();
            if self.live {
                eprint!("\r\x1b[2K");
            }
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn draw_loop(c: &Counters, json: bool) {
    let start = Instant::now();
    // COFFER_PROGRESS_INTERVAL_MS: how often (tests and scripts set it).
    let ms = std::env::var("COFFER_PROGRESS_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if json { 1000 } else { 500 });
    let tick = Duration::from_millis(ms);
    let mut next = start + tick;
    while !c.done.load(Ordering::Relaxed) {
        // Wake often enough to stop soon after the work is done.
        std::thread::sleep(tick.min(Duration::from_millis(50)));
        if Instant::now() < next {
            continue;
        }
        next += tick;
        if !c.drawing.load(Ordering::Relaxed) {
            continue;
        }
        let st = Status::read(c);
        if json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", st.json());
            let _ = out.flush();
        } else {
            eprint!("\r\x1b[2K{}", st.line());
            let _ = std::io::stderr().flush();
        }
    }
}

impl Progress for Reporter {
    fn cold(&self, event: &coffer_core::ColdEvent) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
        crate::cold::show(event, self.json, self.cold_days);
    }

    fn entry_done(&self, path: &Path, bytes_read: u64, size: u64) {
        self.counters.files.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_read
            .fetch_add(bytes_read, Ordering::Relaxed);
        self.counters.bytes_seen.fetch_add(size, Ordering::Relaxed);
        if (self.live || self.status)
            && let Ok(mut p) = self.counters.current.try_lock()
        {
            *p = path.to_path_buf();
        }
    }

    fn reading(&self, bytes: u64) {
        self.counters.reading.fetch_add(bytes, Ordering::Relaxed);
    }

    fn reading_done(&self, bytes: u64) {
        let _ = self
            .counters
            .reading
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                Some(r.saturating_sub(bytes))
            });
    }

    fn warning(&self, path: &Path, message: &str) {
        if self.json {
            let line = serde_json::json!({"message_type": "error", "path": path.to_string_lossy(), "error": message});
            eprintln!("{line}");
        } else {
            if self.live {
                eprint!("\r\x1b[2K");
            }
            eprintln!("warning: {message}");
        }
    }

    fn file_read(&self, path: &Path, change: Change, bytes: u64) {
        if self.files == FileList::Off {
            return;
        }
        let action = match change {
            Change::New => "new",
            Change::Modified => "modified",
        };
        let line = if self.json {
            serde_json::json!({"message_type": "verbose_status", "action": action,
                "item": path.to_string_lossy(), "data_size": bytes})
            .to_string()
        } else {
            format!("{action:<8} {} ({})", one_line(path), size(bytes))
        };
        if self.live {
            eprint!("\r\x1b[2K");
        }
        // JSON lines go where the other JSON goes (stdout).
        if self.files == FileList::Stdout || self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn wants_totals(&self) -> bool {
        self.live || self.status
    }

    fn phase(&self, verb: &'static str, unit: &'static str) {
        let c = &self.counters;
        for n in [
            &c.files,
            &c.bytes_read,
            &c.bytes_seen,
            &c.reading,
            &c.total_files,
            &c.total_bytes,
        ] {
            n.store(0, Ordering::Relaxed);
        }
        c.totals_final.store(false, Ordering::Relaxed);
        c.drawing.store(true, Ordering::Relaxed);
        if let Ok(mut s) = c.stage.lock() {
            *s = Stage {
                unit,
                verb,
                since: Instant::now(),
            };
        }
    }

    fn totals(&self, files: u64, bytes: u64, done: bool) {
        self.counters.total_files.store(files, Ordering::Relaxed);
        self.counters.total_bytes.store(bytes, Ordering::Relaxed);
        self.counters.totals_final.store(done, Ordering::Relaxed);
    }

    fn changed_while_reading(&self, path: &Path) {
        self.warning(
            path,
            &format!("file changed while it was read: {}", path.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(bytes_done: u64, current: &str) -> Status {
        Status {
            unit: "files",
            verb: "backed up",
            secs: 10.0,
            files: 3,
            bytes_read: bytes_done,
            bytes_done,
            total_files: 10,
            total_bytes: 1000,
            totals_final: true,
            current: current.to_string(),
        }
    }

    #[test]
    fn the_status_line_never_wraps() {
        let long = format!("/srv/{}", "deep/".repeat(100));
        let line = status(500, &long).line();
        assert!(line.chars().count() < terminal_width(), "{line}");
        assert!(
            line.starts_with("[0:10] 50% ETA 0:10 3/10 files backed up"),
            "{line}"
        );
    }

    #[test]
    fn bytes_of_a_file_being_read_count_once() {
        let r = Reporter::new(false, true, "backed up");
        r.totals(1, 1000, true);
        r.reading(400);
        let st = Status::read(&r.counters);
        assert_eq!(st.bytes_done, 400);
        r.reading_done(400);
        r.entry_done(Path::new("/big"), 1000, 1000);
        let st = Status::read(&r.counters);
        assert_eq!((st.bytes_done, st.files), (1000, 1));
        r.finish();
    }

    #[test]
    fn a_new_phase_counts_from_zero_in_its_own_unit() {
        let r = Reporter::new(false, true, "read");
        r.totals(10, 1000, true);
        r.entry_done(Path::new("/a"), 1000, 1000);
        r.phase("deleted", "packs");
        let st = Status::read(&r.counters);
        assert_eq!((st.files, st.bytes_done, st.total_files), (0, 0, 0));
        assert!(!st.totals_final);
        r.totals(4, 400, true);
        r.entry_done(Path::new("data/ab/cd"), 100, 100);
        let line = Status::read(&r.counters).line();
        assert!(
            line.contains("25%") && line.contains("1/4 packs deleted"),
            "{line}"
        );
        r.finish();
    }
}
