//! `--metrics-file`: the Prometheus text format, checked with Prometheus's
//! own parser (prometheus_client, installed by `.ci/run`); one file for
//! several profiles and commands; a failed run keeps the last success.

use crate::support::{Coffer, arg, write};
use std::path::Path;
use std::process::Command;

/// Every sample of `file` as `name{labels} value` lines, parsed by
/// prometheus_client's text parser (which fails on a malformed file).
fn parse(file: &Path) -> Vec<String> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run the tests through `bash .ci/run`, which installs prometheus_client",
        python.display()
    );
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    assert family.type == "gauge", family
    assert family.documentation, family
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn value(samples: &[String], name_labels: &str) -> Option<f64> {
    samples
        .iter()
        .find_map(|s| s.strip_prefix(name_labels)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn runs_write_prometheus_metrics_that_keep_each_other() {
    let c = Coffer::new();
    c.run(&["init"]).ok();
    let src = c.path("src");
    write(&src.join("a"), "hello");
    write(&src.join("b"), "world!");
    let metrics = c.path("textfile/coffer.prom");
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    let m = arg(&metrics);
    c.run(&["--metrics-file", m, "backup", arg(&src)]).ok();
    let s = parse(&metrics);
    let backup = "{command=backup,profile=}";
    assert_eq!(
        value(&s, &format!("coffer_exit_code{backup}")),
        Some(0.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, &format!("coffer_files_new{backup}")),
        Some(2.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, &format!("coffer_bytes_total{backup}")),
        Some(11.0),
        "{s:?}"
    );
    assert!(value(&s, &format!("coffer_bytes_added{backup}")).unwrap() > 0.0);
    let success = value(
        &s,
        &format!("coffer_last_success_timestamp_seconds{backup}"),
    )
    .unwrap();
    assert!(success > 1.7e9, "{s:?}");

    // Another command keeps the backup's samples.
    c.run(&["--metrics-file", m, "forget", "--keep-last", "5"])
        .ok();
    let s = parse(&metrics);
    assert_eq!(
        value(&s, "coffer_snapshots_removed{command=forget,profile=}"),
        Some(0.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, &format!("coffer_files_new{backup}")),
        Some(2.0),
        "{s:?}"
    );

    // A failed backup: its exit code, no sizes, the last success kept.
    let mut broken = c.command(&["--metrics-file", m, "backup", arg(&src)]);
    broken.env("COFFER_PASSWORD", "wrong password");
    let out = broken.output().unwrap();
    assert_eq!(out.status.code(), Some(12));
    let s = parse(&metrics);
    assert_eq!(
        value(&s, &format!("coffer_exit_code{backup}")),
        Some(12.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, &format!("coffer_files_new{backup}")),
        None,
        "{s:?}"
    );
    assert_eq!(
        value(
            &s,
            &format!("coffer_last_success_timestamp_seconds{backup}")
        ),
        Some(success),
        "{s:?}"
    );
    assert!(value(&s, &format!("coffer_last_run_timestamp_seconds{backup}")).unwrap() >= success);

    // The file is readable by the collector, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&metrics).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    // Nothing else was left in the directory (temporary files renamed).
    assert_eq!(
        std::fs::read_dir(metrics.parent().unwrap())
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_profile_labels_its_samples() {
    let mut c = Coffer::new();
    c.pass_repo = false;
    let src = c.path("src");
    write(&src.join("a"), "x");
    let metrics = c.path("coffer.prom");
    let config = c.path("coffer.toml");
    std::fs::write(
        &config,
        format!(
            "[default]\nmetrics-file = \"{}\"\n\n[profile.web]\nrepo = \"{}\"\npaths = [\"{}\"]\n",
            metrics.display(),
            c.repo.display(),
            src.display()
        ),
    )
    .unwrap();
    let cfg = arg(&config);
    c.run(&["--config", cfg, "--profile", "web", "init"]).ok();
    c.run(&["--config", cfg, "--profile", "web", "backup"]).ok();
    c.run(&["--config", cfg, "--profile", "web", "check"]).ok();
    let s = parse(&metrics);
    assert_eq!(
        value(&s, "coffer_files_new{command=backup,profile=web}"),
        Some(1.0),
        "{s:?}"
    );
    assert_eq!(
        value(&s, "coffer_exit_code{command=check,profile=web}"),
        Some(0.0),
        "{s:?}"
    );
    assert!(s.iter().all(|l| !l.contains("command=init")), "{s:?}");
}
