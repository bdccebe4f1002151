//! Rendering progress: a status line on a terminal (files, bytes, rate,
//! current file), refreshed twice a second on stderr; nothing on a pipe
//! unless asked. Warnings always go to stderr, one line each (JSON lines
//! with `--json`).

use crate::output::size;
use coffer_core::progress::Progress;
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
    current: Mutex<PathBuf>,
    done: AtomicBool,
}

/// The CLI's progress sink for backup and restore.
pub struct Reporter {
    json: bool,
    counters: Arc<Counters>,
    render: Option<std::thread::JoinHandle<()>>,
    /// Whether a status line is on screen (to clear it before a warning).
    live: bool,
}

impl Reporter {
    /// `verb` names the work ("backed up", "restored"). The status line is
    /// drawn only when stderr is a terminal and neither --quiet nor --json.
    pub fn new(json: bool, quiet: bool, verb: &'static str) -> Self {
        let counters = Arc::new(Counters::default());
        let live = !json && !quiet && std::io::stderr().is_terminal();
        let render = live.then(|| {
            let c = Arc::clone(&counters);
            std::thread::spawn(move || draw_loop(&c, verb))
        });
        Reporter {
            json,
            counters,
            render,
            live,
        }
    }

    /// Stops the status line and clears it.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.counters.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.render.take() {
            let _ = h.join();
            eprint!("\r\x1b[2K");
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn draw_loop(c: &Counters, verb: &str) {
    let start = Instant::now();
    while !c.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let secs = start.elapsed().as_secs_f64().max(0.001);
        let read = c.bytes_read.load(Ordering::Relaxed);
        let current = c
            .current
            .lock()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut line = format!(
            "[{:>4.0}s] {} files {verb}, {} read ({}/s), {} total  {}",
            secs,
            c.files.load(Ordering::Relaxed),
            size(read),
            size((read as f64 / secs) as u64),
            size(c.bytes_seen.load(Ordering::Relaxed)),
            current
        );
        // Keep to one terminal line (80 columns is the safe width).
        if line.chars().count() > 79 {
            line = line.chars().take(78).collect::<String>() + "…";
        }
        eprint!("\r\x1b[2K{line}");
        let _ = std::io::stderr().flush();
    }
}

impl Progress for Reporter {
    fn entry_done(&self, path: &Path, bytes_read: u64, size: u64) {
        self.counters.files.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_read
            .fetch_add(bytes_read, Ordering::Relaxed);
        self.counters.bytes_seen.fetch_add(size, Ordering::Relaxed);
        if self.live
            && let Ok(mut p) = self.counters.current.try_lock()
        {
            *p = path.to_path_buf();
        }
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

    fn changed_while_reading(&self, path: &Path) {
        self.warning(
            path,
            &format!("file changed while it was read: {}", path.display()),
        );
    }
}
