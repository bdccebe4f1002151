//! `coffer import`'s tar reader: any bytes (a damaged or hostile archive)
//! give members or an error, never a panic or an endless loop; and a
//! member name import takes only ever gives names a tree may hold.
#![no_main]

use coffer_core::tar_components as components;
use coffer_core::TarReader;
use coffer_core::format::tree::valid_name;
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut r = TarReader::new(data);
    for _ in 0..10_000 {
        match r.next_member() {
            Ok(Some(m)) => {
                if let Ok(comps) = components(&m.name) {
                    assert!(comps.iter().all(|c| valid_name(c) && c.len() <= 255));
                }
                let mut sink = Vec::new();
                let _ = r.data().take(1 << 20).read_to_end(&mut sink);
            }
            _ => break,
        }
    }
});
