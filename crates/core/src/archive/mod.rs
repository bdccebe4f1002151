//! Plain archives: the file system (or a snapshot) as one standard tar
//! stream that any `tar` opens, compressed and delivered in one pass.
//!
//! ```text
//! source (walk + read, this thread) → TarWriter (pax headers)
//!   → Encoder (parallel gzip / multithreaded zstd / none)
//!   → Sink (file under a temporary name | stdout | S3 multipart upload)
//! ```
//! Every stage overlaps the others and holds a bounded amount of data
//! (gzip: 2 × threads blocks of 1 MiB; S3: `connections` parts), so memory
//! does not depend on the size of the archive. The sink hashes what it
//! writes (SHA-256) and S3 uploads are checked after completion.

pub mod compress;
pub mod export;
mod fields;
pub mod gzip;
pub mod import;
pub mod pax;
pub mod prefetch;
pub mod read;
pub mod sink;
pub mod source;
pub mod write;

#[cfg(test)]
mod tests;

pub use compress::Format;
pub use sink::{Delivered, Destination, Sink};

use crate::error::{Error, Result};
use crate::fs::Excludes;
use crate::fs::Owners;
use crate::progress::Progress;
use crate::store::S3Settings;
use crate::store::StorageClass;
use std::path::PathBuf;
use std::time::Instant;
use write::TarWriter;

#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    pub paths: Vec<PathBuf>,
    pub destination: Destination,
    /// Else from the destination's extension (an unknown one is an error).
    pub format: Option<Format>,
    pub level: Option<i32>,
    /// Compression threads.
    pub threads: usize,
    pub excludes: Vec<String>,
    pub one_file_system: bool,
    pub storage_class: StorageClass,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveResult {
    pub format: Format,
    #[serde(flatten)]
    pub counts: source::Counts,
    /// Bytes of the tar stream before compression.
    pub tar_bytes: u64,
    pub delivered: Delivered,
    pub errors: Vec<String>,
    pub changed_while_reading: Vec<String>,
    pub duration_ns: u64,
}

impl ArchiveResult {
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The format of an archive going to `dest`: `format` if given, else the
/// destination's extension.
pub fn choose_format(format: Option<Format>, dest: &Destination) -> Result<Format> {
    if let Some(f) = format {
        return Ok(f);
    }
    match dest {
        Destination::Stdout => Err(Error::invalid(
            "writing to stdout: give --format (tar, tar.gz or tar.zst)",
        )),
        d => Format::from_name(&d.name()).ok_or_else(|| {
            Error::invalid("cannot tell the archive format from the name (.tar, .tar.gz or .tar.zst), give --format")
                .with_location(d.name())
        }),
    }
}

/// Opens the sink of `dest`.
pub fn open_sink(dest: &Destination, storage_class: StorageClass, s3: &S3Settings) -> Result<Sink> {
    match dest {
        Destination::Stdout => Ok(Sink::stdout()),
        Destination::File(p) => {
            if storage_class != StorageClass::Standard {
                return Err(Error::invalid(
                    "--storage-class applies to S3 destinations only",
                ));
            }
            Sink::file(p.clone())
        }
        Destination::S3(url) => open_s3(url, storage_class, s3),
    }
}

#[cfg(feature = "s3")]
fn open_s3(url: &str, storage_class: StorageClass, s3: &S3Settings) -> Result<Sink> {
    let (store, key) = connect_object(url, s3)?;
    let w = crate::store::s3::ObjectWriter::new(store, &key, storage_class)?;
    Ok(Sink::S3(Some(Box::new(w))))
}

/// The store holding the object `s3://bucket/…/name` (its bucket checked)
/// and the object's key in it.
#[cfg(feature = "s3")]
fn connect_object(url: &str, s3: &S3Settings) -> Result<(crate::store::s3::S3Store, String)> {
    let (dir, key) = split_object_url(url)?;
    let store = crate::store::s3::connect(&dir, s3)?;
    store.check_bucket()?;
    Ok((store, key))
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str, _: StorageClass, _: &S3Settings) -> Result<Sink> {
    Err(Error::invalid("this build has no S3 support").with_location(url))
}

/// Opens an archive to read: a file, `-` (stdin) or `s3://bucket/key`.
pub fn open_source(name: &str, s3: &S3Settings) -> Result<Box<dyn std::io::Read + Send>> {
    match Destination::parse(name) {
        Destination::Stdout => Ok(Box::new(std::io::stdin())),
        Destination::File(p) => Ok(Box::new(
            std::fs::File::open(&p).map_err(|e| Error::io("cannot open", p.display(), e))?,
        )),
        Destination::S3(url) => open_s3_source(&url, s3),
    }
}

#[cfg(feature = "s3")]
fn open_s3_source(url: &str, s3: &S3Settings) -> Result<Box<dyn std::io::Read + Send>> {
    let (store, key) = connect_object(url, s3)?;
    Ok(Box::new(crate::store::s3::ObjectReader::open(store, &key)?))
}

#[cfg(not(feature = "s3"))]
fn open_s3_source(url: &str, _: &S3Settings) -> Result<Box<dyn std::io::Read + Send>> {
    Err(Error::invalid("this build has no S3 support").with_location(url))
}

/// `s3://bucket/a/b.tar.gz` → (`s3://bucket/a`, `b.tar.gz`).
#[cfg(feature = "s3")]
fn split_object_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").unwrap_or(url);
    match rest.rsplit_once('/') {
        Some((dir, key)) if !key.is_empty() && !dir.is_empty() => {
            Ok((format!("s3://{dir}"), key.to_string()))
        }
        _ => Err(
            Error::invalid("an S3 archive destination is s3://bucket/name.tar.gz")
                .with_location(url),
        ),
    }
}

