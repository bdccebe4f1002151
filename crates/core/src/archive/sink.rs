//! Where an archive stream goes: a local file (written under a temporary
//! name and renamed when complete, so an interrupted run never leaves a
//! truncated archive under the final name), stdout, or an S3 object
//! (streamed as a multipart upload and verified, see
//! `store::s3::stream`). Every sink counts bytes and hashes them (SHA-256).

use crate::error::{Error, Kind, Result};
use sha2::Digest;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A parsed `--to` / `-o`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
    /// `s3://bucket/key`.
    S3(String),
}

impl Destination {
    pub fn parse(s: &str) -> Destination {
        if s == "-" {
            Destination::Stdout
        } else if s.starts_with("s3://") {
            Destination::S3(s.to_string())
        } else {
            Destination::File(PathBuf::from(s))
        }
    }

    /// The name the format is guessed from.
    pub fn name(&self) -> String {
        match self {
            Destination::Stdout => "-".into(),
            Destination::File(p) => p.display().to_string(),
            Destination::S3(u) => u.clone(),
        }
    }
}

/// What a sink reports once the archive is complete.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Delivered {
    pub destination: String,
    pub bytes: u64,
    pub sha256: String,
    /// S3 only: parts, ETag and whether S3's ETag matched ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Delivery>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct S3Delivery {
    pub parts: usize,
    pub etag: String,
    pub etag_verified: bool,
    pub sha256_stored_as: String,
}

pub enum Sink {
    Stdout(BufWriter<io::Stdout>, sha2::Sha256, u64),
    File {
        out: Option<BufWriter<File>>,
        temp: PathBuf,
        path: PathBuf,
        sha: sha2::Sha256,
        bytes: u64,
    },
    #[cfg(feature = "s3")]
    S3(Option<Box<crate::store::s3::ObjectWriter>>),
}

/// Creates the temporary file an archive is written to: in the
/// destination's directory (so the final rename stays on one file system),
/// under a name nobody can predict, with `O_CREAT | O_EXCL | O_NOFOLLOW`
/// and mode 0600. A name planted in advance (a symlink to a file of root's
/// choosing, in a directory others can write) is never followed: creation
/// fails with EEXIST and the next random name is tried.
pub(crate) fn create_temp(path: &Path) -> Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        Error::invalid("the archive destination names no file").with_location(path.display())
    })?;
    // 64 random bits: a collision with a planted name is a retry, and a
    // handful of retries in a row means something is wrong.
    const ATTEMPTS: usize = 8;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".coffer-{:016x}", rand::random::<u64>()));
        let temp = dir.join(temp_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(TEMP_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
        {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((temp, e)),
            // The user named the destination, not the temporary name.
            Err(e) => return Err(Error::io("cannot create", path.display(), e)),
        }
    }
    let (temp, e) = last.expect("at least one attempt");
    Err(Error::io(
        "cannot create a temporary file",
        temp.display(),
        e,
    ))
}

/// The mode of an archive while it is written: only its owner can read a
/// half-written archive of files others may not read.
const TEMP_MODE: u32 = 0o600;

/// The mode a finished archive gets, as a file `tar` creates would:
/// 0666 without the process's umask (read from /proc, since setting the
/// umask to learn it would race with other threads; 022 if unknown).
fn final_mode() -> u32 {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    0o666 & !mask
}

impl Sink {
    pub fn file(path: PathBuf) -> Result<Sink> {
        let (f, temp) = create_temp(&path)?;
        Ok(Sink::File {
            out: Some(BufWriter::with_capacity(1 << 20, f)),
            temp,
            path,
            sha: sha2::Sha256::new(),
            bytes: 0,
        })
    }

    pub fn stdout() -> Sink {
        Sink::Stdout(
            BufWriter::with_capacity(1 << 20, io::stdout()),
            sha2::Sha256::new(),
            0,
        )
    }

