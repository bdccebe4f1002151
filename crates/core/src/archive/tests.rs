//! Round trips through the pax writer and the tar reader: whatever a node
//! holds (names of any bytes and length, big ids, times before 1970 and
//! after 2038 to the nanosecond, binary xattrs, sparse regions) comes back
//! from the reader as written.

use super::import::pax_ns;
use super::read::TarReader;
use super::write::{Follows, TarWriter};
use crate::format::tree::{Node, NodeKind, Xattr};
use proptest::prelude::*;
use std::io::Read;

fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::collection::vec(
            any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
            1..80,
        ),
        1..6,
    )
    .prop_map(|parts| parts.join(&b'/'))
    .prop_filter("no . or .. components", |n| {
        n.split(|&b| b == b'/').all(|c| c != b"." && c != b"..")
    })
}

fn node_strategy() -> impl Strategy<Value = (Node, Vec<u8>)> {
    (
        prop_oneof![
            Just(NodeKind::File),
            Just(NodeKind::Dir),
            Just(NodeKind::Symlink),
            Just(NodeKind::Fifo),
            Just(NodeKind::Chardev)
        ],
        0u32..0o7777,
        any::<u32>(),
        any::<u32>(),
        "[a-z_][a-z0-9_-]{0,40}",
        -4_000_000_000_000_000_000i64..4_000_000_000_000_000_000,
        prop::collection::vec(any::<u8>(), 0..3000),
        prop::collection::vec(
            ("[a-z]{1,10}", prop::collection::vec(any::<u8>(), 0..100)),
            0..4,
        ),
        name_strategy(),
        any::<u64>(),
    )
        .prop_map(
            |(kind, mode, uid, gid, user, mtime, content, xattrs, target, rdev)| {
                let mut xattrs: Vec<Xattr> = xattrs
                    .into_iter()
                    .map(|(n, v)| Xattr {
                        name: format!("user.{n}").into_bytes(),
                        value: v,
                    })
                    .collect();
                xattrs.sort_by(|a, b| a.name.cmp(&b.name));
                xattrs.dedup_by(|a, b| a.name == b.name);
                let node = Node {
                    kind,
                    mode,
                    uid,
                    gid,
                    user: user.clone(),
                    group: user,
                    mtime,
                    size: if kind == NodeKind::File {
                        content.len() as u64
                    } else {
                        0
                    },
                    target: (kind == NodeKind::Symlink).then_some(target),
                    // Linux device numbers: 12-bit major, 20-bit minor.
                    rdev: if kind == NodeKind::Chardev {
                        super::pax::dev_join((rdev >> 32) % 4096, rdev % (1 << 20))
                    } else {
                        0
                    },
                    xattrs,
                    links: 1,
                    ..Node::default()
                };
                (node, content)
            },
        )
}

