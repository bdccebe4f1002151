use crate::args::ExportArgs;
use crate::output::size;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::StorageClass;
use coffer_core::{
    ArchiveDestination as Destination, ArchiveFormat as Format, ArchiveTarget as Target,
    archive_stream as stream, choose_format,
};
use coffer_core::{Error, Result};
use coffer_core::{export, thaw_export};
use std::io::IsTerminal;
use std::path::PathBuf;

pub fn run(a: ExportArgs, s: &Settings) -> Result<i32> {
    if a.format.as_deref() == Some("raw") {
        return raw(&a, s);
    }
    let destination = Destination::parse(&a.output);
    let to_stdout = destination == Destination::Stdout;
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Error::invalid(
            "refusing to write an archive to a terminal (redirect stdout or give -o FILE)",
        ));
    }
    let format = choose_format(
        a.format.as_deref().map(Format::parse).transpose()?,
        &destination,
    )?;
    let repo = s.open()?;
    let snap = repo.find_snapshot(&a.snapshot, &snapshot_filter(&a.filter))?;
    let start = a.path.unwrap_or_else(|| PathBuf::from("/"));
    let target = Target {
        destination: &destination,
        format,
        level: a.level,
        threads: a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        storage_class: StorageClass::Standard,
        s3: s.s3(),
    };
    let reporter = crate::progress::Reporter::new(s.json && !to_stdout, s.quiet, "exported")
        .cold_days(a.cold.cold_days);
    // Archived data first: an export that stops for it has written nothing.
    let cold = a.cold.options()?;
    if let Err(e) = thaw_export(&repo, snap.snapshot.tree, &start, &cold, &reporter) {
        reporter.finish();
        return Err(e);
    }
    let name = destination.name();
    let r = stream(&target, |tar| {
        export(&repo, snap.snapshot.tree, &start, tar, &name, &reporter)
    });
    reporter.finish();
    let (counts, tar_bytes, delivered) = r?;
    let text = if s.json {
        serde_json::json!({
            "message_type": "summary",
            "snapshot_id": snap.id,
            "format": format,
            "counts": counts,
            "tar_bytes": tar_bytes,
            "delivered": delivered,
        })
        .to_string()
            + "\n"
    } else {
        format!(
            "exported snapshot {} ({} files, {} directories, {} of content): {} → {} to {}\nsha256 {}\n",
            snap.id.short(),
            counts.files,
            counts.dirs,
            size(counts.content_bytes),
            size(tar_bytes),
            size(delivered.bytes),
            delivered.destination,
            delivered.sha256
        )
    };
    if !s.quiet || s.json {
        // The archive itself may be on stdout: then the summary goes to stderr.
        if to_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    Ok(0)
}

/// `--format raw`: an image snapshot as the raw image (to a file or
/// stdout), as `image restore --to` writes it.
fn raw(a: &ExportArgs, s: &Settings) -> Result<i32> {
    if a.output.starts_with("s3://") || a.path.is_some() {
        return Err(Error::invalid(
            "--format raw writes a whole image to a file or stdout (no path inside it, no s3://)",
        ));
    }
    if a.output == "-" && std::io::stdout().is_terminal() {
        return Err(Error::invalid(
            "refusing to write an image to a terminal (redirect stdout or give -o FILE)",
        ));
    }
    let repo = s.open()?;
    let snap = repo.find_snapshot(&a.snapshot, &snapshot_filter(&a.filter))?;
    let opts = coffer_core::ImageRestoreOptions {
        to: PathBuf::from(&a.output),
        verify: false,
        force: false,
    };
    let r = coffer_core::image_restore(&repo, &snap, &opts)?;
    if !s.quiet {
        eprintln!(
            "exported image {} ({}) to {}",
            snap.id.short(),
            size(r.size),
            a.output
        );
    }
    Ok(0)
}
