//! `config` (plaintext JSON): decode never panics; what decodes re-encodes
//! to something that decodes to the same config.
#![no_main]

use coffer_core::format::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Config::decode(data) {
        assert_eq!(
            Config::decode(&c.encode()).expect("re-encoded config decodes"),
            c
        );
    }
});
