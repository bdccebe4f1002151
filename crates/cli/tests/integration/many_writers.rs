//! Many writers into one S3 repository (FORMAT.md §16, §19): eight hosts
//! back up at the same time, each with its own `--host`, source tree and
//! cache, as separate machines would. Hosts 0–3 back up the same data (one
//! seed: it dedups across hosts while all four store it at once), hosts 4–7
//! data of their own. Two rounds: the initial backups, then, after a change
//! round of every tree, incremental backups while `forget` removes host 7's
//! first snapshot and `prune` (default grace period: backups are running)
//! condemns what no snapshot uses at that moment. Host 7 does round 2 over
//! a slow link (a proxy holds back every answer), and prune starts once it
//! has loaded the index: so prune always meets a backup that loaded the
//! index before it and saves its snapshot after it, deduplicating against
//! the packs of the forgotten snapshot, which prune condemns. (The other
//! backups run beside forget, and beside prune when they are slow enough.)
//!
//! Afterwards, with nothing running: every command exited 0, `check
//! --read-data` finds no error, every host's latest snapshot restores to
//! its tree as the second round backed it up, and the repository lists the
//! sixteen snapshots minus the forgotten one, each with its host. Then the
//! next prune (the grace period over: `--now`, as nothing runs) must put
//! back what the snapshots saved during the first one need, and all of it
//! holds again.

use crate::support::{Backend, Coffer, Out, arg, clip, restored};
use coffer_testkit::fault_proxy::{FaultProxy, Faults};
use coffer_testkit::{CompareOptions, compare_trees, tree_gen};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const HOSTS: usize = 8;
/// Files in each host's tree.
const FILES: u64 = 1_500;
/// Each host's `tree_gen` seed: hosts 0–3 share one, hosts 4–7 have one
/// each.
const SEEDS: [u64; HOSTS] = [1, 1, 1, 1, 2, 3, 4, 5];
/// Share of the files the change round before round 2 modifies (and a
/// tenth of that many added).
const CHANGE_PERCENT: f64 = 10.0;
/// The host whose first snapshot `forget` removes during round 2.
const FORGOTTEN_HOST: usize = 7;
/// The host whose round-2 backup goes over a slow link, so that `prune`
/// always runs while it is under way.
const SLOW_HOST: usize = FORGOTTEN_HOST;
/// How long the slow link holds back each answer. The backup makes some 45
/// requests one after the other, over 20 of them after it has loaded the
/// index: prune (half a second) has seconds to run in between.
const SLOW_DELAY: Duration = Duration::from_millis(150);
/// The kinds of request (by the object they are for) a backup makes while
/// it opens the repository and loads the index; the first of any other
/// kind comes after (pack headers, snapshots), and its snapshot much later.
const OPENING: [&str; 4] = ["config", "keys", "list", "index"];

/// One simulated machine.
struct Host {
    name: String,
    src: PathBuf,
    seed: u64,
    /// Its own cache, as on a machine of its own.
    cache: PathBuf,
}

fn hosts(c: &Coffer) -> Vec<Host> {
    (0..HOSTS)
        .map(|h| Host {
            name: format!("host-{h}"),
            src: c.path(&format!("src/host-{h}")),
            seed: SEEDS[h],
            cache: c.path(&format!("cache/host-{h}")),
        })
        .collect()
}

/// One run of the binary, with when it ran (from the start of the test).
struct Ran {
    what: String,
    start: Duration,
    end: Duration,
    out: Out,
}

fn timed(t0: Instant, what: String, run: impl FnOnce() -> Out) -> Ran {
    let start = t0.elapsed();
    let out = run();
    Ran {
        what,
        start,
        end: t0.elapsed(),
        out,
    }
}

/// `backup --json` of host `h`, through `endpoint` when given.
fn backup(c: &Coffer, h: &Host, endpoint: Option<&str>, t0: Instant) -> Ran {
    let mut env = vec![("COFFER_CACHE_DIR", arg(&h.cache))];
    env.extend(endpoint.map(|e| ("AWS_ENDPOINT_URL", e)));
    let link = if endpoint.is_some() { " (slow)" } else { "" };
    timed(t0, format!("backup {}{link}", h.name), || {
        c.run_env(&["backup", "--json", "--host", &h.name, arg(&h.src)], &env)
    })
}

/// The slow link of [`SLOW_HOST`]: a proxy in front of the test server
/// that holds back every answer [`SLOW_DELAY`] (after forwarding the
/// request: a PUT is stored at once and answered late).
fn slow_link(c: &Coffer) -> FaultProxy {
    let upstream = &c.s3.as_ref().expect("an S3 repository").endpoint;
    let faults = Faults {
        slow: 1.0,
        slow_delay: SLOW_DELAY,
        ..Faults::none()
    };
    FaultProxy::start(upstream, faults)
}

