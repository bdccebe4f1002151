//! Property tests of the repository format (docs/FORMAT.md):
//!
//! - every object type round-trips through
//!   encode → payload::encode → crypto::seal → crypto::open → payload::decode → decode;
//! - any single flipped bit of a sealed object, a truncation or an appended
//!   byte is detected by `crypto::open`, and so is a box opened as another
//!   kind of object;
//! - the decoders return errors, never panic, on arbitrary or damaged bytes.
//!
//! Versions and validation (refusals) are in `format_validation.rs`.

use coffer_core::PruneRecord;
use coffer_core::crypto;
use coffer_core::crypto::MasterKey;
use coffer_core::crypto::Sealed;
use coffer_core::format::FORMAT_VERSION;
use coffer_core::format::config::ChunkerParams;
use coffer_core::format::config::Config;
use coffer_core::format::index::IndexFile;
use coffer_core::format::index::IndexPack;
use coffer_core::format::key::KdfParams;
use coffer_core::format::key::KeyFile;
use coffer_core::format::pack;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::pack::PackBlob;
use coffer_core::format::pack::PackHeader;
use coffer_core::format::payload;
use coffer_core::format::snapshot::Requests;
use coffer_core::format::snapshot::Snapshot;
use coffer_core::format::snapshot::Summary;
use coffer_core::format::tree::Node;
use coffer_core::format::tree::NodeKind;
use coffer_core::format::tree::Tree;
use coffer_core::format::tree::Xattr;
use coffer_core::id::BlobId;
use coffer_core::id::IndexId;
use coffer_core::id::PackId;
use coffer_core::id::RepoId;
use coffer_core::id::SnapshotId;
use coffer_core::id::TreeId;
use coffer_core::{LockFile, LockHolder as Holder};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;

// ------------------------------------------------------------ strategies

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn id32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

