//! Versions and validation of the repository format (docs/FORMAT.md §8,
//! §14): a newer format version is refused as `Unsupported`, also when the
//! newer layout no longer decodes as this version's; version 0 and invalid
//! tree listings are corrupt; readers accept non-canonical CBOR.

use coffer_core::Kind;
use coffer_core::format::config::Config;
use coffer_core::format::index::IndexFile;
use coffer_core::format::key::KeyFile;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::pack::PackHeader;
use coffer_core::format::snapshot::Snapshot;
use coffer_core::format::to_cbor;
use coffer_core::format::tree::Node;
use coffer_core::format::tree::NodeKind;
use coffer_core::format::tree::Tree;
use coffer_core::format::{FORMAT_VERSION, READS_VERSION};
use coffer_core::id::BlobId;
use coffer_core::id::TreeId;
use std::collections::BTreeMap;

fn assert_unsupported<T: std::fmt::Debug>(r: coffer_core::Result<T>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.kind(), Kind::Unsupported, "{what}: {e}");
    assert!(e.to_string().contains("upgrade coffer"), "{what}: {e}");
}

/// A CBOR map with the given version and a field this version cannot read.
fn newer_cbor(field: &str) -> Vec<u8> {
    let mut m = BTreeMap::new();
    m.insert(
        "version".to_string(),
        ciborium::Value::Integer((READS_VERSION + 1).into()),
    );
    m.insert(
        field.to_string(),
        ciborium::Value::Text("a layout from the future".into()),
    );
    to_cbor(&m)
}

#[test]
fn newer_versions_are_refused_as_unsupported() {
    // Same layout, newer version.
    let mut t = Tree::new(Vec::new());
    t.version = READS_VERSION + 1;
    assert_unsupported(Tree::decode(&t.encode(), "t"), "tree");
    let h = PackHeader {
        version: READS_VERSION + 1,
        kind: BlobKind::Tree,
        blobs: Vec::new(),
    };
    assert_unsupported(PackHeader::decode(&h.encode(), "h"), "pack header");
    let i = IndexFile {
        version: READS_VERSION + 1,
        ..IndexFile::default()
    };
    assert_unsupported(IndexFile::decode(&i.encode(), "i"), "index");

    // A newer layout that no longer decodes as this version's.
    assert_unsupported(Tree::decode(&newer_cbor("nodes"), "t"), "tree, new layout");
    assert_unsupported(
        Snapshot::decode(&newer_cbor("tree"), "s"),
        "snapshot, new layout",
    );
    assert_unsupported(
        IndexFile::decode(&newer_cbor("packs"), "i"),
        "index, new layout",
    );
    assert_unsupported(
        PackHeader::decode(&newer_cbor("blobs"), "h"),
        "pack header, new layout",
    );
    let json = format!(
        r#"{{"version": {}, "kdf": {{"future": true}}}}"#,
        READS_VERSION + 1
    );
    assert_unsupported(
        KeyFile::decode(json.as_bytes(), "k"),
        "key file, new layout",
    );
    let json = format!(
        r#"{{"version": {}, "chunker": "future"}}"#,
        READS_VERSION + 1
    );
    assert_unsupported(Config::decode(json.as_bytes()), "config, new layout");

    // Damage that is not a newer version stays `Corrupt`.
    let e = Tree::decode(&[0xa1, 0x61, b'x', 0x01], "t").unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    let e = Tree::decode(&newer_cbor("nodes")[..5], "t").unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
}

/// No coffer ever wrote version 0: it is damage, not a newer format.
#[test]
fn version_zero_is_refused_as_corrupt() {
    let assert_damaged = |r: coffer_core::Result<()>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.kind(), Kind::Corrupt, "{what}: {e}");
        assert!(e.to_string().contains("damaged"), "{what}: {e}");
    };
    let mut t = Tree::new(Vec::new());
    t.version = 0;
    assert_damaged(Tree::decode(&t.encode(), "t").map(drop), "tree");
    let i = IndexFile {
        version: 0,
        ..IndexFile::default()
    };
    assert_damaged(IndexFile::decode(&i.encode(), "i").map(drop), "index");
    let mut c = Config::new();
    c.version = 0;
    assert_damaged(Config::decode(&c.encode()).map(drop), "config");
}