/// `forget ID` at once; then `prune --json` as soon as the backup over the
/// slow link has loaded the index (its first request of a kind not in
/// [`OPENING`]), so prune runs between its index load and its snapshot.
/// (Each takes the exclusive lock; backups take none, so nothing here
/// waits for them.)
fn maintenance(c: &Coffer, forget: &str, link: &FaultProxy, t0: Instant) -> Vec<Ran> {
    let forgot = timed(t0, format!("forget {}", &forget[..8]), || {
        c.run(&["forget", forget])
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let opened = || {
        let kinds = link.stats().by_object;
        kinds.keys().any(|k| !OPENING.contains(&k.as_str()))
    };
    while !opened() {
        assert!(
            Instant::now() < deadline,
            "the backup over the slow link did not get past loading the index in 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pruned = timed(t0, "prune".into(), || c.run(&["prune", "--json"]));
    vec![forgot, pruned]
}

/// Every host's backup at once. In round 2 (`forget` set) [`SLOW_HOST`]
/// backs up over a slow link, and `forget`, then `prune`, run beside them.
/// Returns the backups (in host order) and the maintenance runs.
fn round(c: &Coffer, hosts: &[Host], forget: Option<&str>, t0: Instant) -> (Vec<Ran>, Vec<Ran>) {
    let slow = forget.map(|_| slow_link(c));
    let slow = slow.as_ref();
    let endpoint = slow.map(FaultProxy::endpoint);
    std::thread::scope(|s| {
        let backups: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let via = endpoint.as_deref().filter(|_| i == SLOW_HOST);
                s.spawn(move || backup(c, h, via, t0))
            })
            .collect();
        let maint = forget
            .zip(slow)
            .map(|(id, slow)| s.spawn(move || maintenance(c, id, slow, t0)));
        let backups = backups.into_iter().map(|t| t.join().unwrap()).collect();
        let maint = maint.map_or_else(Vec::new, |t| t.join().unwrap());
        (backups, maint)
    })
}

/// Asserts every run exited 0 (all of them reported before failing) and
/// returns each backup's `--json` summary.
#[track_caller]
fn all_ok(runs: &[Ran]) -> Vec<Value> {
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.out.code != 0)
        .map(|r| {
            format!(
                "`{}` ({}) exited {}\n{}",
                r.what,
                r.out.what,
                r.out.code,
                r.out.show()
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    runs.iter()
        .filter(|r| r.what.starts_with("backup "))
        .map(|r| {
            let v = r.out.json();
            assert_eq!(v["message_type"], "summary", "{}: {v}", r.what);
            v
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// One line per backup: when it ran, its requests and what it added.
fn print_round(title: &str, backups: &[Ran], summaries: &[Value], maint: &[Ran]) {
    eprintln!("{title}:");
    for (r, v) in backups.iter().zip(summaries) {
        let req = &v["requests"];
        let kind = |k: &str| req["by_kind"][k].as_u64().unwrap_or(0);
        let sum = &v["summary"];
        eprintln!(
            "  {:<20} {:>6}..{:<6} requests {:>4} (PUT {:>3} GET {:>3} HEAD {:>2} LIST {:>2} DELETE {:>2}) \
             sent {:>9} B; files new {:>4} changed {:>3}; blobs new {:>4}, stored {:>9} B",
            r.what,
            ms(r.start),
            ms(r.end),
            req["total"],
            kind("PUT"),
            kind("GET"),
            kind("HEAD"),
            kind("LIST"),
            kind("DELETE"),
            req["bytes_sent"],
            sum["files_new"],
            sum["files_changed"],
            sum["blobs_new"],
            sum["bytes_stored"],
        );
    }
    for r in maint {
        eprintln!(
            "  {:<20} {:>6}..{:<6} exit {}",
            r.what,
            ms(r.start),
            ms(r.end),
            r.out.code
        );
    }
}

/// A prune report's counts, for the summary.
fn prune_line(v: &Value) -> String {
    let keys = [
        "snapshots",
        "packs",
        "packs_kept",
        "packs_repacked",
        "packs_condemned",
        "orphans_condemned",
        "packs_resurrected",
        "packs_deleted",
        "packs_pending",
        "index_written",
        "index_deleted",
    ];
    keys.iter()
        .map(|k| format!("{k} {}", v[*k]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn generate_trees(hosts: &[Host]) {
    std::thread::scope(|s| {
        for h in hosts {
            s.spawn(move || {
                tree_gen::generate(&h.src, FILES, h.seed)
                    .unwrap_or_else(|e| panic!("cannot make {}: {e}", h.src.display()))
            });
        }
    });
}

fn change_trees(hosts: &[Host]) {
    for h in hosts {
        tree_gen::change(&h.src, FILES, h.seed, 1, CHANGE_PERCENT)
            .unwrap_or_else(|e| panic!("cannot change {}: {e}", h.src.display()));
    }
}

/// `check --read-data --json`: exit 0 and no error; returns its report.
fn check_read_data(c: &Coffer) -> Value {
    let out = c.run(&["check", "--read-data", "--json"]);
    let report = out.json();
    let errors = report["errors"].as_array().expect("check reports errors");
    assert!(
        out.code == 0 && errors.is_empty(),
        "`{}` exited {} with {} error(s):\n{}",
        out.what,
        out.code,
        errors.len(),
        out.show()
    );
    report
}

/// `snapshots --json`: exactly the snapshots both rounds made but the
/// forgotten one, each with its host and path.
fn check_snapshot_list(c: &Coffer, hosts: &[Host], rounds: [&[Value]; 2], forgotten: &str) {
    let out = c.run(&["snapshots", "--json"]);
    out.ok();
    let list = out.json();
    let list = list.as_array().expect("snapshots --json prints an array");
    let got: BTreeMap<&str, (&str, &str)> = list
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default(),
                (
                    s["host"].as_str().unwrap_or_default(),
                    s["paths"][0].as_str().unwrap_or_default(),
                ),
            )
        })
        .collect();
    let mut want = BTreeMap::new();
    for summaries in rounds {
        for (h, v) in hosts.iter().zip(summaries) {
            let id = v["snapshot_id"].as_str().expect("snapshot_id");
            if id != forgotten {
                want.insert(id, (h.name.as_str(), arg(&h.src)));
            }
        }
    }
    assert_eq!(want.len(), 2 * HOSTS - 1);
    assert_eq!(
        (list.len(), got),
        (want.len(), want.clone()),
        "snapshots --json lists {} snapshot(s):\n{}",
        list.len(),
        clip(&out.stdout)
    );
}

/// Restores each host's round-2 snapshot and compares it with its tree
/// (bytes, types, modes, times, owners, xattrs, hardlinks, holes). Every
/// difference of every host is reported before failing.
fn check_restores(c: &Coffer, hosts: &[Host], round2: &[Value], label: &str) {
    let mut problems = Vec::new();
    for (h, v) in hosts.iter().zip(round2) {
        let id = v["snapshot_id"].as_str().expect("snapshot_id");
        let target = c.path(&format!("restore-{label}/{}", h.name));
        let out = c.restore(id, &target, &[]);
        if out.code != 0 {
            problems.push(format!(
                "{}: `{}` exited {}\n{}",
                h.name,
                out.what,
                out.code,
                out.show()
            ));
            continue;
        }
        let diffs = compare_trees(
            &h.src,
            &restored(&target, &h.src),
            &CompareOptions::for_current_user(),
        );
        if !diffs.is_empty() {
            let lines: Vec<String> = diffs.iter().take(20).map(|d| d.to_string()).collect();
            problems.push(format!(
                "{} (snapshot {id}): {} difference(s):\n{}",
                h.name,
                diffs.len(),
                lines.join("\n")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "restores {label}:\n{}",
        problems.join("\n\n")
    );
}

/// Requests of the backups of one round: (total, min, max).
fn request_totals(summaries: &[Value]) -> (u64, u64, u64) {
    let n: Vec<u64> = summaries
        .iter()
        .map(|v| v["requests"]["total"].as_u64().expect("requests.total"))
        .collect();
    let (min, max) = (n.iter().min(), n.iter().max());
    (n.iter().sum(), *min.unwrap_or(&0), *max.unwrap_or(&0))
}

/// What check says of a blob a snapshot needs that is only in a pack the
/// concurrent prune condemned (a note: readers fall back on such packs).
const ONLY_CONDEMNED: &str = "is only in a pack condemned by prune";

/// Which host and round made the snapshot with this short id.
fn whose(short: &str, round1: &[Value], round2: &[Value]) -> String {
    for (round, summaries) in [(1, round1), (2, round2)] {
        for (h, v) in summaries.iter().enumerate() {
            if v["snapshot_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(short))
            {
                return format!("host-{h} round {round}");
            }
        }
    }
    format!("snapshot {short}")
}

/// check's counts, and its notes: those about blobs only in condemned
/// packs counted by the snapshot whose trees reached them first.
fn print_check(title: &str, report: &Value, round1: &[Value], round2: &[Value]) {
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    eprintln!(
        "{title}: {} snapshots, {} trees, {} packs, {} packs and {} blobs read, 0 errors, \
         {} note(s)",
        report["snapshots"],
        report["trees"],
        report["packs"],
        report["packs_read"],
        report["blobs_read"],
        notes.len()
    );
    let mut condemned: BTreeMap<String, usize> = BTreeMap::new();
    for n in &notes {
        match n
            .split("(snapshot ")
            .nth(1)
            .filter(|_| n.contains(ONLY_CONDEMNED))
        {
            Some(rest) => {
                let short = rest.split(')').next().unwrap_or_default();
                // One note a snapshot: its first blob, "and so are N more".
                let more = n
                    .split("and so are ")
                    .nth(1)
                    .and_then(|m| m.split(' ').next())
                    .and_then(|m| m.parse::<usize>().ok())
                    .unwrap_or(0);
                *condemned.entry(whose(short, round1, round2)).or_default() += 1 + more;
            }
            None => eprintln!("  note: {n}"),
        }
    }
    for (who, blobs) in condemned {
        eprintln!("  note: {blobs} blob(s) of {who} only in packs prune condemned");
    }
}

fn print_repository(c: &Coffer, title: &str) {
    let count = |prefix: &str| c.objects(prefix).len();
    eprintln!(
        "{title}: {} index objects, {} data packs, {} tree packs, {} snapshots, \
         {} prune records, {} locks",
        count("index/"),
        count("data/"),
        count("tree/"),
        count("snapshots/"),
        count("prune/"),
        count("locks/")
    );
}

/// Round 1, the change round, round 2 with forget and prune beside it:
/// each backup's `--json` summary of both rounds.
fn both_rounds(c: &Coffer, hosts: &[Host], t0: Instant) -> (Vec<Value>, Vec<Value>) {
    let (backups1, _) = round(c, hosts, None, t0);
    let round1 = all_ok(&backups1);
    print_round("round 1 (initial backups)", &backups1, &round1, &[]);

    change_trees(hosts);
    let forgotten = round1[FORGOTTEN_HOST]["snapshot_id"]
        .as_str()
        .expect("snapshot_id");
    let (backups2, maint) = round(c, hosts, Some(forgotten), t0);
    let round2 = all_ok(&backups2);
    all_ok(&maint);
    print_round(
        "round 2 (after changes; forget, then prune, beside)",
        &backups2,
        &round2,
        &maint,
    );
    let prune = maint[1].out.json();
    eprintln!("prune: {}", prune_line(&prune));
    let saw = prune["snapshots"].as_u64().unwrap_or_default();
    let after: Vec<&str> = backups2
        .iter()
        .filter(|r| r.end > maint[1].start)
        .map(|r| r.what.as_str())
        .collect();
    eprintln!(
        "prune ran {}..{} and saw {saw} of the {} snapshots; still running when it started: {after:?}",
        ms(maint[1].start),
        ms(maint[1].end),
        2 * HOSTS - 1
    );
    assert!(
        (saw as usize) < 2 * HOSTS - 1,
        "prune saw every snapshot: the backup over the slow link was not running across it"
    );
    (round1, round2)
}

#[test]
fn eight_hosts_back_up_at_once_while_forget_and_prune_run() {
    let t0 = Instant::now();
    let c = Coffer::init_on(Backend::S3);
    let hosts = hosts(&c);
    generate_trees(&hosts);
    let made = t0.elapsed();
    let (round1, round2) = both_rounds(&c, &hosts, t0);
    let forgotten = round1[FORGOTTEN_HOST]["snapshot_id"].as_str().unwrap();
    let (t1, min1, max1) = request_totals(&round1);
    let (t2, min2, max2) = request_totals(&round2);
    eprintln!(
        "requests per backup: round 1 {min1}..{max1} ({t1} in all), round 2 {min2}..{max2} \
         ({t2} in all)"
    );
    let ran = t0.elapsed();

    // Nothing runs any more.
    print_repository(&c, "repository afterwards");
    let report = check_read_data(&c);
    print_check("check --read-data", &report, &round1, &round2);
    check_snapshot_list(&c, &hosts, [&round1, &round2], forgotten);
    check_restores(&c, &hosts, &round2, "after-round-2");

    // The next prune, once the grace period has passed (nothing runs: --now
    // is that): it puts back what the snapshots saved meanwhile need and
    // deletes the rest; everything still checks and restores.
    let next = c.run(&["prune", "--now", "--json"]);
    next.ok();
    eprintln!("next prune (--now): {}", prune_line(&next.json()));
    print_repository(&c, "repository after it");
    let report = check_read_data(&c);
    print_check("check --read-data", &report, &round1, &round2);
    let left: Vec<&Value> = report["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n.as_str().is_some_and(|n| n.contains(ONLY_CONDEMNED)))
        .collect();
    assert!(left.is_empty(), "after the next prune: {left:?}");
    check_snapshot_list(&c, &hosts, [&round1, &round2], forgotten);
    check_restores(&c, &hosts, &round2, "after-next-prune");
    eprintln!(
        "many_writers: trees made in {}, both rounds by {}, everything in {}",
        ms(made),
        ms(ran),
        ms(t0.elapsed())
    );
}
