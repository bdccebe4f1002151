//! Where an archive stream goes: a local file (written under a temporary
//! name and renamed when complete, so an interrupted run never leaves a
//! truncated archive under the final name), stdout, or an S3 object
//! (streamed as a multipart upload and verified, see
//! `store::s3::stream`). Every sink counts bytes and hashes them (SHA-256).

use crate::error::{Error, Kind, Result};
use sha2::Digest;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

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

impl Sink {
    pub fn file(path: PathBuf) -> Result<Sink> {
        let mut temp = path.clone().into_os_string();
        temp.push(format!(".coffer-partial-{}", std::process::id()));
        let temp = PathBuf::from(temp);
        let f = File::create(&temp).map_err(|e| Error::io("cannot create", temp.display(), e))?;
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
