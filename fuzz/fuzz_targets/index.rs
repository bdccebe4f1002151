//! `index/<id>` body (CBOR `IndexFile`): decode never panics; what decodes
//! re-encodes to the same value.
#![no_main]

use coffer_core::format::index::IndexFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = IndexFile::decode(data, "fuzz") {
        assert_eq!(
            IndexFile::decode(&i.encode(), "fuzz").expect("re-encoded index decodes"),
            i
        );
    }
});
