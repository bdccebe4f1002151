//! Pack trailer and header: `header_range` on the last 4 bytes, then the
//! CBOR `PackHeader` and its layout check, never panic. The input is read
//! as a pack whose header is unencrypted, so the fuzzer can reach the CBOR
//! decoder (encryption is tested elsewhere).
#![no_main]

use coffer_core::format::pack::{self, PackHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = PackHeader::decode(data, "fuzz") {
        assert_eq!(
            PackHeader::decode(&h.encode(), "fuzz").expect("re-encoded header decodes"),
            h
        );
        let _ = pack::check_layout(&h, data.len() as u64, "fuzz");
    }
    let Some(trailer) = data.len().checked_sub(4).map(|n| &data[n..]) else {
        return;
    };
    let trailer: [u8; 4] = trailer.try_into().expect("4 bytes");
    if let Ok(r) = pack::header_range(data.len() as u64, trailer, "fuzz") {
        assert!(r.start <= r.end && r.end + 4 == data.len() as u64);
        let header = &data[r.start as usize..r.end as usize];
        if let Ok(h) = PackHeader::decode(header, "fuzz") {
            let _ = pack::check_layout(&h, r.start, "fuzz");
        }
    }
});
