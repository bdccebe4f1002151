//! `index/<id>` body (CBOR `IndexFile`): decode never panics; what decodes
//! re-encodes to the same value; the direct decoder agrees with serde on
//! everything it accepts.
#![no_main]

use coffer_core::format::index::IndexFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(fast) = coffer_core::format::index_fast::decode(data) {
        let serde: IndexFile =
            ciborium::from_reader(data).expect("serde decodes what the fast decoder does");
        assert_eq!(fast, serde);
    }
    if let Ok(i) = IndexFile::decode(data, "fuzz") {
        assert_eq!(
            IndexFile::decode(&i.encode(), "fuzz").expect("re-encoded index decodes"),
            i
        );
    }
});
