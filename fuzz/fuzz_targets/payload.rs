//! The payload inside every sealed box (`flag ‖ body`, flag 1 = zstd):
//! decode never panics and stays within its size bound; a sealed box of
//! arbitrary bytes is refused without panicking.
#![no_main]

use coffer_core::crypto;
use coffer_core::format::payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(plain) = payload::decode(data, "fuzz") {
        assert!(plain.len() as u64 <= payload::MAX_PLAIN);
        let again = payload::encode(&plain, 1);
        assert_eq!(
            payload::decode(&again, "fuzz").expect("re-encoded payload decodes"),
            plain
        );
    }
    assert!(
        crypto::open(&[7; 32], crypto::Sealed::Blob, data, "fuzz").is_err(),
        "a forged sealed box opened"
    );
});
