//! `snapshots/<id>` body (CBOR `Snapshot`): decode never panics; what
//! decodes re-encodes to the same value.
#![no_main]

use coffer_core::format::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Snapshot::decode(data, "fuzz") {
        assert_eq!(
            Snapshot::decode(&s.encode(), "fuzz").expect("re-encoded snapshot decodes"),
            s
        );
    }
});
