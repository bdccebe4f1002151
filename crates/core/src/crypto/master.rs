use crate::error::{Error, Result};
use crate::id::BlobId;

/// The repository's secret, shared by every key file (each wraps it under
/// its own password). Encoded as 72 bytes: `enc[32] ‖ id[32] ‖ gear_seed u64 LE`.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    /// XChaCha20-Poly1305 key for every sealed object.
    pub enc: [u8; 32],
    /// BLAKE3 key for blob ids, so ids reveal nothing about content.
    pub id: [u8; 32],
    /// Seed of the FastCDC gear table, so chunk boundaries reveal nothing.
    pub gear_seed: u64,
}

pub const MASTER_KEY_LEN: usize = 72;

impl MasterKey {
    pub fn generate() -> Self {
        // A zero seed means "unseeded" to fastcdc; never pick it.
        let mut gear_seed = 0;
        while gear_seed == 0 {
            gear_seed = rand::random();
        }
        MasterKey {
            enc: rand::random(),
            id: rand::random(),
            gear_seed,
        }
    }

    /// The keyed BLAKE3 id of a blob's plaintext.
    pub fn blob_id(&self, plain: &[u8]) -> BlobId {
        BlobId(*blake3::keyed_hash(&self.id, plain).as_bytes())
    }

    pub fn encode(&self) -> [u8; MASTER_KEY_LEN] {
        let mut out = [0u8; MASTER_KEY_LEN];
        out[..32].copy_from_slice(&self.enc);
        out[32..64].copy_from_slice(&self.id);
        out[64..].copy_from_slice(&self.gear_seed.to_le_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != MASTER_KEY_LEN {
            return Err(Error::corrupt("master key has the wrong length", "keys/"));
        }
        Ok(MasterKey {
            enc: b[..32].try_into().expect("length checked"),
            id: b[32..64].try_into().expect("length checked"),
            gear_seed: u64::from_le_bytes(b[64..].try_into().expect("length checked")),
        })
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}
