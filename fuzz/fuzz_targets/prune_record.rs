//! `prune/<id>` body (CBOR `PruneRecord`): decode never panics; what
//! decodes re-encodes to the same value.
#![no_main]

use coffer_core::PruneRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = PruneRecord::decode(data, "fuzz") {
        assert_eq!(
            PruneRecord::decode(&r.encode(), "fuzz").expect("re-encoded record decodes"),
            r
        );
    }
});
