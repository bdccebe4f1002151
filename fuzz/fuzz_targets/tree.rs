//! Tree blob body (CBOR `Tree`): decode and its validation never panic;
//! what decodes re-encodes to a tree that decodes to the same value.
#![no_main]

use coffer_core::format::tree::Tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tree::decode(data, "fuzz") {
        let again = Tree::decode(&t.encode(), "fuzz").expect("re-encoded tree decodes");
        assert_eq!(again, t);
        for n in &t.nodes {
            assert_eq!(t.find(&n.name), Some(n));
        }
    }
});
