//! Cryptography: the master key, AEAD sealing of every stored byte except
//! `config`, keyed BLAKE3 blob ids, and Argon2id password key wrapping.
//!
//! Sealed box (docs/FORMAT.md §6): `nonce[24] ‖ ciphertext ‖ tag[16]` with
//! XChaCha20-Poly1305; the 24-byte random nonce makes nonce reuse across
//! hosts writing to one repository negligible without coordination. The
//! associated data names the kind of object ([`Sealed`]), so a box cannot be
//! moved from one kind of object to another (a blob into `index/`).

mod aead;
mod kdf;
mod master;

pub use aead::{SEAL_OVERHEAD, Sealed, open, seal, seal_with_nonce};
pub use kdf::{check_kdf_params, derive_wrapping_key};
pub use master::MasterKey;
