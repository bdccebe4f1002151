//! `coffer image backup|restore|ls|diff`: whole block devices and disk
//! image files.

use crate::args::{ImageBackupArgs, ImageCommand, ImageDiffArgs, ImageLsArgs, ImageRestoreArgs};
use crate::output::{json, size, time};
use crate::settings::{Settings, snapshot_filter, storage_class};
use coffer_core::{
    Error, ImageOptions, ImageRestoreOptions, Repository, Result, SnapshotFilter, SnapshotRef,
    image_backup, image_diff, image_restore,
};

pub fn run(c: ImageCommand, s: &Settings) -> Result<i32> {
    match c {
        ImageCommand::Backup(a) => backup(a, s),
        ImageCommand::Restore(a) => restore(a, s),
        ImageCommand::Ls(a) => ls(a, s),
        ImageCommand::Diff(a) => diff(a, s),
    }
}

fn backup(a: ImageBackupArgs, s: &Settings) -> Result<i32> {
    let repo = s.open_or_create_announced()?;
    let defaults = coffer_core::BackupOptions::new(Vec::new());
    let source = match (&a.source, &a.lvm_snapshot) {
        // Recorded absolute (as `backup` records its paths), symlinks kept:
        // /dev/disk/by-id/… names outlive /dev/sdX.
        (Some(s), _) => {
            std::path::absolute(s).map_err(|e| Error::io("cannot resolve", s.display(), e))?
        }
        (None, Some(l)) => std::path::PathBuf::from(format!("/dev/{l}")),
        (None, None) => {
            return Err(Error::invalid(
                "give the SOURCE to read, or --lvm-snapshot VG/LV",
            ));
        }
    };
    let opts = ImageOptions {
        source: source.clone(),
        lvm_snapshot: a.lvm_snapshot.clone(),
        host: a.host.clone().unwrap_or(defaults.host),
        user: defaults.user,
        tags: a.tags.clone(),
        chunk_size: a.chunk_size,
        freeze: a.freeze.clone(),
        connections: s.connections,
        data_storage_class: storage_class(a.data_storage_class.as_deref())?,
        archive_pack_size: a.archive_pack_size,
        requests: s.request_log(),
    };
    let r = image_backup(repo, &opts)?;
    let sm = &r.snapshot.summary;
    if s.json {
        json(&serde_json::json!({
            "snapshot": r.id.to_hex(),
            "image": r.snapshot.image,
            "summary": sm,
        }))?;
    } else if !s.quiet {
        println!(
            "image snapshot {} of {}: {} ({} not zero, {} new, {} stored) in {:.1}s",
            r.id.short(),
            source.display(),
            size(sm.total_bytes),
            size(sm.bytes_read),
            size(sm.bytes_new),
            size(sm.bytes_stored),
            sm.duration_ns as f64 / 1e9
        );
    }
    Ok(0)
}

/// The image snapshots `filter` matches, oldest first.
fn images(repo: &Repository, filter: &SnapshotFilter) -> Result<Vec<SnapshotRef>> {
    Ok(repo
        .snapshots()?
        .into_iter()
        .filter(|x| x.snapshot.image.is_some() && filter.matches(&x.snapshot))
        .collect())
}

/// `latest` is the newest image snapshot; anything else as usual.
fn find(repo: &Repository, sel: &str, filter: &SnapshotFilter) -> Result<SnapshotRef> {
    if sel == "latest" {
        return images(repo, filter)?.pop().ok_or_else(|| {
            Error::invalid("no image snapshot (make one with `coffer image backup`)")
        });
    }
    repo.find_snapshot(sel, filter)
}

fn restore(a: ImageRestoreArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let snap = find(&repo, &a.snapshot, &snapshot_filter(&a.filter))?;
    let opts = ImageRestoreOptions {
        to: a.to.clone(),
        verify: a.verify,
        force: a.force,
    };
    let r = image_restore(&repo, &snap, &opts)?;
    let stdout = a.to.as_os_str() == "-";
    if s.json && !stdout {
        json(&serde_json::json!({"snapshot": snap.id.to_hex(), "to": a.to, "result": r}))?;
    } else if !s.quiet {
        // Never on stdout when the image goes there.
        eprintln!(
            "restored image {} to {}: {} ({} of data, {} of zeros{}){}",
            snap.id.short(),
            a.to.display(),
            size(r.size),
            size(r.bytes_written),
            size(r.zero_bytes),
            if r.device || stdout {
                " written"
            } else {
                " left as holes"
            },
            if r.verified { ", verified" } else { "" }
        );
    }
    Ok(0)
}

fn ls(a: ImageLsArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let list = images(&repo, &snapshot_filter(&a.filter))?;
    if s.json {
        let v: Vec<_> = list
            .iter()
            .map(|x| {
                serde_json::json!({
                    "id": x.id.to_hex(), "time": x.snapshot.time, "host": x.snapshot.host,
                    "tags": x.snapshot.tags, "image": x.snapshot.image,
                    "bytes_new": x.snapshot.summary.bytes_new,
                    "bytes_stored": x.snapshot.summary.bytes_stored,
                })
            })
            .collect();
        return json(&v).map(|()| 0);
    }
    for x in &list {
        let info = x.snapshot.image.as_ref().expect("an image snapshot");
        println!(
            "{}  {}  {:<12} {:>10}  {:>10} new  {}",
            x.id.short(),
            time(x.snapshot.time, s.utc),
            x.snapshot.host,
            size(info.size),
            size(x.snapshot.summary.bytes_new),
            info.source
        );
    }
    if !s.quiet {
        println!("{} image snapshot(s)", list.len());
    }
    Ok(0)
}

fn diff(a: ImageDiffArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let none = SnapshotFilter::default();
    let (before, after) = (
        find(&repo, &a.before, &none)?,
        find(&repo, &a.after, &none)?,
    );
    let d = image_diff(&repo, &before, &after)?;
    if s.json {
        return json(&d).map(|()| 0);
    }
    for (off, len) in &d.extents {
        println!("changed  {off:>14}  {len:>12}  ({})", size(*len));
    }
    println!(
        "{} changed in {} extent(s) of {} (chunks of {})",
        size(d.bytes_changed),
        d.extents.len(),
        size(d.size_after),
        size(d.chunk_size as u64)
    );
    Ok(0)
}
