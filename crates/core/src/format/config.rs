//! `config`: the one plaintext object. JSON, so an operator can read it.

use super::check_version;
use crate::error::{Error, Result};
use crate::id::RepoId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    /// FastCDC with 1 MiB average: large enough that a terabyte is ~1M blobs
    /// (index fits in memory), small enough to dedup edits inside big files.
    fn default() -> Self {
        ChunkerParams {
            min_size: 256 * 1024,
            avg_size: 1024 * 1024,
            max_size: 4 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    pub id: RepoId,
    pub chunker: ChunkerParams,
    /// Target size of a pack in bytes (~32 MiB: few requests per terabyte).
    pub pack_size: u32,
    /// zstd level for blobs (0 disables compression).
    pub compression: i32,
    /// S3 Object Lock: every object is written locked (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
}

/// How the objects of a repository are locked (S3 Object Lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Each object is locked at least this long after it is written, and
    /// prune keeps what snapshots still use locked this long ahead.
    pub retention_secs: u64,
}

/// The longest retention accepted: 100 years.
const MAX_RETENTION_SECS: u64 = 100 * 366 * 86_400;

impl Config {
    pub fn new() -> Self {
        Config {
            version: super::FORMAT_VERSION,
            id: RepoId::random(),
            chunker: ChunkerParams::default(),
            pack_size: 32 * 1024 * 1024,
            compression: 3,
            object_lock: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("config serializes");
        v.push(b'\n');
        v
    }

    /// Decodes and validates `config`; refuses newer versions.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let v: VersionOnly = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(format!("cannot decode ({e})"), "config"))?;
        check_version(v.version, "config")?;
        let c: Config = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(format!("cannot decode ({e})"), "config"))?;
        let ch = &c.chunker;
        // The ranges FastCDC accepts; sizes must be even.
        let valid = (64..=1 << 20).contains(&ch.min_size)
            && (256..=4 << 20).contains(&ch.avg_size)
            && (1024..=16 << 20).contains(&ch.max_size)
            && ch.min_size <= ch.avg_size
            && ch.avg_size <= ch.max_size
            && [ch.min_size, ch.avg_size, ch.max_size]
                .iter()
                .all(|s| s % 2 == 0)
            && (1024..=1 << 30).contains(&c.pack_size)
            && (0..=22).contains(&c.compression)
            && c.object_lock.as_ref().is_none_or(|l| {
                ["GOVERNANCE", "COMPLIANCE"].contains(&l.mode.as_str())
                    && (1..=MAX_RETENTION_SECS).contains(&l.retention_secs)
            });
        if !valid {
            return Err(Error::corrupt(
                "config holds out-of-range parameters",
                "config",
            ));
        }
        Ok(c)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_newer_version_refused() {
        let c = Config::new();
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        let mut newer = c.clone();
        newer.version = crate::format::READS_VERSION + 1;
        let e = Config::decode(&newer.encode()).unwrap_err();
        assert_eq!(e.kind(), crate::error::Kind::Unsupported);
        assert!(e.to_string().contains("upgrade coffer"), "{e}");
    }

    #[test]
    fn object_lock_is_optional_and_checked() {
        let plain = Config::new();
        assert!(
            !String::from_utf8(plain.encode())
                .unwrap()
                .contains("object_lock")
        );
        let mut locked = plain.clone();
        locked.object_lock = Some(ObjectLock {
            mode: "COMPLIANCE".into(),
            retention_secs: 30 * 86_400,
        });
        assert_eq!(Config::decode(&locked.encode()).unwrap(), locked);
        for (mode, secs) in [
            ("compliance", 1),
            ("GOVERNANCE", 0),
            ("COMPLIANCE", u64::MAX),
        ] {
            let mut bad = locked.clone();
            bad.object_lock = Some(ObjectLock {
                mode: mode.into(),
                retention_secs: secs,
            });
            assert!(Config::decode(&bad.encode()).is_err(), "{mode} {secs}");
        }
    }
}
