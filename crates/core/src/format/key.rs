//! `keys/<id>`: the master key wrapped under a password-derived key.
//! JSON (the wrapped key is a sealed box, hex-encoded); the key id is the
//! BLAKE3 of the file's bytes, so a key file is never modified.

use super::check_version;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Argon2id parameters, stored in each key file so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: above OWASP's Argon2id floor (19 MiB, 2
    /// passes); about 0.2 s on a small server, once per command.
    fn default() -> Self {
        KdfParams {
            m_cost: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests (COFFER_INSECURE_FAST_KDF=1); never the default.
    pub fn insecure_fast() -> Self {
        KdfParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    pub version: u32,
    /// Always "argon2id" in version 1.
    pub kdf: String,
    pub params: KdfParams,
    /// 16+ random bytes, hex.
    pub salt: String,
    /// Sealed box of the 72-byte master key under the derived key, hex.
    pub sealed: String,
    /// The tag that authenticates `config`: keyed BLAKE3 of its exact bytes
    /// under a key derived from the master key (docs/FORMAT.md §3), hex.
    /// Absent in key files written before config was authenticated; the
    /// next key operation (`key add`, `key passwd`) writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_mac: Option<String>,
    /// When, where and by whom the key was added (informational).
    pub created: String,
    pub host: String,
    pub user: String,
}

impl KeyFile {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("key file serializes");
        v.push(b'\n');
        v
    }

    pub fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        let k: KeyFile = serde_json::from_slice(bytes).map_err(|e| {
            super::newer_version(serde_json::from_slice(bytes).ok(), what)
                .unwrap_or_else(|| Error::corrupt(format!("cannot decode key file ({e})"), what))
        })?;
        check_version(k.version, what)?;
        if k.kdf != "argon2id" {
            return Err(Error::corrupt(
                format!("unknown key derivation {:?}", k.kdf),
                what,
            ));
        }
        Ok(k)
    }

    pub fn salt_bytes(&self, what: &str) -> Result<Vec<u8>> {
        hex::decode(&self.salt).map_err(|_| Error::corrupt("key salt is not hex", what))
    }

    /// The config tag, if the file has one.
    pub fn config_mac_bytes(&self, what: &str) -> Result<Option<[u8; 32]>> {
        self.config_mac
            .as_deref()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| Error::corrupt("config tag is not 64 hex digits", what))
            })
            .transpose()
    }

    pub fn sealed_bytes(&self, what: &str) -> Result<Vec<u8>> {
        hex::decode(&self.sealed).map_err(|_| Error::corrupt("wrapped key is not hex", what))
    }
}