proptest! {
    #[test]
    fn members_round_trip(entries in prop::collection::vec((name_strategy(), node_strategy()), 1..8)) {
        let mut tar = TarWriter::new(Vec::new());
        for (name, (node, content)) in &entries {
            if let Follows::Data(_) = tar.begin(name, node, None).unwrap() {
                tar.data(content).unwrap();
            }
            prop_assert_eq!(tar.end().unwrap(), 0);
        }
        let bytes = tar.finish().unwrap();
        let mut r = TarReader::new(&bytes[..]);
        for (name, (node, content)) in &entries {
            let m = r.next_member().unwrap().expect("a member per entry");
            prop_assert_eq!(&m.name, name);
            prop_assert_eq!(m.mode, node.mode);
            prop_assert_eq!(m.uid, u64::from(node.uid));
            prop_assert_eq!(m.gid, u64::from(node.gid));
            prop_assert_eq!(String::from_utf8_lossy(&m.user), node.user.as_str());
            prop_assert_eq!(m.pax("mtime").and_then(pax_ns), Some(node.mtime));
            for x in &node.xattrs {
                let key = format!("SCHILY.xattr.{}", String::from_utf8_lossy(&x.name));
                prop_assert_eq!(m.pax(&key), Some(x.value.as_slice()));
            }
            match node.kind {
                NodeKind::Symlink => prop_assert_eq!(Some(&m.link), node.target.as_ref()),
                NodeKind::Chardev => prop_assert_eq!(super::pax::dev_join(m.devmajor, m.devminor), node.rdev),
                _ => {}
            }
            let mut data = Vec::new();
            r.data().read_to_end(&mut data).unwrap();
            if node.kind == NodeKind::File {
                prop_assert_eq!(&data, content);
            } else {
                prop_assert!(data.is_empty());
            }
        }
        prop_assert!(r.next_member().unwrap().is_none());
    }

    #[test]
    fn acl_text_round_trips(entries in prop::collection::vec((prop_oneof![Just(2u16), Just(8u16)], 0u16..8, 0u32..100_000), 0..6)) {
        let mut bin = vec![2, 0, 0, 0];
        let mut all = vec![(1u16, 6u16, u32::MAX), (4, 4, u32::MAX), (0x20, 4, u32::MAX)];
        all.extend(entries);
        if all.len() > 3 {
            all.push((0x10, 7, u32::MAX));
        }
        all.sort_by_key(|&(t, _, id)| (t, id));
        all.dedup_by_key(|e| (e.0, e.2));
        for (t, p, id) in &all {
            bin.extend_from_slice(&t.to_le_bytes());
            bin.extend_from_slice(&p.to_le_bytes());
            bin.extend_from_slice(&id.to_le_bytes());
        }
        let text = super::pax::acl_text(&bin).unwrap();
        prop_assert_eq!(super::pax::acl_binary(&text, &|_| None, &|_| None), Some(bin));
    }
}

#[test]
fn sparse_member_keeps_its_regions() {
    let node = Node {
        kind: NodeKind::File,
        mode: 0o644,
        size: 10_000,
        links: 1,
        ..Node::default()
    };
    let regions = [(100u64, 50u64), (5000, 10)];
    let mut tar = TarWriter::new(Vec::new());
    let Follows::Data(n) = tar.begin(b"sp", &node, Some(&regions)).unwrap() else {
        panic!("data follows")
    };
    assert_eq!(n, 60);
    tar.data(&[7u8; 60]).unwrap();
    tar.end().unwrap();
    let bytes = tar.finish().unwrap();
    let mut r = TarReader::new(&bytes[..]);
    let m = r.next_member().unwrap().unwrap();
    assert_eq!(m.pax("GNU.sparse.major"), Some(&b"1"[..]));
    assert_eq!(m.pax("GNU.sparse.realsize"), Some(&b"10000"[..]));
    assert_eq!(m.pax("GNU.sparse.name"), Some(&b"sp"[..]));
    let mut data = Vec::new();
    r.data().read_to_end(&mut data).unwrap();
    // The map (3 regions: two of data and the final empty one at the size), then the data.
    assert!(
        data.starts_with(b"3\n100\n50\n5000\n10\n10000\n0\n"),
        "{:?}",
        &data[..40]
    );
    assert_eq!(data.len(), 512 + 60);
}

#[test]
fn damaged_header_is_an_error_not_the_end() {
    let node = Node {
        kind: NodeKind::File,
        mode: 0o644,
        size: 3,
        links: 1,
        ..Node::default()
    };
    let mut tar = TarWriter::new(Vec::new());
    tar.begin(b"f", &node, None).unwrap();
    tar.data(b"abc").unwrap();
    tar.end().unwrap();
    let mut bytes = tar.finish().unwrap();
    bytes[1024 + 100] ^= 1; // the mode field of the ustar header after the pax header
    let mut r = TarReader::new(&bytes[..]);
    assert!(r.next_member().is_err());
}
