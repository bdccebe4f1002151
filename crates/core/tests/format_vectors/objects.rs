//! The fixed inputs of the test vectors and the objects derived from
//! them: what `format_vectors.rs` encodes and compares byte for byte.

use coffer_core::crypto;
use coffer_core::crypto::MasterKey;
use coffer_core::crypto::Sealed;
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
use coffer_core::format::snapshot::Snapshot;
use coffer_core::format::snapshot::Summary;
use coffer_core::format::tree::Node;
use coffer_core::format::tree::NodeKind;
use coffer_core::format::tree::Tree;
use coffer_core::format::tree::Xattr;
use coffer_core::format::{FORMAT_VERSION, GROUPS_VERSION};
use coffer_core::id::IndexId;
use coffer_core::id::PackId;
use coffer_core::id::RepoId;
use coffer_core::id::SnapshotId;
use coffer_core::id::TreeId;
use coffer_core::id::hash_object;
use coffer_core::{LockFile, LockHolder as Holder};
use coffer_core::{PruneRecord, config_mac};

// ---------------------------------------------------------------- inputs

/// The fixed master key of every vector.
pub fn master() -> MasterKey {
    MasterKey {
        enc: [1; 32],
        id: [2; 32],
        gear_seed: 3,
    }
}

/// Every sealed box of the vectors uses its own fixed nonce: 24 times `tag`.
pub fn nonce(tag: u8) -> [u8; 24] {
    [tag; 24]
}

pub const NONCE_PAYLOAD: u8 = 0x11;
pub const NONCE_BLOB_A: u8 = 0x21;
pub const NONCE_BLOB_B: u8 = 0x22;
pub const NONCE_PACK_HEADER: u8 = 0x23;
pub const NONCE_GROUP: u8 = 0x24;
pub const NONCE_GROUPED_HEADER: u8 = 0x25;
pub const NONCE_TREE: u8 = 0x31;
pub const NONCE_SNAPSHOT: u8 = 0x41;
pub const NONCE_INDEX: u8 = 0x51;
pub const NONCE_KEY: u8 = 0x61;
pub const NONCE_LOCK: u8 = 0x71;
pub const NONCE_PRUNE: u8 = 0x81;
pub const NONCE_CATALOG: u8 = 0x91;
/// 2025-11-24 16:00:00 UTC, in ns: the time of the lock and prune vectors.
pub const VECTOR_TIME: i64 = 1_764_000_000_000_000_000;

/// Shorter than 64 bytes, so `payload::encode` leaves it raw at any level.
pub const PLAIN: &[u8] = b"Hello, coffer!\n";
pub const BLOB_A: &[u8] = b"coffer test vector: blob A\n";
pub const BLOB_B: &[u8] = b"coffer test vector: blob B, a little longer\n";
pub const PASSWORD: &[u8] = b"correct horse battery staple";
pub const KEY_SALT: [u8; 16] = [8; 16];

/// The compressible plaintext of the zstd payload vector.
pub fn zstd_plain() -> Vec<u8> {
    b"coffer ".repeat(200)
}

/// The fixed pseudo-random input of the chunker vector: xorshift64
/// (13, 7, 17) from 0x9E3779B97F4A7C15, one output byte (the low 8 bits of
/// the state) per step.
pub fn chunk_input() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..300 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn chunk_params() -> ChunkerParams {
    ChunkerParams {
        min_size: 4096,
        avg_size: 16384,
        max_size: 65536,
    }
}

// --------------------------------------------------------- derived objects

/// Payloads at the writer's default level 3: both blobs stay raw (< 64 bytes).
pub fn sealed_blob(plain: &[u8], tag: u8) -> Vec<u8> {
    let p = payload::encode(plain, 3);
    assert_eq!(p[0], 0, "vector blobs must stay uncompressed");
    crypto::seal_with_nonce(&master().enc, Sealed::Blob, &nonce(tag), &p)
}