/// Any valid file name: 1..40 bytes, not UTF-8 in general, no `/` or NUL,
/// not `.` or `..`.
fn name() -> impl Strategy<Value = Vec<u8>> {
    vec(
        any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
        1..40,
    )
    .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn kind() -> impl Strategy<Value = NodeKind> {
    prop_oneof![
        Just(NodeKind::File),
        Just(NodeKind::Dir),
        Just(NodeKind::Symlink),
        Just(NodeKind::Chardev),
        Just(NodeKind::Blockdev),
        Just(NodeKind::Fifo),
        Just(NodeKind::Socket),
    ]
}

fn xattrs() -> impl Strategy<Value = Vec<Xattr>> {
    vec(
        (bytes(40), bytes(100)).prop_map(|(name, value)| Xattr { name, value }),
        0..4,
    )
}

fn node() -> impl Strategy<Value = Node> {
    let ids = (
        name(),
        kind(),
        any::<(u32, u32, u32)>(),
        ".{0,12}",
        ".{0,12}",
    );
    let times = any::<(i64, i64, i64)>();
    let numbers = any::<(u64, u64, u64, u64, u64)>();
    let extra = (
        proptest::option::of(bytes(60)),
        xattrs(),
        // Holes as (gap after the previous one, length).
        vec((0u64..1 << 20, 1u64..1 << 20), 0..4),
        vec(id32().prop_map(BlobId), 0..5),
        id32(),
    );
    (ids, times, numbers, extra).prop_map(
        |(
            (name, kind, (mode, uid, gid), user, group),
            (mtime, atime, ctime),
            (size, inode, dev, links, rdev),
            (target, xattrs, gaps, content, subtree),
        )| {
            // Only files have content and holes (sorted, non-overlapping,
            // within the size), only symlinks a target, and exactly
            // directories a subtree.
            let file = kind == NodeKind::File;
            let mut end = 0;
            let holes: Vec<(u64, u64)> = gaps
                .into_iter()
                .filter(|_| file)
                .map(|(gap, len)| {
                    let hole = (end + gap, len);
                    end = hole.0 + len;
                    hole
                })
                .collect();
            Node {
                name,
                kind,
                mode,
                uid,
                gid,
                user,
                group,
                mtime,
                atime,
                ctime,
                size: if file { size.max(end) } else { size },
                inode,
                dev,
                links,
                rdev,
                target: target.filter(|_| kind == NodeKind::Symlink),
                xattrs,
                holes,
                content: if file { content } else { Vec::new() },
                subtree: (kind == NodeKind::Dir).then_some(TreeId(subtree)),
            }
        },
    )
}

fn tree() -> impl Strategy<Value = Tree> {
    vec(node(), 0..8).prop_map(|nodes| {
        // Names are unique within a directory.
        let unique: BTreeMap<Vec<u8>, Node> =
            nodes.into_iter().map(|n| (n.name.clone(), n)).collect();
        Tree::new(unique.into_values().collect())
    })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let who = (
        any::<i64>(),
        ".{0,20}",
        ".{0,20}",
        vec(".{0,30}", 0..4),
        vec(".{0,10}", 0..4),
    );
    let refs = (
        id32(),
        proptest::option::of(id32()),
        vec(".{0,20}", 0..4),
        ".{0,10}",
        any::<[u64; 12]>(),
    );
    let requests = proptest::option::of((
        proptest::collection::btree_map("[A-Z]{1,8}", any::<u64>(), 0..7),
        "[A-Z_]{0,20}",
    ));
    (who, refs, requests).prop_map(
        |((time, host, user, paths, tags), (tree, parent, excludes, program_version, s), q)| {
            Snapshot {
                original: None,
                image: None,
                version: FORMAT_VERSION,
                time,
                host,
                user,
                paths,
                tags,
                tree: TreeId(tree),
                parent: parent.map(SnapshotId),
                excludes,
                program_version,
                summary: Summary {
                    files_new: s[0],
                    files_changed: s[1],
                    files_unchanged: s[2],
                    dirs: s[3],
                    other_entries: s[4],
                    errors: s[5],
                    total_bytes: s[6],
                    bytes_read: s[7],
                    bytes_new: s[8],
                    bytes_stored: s[9],
                    blobs_new: s[10],
                    duration_ns: s[11],
                    requests: q.map(|(by_kind, data_class)| Requests {
                        by_kind,
                        data_class,
                    }),
                },
            }
        },
    )
}

fn blob_kind() -> impl Strategy<Value = BlobKind> {
    prop_oneof![Just(BlobKind::Data), Just(BlobKind::Tree)]
}

fn pack_blob() -> impl Strategy<Value = PackBlob> {
    (id32(), any::<(u32, u32, u32)>(), any::<Option<u32>>()).prop_map(
        |(id, (offset, length, raw_length), in_group)| PackBlob {
            id: BlobId(id),
            offset,
            length,
            raw_length,
            in_group,
        },
    )
}

fn pack_header() -> impl Strategy<Value = PackHeader> {
    (blob_kind(), vec(pack_blob(), 0..8)).prop_map(|(kind, blobs)| PackHeader {
        version: FORMAT_VERSION,
        kind,
        blobs,
    })
}

fn index_file() -> impl Strategy<Value = IndexFile> {
    let pack = (id32(), blob_kind(), any::<u64>(), vec(pack_blob(), 0..5)).prop_map(
        |(id, kind, size, blobs)| IndexPack {
            id: PackId(id),
            kind,
            size,
            blobs,
        },
    );
    (vec(pack, 0..4), vec(id32().prop_map(IndexId), 0..3)).prop_map(|(packs, supersedes)| {
        IndexFile {
            version: FORMAT_VERSION,
            packs,
            supersedes,
        }
    })
}

fn lock_file() -> impl Strategy<Value = LockFile> {
    (
        any::<bool>(),
        ".{0,12}",
        ".{0,12}",
        any::<u32>(),
        any::<i64>(),
        ".{0,8}",
    )
        .prop_flat_map(|(exclusive, host, user, pid, time, command)| {
            proptest::option::of(("[0-9a-f-]{0,36}", any::<u64>(), any::<u64>())).prop_map(
                move |holder| LockFile {
                    version: FORMAT_VERSION,
                    exclusive,
                    host: host.clone(),
                    user: user.clone(),
                    pid,
                    time,
                    command: command.clone(),
                    holder: holder.map(|(boot_id, pid_ns, start_time)| Holder {
                        boot_id,
                        pid_ns,
                        start_time,
                    }),
                },
            )
        })
}

fn prune_record() -> impl Strategy<Value = PruneRecord> {
    (index_file(), any::<i64>()).prop_map(|(i, time)| PruneRecord {
        version: FORMAT_VERSION,
        time,
        packs: i.packs,
    })
}

/// Only valid configs: `Config::decode` checks the parameter ranges.
fn config() -> impl Strategy<Value = Config> {
    let sizes = (32u32..=1 << 19, 128u32..=2 << 20, 512u32..=8 << 20);
    let lock = proptest::option::of((any::<bool>(), 1u64..=100 * 365 * 86_400));
    (id32(), sizes, 1024u32..=1 << 30, 0i32..=22, lock).prop_map(
        |(id, (a, b, c), pack_size, compression, lock)| {
            let min_size = a * 2;
            let avg_size = (b * 2).max(min_size);
            let max_size = (c * 2).max(avg_size);
            Config {
                version: FORMAT_VERSION,
                id: RepoId(id),
                chunker: ChunkerParams {
                    min_size,
                    avg_size,
                    max_size,
                },
                pack_size,
                compression,
                object_lock: lock.map(|(compliance, retention_secs)| {
                    coffer_core::format::config::ObjectLock {
                        mode: if compliance {
                            "COMPLIANCE"
                        } else {
                            "GOVERNANCE"
                        }
                        .into(),
                        retention_secs,
                    }
                }),
            }
        },
    )
}

fn key_file() -> impl Strategy<Value = KeyFile> {
    let params = any::<(u32, u32, u32)>().prop_map(|(m_cost, t_cost, p_cost)| KdfParams {
        m_cost,
        t_cost,
        p_cost,
    });
    (
        params,
        bytes(32),
        bytes(120),
        ".{0,25}",
        ".{0,20}",
        ".{0,20}",
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(|(params, salt, sealed, created, host, user, mac)| KeyFile {
            version: FORMAT_VERSION,
            kdf: "argon2id".into(),
            params,
            salt: hex::encode(salt),
            sealed: hex::encode(sealed),
            config_mac: mac.map(hex::encode),
            created,
            host,
            user,
        })
}

/// zstd levels: 0 (never compress), the defaults, and a slow one.
fn level() -> impl Strategy<Value = i32> {
    prop_oneof![Just(0), Just(1), Just(3), Just(9)]
}

// --------------------------------------------------------------- helpers

/// The whole chain both ways; returns the sealed bytes for further checks.
fn round_trip<T, D>(
    obj: &T,
    plain: Vec<u8>,
    level: i32,
    key: &[u8; 32],
    kind: Sealed,
    decode: D,
) -> Result<Vec<u8>, TestCaseError>
where
    T: PartialEq + std::fmt::Debug,
    D: Fn(&[u8]) -> coffer_core::Result<T>,
{
    let sealed = crypto::seal(key, kind, &payload::encode(&plain, level));
    let opened =
        crypto::open(key, kind, &sealed, "test").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = payload::decode(&opened, "test").map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, &plain);
    let decoded = decode(&back).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&decoded, obj);
    Ok(sealed)
}

