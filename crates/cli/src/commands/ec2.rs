//! `coffer ec2 …`: EBS snapshot sets -> bootable image -> instance, and
//! their retention. Each subcommand builds options, makes one coffer_ec2
//! call and renders the result as text or JSON. Progress goes to stderr.

use crate::args::Global;
use crate::args::{
    Ec2Command, Ec2ForgetArgs, Ec2ImageArgs, Ec2LaunchArgs, Ec2ListArgs, Ec2RestoreArgs,
    Ec2SnapshotArgs,
};
use crate::output::{TIME_WIDTH, json, time, time_rfc3339};
use coffer_core::Result;
use coffer_ec2::forget::{ForgetOptions, ForgetResult};
use coffer_ec2::image::{ImageOptions, ImagePlan};
use coffer_ec2::launch::{LaunchOptions, LaunchPlan, Launched};
use coffer_ec2::restore::RestoreOptions;
use coffer_ec2::sets::SnapshotSet;
use coffer_ec2::snapshot::{SnapshotOptions, Volumes};
use coffer_ec2::wait::{SnapshotState, SystemClock, overall_percent, parse_duration};
use coffer_ec2::{Ec2, Ec2Settings, tags};
use std::time::Duration;

/// Exit code when forget had to keep snapshots an image still uses.
const EXIT_INCOMPLETE: i32 = coffer_core::EXIT_INCOMPLETE;

pub fn run(c: Ec2Command, s: &Global) -> Result<i32> {
    let connect = || {
        Ec2::connect(&Ec2Settings {
            endpoint: s.endpoint_url.clone(),
            region: s.region.clone(),
        })
    };
    match c {
        Ec2Command::Snapshot(a) => snapshot(a, &connect()?, s),
        Ec2Command::Image(a) => image(a, &connect()?, s),
        Ec2Command::Launch(a) => launch(a, &connect()?, s),
        Ec2Command::List(a) => list(a, &connect()?, s),
        Ec2Command::Forget(a) => forget(a, &connect()?, s),
        Ec2Command::Restore(a) => restore(a, &connect()?, s),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn gib(n: Option<i32>) -> String {
    n.map(|n| format!("{n} GiB"))
        .unwrap_or_else(|| "? GiB".into())
}

/// "3h", "2d" since `ns`.
fn age(ns: i64, now: i64) -> String {
    let secs = (now - ns).max(0) / 1_000_000_000;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Progress of `--wait`, printed when it changes: a line on stderr, or with
/// `--json` a `{"message_type":"status",…}` line on stdout (as `backup`).
fn progress(quiet: bool, json: bool) -> impl FnMut(&[SnapshotState]) {
    let mut last = None;
    move |states: &[SnapshotState]| {
        let percent = overall_percent(states);
        let done = states.iter().filter(|s| s.state == "completed").count();
        if quiet || last == Some((percent, done)) {
            return;
        }
        last = Some((percent, done));
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "message_type": "status",
                    "percent_done": percent as f64 / 100.0,
                    "snapshots_done": done,
                    "total_snapshots": states.len(),
                })
            );
        } else {
            eprintln!(
                "waiting for snapshots: {percent}% ({done} of {} completed)",
                states.len()
            );
        }
    }
}

