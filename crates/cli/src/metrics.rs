//! `--metrics-file PATH`: what a run did, in the Prometheus text format,
//! for node_exporter's textfile collector.
//!
//! One file can serve every profile and command: each run replaces only
//! the samples labelled with its own `profile` and `command`, keeps the
//! others, and keeps its own last-success time when it failed. The file
//! is replaced atomically (written under a temporary name in the same
//! directory, then renamed), so the collector never reads half of it.

use coffer_core::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// The metrics, with their help text, in the order they are written.
const METRICS: &[(&str, &str)] = &[
    (
        "coffer_last_run_timestamp_seconds",
        "When the command last finished (Unix time).",
    ),
    (
        "coffer_last_success_timestamp_seconds",
        "When the command last finished with exit code 0 or 3 (Unix time).",
    ),
    (
        "coffer_exit_code",
        "Exit code of the last run (0 ok, 1 error, 3 incomplete, see EXIT-CODES.md).",
    ),
    ("coffer_duration_seconds", "How long the last run took."),
    ("coffer_files_new", "Files the last backup found new."),
    (
        "coffer_files_changed",
        "Files the last backup found changed.",
    ),
    (
        "coffer_files_unchanged",
        "Files the last backup found unchanged.",
    ),
    (
        "coffer_bytes_total",
        "Bytes of the files in the last backup's snapshot.",
    ),
    ("coffer_bytes_read", "Bytes the last backup read."),
    (
        "coffer_bytes_new",
        "Bytes of new data the last backup added (before compression).",
    ),
    (
        "coffer_bytes_added",
        "Bytes the last backup added to the repository (after compression).",
    ),
    (
        "coffer_snapshots_removed",
        "Snapshots the last forget removed.",
    ),
    ("coffer_errors", "Entries the last backup could not read."),
];

/// Values the command reports for this run.
static VALUES: Mutex<BTreeMap<&'static str, f64>> = Mutex::new(BTreeMap::new());

/// Records `value` for metric `name` (one of [`METRICS`]).
pub fn record(name: &'static str, value: f64) {
    debug_assert!(METRICS.iter().any(|(n, _)| *n == name), "{name}");
    if let Ok(mut v) = VALUES.lock() {
        v.insert(name, value);
    }
}

/// Records what a backup did.
pub fn record_backup(sum: &coffer_core::format::snapshot::Summary) {
    record("coffer_files_new", sum.files_new as f64);
    record("coffer_files_changed", sum.files_changed as f64);
    record("coffer_files_unchanged", sum.files_unchanged as f64);
    record("coffer_bytes_total", sum.total_bytes as f64);
    record("coffer_bytes_read", sum.bytes_read as f64);
    record("coffer_bytes_new", sum.bytes_new as f64);
    record("coffer_bytes_added", sum.bytes_stored as f64);
    record("coffer_errors", sum.errors as f64);
}

/// A label value, escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes this run's samples into `path`, keeping every other run's.
pub fn write(
    path: &Path,
    profile: &str,
    command: &str,
    exit_code: i32,
    seconds: f64,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let ours = format!(
        "{{profile=\"{}\",command=\"{}\"}}",
        label(profile),
        label(command)
    );
    // Samples of the file as it is: metric name -> label set -> value.
    let mut samples: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Ok(old) = std::fs::read_to_string(path) {
        for line in old
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let Some(brace) = line.find('{') else {
                continue;
            };
            let Some(close) = line.rfind('}') else {
                continue;
            };
            let name = &line[..brace];
            let labels = &line[brace..=close];
            let value = line[close + 1..].trim();
            samples
                .entry(name.to_string())
                .or_default()
                .insert(labels.to_string(), value.to_string());
        }
    }
    let success = exit_code == 0 || exit_code == coffer_core::EXIT_INCOMPLETE;
    let mut values = VALUES.lock().map(|v| v.clone()).unwrap_or_default();
    values.insert("coffer_last_run_timestamp_seconds", now);
    values.insert("coffer_exit_code", f64::from(exit_code));
    values.insert("coffer_duration_seconds", seconds);
    if success {
        values.insert("coffer_last_success_timestamp_seconds", now);
    }
    // This run replaces its own samples (all of them: a failed backup
    // reports no sizes), except the last success of an earlier run.
    for (name, by_labels) in samples.iter_mut() {
        if name != "coffer_last_success_timestamp_seconds" || success {
            by_labels.remove(&ours);
        }
    }
    for (name, value) in &values {
        samples
            .entry(name.to_string())
            .or_default()
            .insert(ours.clone(), format!("{value}"));
    }
    let mut text = String::new();
    for (name, help) in METRICS {
        let Some(by_labels) = samples.get(*name).filter(|s| !s.is_empty()) else {
            continue;
        };
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in by_labels {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1
        .write_all(text.as_bytes())
        .and_then(|()| tmp.1.sync_all())
        .map_err(|e| Error::io("cannot write the metrics file", tmp.0.display(), e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        Error::io("cannot write the metrics file", path.display(), e)
    })
}

/// A new file next to `path`, readable by the collector (0644).
fn tempfile_in(dir: &Path, path: &Path) -> Result<(std::path::PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for i in 0..100u32 {
        let tmp = dir.join(format!(".{name}.{}-{i}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => {
                // Whatever the umask: the collector runs as another user.
                use std::os::unix::fs::PermissionsExt;
                let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    "cannot write the metrics file",
                    path.display(),
                    e,
                ));
            }
        }
    }
    Err(Error::fatal("cannot make a temporary metrics file").with_location(path.display()))
}