    /// Completes the archive at its destination and reports it.
    pub fn finish(mut self) -> Result<Delivered> {
        match &mut self {
            Sink::Stdout(out, sha, bytes) => {
                out.flush()
                    .map_err(|e| Error::io("cannot write", "stdout", e))?;
                Ok(Delivered {
                    destination: "-".into(),
                    bytes: *bytes,
                    sha256: hex::encode(sha.clone().finalize()),
                    s3: None,
                })
            }
            Sink::File {
                out,
                temp,
                path,
                sha,
                bytes,
            } => {
                let out = out
                    .take()
                    .ok_or_else(|| Error::fatal("archive file already finished"))?;
                let f = out
                    .into_inner()
                    .map_err(|e| Error::io("cannot write", temp.display(), e.into_error()))?;
                f.sync_all()
                    .map_err(|e| Error::io("cannot write", temp.display(), e))?;
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                if size != *bytes {
                    return Err(Error::at(
                        Kind::Corrupt,
                        format!("archive file has {size} bytes, {bytes} were written"),
                        temp.display(),
                    ));
                }
                std::fs::rename(&*temp, &*path).map_err(|e| {
                    Error::io("cannot rename the finished archive to", path.display(), e)
                })?;
                // Renamed: nothing for Drop to remove.
                *temp = PathBuf::new();
                // Now complete and in place, it gets the usual mode
                // (through its descriptor, not its name).
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(final_mode()))
                    .map_err(|e| Error::io("cannot set the mode of", path.display(), e))?;
                Ok(Delivered {
                    destination: path.display().to_string(),
                    bytes: *bytes,
                    sha256: hex::encode(sha.clone().finalize()),
                    s3: None,
                })
            }
            #[cfg(feature = "s3")]
            Sink::S3(w) => {
                let w = w
                    .take()
                    .ok_or_else(|| Error::fatal("upload already finished"))?;
                let r = w.finish()?;
                Ok(Delivered {
                    destination: r.url.clone(),
                    bytes: r.size,
                    sha256: r.sha256.clone(),
                    s3: Some(S3Delivery {
                        parts: r.parts,
                        etag: r.etag,
                        etag_verified: r.etag_verified,
                        sha256_stored_as: r.sha256_stored_as,
                    }),
                })
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // An unfinished file is removed (finish renamed a finished one).
        if let Sink::File { temp, .. } = self
            && !temp.as_os_str().is_empty()
        {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out, sha, bytes) => {
                let n = out.write(buf)?;
                sha.update(&buf[..n]);
                *bytes += n as u64;
                Ok(n)
            }
            Sink::File {
                out, sha, bytes, ..
            } => {
                let out = out
                    .as_mut()
                    .ok_or_else(|| io::Error::other("archive file finished"))?;
                let n = out.write(buf)?;
                sha.update(&buf[..n]);
                *bytes += n as u64;
                Ok(n)
            }
            #[cfg(feature = "s3")]
            Sink::S3(w) => match w {
                Some(w) => w.write(buf),
                None => Err(io::Error::other("upload finished")),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out, ..) => out.flush(),
            Sink::File { out, .. } => out.as_mut().map_or(Ok(()), |o| o.flush()),
            #[cfg(feature = "s3")]
            Sink::S3(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// Regular files in `dir` and their modes (symlinks left out).
    fn files(dir: &Path) -> Vec<(PathBuf, u32)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let md = fs::symlink_metadata(&p).unwrap();
                md.is_file().then(|| (p, md.permissions().mode() & 0o7777))
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn planted_symlinks_are_never_followed_and_a_partial_archive_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tar");
        let victim = dir.path().join("victim");
        // The predictable name earlier versions wrote through, and the
        // final name itself, planted as symlinks to a file of our choosing.
        let old_temp = dir
            .path()
            .join(format!("out.tar.coffer-partial-{}", std::process::id()));
        symlink(&victim, &old_temp).unwrap();
        symlink(&victim, &path).unwrap();

        let mut sink = Sink::file(path.clone()).unwrap();
        sink.write_all(b"the archive").unwrap();
        sink.flush().unwrap();
        let partial = files(dir.path());
        assert_eq!(partial.len(), 1, "{partial:?}");
        assert_eq!(partial[0].1, TEMP_MODE, "{partial:?}");
        let name = partial[0].0.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with(".out.tar.coffer-"), "{name}");

        let d = sink.finish().unwrap();
        assert_eq!(d.bytes, 11);
        assert!(!victim.exists(), "a planted symlink was followed");
        assert_eq!(files(dir.path()), vec![(path.clone(), final_mode())]);
        assert_eq!(fs::read(&path).unwrap(), b"the archive");
        assert!(fs::symlink_metadata(&old_temp).unwrap().is_symlink());
    }

    #[test]
    fn an_unfinished_archive_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tar.gz");
        let mut sink = Sink::file(path.clone()).unwrap();
        sink.write_all(b"half").unwrap();
        drop(sink);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