fn snapshot(a: Ec2SnapshotArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let user_tags = a
        .tags
        .iter()
        .map(|t| tags::parse_user_tag(t))
        .collect::<Result<Vec<_>>>()?;
    let timeout = parse_duration(&a.timeout)?;
    let o = SnapshotOptions {
        instance_id: a.instance.clone(),
        volumes: if a.volumes == "root" {
            Volumes::Root
        } else {
            Volumes::All
        },
        tags: user_tags,
        dry_run: a.dry_run,
        now: now(),
    };
    let mut r = coffer_ec2::snapshot::snapshot(ec2, &o)?;
    if a.wait
        && let Some(set) = &r.set
    {
        let mut clock = SystemClock::start();
        r.set = Some(coffer_ec2::snapshot::wait(
            ec2,
            set,
            &mut clock,
            Duration::from_secs(a.poll_interval.max(1)),
            timeout,
            progress(s.quiet, s.json),
        )?);
    }
    if s.json {
        json(&serde_json::json!({
            "dry_run": a.dry_run,
            "set_id": r.set_id,
            "instance_id": r.instance_id,
            "volumes": r.volumes,
            "tags": r.tags,
            "set": r.set.as_ref().map(set_json),
        }))?;
        return Ok(0);
    }
    match &r.set {
        None => {
            println!(
                "would snapshot {} volume(s) of {} as set {}:",
                r.volumes.len(),
                r.instance_id,
                r.set_id
            );
            for v in &r.volumes {
                println!(
                    "  {:<12} {:<22} {:>8}  {}{}",
                    v.device,
                    v.volume_id,
                    gib(v.size_gib),
                    v.volume_type.as_deref().unwrap_or("?"),
                    if v.root { "  root" } else { "" }
                );
            }
            if !s.quiet {
                let t: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("tags: {}", t.join(" "));
            }
        }
        Some(set) => {
            println!(
                "snapshot set {} of {}: {} snapshot(s), {} GiB, {}",
                set.set_id,
                set.instance_id,
                set.snapshots.len(),
                set.size_gib(),
                set.state()
            );
            if !s.quiet {
                for sn in &set.snapshots {
                    println!(
                        "  {:<24} {:<12} {:>8}  {} {}{}",
                        sn.snapshot_id,
                        sn.device.as_deref().unwrap_or("?"),
                        gib(sn.size_gib),
                        sn.state,
                        sn.progress,
                        if sn.root { "  root" } else { "" }
                    );
                }
            }
        }
    }
    Ok(0)
}

fn print_image_plan(p: &ImagePlan) {
    println!(
        "  {} {}, root device {}, ENA {}, boot mode {}{}{}",
        p.virtualization_type,
        p.architecture,
        p.root_device_name,
        if p.ena_support { "on" } else { "off" },
        p.boot_mode.as_deref().unwrap_or("(AWS default)"),
        p.sriov_net_support
            .as_deref()
            .map(|s| format!(", SR-IOV {s}"))
            .unwrap_or_default(),
        p.tpm_support
            .as_deref()
            .map(|t| format!(", TPM {t}"))
            .unwrap_or_default(),
    );
    for m in &p.mappings {
        println!(
            "  {:<12} {:<24} {:>8}  {}",
            m.device,
            m.snapshot_id,
            gib(m.size_gib),
            m.volume_type.as_deref().unwrap_or("(default type)")
        );
    }
}

fn image(a: Ec2ImageArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let r = coffer_ec2::image::image(
        ec2,
        &ImageOptions {
            instance_id: a.from,
            set_id: a.snapshot_set,
            name: a.name,
            dry_run: a.dry_run,
        },
    )?;
    if s.json {
        json(&serde_json::json!({ "dry_run": a.dry_run, "image_id": r.image_id, "plan": r.plan }))?;
        return Ok(0);
    }
    match &r.image_id {
        Some(id) => println!(
            "registered image {id} ({}) from set {}",
            r.plan.name, r.plan.set_id
        ),
        None => println!(
            "would register image {} from set {}",
            r.plan.name, r.plan.set_id
        ),
    }
    if !s.quiet {
        print_image_plan(&r.plan);
    }
    Ok(0)
}

fn print_launch_plan(p: &LaunchPlan) {
    let t: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "  type {}, subnet {}, security groups {}, key {}, IAM profile {}",
        p.instance_type,
        p.subnet_id.as_deref().unwrap_or("(default)"),
        if p.security_groups.is_empty() {
            "(default)".to_string()
        } else {
            p.security_groups.join(",")
        },
        p.key_name.as_deref().unwrap_or("(none)"),
        p.iam_profile_arn.as_deref().unwrap_or("(none)"),
    );
    println!("  tags {}", t.join(" "));
}

