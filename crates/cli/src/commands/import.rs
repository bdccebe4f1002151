use crate::args::ImportArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::EXIT_INCOMPLETE;
use coffer_core::open_archive_source as open_source;
use coffer_core::{Error, Result};
use coffer_core::{ImportOptions, import};

pub fn run(a: ImportArgs, s: &Settings) -> Result<i32> {
    let time = match &a.time {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    Error::invalid(format!("--time is not RFC 3339 ({e})")).with_location(t)
                })?
                .timestamp_nanos_opt()
                .ok_or_else(|| Error::invalid("--time is out of range").with_location(t))?,
        ),
    };
    let input = open_source(&a.archive, s.s3())?;
    let repo = s.open_or_create_announced()?;
    let opts = ImportOptions {
        requests: s.request_log(),
        host: a
            .host
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned()),
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        time,
        tags: a.tags,
        prefix: a.prefix,
        connections: if s.is_local() { 1 } else { s.connections },
        source: a.archive.clone(),
    };
    let reporter = crate::progress::Reporter::new(s.json, s.quiet, "imported");
    let r = import(repo, input, &opts, &reporter);
    reporter.finish();
    let r = r?;
    let sum = &r.snapshot.summary;
    if s.json {
        crate::output::json(&serde_json::json!({
            "message_type": "summary",
            "snapshot_id": r.id,
            "retries": s.retries(),
        "requests": s.requests(),
            "paths": r.snapshot.paths,
            "time": crate::output::time_rfc3339(r.snapshot.time),
            "summary": sum,
            "skipped": r.skipped,
        }))?;
    } else if !s.quiet {
        println!(
            "imported {} as snapshot {} ({} files, {} directories, {} other; {} of content, {} added to the repository)",
            a.archive,
            r.id.short(),
            sum.files_new,
            sum.dirs,
            sum.other_entries,
            size(sum.total_bytes),
            size(sum.bytes_stored),
        );
    }
    if !r.skipped.is_empty() {
        eprintln!("coffer: {} archive members were left out:", r.skipped.len());
        for k in &r.skipped {
            eprintln!("  {k}");
        }
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}