/// Structured objects are sealed with raw payloads (level 0) so that their
/// vectors do not depend on zstd's output, which the format does not pin.
pub fn seal_raw(kind: Sealed, plain: &[u8], tag: u8) -> Vec<u8> {
    crypto::seal_with_nonce(&master().enc, kind, &nonce(tag), &payload::encode(plain, 0))
}

/// The associated data of a kind of box, as text in the vectors.
pub fn aad(kind: Sealed) -> &'static str {
    std::str::from_utf8(kind.aad()).unwrap()
}

pub struct PackVector {
    pub sealed_a: Vec<u8>,
    pub sealed_b: Vec<u8>,
    pub header: PackHeader,
    pub sealed_header: Vec<u8>,
    pub bytes: Vec<u8>,
    pub id: PackId,
}

pub fn pack_vector() -> PackVector {
    let k = master();
    let sealed_a = sealed_blob(BLOB_A, NONCE_BLOB_A);
    let sealed_b = sealed_blob(BLOB_B, NONCE_BLOB_B);
    let header = PackHeader {
        version: FORMAT_VERSION,
        kind: BlobKind::Data,
        blobs: vec![
            PackBlob {
                id: k.blob_id(BLOB_A),
                offset: 0,
                length: sealed_a.len() as u32,
                raw_length: BLOB_A.len() as u32,
                in_group: None,
            },
            PackBlob {
                id: k.blob_id(BLOB_B),
                offset: sealed_a.len() as u32,
                length: sealed_b.len() as u32,
                raw_length: BLOB_B.len() as u32,
                in_group: None,
            },
        ],
    };
    let sealed_header = seal_raw(Sealed::PackHeader, &header.encode(), NONCE_PACK_HEADER);
    let bytes = pack::finish(
        [sealed_a.clone(), sealed_b.clone()].concat(),
        &sealed_header,
    )
    .unwrap();
    let id = PackId(hash_object(&bytes));
    PackVector {
        sealed_a,
        sealed_b,
        header,
        sealed_header,
        bytes,
        id,
    }
}

pub struct GroupedVector {
    pub group: Vec<u8>,
    pub sealed_group: Vec<u8>,
    pub header: PackHeader,
    pub sealed_header: Vec<u8>,
    pub bytes: Vec<u8>,
    pub id: PackId,
}

/// A data pack of one compression group holding blobs A and B (version 2):
/// the group's plaintext is A ‖ B, sealed with flag 0.
pub fn grouped_pack_vector() -> GroupedVector {
    let k = master();
    let group = [BLOB_A, BLOB_B].concat();
    let sealed_group = crypto::seal_with_nonce(
        &k.enc,
        Sealed::Blob,
        &nonce(NONCE_GROUP),
        &payload::encode(&group, 0),
    );
    let member = |plain: &[u8], at: usize| PackBlob {
        id: k.blob_id(plain),
        offset: 0,
        length: sealed_group.len() as u32,
        raw_length: plain.len() as u32,
        in_group: Some(at as u32),
    };
    let header = PackHeader {
        version: GROUPS_VERSION,
        kind: BlobKind::Data,
        blobs: vec![member(BLOB_A, 0), member(BLOB_B, BLOB_A.len())],
    };
    let sealed_header = seal_raw(Sealed::PackHeader, &header.encode(), NONCE_GROUPED_HEADER);
    let bytes = pack::finish(sealed_group.clone(), &sealed_header).unwrap();
    let id = PackId(hash_object(&bytes));
    GroupedVector {
        group,
        sealed_group,
        header,
        sealed_header,
        bytes,
        id,
    }
}