fn print_launched(l: &Launched, image: &str) {
    println!(
        "launched {} from {image}: {}, private {}, public {}",
        l.instance_id,
        l.state,
        l.private_ip.as_deref().unwrap_or("-"),
        l.public_ip.as_deref().unwrap_or("-")
    );
}

fn launch(a: Ec2LaunchArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let r = coffer_ec2::launch::run(
        ec2,
        &LaunchOptions {
            image_id: a.image,
            like: a.like,
            instance_type: a.instance_type,
            dry_run: a.dry_run,
            timeout: parse_duration(&a.timeout)?,
        },
        &mut SystemClock::start(),
    )?;
    if s.json {
        json(
            &serde_json::json!({ "dry_run": a.dry_run, "like": r.like, "plan": r.plan, "launched": r.launched }),
        )?;
        return Ok(0);
    }
    match &r.launched {
        Some(l) => print_launched(l, &r.plan.image_id),
        None => println!(
            "would launch {} like {}",
            r.plan.image_id,
            r.like.as_deref().unwrap_or("nothing")
        ),
    }
    if !s.quiet {
        print_launch_plan(&r.plan);
    }
    Ok(0)
}

fn set_json(set: &SnapshotSet) -> serde_json::Value {
    serde_json::json!({
        "set_id": set.set_id,
        "instance_id": set.instance_id,
        "time": time_rfc3339(set.time_ns),
        "state": set.state(),
        "size_gib": set.size_gib(),
        "tags": set.user_tags,
        "snapshots": set.snapshots,
        "images": set.images,
    })
}

fn list(a: Ec2ListArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let sets = ec2.sets(a.instance.as_deref())?;
    let mut images = ec2.images(true)?;
    if let Some(i) = &a.instance {
        images.retain(|im| im.instance_id.as_deref() == Some(i.as_str()));
    }
    if s.json {
        let list: Vec<_> = sets.iter().map(set_json).collect();
        json(&serde_json::json!({ "sets": list, "images": images }))?;
        return Ok(0);
    }
    let now = now();
    println!(
        "{:<30}  {:<20}  {:<TIME_WIDTH$}  {:>5}  {:>4}  {:>8}  {:<9}  images",
        "set", "instance", "time", "age", "vols", "size", "state"
    );
    for set in &sets {
        let imgs: Vec<&str> = set.images.iter().map(|i| i.image_id.as_str()).collect();
        println!(
            "{:<30}  {:<20}  {:<TIME_WIDTH$}  {:>5}  {:>4}  {:>4} GiB  {:<9}  {}",
            set.set_id,
            set.instance_id,
            time(set.time_ns, s.utc),
            age(set.time_ns, now),
            set.snapshots.len(),
            set.size_gib(),
            set.state(),
            imgs.join(",")
        );
    }
    if !images.is_empty() && !s.quiet {
        println!();
        println!(
            "{:<22}  {:<30}  {:<10}  {:>5}  name",
            "image", "set", "state", "age"
        );
        for i in &images {
            println!(
                "{:<22}  {:<30}  {:<10}  {:>5}  {}",
                i.image_id,
                i.set_id.as_deref().unwrap_or("-"),
                i.state,
                if i.created_ns > 0 {
                    age(i.created_ns, now)
                } else {
                    "?".into()
                },
                i.name
            );
        }
    }
    if !s.quiet {
        println!("{} snapshot set(s), {} image(s)", sets.len(), images.len());
    }
    Ok(0)
}

fn forget(a: Ec2ForgetArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let o = ForgetOptions {
        policy: crate::settings::policy(&a.keep)?,
        instance_id: a.instance.clone(),
        dry_run: a.dry_run,
        now: now(),
    };
    let r = coffer_ec2::forget::forget(ec2, &o)?;
    if s.json {
        forget_json(&r, a.dry_run)?;
    } else {
        forget_text(&r, a.dry_run, s.quiet);
    }
    // Kept because an image uses them: the policy could not be fully applied.
    Ok(if r.removal.in_use.is_empty() {
        0
    } else {
        EXIT_INCOMPLETE
    })
}