#[test]
fn tree_decode_refuses_invalid_listings() {
    let file = |name: &[u8]| Node {
        name: name.to_vec(),
        ..Node::default()
    };
    let bad = |nodes: Vec<Node>| {
        Tree {
            version: FORMAT_VERSION,
            nodes,
        }
        .encode()
    };
    for (nodes, why) in [
        (vec![file(b"")], "empty name"),
        (vec![file(b".")], "dot"),
        (vec![file(b"..")], "dot dot"),
        (vec![file(b"a/b")], "slash"),
        (vec![file(b"a\0b")], "NUL"),
        (vec![file(b"b"), file(b"a")], "unsorted"),
        (vec![file(b"a"), file(b"a")], "duplicate"),
        (
            vec![Node {
                kind: NodeKind::Dir,
                ..file(b"d")
            }],
            "dir without subtree",
        ),
        (
            vec![Node {
                subtree: Some(TreeId([1; 32])),
                ..file(b"f")
            }],
            "file with subtree",
        ),
        (
            vec![Node {
                kind: NodeKind::Symlink,
                content: vec![BlobId([1; 32])],
                ..file(b"l")
            }],
            "content on a symlink",
        ),
        (
            vec![Node {
                target: Some(b"/etc".to_vec()),
                ..file(b"f")
            }],
            "target on a file",
        ),
        (
            vec![Node {
                size: 100,
                holes: vec![(50, 10), (10, 10)],
                ..file(b"f")
            }],
            "unsorted holes",
        ),
        (
            vec![Node {
                size: 100,
                holes: vec![(10, 20), (20, 10)],
                ..file(b"f")
            }],
            "overlapping holes",
        ),
        (
            vec![Node {
                size: 100,
                holes: vec![(90, 20)],
                ..file(b"f")
            }],
            "hole past the size",
        ),
        (
            vec![Node {
                size: 100,
                holes: vec![(10, 0)],
                ..file(b"f")
            }],
            "empty hole",
        ),
        (
            vec![Node {
                size: u64::MAX,
                holes: vec![(u64::MAX, 2)],
                ..file(b"f")
            }],
            "hole end overflows",
        ),
    ] {
        let e = Tree::decode(&bad(nodes), "t").expect_err(why);
        assert_eq!(e.kind(), Kind::Corrupt, "{why}: {e}");
    }
}

/// docs/FORMAT.md §8: readers accept any well-formed CBOR of the same
/// structure and ignore unknown keys; duplicate keys are corrupt.
#[test]
fn readers_accept_non_canonical_cbor() {
    let text = |s: &str| [&[0x60 + s.len() as u8][..], s.as_bytes()].concat();
    let want = PackHeader {
        version: 1,
        kind: BlobKind::Tree,
        blobs: Vec::new(),
    };

    // Indefinite-length map and array, keys out of order, a 4-byte integer.
    let loose = [
        vec![0xbf],
        text("blobs"),
        vec![0x9f, 0xff],
        text("kind"),
        text("tree"),
        text("version"),
        vec![0x1a, 0, 0, 0, 1],
        vec![0xff],
    ]
    .concat();
    assert_eq!(PackHeader::decode(&loose, "h").unwrap(), want);

    // An unknown key is ignored.
    let extra = [
        vec![0xa4],
        want.encode()[1..].to_vec(),
        text("future"),
        vec![0x05],
    ]
    .concat();
    assert_eq!(PackHeader::decode(&extra, "h").unwrap(), want);

    // A duplicate key is corrupt.
    let dup = [
        vec![0xa4],
        want.encode()[1..].to_vec(),
        text("version"),
        vec![0x01],
    ]
    .concat();
    assert_eq!(
        PackHeader::decode(&dup, "h").unwrap_err().kind(),
        Kind::Corrupt
    );
}

#[test]
fn default_fields_are_left_out_of_trees() {
    // A node with only its required fields: name, type, mode, uid, gid, mtime.
    let n = Node {
        name: b"f".to_vec(),
        ..Node::default()
    };
    let t = Tree::new(vec![n]);
    let v: ciborium::Value = ciborium::from_reader(&t.encode()[..]).unwrap();
    let nodes = v
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("nodes"))
        .unwrap()
        .1
        .clone();
    let node = nodes.as_array().unwrap()[0].as_map().unwrap().clone();
    let keys: Vec<&str> = node.iter().map(|(k, _)| k.as_text().unwrap()).collect();
    assert_eq!(keys, ["name", "type", "mode", "uid", "gid", "mtime"]);
}
