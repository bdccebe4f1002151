use crate::error::{Error, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// What a sealed box holds. The kind is bound into the box as its associated
/// data, so a box opens only as the kind it was sealed as: a data blob copied
/// to `index/<hash>` or `snapshots/<hash>` fails authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// A data or tree blob inside a pack.
    Blob,
    /// The header at the end of a pack.
    PackHeader,
    /// An `index/<id>` object.
    Index,
    /// A `snapshots/<id>` object.
    Snapshot,
    /// The master key inside a key file.
    MasterKey,
    /// A `locks/<id>` object (prune, check, forget).
    Lock,
    /// A `prune/<id>` record of the packs a prune condemned.
    PruneRecord,
    /// A `catalog/<id>` of snapshot objects.
    Catalog,
}

impl Sealed {
    /// Every kind.
    pub const ALL: [Sealed; 8] = [
        Sealed::Blob,
        Sealed::PackHeader,
        Sealed::Index,
        Sealed::Snapshot,
        Sealed::MasterKey,
        Sealed::Lock,
        Sealed::PruneRecord,
        Sealed::Catalog,
    ];

    /// The associated data of this kind's boxes (docs/FORMAT.md §6).
    pub fn aad(self) -> &'static [u8] {
        match self {
            Sealed::Blob => b"coffer/v1/blob",
            Sealed::PackHeader => b"coffer/v1/pack-header",
            Sealed::Index => b"coffer/v1/index",
            Sealed::Snapshot => b"coffer/v1/snapshot",
            Sealed::MasterKey => b"coffer/v1/master-key",
            Sealed::Lock => b"coffer/v1/lock",
            Sealed::PruneRecord => b"coffer/v1/prune-record",
            Sealed::Catalog => b"coffer/v1/catalog",
        }
    }
}

/// Encrypts and authenticates `plain` as a box of `kind` under `key` with a
/// random nonce.
pub fn seal(key: &[u8; 32], kind: Sealed, plain: &[u8]) -> Vec<u8> {
    seal_with_nonce(key, kind, &rand::random::<[u8; NONCE_LEN]>(), plain)
}

/// As [`seal`] with a given nonce (test vectors only: never reuse a nonce).
pub fn seal_with_nonce(
    key: &[u8; 32],
    kind: Sealed,
    nonce: &[u8; NONCE_LEN],
    plain: &[u8],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let payload = Payload {
        msg: plain,
        aad: kind.aad(),
    };
    let ct = cipher
        .encrypt(XNonce::from_slice(nonce), payload)
        .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

/// Checks and decrypts a sealed box of `kind`. `what` names the object for
/// the error. A box of another kind fails like a damaged one.
pub fn open(key: &[u8; 32], kind: Sealed, sealed: &[u8], what: &str) -> Result<Vec<u8>> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Error::corrupt("encrypted data is too short", what));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    let payload = Payload {
        msg: ct,
        aad: kind.aad(),
    };
    cipher
        .decrypt(XNonce::from_slice(nonce), payload)
        .map_err(|_| {
            Error::corrupt(
                "authentication failed (data damaged, wrong key or wrong kind of object)",
                what,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = [9u8; 32];
        let sealed = seal(&key, Sealed::Blob, b"hello");
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(open(&key, Sealed::Blob, &sealed, "x").unwrap(), b"hello");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                open(&key, Sealed::Blob, &bad, "x").is_err(),
                "flip at {i} not detected"
            );
        }
        assert!(open(&[8u8; 32], Sealed::Blob, &sealed, "x").is_err());
        assert!(open(&key, Sealed::Blob, &sealed[..10], "x").is_err());
    }

    #[test]
    fn a_box_opens_only_as_its_own_kind() {
        let key = [9u8; 32];
        for sealed_as in Sealed::ALL {
            let sealed = seal(&key, sealed_as, b"hello");
            for opened_as in Sealed::ALL {
                let r = open(&key, opened_as, &sealed, "x");
                assert_eq!(
                    r.is_ok(),
                    sealed_as == opened_as,
                    "{sealed_as:?} as {opened_as:?}"
                );
            }
        }
    }
}
