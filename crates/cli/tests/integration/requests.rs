//! The S3 requests a command reports in its `--json` summary are the ones
//! that reached the server: a loopback proxy without faults, in front of
//! the S3 test server, counts them independently. Bytes sent cover at least
//! what the backup stored; a restore sends no object.

use crate::support::{Backend, Coffer, assert_restored, restored, write};
use coffer_testkit::fault_proxy::{FaultProxy, Faults};
use coffer_testkit::fixture::pseudo_random;
use serde_json::Value;

/// The `requests` object of a summary: (total, by kind, bytes sent, received).
fn requests(summary: &Value) -> (u64, Value, u64, u64) {
    let r = &summary["requests"];
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("no {k} in {r}"));
    (
        n("total"),
        r["by_kind"].clone(),
        n("bytes_sent"),
        n("bytes_received"),
    )
}

/// Requests the proxy forwarded since `before`.
fn forwarded(proxy: &FaultProxy, before: &mut u64) -> u64 {
    let now = proxy.stats().requests;
    let n = now - *before;
    *before = now;
    n
}

#[test]
fn summaries_count_the_requests_that_reach_s3() {
    let mut c = Coffer::on(Backend::S3);
    let upstream = c.s3.as_ref().unwrap().endpoint.clone();
    let proxy = FaultProxy::start(&upstream, Faults::none());
    c.s3.as_mut().unwrap().endpoint = proxy.endpoint();
    let src = c.path("src");
    write(&src.join("big.bin"), pseudo_random(7, 3_000_000));
    for i in 0..20 {
        write(&src.join(format!("small/{i}.txt")), format!("file {i}\n"));
    }
    c.run(&["init"]).ok();
    let mut seen = proxy.stats().requests;

    let first = c.backup(&[&src], &[]);
    let (total, kinds, sent, _) = requests(&first);
    assert_eq!(total, forwarded(&proxy, &mut seen), "{first}");
    let stored = first["summary"]["bytes_stored"].as_u64().unwrap();
    assert!(
        stored > 0 && sent >= stored,
        "sent {sent} < stored {stored}"
    );
    let by = |k: &str| kinds[k].as_u64().unwrap_or(0);
    // Data and tree packs, index, snapshot: each a PUT; a backup deletes
    // nothing (it works with put-only credentials).
    assert!(by("PUT") >= 4 && by("DELETE") == 0, "{kinds}");
    assert_eq!(
        total,
        ["PUT", "GET", "HEAD", "LIST", "POST", "DELETE", "OTHER"]
            .iter()
            .map(|k| by(k))
            .sum::<u64>()
    );

    // A no-change backup stores no pack: fewer bytes sent than the first.
    let second = c.backup(&[&src], &[]);
    let (total, _, sent2, _) = requests(&second);
    assert_eq!(total, forwarded(&proxy, &mut seen), "{second}");
    assert!(sent2 < stored, "no-change backup sent {sent2} bytes");

    // A restore (cache dropped) reads the data back: at least its bytes in.
    c.drop_cache();
    let target = c.path("restore");
    let out = c.restore("latest", &target, &["--json"]);
    out.ok();
    let summary = out.json();
    let (total, kinds, _, received) = requests(&summary);
    assert_eq!(total, forwarded(&proxy, &mut seen), "{summary}");
    assert!(received >= 3_000_000, "restore received {received} bytes");
    assert!(kinds["GET"].as_u64().unwrap_or(0) >= 1, "{kinds}");
    assert_restored(&src, &restored(&target, &src));
}