pub fn tree() -> Tree {
    let k = master();
    let file = Node {
        // Not UTF-8: names are bytes.
        name: b"caf\xe9.txt".to_vec(),
        kind: NodeKind::File,
        mode: 0o4755,
        uid: 1000,
        gid: 100,
        user: "alice".into(),
        group: "users".into(),
        mtime: 1_700_000_000_123_456_789,
        atime: 1_700_000_100_000_000_000,
        ctime: 1_700_000_000_223_456_789,
        size: (BLOB_A.len() + 4096 + BLOB_B.len()) as u64,
        inode: 131_074,
        dev: 2049,
        links: 2,
        rdev: 0,
        target: None,
        xattrs: vec![
            Xattr {
                name: b"security.capability".to_vec(),
                value: vec![1, 0, 0, 2, 0x20, 0, 0, 0],
            },
            Xattr {
                name: b"user.comment".to_vec(),
                value: b"hi".to_vec(),
            },
        ],
        holes: vec![(BLOB_A.len() as u64, 4096)],
        content: vec![k.blob_id(BLOB_A), k.blob_id(BLOB_B)],
        subtree: None,
    };
    let dir = Node {
        name: b"dir".to_vec(),
        kind: NodeKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000_000_000_000,
        subtree: Some(TreeId([7; 32])),
        ..Node::default()
    };
    Tree::new(vec![dir, file])
}

pub fn snapshot(tree: TreeId) -> Snapshot {
    Snapshot {
        original: None,
        image: None,
        version: FORMAT_VERSION,
        time: 1_700_000_200_000_000_000,
        host: "host.example".into(),
        user: "root".into(),
        paths: vec!["/etc".into(), "/home".into()],
        tags: vec!["daily".into()],
        tree,
        parent: Some(SnapshotId([5; 32])),
        excludes: vec!["*.tmp".into()],
        program_version: "0.1.0".into(),
        summary: Summary {
            files_new: 1,
            files_changed: 2,
            files_unchanged: 3,
            dirs: 4,
            other_entries: 5,
            errors: 0,
            total_bytes: 6000,
            bytes_read: 700,
            bytes_new: 80,
            bytes_stored: 900,
            blobs_new: 2,
            duration_ns: 1_500_000_000,
            requests: None,
        },
    }
}

pub fn index(p: &PackVector) -> IndexFile {
    IndexFile {
        version: FORMAT_VERSION,
        packs: vec![IndexPack {
            id: p.id,
            kind: BlobKind::Data,
            size: p.bytes.len() as u64,
            blobs: p.header.blobs.clone(),
        }],
        supersedes: vec![IndexId([6; 32])],
    }
}

pub fn lock_file() -> LockFile {
    LockFile {
        version: FORMAT_VERSION,
        exclusive: true,
        host: "web1".into(),
        user: "root".into(),
        pid: 4242,
        time: VECTOR_TIME,
        command: "prune".into(),
        holder: Some(Holder {
            boot_id: "6f1c0c2e-4b5a-4d7e-9a38-2f0d1e5c7b90".into(),
            pid_ns: 4026531836,
            start_time: 1234567,
        }),
    }
}

/// The pack of `pack.json`, condemned.
pub fn prune_record(p: &PackVector) -> PruneRecord {
    PruneRecord {
        version: FORMAT_VERSION,
        time: VECTOR_TIME,
        packs: index(p).packs,
    }
}

pub fn config() -> Config {
    Config {
        version: FORMAT_VERSION,
        id: RepoId([4; 32]),
        chunker: ChunkerParams::default(),
        pack_size: 32 * 1024 * 1024,
        compression: 3,
        object_lock: None,
    }
}

pub fn key_file() -> (KeyFile, [u8; 32]) {
    let params = KdfParams::insecure_fast();
    let wrapping = crypto::derive_wrapping_key(PASSWORD, &KEY_SALT, &params).unwrap();
    let file = KeyFile {
        version: FORMAT_VERSION,
        kdf: "argon2id".into(),
        params,
        salt: hex::encode(KEY_SALT),
        sealed: hex::encode(crypto::seal_with_nonce(
            &wrapping,
            Sealed::MasterKey,
            &nonce(NONCE_KEY),
            &master().encode(),
        )),
        config_mac: Some(hex::encode(config_mac(&master(), &config().encode()))),
        created: "2024-01-01T00:00:00Z".into(),
        host: "host.example".into(),
        user: "root".into(),
    };
    (file, wrapping)
}