/// A flipped bit anywhere, a cut, an extra byte, or opening the box as
/// another kind of object: `open` must refuse.
fn tamper_detected(
    sealed: &[u8],
    key: &[u8; 32],
    kind: Sealed,
    at: Index,
) -> Result<(), TestCaseError> {
    let bit = at.index(sealed.len() * 8);
    let mut bad = sealed.to_vec();
    bad[bit / 8] ^= 1 << (bit % 8);
    prop_assert!(
        crypto::open(key, kind, &bad, "test").is_err(),
        "flip of bit {} not detected",
        bit
    );
    let cut = at.index(sealed.len());
    prop_assert!(
        crypto::open(key, kind, &sealed[..cut], "test").is_err(),
        "cut at {} not detected",
        cut
    );
    let mut longer = sealed.to_vec();
    longer.push(0);
    prop_assert!(
        crypto::open(key, kind, &longer, "test").is_err(),
        "appended byte not detected"
    );
    for other in Sealed::ALL.into_iter().filter(|k| *k != kind) {
        prop_assert!(
            crypto::open(key, other, sealed, "test").is_err(),
            "{:?} box opened as {:?}",
            kind,
            other
        );
    }
    Ok(())
}

/// Every decoder of the format, fed the same bytes; none may panic.
fn decode_everything(b: &[u8]) {
    let _ = Tree::decode(b, "fuzz");
    let _ = Snapshot::decode(b, "fuzz");
    let _ = IndexFile::decode(b, "fuzz");
    let _ = PackHeader::decode(b, "fuzz");
    let _ = LockFile::decode(b, "fuzz");
    let _ = PruneRecord::decode(b, "fuzz");
    let _ = Config::decode(b);
    if let Ok(k) = KeyFile::decode(b, "fuzz") {
        let _ = k.salt_bytes("fuzz");
        let _ = k.sealed_bytes("fuzz");
    }
    let _ = payload::decode(b, "fuzz");
    let _ = MasterKey::decode(b);
    let _ = crypto::open(&[0; 32], Sealed::Blob, b, "fuzz");
    if b.len() >= 4 {
        let trailer: [u8; 4] = b[b.len() - 4..].try_into().unwrap();
        if let Ok(r) = pack::header_range(b.len() as u64, trailer, "fuzz") {
            assert!(r.start <= r.end && r.end + 4 == b.len() as u64);
        }
    }
}

