//! The table of docs/RELIABILITY.md, measured: for each fault of the
//! proxy alone, and for all of them at once, a round of commands runs
//! through coffer_testkit::fault_proxy; then, without the proxy, the
//! repository is checked and every snapshot restored and compared.
//!
//! Ignored in the normal suite (it takes minutes). Run it with
//!
//! ```sh
//! cargo test -p coffer --test integration reliability_table -- --ignored --nocapture
//! ```
//!
//! It prints the table (markdown) and writes it to `$COFFER_RELIABILITY_OUT`
//! when set. By default it runs against the S3 test server
//! (`COFFER_TEST_S3_ENDPOINT`); `COFFER_RELIABILITY_ENDPOINT` (a plain
//! `http://` endpoint: the proxy speaks no TLS) and
//! `COFFER_RELIABILITY_REPO` (`s3://bucket/prefix`, an existing bucket;
//! credentials from the usual AWS variables) point it at any other.

use crate::faults::{TIMEOUT, faults, grow, keep_state};
use crate::support::{Backend, Coffer, S3Repo, arg, restored};
use coffer_testkit::fault_proxy::{FAULTS, FaultProxy, FaultStats, Faults};
use coffer_testkit::{CompareOptions, compare_trees};
use std::fmt::Write;
use std::path::PathBuf;

/// What one row measured.
struct Row {
    fault: String,
    rate: String,
    commands: usize,
    stats: FaultStats,
    retries: u64,
    failures: Vec<String>,
    lost: usize,
}

/// A fresh repository location for one row, on the chosen endpoint.
fn coffer(row: &str) -> (Coffer, String) {
    let endpoint = std::env::var("COFFER_RELIABILITY_ENDPOINT").ok();
    let repo = std::env::var("COFFER_RELIABILITY_REPO").ok();
    let mut c = Coffer::on(Backend::S3);
    if let (Some(endpoint), Some(repo)) = (endpoint, repo) {
        let location = format!("{}/{row}-{:08x}", repo.trim_end_matches('/'), rand_u32());
        let settings = coffer_core::S3Settings {
            endpoint: Some(endpoint.clone()),
            ..Default::default()
        };
        let store = coffer_core::connect_s3(&location, &settings).unwrap();
        c.s3 = Some(S3Repo {
            location,
            endpoint,
            store,
        });
    }
    let upstream = c.s3.as_ref().unwrap().endpoint.clone();
    (c, upstream)
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// The retries a `-v` run printed.
fn count_retries(stderr: &str) -> u64 {
    stderr.lines().filter(|l| l.starts_with("retry: ")).count() as u64
}

fn run_row(fault: &str, f: Faults, rate: String) -> Row {
    let (mut c, upstream) = coffer(fault);
    let proxy = FaultProxy::start(&upstream, f);
    c.s3.as_mut().unwrap().endpoint = proxy.endpoint();
    let src = c.path("src");
    let mut retries = 0;
    let mut failures = Vec::new();
    let mut commands = 0;
    let mut snapshots: Vec<(String, PathBuf)> = Vec::new();
    let mut step = |c: &Coffer, args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["-v"];
        all.extend_from_slice(args);
        let mut env = env.to_vec();
        env.push(("COFFER_S3_TIMEOUT", TIMEOUT));
        let out = c.run_env(&all, &env);
        commands += 1;
        retries += count_retries(&out.stderr);
        if out.code != 0 {
            failures.push(format!("{}: {}", args[0], out.stderr.trim()));
        }
        out
    };
    step(&c, &["init"], &[]);
    for round in 0..3 {
        grow(&src, round);
        let out = step(&c, &["backup", "--json", arg(&src)], &[]);
        if out.code == 0 {
            let state = c.path(&format!("state{round}"));
            keep_state(&src, &state);
            let id = out.json()["snapshot_id"].as_str().unwrap().to_string();
            snapshots.push((id, state));
        }
    }
    if let Some((id, _)) = snapshots.last() {
        let target = c.path("restore-faulty");
        step(&c, &["restore", id, "--target", arg(&target)], &[]);
    }
    step(&c, &["check", "--read-data"], &[]);
    let forget = step(&c, &["forget", "--keep-last", "2", "--prune"], &[]);
    if forget.code == 0 && snapshots.len() > 2 {
        snapshots.remove(0);
    }
    step(&c, &["prune", "--now"], &[]);
    step(
        &c,
        &["key", "add"],
        &[("COFFER_NEW_PASSWORD", "second password")],
    );
    let archive = format!("{}-archive/src.tar.zst", c.s3.as_ref().unwrap().location);
    step(&c, &["archive", arg(&src), "--to", &archive], &[]);
    step(&c, &["import", &archive], &[]);
    if let Some((id, _)) = snapshots.last() {
        let exported = c.path("export.tar");
        step(&c, &["export", id, "-o", arg(&exported)], &[]);
    }
    let stats = proxy.stats();
    drop(proxy);
    c.s3.as_mut().unwrap().endpoint = upstream;
    // Data lost: a snapshot a command reported that does not come back
    // exactly, or a repository check that fails.
    let mut lost = usize::from(c.run(&["check", "--read-data"]).code != 0);
    for (id, state) in &snapshots {
        let target = c.path(&format!("restore-{id}"));
        let out = c.restore(id, &target, &[]);
        let same = out.code == 0
            && compare_trees(
                state,
                &restored(&target, &src),
                &CompareOptions::for_current_user(),
            )
            .is_empty();
        lost += usize::from(!same);
    }
    Row {
        fault: fault.to_string(),
        rate,
        commands,
        stats,
        retries,
        failures,
        lost,
    }
}

#[test]
#[ignore = "minutes long: produces docs/RELIABILITY.md's table (see the module doc)"]
fn reliability_table() {
    let mut rows = Vec::new();
    for fault in FAULTS {
        // Slow answers each cost a whole timeout: a lower rate keeps the
        // row to a minute.
        let rate = if fault == "slow" { 0.05 } else { 0.30 };
        let mut f = Faults::only(fault, rate);
        f.slow_delay = faults().slow_delay;
        rows.push(run_row(fault, f, format!("{:.0} %", rate * 100.0)));
    }
    let all = faults();
    let rates: Vec<String> = FAULTS
        .iter()
        .map(|f| format!("{:.0}", all.rate(f) * 100.0))
        .collect();
    rows.push(run_row(
        "all at once",
        all,
        format!("{} %", rates.join("/")),
    ));
    let mut t = String::from(
        "| fault | rate | commands | requests | faults injected | retries | failed commands | data lost |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.fault,
            r.rate,
            r.commands,
            r.stats.requests,
            r.stats.total_faults(),
            r.retries,
            r.failures.len(),
            r.lost
        )
        .unwrap();
    }
    println!("{t}");
    for r in &rows {
        for f in &r.failures {
            println!("{}: {f}", r.fault);
        }
    }
    if let Ok(path) = std::env::var("COFFER_RELIABILITY_OUT") {
        std::fs::write(&path, &t).unwrap();
    }
    assert!(rows.iter().all(|r| r.lost == 0), "data lost:\n{t}");
}
