//! Cryptography: the master key, AEAD sealing of every stored byte except
//! `config`, keyed BLAKE3 blob ids, and Argon2id password key wrapping.
//!
//! Sealed box (docs/FORMAT.md §Sealed box): `nonce[24] ‖ ciphertext ‖ tag[16]`
//! with XChaCha20-Poly1305; the 24-byte random nonce makes nonce reuse across
//! hosts writing to one repository negligible without coordination.

mod aead;
mod kdf;
mod master;

pub use aead::{SEAL_OVERHEAD, open, seal, seal_with_nonce};
pub use kdf::derive_wrapping_key;
pub use master::MasterKey;
