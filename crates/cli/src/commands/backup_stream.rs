//! `backup --stdin` and `backup --stdin-from-command -- CMD ARGS…`: a
//! stream (a database dump) becomes a snapshot holding one file.

use crate::args::BackupArgs;
use crate::output::size;
use crate::settings::Settings;
use coffer_core::{Error, Result};
use coffer_core::{StreamOptions, backup_stream};
use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A command's output, read to its end; at the end the command's exit
/// status is checked, and a failure is a read error, so the backup stops
/// before its snapshot is saved.
struct CommandOutput {
    child: Child,
    out: ChildStdout,
}

impl Read for CommandOutput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.out.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let status = self.child.wait()?;
            if !status.success() {
                use std::os::unix::process::ExitStatusExt;
                let how = match (status.code(), status.signal()) {
                    (Some(c), _) => format!("exited with status {c}"),
                    (None, Some(s)) => format!("was killed by signal {s}"),
                    _ => "failed".to_string(),
                };
                return Err(std::io::Error::other(format!(
                    "the command {how}; no snapshot saved"
                )));
            }
        }
        Ok(n)
    }
}

impl Drop for CommandOutput {
    fn drop(&mut self) {
        // The backup failed before the end: stop the command, never leave it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn run(a: BackupArgs, s: &Settings) -> Result<i32> {
    let mut input: Box<dyn Read> = if a.stdin_from_command {
        let Some((program, args)) = a.paths.split_first() else {
            return Err(Error::invalid(
                "--stdin-from-command needs a command after `--`, e.g. backup --stdin-from-command -- pg_dump mydb",
            ));
        };
        let shown = a
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::io("cannot run the command", &shown, e))?;
        let out = child.stdout.take().expect("piped");
        Box::new(CommandOutput { child, out })
    } else {
        Box::new(std::io::stdin().lock())
    };
    let source = if a.stdin_from_command {
        format!(
            "output of `{}`",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )
    } else {
        "stdin".to_string()
    };
    let defaults = coffer_core::BackupOptions::new(Vec::new());
    let opts = StreamOptions {
        requests: s.request_log(),
        archive_pack_size: a.archive_pack_size,
        filename: a.stdin_filename.clone(),
        host: a.host.clone().unwrap_or(defaults.host),
        user: defaults.user,
        tags: a.tags.clone(),
        time: None,
        connections: if s.is_local() { 1 } else { s.connections },
        data_storage_class: crate::settings::storage_class(a.data_storage_class.as_deref())?,
        source,
    };
    let repo = s.open_or_create_announced()?;
    let reporter = crate::progress::Reporter::new(s.json, s.quiet, "backed up");
    let r = backup_stream(repo, &mut input, &opts, &reporter);
    reporter.finish();
    drop(input);
    let r = r?;
    let _ = crate::hooks::SNAPSHOT_ID.set(r.id.to_hex());
    let sum = &r.snapshot.summary;
    crate::metrics::record_backup(sum);
    if s.json {
        super::backup::summary_json(&r, &[], s)?;
    } else if !s.quiet {
        println!(
            "read {} from {}; added {} new data ({} stored after compression) in {:.1}s",
            size(sum.bytes_read),
            opts.source,
            size(sum.bytes_new),
            size(sum.bytes_stored),
            sum.duration_ns as f64 / 1e9
        );
        println!("snapshot {} saved", r.id.short());
    }
    Ok(0)
}
