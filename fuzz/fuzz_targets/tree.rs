//! Tree blob body (CBOR `Tree`): decode and its validation never panic;
//! what decodes re-encodes to a tree that decodes to the same value; the
//! direct decoder agrees with serde on everything it accepts.
#![no_main]

use coffer_core::format::tree::Tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The direct decoder never accepts what serde reads differently.
    if let Some(fast) = coffer_core::format::tree_fast::decode(data) {
        let serde: Tree = ciborium::from_reader(data).expect("serde decodes what the fast decoder does");
        assert_eq!(fast, serde);
    }
    if let Ok(t) = Tree::decode(data, "fuzz") {
        let again = Tree::decode(&t.encode(), "fuzz").expect("re-encoded tree decodes");
        assert_eq!(again, t);
        for n in &t.nodes {
            assert_eq!(t.find(&n.name), Some(n));
        }
    }
});
