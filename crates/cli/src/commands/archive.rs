use crate::args::ArchiveArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::EXIT_INCOMPLETE;
use coffer_core::{
    ArchiveDestination as Destination, ArchiveFormat as Format, ArchiveOptions, archive,
    archive_cleanup as cleanup,
};
use coffer_core::{Error, Result};
use std::io::IsTerminal;

pub fn run(a: ArchiveArgs, s: &Settings) -> Result<i32> {
    if a.cleanup {
        return run_cleanup(&a, s);
    }
    let to = a.to.clone().unwrap_or_default();
    let destination = Destination::parse(&to);
    if destination == Destination::Stdout && std::io::stdout().is_terminal() {
        return Err(Error::invalid(
            "refusing to write an archive to a terminal (redirect stdout or give --to FILE)",
        ));
    }
    let mut excludes = a.excludes.clone();
    for f in &a.exclude_files {
        excludes.extend(super::backup::read_list(f, "exclude file")?);
    }
    let opts = ArchiveOptions {
        paths: a.paths.clone(),
        destination: destination.clone(),
        format: a.format.as_deref().map(Format::parse).transpose()?,
        level: a.level,
        threads: a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        excludes,
        one_file_system: a.one_file_system,
        storage_class: crate::settings::storage_class(a.storage_class.as_deref())?,
        s3: s.s3().clone(),
    };
    // With the archive on stdout, nothing else may go there.
    let to_stdout = destination == Destination::Stdout;
    let reporter = crate::progress::Reporter::new(s.json && !to_stdout, s.quiet, "archived");
    let r = archive(&opts, &reporter);
    reporter.finish();
    let r = r?;
    if s.json {
        let line = serde_json::to_string(
            &serde_json::json!({"message_type": "summary", "archive": r, "retries": s.retries(), "requests": s.requests()}),
        )
        .map_err(|e| Error::fatal(format!("cannot encode JSON: {e}")))?;
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    } else if !s.quiet {
        let d = &r.delivered;
        let c = &r.counts;
        let mut text = format!(
            "archived {} files, {} directories, {} other entries ({} of content) in {:.1} s\n{} → {} ({} bytes) to {}\nsha256 {}\n",
            c.files,
            c.dirs,
            c.links + c.other,
            size(c.content_bytes),
            r.duration_ns as f64 / 1e9,
            size(r.tar_bytes),
            size(d.bytes),
            d.bytes,
            d.destination,
            d.sha256,
        );
        if let Some(s3) = &d.s3 {
            text.push_str(&format!(
                "verified: size {} and ETag {} ({} part{}){}; sha256 stored as {}\n",
                d.bytes,
                s3.etag,
                s3.parts,
                if s3.parts == 1 { "" } else { "s" },
                if s3.etag_verified {
                    " match what was sent"
                } else {
                    " (ETag not MD5-based: size checked only)"
                },
                s3.sha256_stored_as,
            ));
        }
        // The summary goes to stderr when the archive itself is on stdout.
        if to_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    for p in &r.changed_while_reading {
        eprintln!("coffer: warning: {p}: file changed as we read it");
    }
    if !r.complete() {
        eprintln!(
            "coffer: archive is incomplete: {} entries could not be read:",
            r.errors.len()
        );
        for e in &r.errors {
            eprintln!("  {e}");
        }
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

fn run_cleanup(a: &ArchiveArgs, s: &Settings) -> Result<i32> {
    let url =
        a.to.clone()
            .or_else(|| a.paths.first().map(|p| p.to_string_lossy().into_owned()))
            .filter(|u| u.starts_with("s3://"))
            .ok_or_else(|| Error::invalid("--cleanup needs an s3://bucket/prefix (with --to)"))?;
    let aborted = cleanup(&url, s.s3())?;
    if s.json {
        crate::output::json(
            &serde_json::json!({"message_type": "summary", "aborted_uploads": aborted}),
        )?;
    } else if !s.quiet {
        println!(
            "aborted {} incomplete multipart upload{} under {url}",
            aborted.len(),
            if aborted.len() == 1 { "" } else { "s" }
        );
        for k in &aborted {
            println!("  {k}");
        }
    }
    Ok(0)
}
