//! The compression of an archive stream: none, gzip (parallel, one
//! standard member) or zstd (multithreaded), chosen by name or by the
//! destination's extension.

use super::gzip::ParGz;
use crate::error::{Error, Result};
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Tar,
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar.zst")]
    TarZst,
}

impl Format {
    /// `tar`, `tar.gz` (`tgz`, `gz`, `gzip`) or `tar.zst` (`zst`, `zstd`).
    pub fn parse(s: &str) -> Result<Format> {
        match s.trim_start_matches('.') {
            "tar" => Ok(Format::Tar),
            "tar.gz" | "tgz" | "gz" | "gzip" => Ok(Format::TarGz),
            "tar.zst" | "tzst" | "zst" | "zstd" => Ok(Format::TarZst),
            _ => Err(
                Error::invalid("unknown archive format (tar, tar.gz or tar.zst)").with_location(s),
            ),
        }
    }

    /// The format a file name implies, if any.
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.to_ascii_lowercase();
        if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if n.ends_with(".tar.zst") || n.ends_with(".tzst") {
            Some(Format::TarZst)
        } else if n.ends_with(".tar") {
            Some(Format::Tar)
        } else {
            None
        }
    }

    pub fn default_level(self) -> i32 {
        match self {
            Format::Tar => 0,
            Format::TarGz => 6,
            Format::TarZst => 3,
        }
    }
}

/// A compressing writer over `W`.
pub enum Encoder<W: Write + Send + 'static> {
    Plain(W),
    Gzip(ParGz<W>),
    Zstd(zstd::Encoder<'static, W>),
}

impl<W: Write + Send + 'static> Encoder<W> {
    pub fn new(out: W, format: Format, level: i32, threads: usize) -> io::Result<Self> {
        Ok(match format {
            Format::Tar => Encoder::Plain(out),
            Format::TarGz => Encoder::Gzip(ParGz::new(out, level.clamp(1, 9) as u32, threads)?),
            Format::TarZst => {
                let mut e = zstd::Encoder::new(out, level)?;
                if threads > 1 {
                    e.multithread(threads as u32)?;
                }
                Encoder::Zstd(e)
            }
        })
    }

    /// Ends the compressed stream and returns the sink.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(g) => g.finish(),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write + Send + 'static> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(g) => g.write(buf),
            Encoder::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(g) => g.flush(),
            Encoder::Zstd(z) => z.flush(),
        }
    }
}
