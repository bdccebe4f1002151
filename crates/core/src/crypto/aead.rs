use crate::error::{Error, Result};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Encrypts and authenticates `plain` under `key` with a random nonce.
pub fn seal(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    seal_with_nonce(key, &rand::random::<[u8; NONCE_LEN]>(), plain)
}

/// As [`seal`] with a given nonce (test vectors only: never reuse a nonce).
pub fn seal_with_nonce(key: &[u8; 32], nonce: &[u8; NONCE_LEN], plain: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(XNonce::from_slice(nonce), plain)
        .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out
}

/// Checks and decrypts a sealed box. `what` names the object for the error.
pub fn open(key: &[u8; 32], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Error::corrupt("encrypted data is too short", what));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(XNonce::from_slice(nonce), ct)
        .map_err(|_| Error::corrupt("authentication failed (data damaged or wrong key)", what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = [9u8; 32];
        let sealed = seal(&key, b"hello");
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(open(&key, &sealed, "x").unwrap(), b"hello");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&key, &bad, "x").is_err(), "flip at {i} not detected");
        }
        assert!(open(&[8u8; 32], &sealed, "x").is_err());
        assert!(open(&key, &sealed[..10], "x").is_err());
    }
}