/// Damages `b`: overwrite one byte, then maybe cut.
fn damage(mut b: Vec<u8>, at: Index, value: u8, cut: Option<Index>) -> Vec<u8> {
    if !b.is_empty() {
        let i = at.index(b.len());
        b[i] = value;
    }
    if let Some(c) = cut {
        b.truncate(c.index(b.len() + 1));
    }
    b
}

/// What the direct decoder accepted, serde reads as the same value.
fn fast_agrees<T>(fast: Option<T>, bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Some(fast) = fast {
        let serde: Option<T> = ciborium::from_reader(bytes).ok();
        prop_assert_eq!(Some(fast), serde);
    }
    Ok(())
}

// ----------------------------------------------------------------- tests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn tree_round_trips(t in tree(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&t, t.encode(), level, &key, Sealed::Blob, |b| Tree::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::Blob, at)?;
    }

    /// The direct tree decoder takes every tree coffer writes, and gives
    /// exactly what the serde decoder gives.
    #[test]
    fn fast_tree_decoder_agrees_with_serde(t in tree()) {
        let bytes = t.encode();
        let fast = coffer_core::format::tree_fast::decode(&bytes);
        prop_assert_eq!(fast.as_ref(), Some(&t));
        let serde: Tree = ciborium::from_reader(&bytes[..]).unwrap();
        prop_assert_eq!(fast, Some(serde));
    }

    /// The direct index decoder takes every index coffer writes, and gives
    /// exactly what the serde decoder gives.
    #[test]
    fn fast_index_decoder_agrees_with_serde(i in index_file()) {
        let bytes = i.encode();
        let fast = coffer_core::format::index_fast::decode(&bytes);
        prop_assert_eq!(fast.as_ref(), Some(&i));
        let serde: IndexFile = ciborium::from_reader(&bytes[..]).unwrap();
        prop_assert_eq!(fast, Some(serde));
    }

    /// On damaged bytes (a valid tree or index with a byte changed, cut
    /// short, extended) the two decoders never disagree: whatever the
    /// direct decoder accepts, serde decodes to the same value. (When it
    /// declines, the serde decoder decides alone.)
    #[test]
    fn fast_decoders_accept_nothing_serde_reads_otherwise(
        t in tree(), f in index_file(), at in any::<Index>(), value in any::<u8>(),
        cut in proptest::option::of(any::<Index>()), extra in vec(any::<u8>(), 0..4)
    ) {
        let mut bytes = damage(t.encode(), at, value, cut);
        bytes.extend_from_slice(&extra);
        fast_agrees(coffer_core::format::tree_fast::decode(&bytes), &bytes)?;
        let mut bytes = damage(f.encode(), at, value, cut);
        bytes.extend_from_slice(&extra);
        fast_agrees(coffer_core::format::index_fast::decode(&bytes), &bytes)?;
    }

    /// And on bytes that were never a tree or an index.
    #[test]
    fn fast_decoders_agree_with_serde_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        fast_agrees(coffer_core::format::tree_fast::decode(&bytes), &bytes)?;
        fast_agrees(coffer_core::format::index_fast::decode(&bytes), &bytes)?;
    }

    #[test]
    fn snapshot_round_trips(s in snapshot(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&s, s.encode(), level, &key, Sealed::Snapshot, |b| Snapshot::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::Snapshot, at)?;
    }

    #[test]
    fn index_round_trips(i in index_file(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&i, i.encode(), level, &key, Sealed::Index, |b| IndexFile::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::Index, at)?;
    }

    #[test]
    fn lock_round_trips(l in lock_file(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&l, l.encode(), level, &key, Sealed::Lock, |b| LockFile::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::Lock, at)?;
    }

    #[test]
    fn prune_record_round_trips(r in prune_record(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&r, r.encode(), level, &key, Sealed::PruneRecord, |b| PruneRecord::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::PruneRecord, at)?;
    }

    #[test]
    fn pack_header_round_trips(h in pack_header(), level in level(), key in id32(), at in any::<Index>()) {
        let sealed = round_trip(&h, h.encode(), level, &key, Sealed::PackHeader, |b| PackHeader::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::PackHeader, at)?;
    }

    #[test]
    fn config_round_trips(c in config(), level in level(), key in id32(), at in any::<Index>()) {
        // `config` is stored in plaintext; it must also survive the sealed chain.
        prop_assert_eq!(&Config::decode(&c.encode()).unwrap(), &c);
        let sealed = round_trip(&c, c.encode(), level, &key, Sealed::Blob, Config::decode)?;
        tamper_detected(&sealed, &key, Sealed::Blob, at)?;
    }

    #[test]
    fn key_file_round_trips(k in key_file(), level in level(), key in id32(), at in any::<Index>()) {
        prop_assert_eq!(&KeyFile::decode(&k.encode(), "test").unwrap(), &k);
        let sealed = round_trip(&k, k.encode(), level, &key, Sealed::Blob, |b| KeyFile::decode(b, "test"))?;
        tamper_detected(&sealed, &key, Sealed::Blob, at)?;
    }

    #[test]
    fn master_key_round_trips(enc in id32(), id in id32(), gear_seed in any::<u64>(), wrap in id32(), at in any::<Index>()) {
        let k = MasterKey { enc, id, gear_seed };
        let sealed = crypto::seal(&wrap, Sealed::MasterKey, &k.encode());
        prop_assert_eq!(MasterKey::decode(&crypto::open(&wrap, Sealed::MasterKey, &sealed, "test").unwrap()).unwrap(), k);
        tamper_detected(&sealed, &wrap, Sealed::MasterKey, at)?;
    }

    #[test]
    fn payload_round_trips(data in bytes(4096), repeat in 1usize..50, level in level()) {
        let data = data.repeat(repeat);
        let p = payload::encode(&data, level);
        prop_assert!(p.len() <= data.len() + 1, "compression never grows a payload");
        prop_assert_eq!(payload::decode(&p, "test").unwrap(), data);
    }

    #[test]
    fn pack_of_blobs_reads_back(blobs in vec(bytes(300), 1..6), key in id32()) {
        // finish → header_range → open header → every blob at its offset.
        let mut body = Vec::new();
        let mut entries = Vec::new();
        let id_key = MasterKey { enc: key, id: [9; 32], gear_seed: 1 };
        for b in &blobs {
            let sealed = crypto::seal(&key, Sealed::Blob, &payload::encode(b, 3));
            entries.push(PackBlob { id: id_key.blob_id(b), offset: body.len() as u32, length: sealed.len() as u32, raw_length: b.len() as u32, in_group: None });
            body.extend_from_slice(&sealed);
        }
        let h = PackHeader { version: FORMAT_VERSION, kind: BlobKind::Data, blobs: entries };
        let p = pack::finish(body, &crypto::seal(&key, Sealed::PackHeader, &payload::encode(&h.encode(), 3))).unwrap();
        let trailer: [u8; 4] = p[p.len() - 4..].try_into().unwrap();
        let r = pack::header_range(p.len() as u64, trailer, "test").unwrap();
        let plain = payload::decode(&crypto::open(&key, Sealed::PackHeader, &p[r.start as usize..r.end as usize], "test").unwrap(), "test").unwrap();
        let back = PackHeader::decode(&plain, "test").unwrap();
        pack::check_layout(&back, r.start, "test").unwrap();
        prop_assert_eq!(&back, &h);
        for (e, b) in back.blobs.iter().zip(&blobs) {
            let sealed = &p[e.offset as usize..(e.offset + e.length) as usize];
            let plain = payload::decode(&crypto::open(&key, Sealed::Blob, sealed, "test").unwrap(), "test").unwrap();
            prop_assert_eq!(&plain, b);
            prop_assert_eq!(id_key.blob_id(&plain), e.id);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(b in bytes(600)) {
        decode_everything(&b);
    }

    #[test]
    fn decoders_never_panic_on_compressed_garbage(b in bytes(300)) {
        let mut p = vec![1u8];
        p.extend_from_slice(&b);
        let _ = payload::decode(&p, "fuzz");
    }

    #[test]
    fn decoders_never_panic_on_damaged_objects(
        t in tree(), s in snapshot(), i in index_file(), h in pack_header(), c in config(), k in key_file(),
        at in any::<Index>(), value in any::<u8>(), cut in proptest::option::of(any::<Index>()),
    ) {
        for good in [t.encode(), s.encode(), i.encode(), h.encode(), c.encode(), k.encode(), payload::encode(&t.encode(), 3)] {
            decode_everything(&damage(good, at, value, cut));
        }
    }
}
