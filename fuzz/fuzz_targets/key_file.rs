//! `keys/<id>` (JSON key file): decode, then the hex fields and the KDF
//! parameter checks, never panic. Argon2 itself is only run with cheap
//! parameters, so the fuzzer does not stall on memory-hard hashing.
#![no_main]

use coffer_core::crypto::{self, MasterKey};
use coffer_core::format::key::KeyFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(k) = KeyFile::decode(data, "fuzz") else {
        return;
    };
    assert_eq!(
        KeyFile::decode(&k.encode(), "fuzz").expect("re-encoded key file decodes"),
        k
    );
    let (Ok(salt), Ok(sealed)) = (k.salt_bytes("fuzz"), k.sealed_bytes("fuzz")) else {
        return;
    };
    if k.params.m_cost <= 256
        && k.params.t_cost <= 2
        && let Ok(w) = crypto::derive_wrapping_key(b"fuzz", &salt, &k.params)
        && let Ok(plain) = crypto::open(&w, crypto::Sealed::MasterKey, &sealed, "fuzz")
    {
        let _ = MasterKey::decode(&plain);
    }
});
