//! `stats --cost`: every object counted once under the class it was
//! written with (data packs in the class asked for, everything else
//! `STANDARD`), priced as a hand computation with a price file of round
//! numbers says. A local repository is priced as it would be on S3.

use crate::support::{Backend, Coffer, arg, write};
use coffer_core::Store;
use coffer_testkit::fixture::pseudo_random;
use serde_json::{Value, json};

const MIB: u64 = 1 << 20;
const GIB: f64 = (1u64 << 30) as f64;

/// Round prices: STANDARD $1 and STANDARD_IA $0.5 per GB-month, the
/// latter with a 4 MiB minimum object size and 30 days minimum duration.
fn prices() -> Value {
    let class = |storage: f64, min_days: u32, min_object: u64| {
        json!({"storage_gb_month": storage, "put_per_1000": 0.01, "get_per_1000": 0.001,
               "min_days": min_days, "min_object_bytes": min_object,
               "overhead_bytes": 0, "overhead_standard_bytes": 0})
    };
    json!({
        "source": "round test prices",
        "ebs_snapshot_gb_month": 2.0,
        "classes": {"STANDARD": class(1.0, 0, 0), "STANDARD_IA": class(0.5, 30, 4 * MIB)},
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn the_bill_counts_each_class_as_written_and_prices_it_by_hand() {
    let c = Coffer::init_on(Backend::S3);
    let src = c.path("src");
    write(&src.join("big.bin"), pseudo_random(11, 3_000_000));
    for i in 0..10 {
        write(&src.join(format!("small/{i}.txt")), format!("file {i}\n"));
    }
    let summary = c.backup(&[&src], &["--data-storage-class", "STANDARD_IA"]);
    let file = c.path("prices.json");
    std::fs::write(&file, prices().to_string()).unwrap();

    let out = c.run(&["stats", "--cost", "--json", "--price-file", arg(&file)]);
    out.ok();
    let v = out.json();
    assert_eq!(v["prices"], prices(), "the prices used are the file's");
    assert_eq!(v["local"], false);
    let bill = &v["bill"];

    // What the test wrote: data packs in STANDARD_IA, the rest STANDARD.
    let (mut data, mut rest) = (Vec::new(), Vec::new());
    for key in c.objects("") {
        let size = c.object_len(&key) as u64;
        if key.starts_with("data/") {
            data.push(size);
        } else {
            rest.push(size);
        }
    }
    assert!(!data.is_empty() && !rest.is_empty());
    let class = |name: &str| {
        bill["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class"] == name)
            .unwrap_or_else(|| panic!("no {name} in {bill}"))
            .clone()
    };
    let (std, ia) = (class("STANDARD"), class("STANDARD_IA"));
    assert_eq!(std["objects"], rest.len() as u64);
    assert_eq!(std["bytes"], rest.iter().sum::<u64>());
    assert_eq!(ia["objects"], data.len() as u64);
    assert_eq!(ia["bytes"], data.iter().sum::<u64>());
    let ia_billed: u64 = data.iter().map(|&s| s.max(4 * MIB)).sum();
    assert_eq!(ia["billed_bytes"], ia_billed);
    let f = |v: &Value| v.as_f64().unwrap();
    assert!(close(
        f(&std["per_month"]),
        rest.iter().sum::<u64>() as f64 / GIB
    ));
    assert!(close(f(&ia["per_month"]), ia_billed as f64 / GIB * 0.5));
    // Written today: every IA pack is inside its 30 days, for all of them.
    assert_eq!(ia["young_objects"], data.len() as u64);
    assert!(close(f(&ia["early_delete_charge"]), f(&ia["per_month"])));
    assert!(close(
        f(&bill["per_month"]),
        f(&std["per_month"]) + f(&ia["per_month"])
    ));
    // The latest snapshot's size at the EBS price.
    let total = 3_000_000
        + (0..10)
            .map(|i| format!("file {i}\n").len() as u64)
            .sum::<u64>();
    assert_eq!(bill["ebs_bytes"], total);
    assert!(close(f(&bill["ebs_per_month"]), total as f64 / GIB * 2.0));

    // The backup's requests, as its snapshot recorded them: those its
    // summary counted (all made before the lock's release), priced by hand.
    let last = &bill["last_backup"];
    for kind in ["PUT", "GET", "HEAD", "LIST", "POST"] {
        assert_eq!(
            last["by_kind"][kind], summary["requests"]["by_kind"][kind],
            "{kind}: {last} against {summary}"
        );
    }
    assert_eq!(last["data_class"], "STANDARD_IA");
    let n = |k: &str| last["by_kind"][k].as_u64().unwrap_or(0) as f64;
    let by_hand = (n("PUT") + n("POST") + n("LIST")) / 1000.0 * 0.01
        + (n("GET") + n("HEAD")) / 1000.0 * 0.001;
    assert!(
        n("PUT") >= 3.0 && close(f(&last["cost"]), by_hand),
        "{last}"
    );

    let text = c.run(&["stats", "--cost", "--price-file", arg(&file)]);
    let text = &text.ok().stdout;
    assert!(
        text.contains("STANDARD_IA") && text.contains("round test prices"),
        "{text}"
    );
    assert!(text.contains("the last backup (snapshot"), "{text}");
}

#[test]
fn a_local_repository_is_priced_as_it_would_be_on_s3() {
    let c = Coffer::init();
    let src = c.path("src");
    write(&src.join("a.txt"), "a\n");
    c.backup(&[&src], &[]);
    let out = c.run(&["stats", "--cost"]);
    let text = &out.ok().stdout;
    assert!(
        text.starts_with("A local repository: no S3 bill."),
        "{text}"
    );
    let v = c.run(&["stats", "--cost", "--json"]).ok().json();
    assert_eq!(v["local"], true);
    let classes = v["bill"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1);
    assert_eq!(classes[0]["class"], "STANDARD");
    assert_eq!(classes[0]["objects"], c.objects("").len() as u64);
}

#[test]
fn a_price_file_that_lacks_a_class_in_use_is_a_clear_error() {
    let c = Coffer::init_on(Backend::S3);
    let src = c.path("src");
    write(&src.join("a.bin"), pseudo_random(1, 10_000));
    c.backup(&[&src], &["--data-storage-class", "ONEZONE_IA"]);
    let file = c.path("prices.json");
    std::fs::write(&file, prices().to_string()).unwrap();
    let out = c.run(&["stats", "--cost", "--price-file", arg(&file)]);
    out.code(1);
    assert!(out.stderr.contains("ONEZONE_IA"), "{}", out.show());
    std::fs::write(&file, "{not json").unwrap();
    let out = c.run(&["stats", "--cost", "--price-file", arg(&file)]);
    out.code(1);
    assert!(out.stderr.contains("invalid price file"), "{}", out.show());
}

/// A pack whose class bills a minimum duration is not repacked while it
/// runs (S3 would bill the rest of it anyway, and the copy on top); in
/// classes without one it is, and the new packs stay in the class the
/// data was in. Every repository stays whole.
#[test]
fn prune_does_not_repack_packs_inside_their_minimum_duration() {
    for (class, repacked) in [
        ("STANDARD_IA", false),
        ("STANDARD", true),
        ("INTELLIGENT_TIERING", true),
    ] {
        let c = Coffer::init_on(Backend::S3);
        let src = c.path("src");
        write(&src.join("keep.bin"), pseudo_random(21, 200_000));
        write(&src.join("drop.bin"), pseudo_random(22, 200_000));
        c.backup(&[&src], &["--data-storage-class", class]);
        std::fs::remove_file(src.join("drop.bin")).unwrap();
        c.backup(&[&src], &["--data-storage-class", class]);
        c.run(&["forget", "--keep-last", "1"]).ok();
        let out = c.run(&["prune", "--now", "--max-unused", "0", "--json"]);
        let report = out.ok().json();
        let young = report["young_packs_kept"].as_u64().unwrap();
        assert_eq!(young, u64::from(!repacked), "{class}: {report}");
        assert_eq!(
            report["packs_repacked"].as_u64().unwrap() > 0,
            repacked,
            "{class}: {report}"
        );
        let store = &c.s3.as_ref().unwrap().store;
        for key in c.objects("data/") {
            let found = store.head(&key).unwrap().class.unwrap();
            assert_eq!(found.name(), class, "{key} after prune");
        }
        c.run(&["check", "--read-data"]).ok();
        let target = c.path("restored");
        c.restore("latest", &target, &[]).ok();
        crate::support::assert_restored(&src, &crate::support::restored(&target, &src));
    }
}