fn forget_text(r: &ForgetResult, dry_run: bool, quiet: bool) {
    if !quiet {
        for g in &r.groups {
            println!("instance {}:", g.instance_id);
            for d in &g.decisions {
                println!(
                    "  {:<6}  {:<30}  {:<23}  {:>4} GiB  {}",
                    if d.keep { "keep" } else { "remove" },
                    d.snapshot.set_id,
                    time(d.snapshot.time_ns, true),
                    d.snapshot.size_gib(),
                    d.reasons.join(", ")
                );
            }
        }
    }
    let (dereg, del) = if dry_run {
        ("would deregister image", "would delete snapshot")
    } else {
        ("deregistered image", "deleted snapshot")
    };
    if !quiet {
        for i in &r.removal.deregister {
            println!("{dereg} {i}");
        }
        for sn in &r.removal.delete {
            println!("{del} {sn}");
        }
    }
    for u in &r.removal.in_use {
        // A warning the user must see even with --quiet.
        eprintln!(
            "coffer: kept snapshot {} of set {}: used by image {}",
            u.snapshot_id,
            u.set_id,
            if u.image_ids.is_empty() {
                "(EC2 says in use)".to_string()
            } else {
                u.image_ids.join(", ")
            }
        );
    }
    let sets = r
        .groups
        .iter()
        .flat_map(|g| &g.decisions)
        .filter(|d| !d.keep)
        .count();
    println!(
        "{} {sets} snapshot set(s): {} snapshot(s), {} image(s); {} snapshot(s) kept in use",
        if dry_run { "would remove" } else { "removed" },
        r.removal.delete.len(),
        r.removal.deregister.len(),
        r.removal.in_use.len()
    );
}

fn forget_json(r: &ForgetResult, dry_run: bool) -> Result<()> {
    let groups: Vec<_> = r
        .groups
        .iter()
        .map(|g| {
            let sets: Vec<_> = g
                .decisions
                .iter()
                .map(|d| {
                    let mut v = set_json(&d.snapshot);
                    v["keep"] = d.keep.into();
                    v["reasons"] = d.reasons.clone().into();
                    v
                })
                .collect();
            serde_json::json!({ "instance_id": g.instance_id, "sets": sets })
        })
        .collect();
    json(&serde_json::json!({
        "dry_run": dry_run,
        "groups": groups,
        "deregistered": r.removal.deregister,
        "deleted": r.removal.delete,
        "kept_in_use": r.removal.in_use,
    }))
}

fn restore(a: Ec2RestoreArgs, ec2: &Ec2, s: &Global) -> Result<i32> {
    let o = RestoreOptions {
        instance_id: a.instance.clone(),
        at: a
            .at
            .as_deref()
            .map(coffer_ec2::sets::parse_time)
            .transpose()?,
        instance_type: a.instance_type,
        dry_run: a.dry_run,
        timeout: parse_duration(&a.timeout)?,
        interval: Duration::from_secs(5),
    };
    let r = coffer_ec2::restore::restore(ec2, &o, &mut SystemClock::start())?;
    if s.json {
        json(&r)?;
        return Ok(0);
    }
    println!(
        "{} {} from snapshot set {}{}",
        if a.dry_run {
            "would restore"
        } else {
            "restoring"
        },
        a.instance,
        r.set_id,
        if r.original_exists {
            ""
        } else {
            " (the instance is gone: using what the set recorded)"
        }
    );
    match (&r.image_id, r.image_reused) {
        (Some(id), true) => println!("image {id} (made from this set before)"),
        (Some(id), false) => println!("registered image {id}"),
        (None, _) => println!("would register an image"),
    }
    if !s.quiet
        && let Some(p) = &r.image_plan
    {
        print_image_plan(p);
    }
    match &r.launched {
        Some(l) => print_launched(l, r.image_id.as_deref().unwrap_or("?")),
        None => println!("would launch it like {}", a.instance),
    }
    if !s.quiet {
        print_launch_plan(&r.launch);
    }
    Ok(0)
}