/// Where and how a tar stream is delivered.
pub struct Target<'a> {
    pub destination: &'a Destination,
    pub format: Format,
    pub level: Option<i32>,
    pub threads: usize,
    pub storage_class: StorageClass,
    pub s3: &'a S3Settings,
}

/// The writer a tar stream is built on (buffered, compressing, delivering).
pub type Stream = TarWriter<std::io::BufWriter<compress::Encoder<Sink>>>;

/// Runs `body` on a tar stream to `target`, then ends the archive, the
/// compression and the delivery. Returns what `body` returned, the tar
/// bytes and the delivery report; on an error nothing is left under the
/// destination's name (a file's temporary is removed, an upload aborted).
pub fn stream<T>(
    target: &Target,
    body: impl FnOnce(&mut Stream) -> Result<T>,
) -> Result<(T, u64, Delivered)> {
    let name = target.destination.name();
    let sink = open_sink(target.destination, target.storage_class, target.s3)?;
    let level = target.level.unwrap_or(target.format.default_level());
    let encoder = compress::Encoder::new(sink, target.format, level, target.threads.max(1))
        .map_err(|e| Error::io("cannot start compression", "archive", e))?;
    let mut tar = TarWriter::new(std::io::BufWriter::with_capacity(1 << 20, encoder));
    let out = body(&mut tar)?;
    let tar_bytes = tar.bytes_written() + 1024;
    let encoder = tar
        .finish()
        .map_err(|e| Error::io("cannot write the archive", &name, e))?
        .into_inner()
        .map_err(|e| Error::io("cannot write the archive", &name, e.into_error()))?;
    let sink = encoder
        .finish()
        .map_err(|e| Error::io("cannot write the archive", &name, e))?;
    Ok((out, tar_bytes, sink.finish()?))
}

/// Archives `opts.paths` to `opts.destination`.
pub fn archive(opts: &ArchiveOptions, progress: &dyn Progress) -> Result<ArchiveResult> {
    let start = Instant::now();
    let format = choose_format(opts.format, &opts.destination)?;
    let paths = crate::fs::normalize_paths(&opts.paths)?;
    // The archive must not contain itself (nor its temporary name).
    let mut exact = Vec::new();
    if let Destination::File(p) = &opts.destination {
        let abs = std::path::absolute(p).map_err(|e| Error::io("invalid path", p.display(), e))?;
        let mut temp = abs.clone().into_os_string();
        temp.push(format!(".coffer-partial-{}", std::process::id()));
        exact.push(PathBuf::from(temp));
        exact.push(abs);
    }
    let excludes = Excludes::new(&opts.excludes, exact)?;
    let owners = Owners::new();
    let target = Target {
        destination: &opts.destination,
        format,
        level: opts.level,
        threads: opts.threads,
        storage_class: opts.storage_class,
        s3: &opts.s3,
    };
    let dest_name = opts.destination.name();
    let consumed = std::sync::atomic::AtomicU64::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (counts, tar_bytes, delivered) = std::thread::scope(|s| {
        // Both helpers are optional: a thread the OS refuses to start (a
        // process limit) only costs the read-ahead or the totals.
        let _ = std::thread::Builder::new().spawn_scoped(s, || {
            prefetch::Prefetch::new(&excludes, opts.one_file_system, &consumed, &stop).run(&paths)
        });
        if progress.wants_totals() {
            let counter =
                crate::fs::count::Counter::new(&excludes, opts.one_file_system, progress, &stop);
            let _ = std::thread::Builder::new().spawn_scoped(s, || counter.run(&paths));
        }
        let r = stream(&target, |tar| {
            let mut src = source::Source {
                tar,
                excludes: &excludes,
                one_file_system: opts.one_file_system,
                owners: &owners,
                progress,
                counts: source::Counts::default(),
                dest: &dest_name,
                consumed: &consumed,
            };
            src.run(&paths)?;
            Ok(src.counts)
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    })?;
    Ok(ArchiveResult {
        format,
        errors: counts
            .errors
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect(),
        changed_while_reading: counts
            .changed
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        counts,
        tar_bytes,
        delivered,
        duration_ns: start.elapsed().as_nanos() as u64,
    })
}

/// Aborts incomplete multipart uploads under an `s3://bucket/prefix` (what
/// `archive --cleanup` does); returns the keys.
#[cfg(feature = "s3")]
pub fn cleanup(url: &str, s3: &S3Settings) -> Result<Vec<String>> {
    // The rest of the URL is a raw key prefix (it may name one archive).
    let (bucket, _) = crate::store::s3::parse_location(url)?;
    let rest = url
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .map_or("", |(_, k)| k);
    let store = crate::store::s3::connect(&format!("s3://{bucket}"), s3)?;
    store.check_bucket()?;
    Ok(store
        .abort_incomplete_uploads(rest)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

#[cfg(not(feature = "s3"))]
pub fn cleanup(url: &str, _: &S3Settings) -> Result<Vec<String>> {
    Err(Error::invalid("this build has no S3 support").with_location(url))
}
