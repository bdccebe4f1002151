//! `locks/<id>` body (CBOR `LockFile`): decode never panics; what decodes
//! re-encodes to the same value.
#![no_main]

use coffer_core::LockFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = LockFile::decode(data, "fuzz") {
        assert_eq!(
            LockFile::decode(&l.encode(), "fuzz").expect("re-encoded lock decodes"),
            l
        );
    }
});
