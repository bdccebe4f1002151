//! Test vectors: the bytes of every repository object, recomputed from fixed
//! inputs and compared with the files in `docs/vectors/` (described in
//! docs/FORMAT.md and docs/vectors/README.md). A change to one byte of the
//! format fails here. `COFFER_WRITE_VECTORS=1` rewrites the files instead.
//!
//! Every vector is also read back: the stored bytes must decode to the
//! inputs, so a decoder change that still encodes the same is caught too.

use coffer_core::chunk::Chunker;
use coffer_core::crypto::{self, MasterKey, Sealed};
use coffer_core::format::config::{ChunkerParams, Config};
use coffer_core::format::index::{IndexFile, IndexPack};
use coffer_core::format::key::{KdfParams, KeyFile};
use coffer_core::format::pack::{self, BlobKind, PackBlob, PackHeader};
use coffer_core::format::snapshot::{Snapshot, Summary};
use coffer_core::format::tree::{Node, NodeKind, Tree, Xattr};
use coffer_core::format::{FORMAT_VERSION, payload};
use coffer_core::id::{IndexId, KeyId, PackId, RepoId, SnapshotId, TreeId, hash_object};
use coffer_core::repo::lock::{Holder, LockFile};
use coffer_core::repo::{CONFIG_MAC_CONTEXT, PruneRecord, config_mac};
use serde_json::{Value, json};
use std::path::PathBuf;

// ---------------------------------------------------------------- inputs

/// The fixed master key of every vector.
fn master() -> MasterKey {
    MasterKey {
        enc: [1; 32],
        id: [2; 32],
        gear_seed: 3,
    }
}

/// Every sealed box of the vectors uses its own fixed nonce: 24 times `tag`.
fn nonce(tag: u8) -> [u8; 24] {
    [tag; 24]
}

const NONCE_PAYLOAD: u8 = 0x11;
const NONCE_BLOB_A: u8 = 0x21;
const NONCE_BLOB_B: u8 = 0x22;
const NONCE_PACK_HEADER: u8 = 0x23;
const NONCE_TREE: u8 = 0x31;
const NONCE_SNAPSHOT: u8 = 0x41;
const NONCE_INDEX: u8 = 0x51;
const NONCE_KEY: u8 = 0x61;
const NONCE_LOCK: u8 = 0x71;
const NONCE_PRUNE: u8 = 0x81;
/// 2025-11-24 16:00:00 UTC, in ns: the time of the lock and prune vectors.
const VECTOR_TIME: i64 = 1_764_000_000_000_000_000;

/// Shorter than 64 bytes, so `payload::encode` leaves it raw at any level.
const PLAIN: &[u8] = b"Hello, coffer!\n";
const BLOB_A: &[u8] = b"coffer test vector: blob A\n";
const BLOB_B: &[u8] = b"coffer test vector: blob B, a little longer\n";
const PASSWORD: &[u8] = b"correct horse battery staple";
const KEY_SALT: [u8; 16] = [8; 16];

/// The compressible plaintext of the zstd payload vector.
fn zstd_plain() -> Vec<u8> {
    b"coffer ".repeat(200)
}

/// The fixed pseudo-random input of the chunker vector: xorshift64
/// (13, 7, 17) from 0x9E3779B97F4A7C15, one output byte (the low 8 bits of
/// the state) per step.
fn chunk_input() -> Vec<u8> {
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

fn chunk_params() -> ChunkerParams {
    ChunkerParams {
        min_size: 4096,
        avg_size: 16384,
        max_size: 65536,
    }
}

// --------------------------------------------------------- derived objects

/// Payloads at the writer's default level 3: both blobs stay raw (< 64 bytes).
fn sealed_blob(plain: &[u8], tag: u8) -> Vec<u8> {
    let p = payload::encode(plain, 3);
    assert_eq!(p[0], 0, "vector blobs must stay uncompressed");
    crypto::seal_with_nonce(&master().enc, Sealed::Blob, &nonce(tag), &p)
}

/// Structured objects are sealed with raw payloads (level 0) so that their
/// vectors do not depend on zstd's output, which the format does not pin.
fn seal_raw(kind: Sealed, plain: &[u8], tag: u8) -> Vec<u8> {
    crypto::seal_with_nonce(&master().enc, kind, &nonce(tag), &payload::encode(plain, 0))
}

/// The associated data of a kind of box, as text in the vectors.
fn aad(kind: Sealed) -> &'static str {
    std::str::from_utf8(kind.aad()).unwrap()
}

struct PackVector {
    sealed_a: Vec<u8>,
    sealed_b: Vec<u8>,
    header: PackHeader,
    sealed_header: Vec<u8>,
    bytes: Vec<u8>,
    id: PackId,
}

fn pack_vector() -> PackVector {
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
            },
            PackBlob {
                id: k.blob_id(BLOB_B),
                offset: sealed_a.len() as u32,
                length: sealed_b.len() as u32,
                raw_length: BLOB_B.len() as u32,
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

fn tree() -> Tree {
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

fn snapshot(tree: TreeId) -> Snapshot {
    Snapshot {
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
        },
    }
}

fn index(p: &PackVector) -> IndexFile {
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

fn lock_file() -> LockFile {
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
fn prune_record(p: &PackVector) -> PruneRecord {
    PruneRecord {
        version: FORMAT_VERSION,
        time: VECTOR_TIME,
        packs: index(p).packs,
    }
}

fn config() -> Config {
    Config {
        version: FORMAT_VERSION,
        id: RepoId([4; 32]),
        chunker: ChunkerParams::default(),
        pack_size: 32 * 1024 * 1024,
        compression: 3,
    }
}

fn key_file() -> (KeyFile, [u8; 32]) {
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

// ------------------------------------------------------ compare or rewrite

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn writing() -> bool {
    std::env::var_os("COFFER_WRITE_VECTORS").is_some_and(|v| v == "1")
}

fn read_vector(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run with COFFER_WRITE_VECTORS=1 to create it",
            path.display()
        )
    })
}

/// Compares exact bytes with `docs/vectors/<name>` (or writes them).
fn check_bytes(name: &str, bytes: &[u8]) {
    if writing() {
        std::fs::write(dir().join(name), bytes).unwrap();
        return;
    }
    let stored = read_vector(name);
    assert!(
        stored == bytes,
        "{name}: the bytes differ from docs/vectors/{name}\n  stored:   {:?}\n  computed: {:?}\n\
         If this is intended, update docs/FORMAT.md and rerun with COFFER_WRITE_VECTORS=1",
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(bytes)
    );
}

/// Compares a JSON vector field by field (or writes it); returns the stored value.
fn check_json(name: &str, computed: Value) -> Value {
    if writing() {
        let mut text = serde_json::to_string_pretty(&computed).unwrap();
        text.push('\n');
        std::fs::write(dir().join(name), text).unwrap();
        return computed;
    }
    let stored: Value = serde_json::from_slice(&read_vector(name)).unwrap();
    let mut diffs = Vec::new();
    diff(&stored, &computed, name, &mut diffs);
    assert!(
        diffs.is_empty(),
        "the format changed:\n{}\nIf this is intended, update docs/FORMAT.md and rerun with COFFER_WRITE_VECTORS=1",
        diffs.join("\n")
    );
    stored
}

fn diff(stored: &Value, computed: &Value, path: &str, out: &mut Vec<String>) {
    match (stored, computed) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                diff(x, y, &format!("{path}.{k}"), out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ if stored != computed => out.push(format!(
            "  {path}:\n    stored:   {stored}\n    computed: {computed}"
        )),
        _ => {}
    }
}

/// Hex field of a stored JSON vector.
fn field(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("vector lacks {name}")),
    )
    .unwrap()
}

/// A CBOR object sealed as `kind` (vector `name`, id under `id_field`):
/// checks the vector and returns the plaintext of the stored sealed bytes.
fn sealed_object_vector(name: &str, kind: Sealed, tag: u8, cbor: &[u8], id_field: &str) -> Vec<u8> {
    let sealed = seal_raw(kind, cbor, tag);
    let mut computed = json!({
        "cbor": hex::encode(cbor),
        "aad": aad(kind),
        "nonce": hex::encode(nonce(tag)),
        "sealed": hex::encode(&sealed),
    });
    computed[id_field] = json!(hex::encode(hash_object(&sealed)));
    let v = check_json(name, computed);
    let stored = field(&v, "sealed");
    assert_eq!(
        hex::encode(hash_object(&stored)),
        v[id_field].as_str().unwrap()
    );
    open_payload(kind, &stored)
}

fn open_payload(kind: Sealed, sealed: &[u8]) -> Vec<u8> {
    payload::decode(
        &crypto::open(&master().enc, kind, sealed, "vector").unwrap(),
        "vector",
    )
    .unwrap()
}

// ------------------------------------------------------------------ tests

#[test]
fn master_key() {
    let k = master();
    let v = check_json(
        "master_key.json",
        json!({
            "enc": hex::encode(k.enc),
            "id": hex::encode(k.id),
            "gear_seed": k.gear_seed,
            "encoded": hex::encode(k.encode()),
        }),
    );
    assert_eq!(MasterKey::decode(&field(&v, "encoded")).unwrap(), k);
}

#[test]
fn sealed_payload() {
    let p = payload::encode(PLAIN, 3);
    let sealed = crypto::seal_with_nonce(&master().enc, Sealed::Blob, &nonce(NONCE_PAYLOAD), &p);
    let v = check_json(
        "payload.json",
        json!({
            "plaintext": hex::encode(PLAIN),
            "payload": hex::encode(&p),
            "aad": aad(Sealed::Blob),
            "nonce": hex::encode(nonce(NONCE_PAYLOAD)),
            "sealed": hex::encode(&sealed),
        }),
    );
    assert_eq!(open_payload(Sealed::Blob, &field(&v, "sealed")), PLAIN);
}

/// zstd does not promise the same output across its versions, so this vector
/// pins decoding only: the stored frame must decode to the known plaintext.
#[test]
fn zstd_payload_decodes() {
    let plain = zstd_plain();
    let path = "payload_zstd.json";
    if writing() {
        let p = payload::encode(&plain, 3);
        assert_eq!(p[0], 1, "the zstd vector must be compressed");
        check_json(
            path,
            json!({ "plaintext": "\"coffer \" repeated 200 times", "payload": hex::encode(&p) }),
        );
    }
    let stored: Value = serde_json::from_slice(&read_vector(path)).unwrap();
    let p = field(&stored, "payload");
    assert_eq!(p[0], 1);
    assert_eq!(payload::decode(&p, "vector").unwrap(), plain);
    assert_eq!(
        payload::decode(&payload::encode(&plain, 3), "vector").unwrap(),
        plain
    );
}

#[test]
fn blob_ids() {
    let k = master();
    let v = check_json(
        "blob_id.json",
        json!({
            "empty": k.blob_id(b"").to_hex(),
            "plaintext": hex::encode(PLAIN),
            "blob_id": k.blob_id(PLAIN).to_hex(),
        }),
    );
    assert_eq!(
        field(&v, "blob_id"),
        blake3::keyed_hash(&[2; 32], PLAIN).as_bytes()
    );
}

#[test]
fn pack_header_and_pack() {
    let p = pack_vector();
    let k = master();
    let header_cbor = p.header.encode();
    let v = check_json(
        "pack.json",
        json!({
            "blob_aad": aad(Sealed::Blob),
            "header_aad": aad(Sealed::PackHeader),
            "blob_a": { "plaintext": hex::encode(BLOB_A), "blob_id": k.blob_id(BLOB_A).to_hex(),
                        "nonce": hex::encode(nonce(NONCE_BLOB_A)), "sealed": hex::encode(&p.sealed_a) },
            "blob_b": { "plaintext": hex::encode(BLOB_B), "blob_id": k.blob_id(BLOB_B).to_hex(),
                        "nonce": hex::encode(nonce(NONCE_BLOB_B)), "sealed": hex::encode(&p.sealed_b) },
            "header_cbor": hex::encode(&header_cbor),
            "header_nonce": hex::encode(nonce(NONCE_PACK_HEADER)),
            "sealed_header": hex::encode(&p.sealed_header),
            "pack": hex::encode(&p.bytes),
            "pack_id": p.id.to_hex(),
            "key": pack::key(BlobKind::Data, &p.id),
        }),
    );

    // Read the stored pack the way a reader does: trailer, header, blobs.
    let bytes = field(&v, "pack");
    let len = bytes.len() as u64;
    let trailer: [u8; 4] = bytes[bytes.len() - 4..].try_into().unwrap();
    let range = pack::header_range(len, trailer, "vector").unwrap();
    let plain = open_payload(
        Sealed::PackHeader,
        &bytes[range.start as usize..range.end as usize],
    );
    assert_eq!(plain, field(&v, "header_cbor"));
    let h = PackHeader::decode(&plain, "vector").unwrap();
    assert_eq!(h, p.header);
    pack::check_layout(&h, range.start, "vector").unwrap();
    for (b, want) in h.blobs.iter().zip([BLOB_A, BLOB_B]) {
        let sealed = &bytes[b.offset as usize..(b.offset + b.length) as usize];
        let plain = open_payload(Sealed::Blob, sealed);
        assert_eq!(plain, want);
        assert_eq!(k.blob_id(&plain), b.id);
        assert_eq!(plain.len() as u32, b.raw_length);
    }
    assert_eq!(
        hex::encode(hash_object(&bytes)),
        v["pack_id"].as_str().unwrap()
    );
}

#[test]
fn tree_vector() {
    let t = tree();
    let cbor = t.encode();
    let sealed = seal_raw(Sealed::Blob, &cbor, NONCE_TREE);
    let v = check_json(
        "tree.json",
        json!({
            "cbor": hex::encode(&cbor),
            "aad": aad(Sealed::Blob),
            "nonce": hex::encode(nonce(NONCE_TREE)),
            "sealed": hex::encode(&sealed),
            "tree_id": master().blob_id(&cbor).to_hex(),
        }),
    );
    let plain = open_payload(Sealed::Blob, &field(&v, "sealed"));
    assert_eq!(plain, field(&v, "cbor"));
    assert_eq!(Tree::decode(&plain, "vector").unwrap(), t);
    assert_eq!(
        master().blob_id(&plain).to_hex(),
        v["tree_id"].as_str().unwrap()
    );
}

#[test]
fn snapshot_vector() {
    let s = snapshot(master().blob_id(&tree().encode()).tree());
    let plain = sealed_object_vector(
        "snapshot.json",
        Sealed::Snapshot,
        NONCE_SNAPSHOT,
        &s.encode(),
        "snapshot_id",
    );
    assert_eq!(Snapshot::decode(&plain, "vector").unwrap(), s);
}

#[test]
fn index_vector() {
    let i = index(&pack_vector());
    let plain = sealed_object_vector(
        "index.json",
        Sealed::Index,
        NONCE_INDEX,
        &i.encode(),
        "index_id",
    );
    assert_eq!(IndexFile::decode(&plain, "vector").unwrap(), i);
}

#[test]
fn lock_vector() {
    let l = lock_file();
    let plain = sealed_object_vector(
        "lock.json",
        Sealed::Lock,
        NONCE_LOCK,
        &l.encode(),
        "lock_id",
    );
    assert_eq!(LockFile::decode(&plain, "vector").unwrap(), l);
}

#[test]
fn prune_record_vector() {
    let r = prune_record(&pack_vector());
    let plain = sealed_object_vector(
        "prune_record.json",
        Sealed::PruneRecord,
        NONCE_PRUNE,
        &r.encode(),
        "prune_record_id",
    );
    assert_eq!(PruneRecord::decode(&plain, "vector").unwrap(), r);
}

#[test]
fn config_vector() {
    let c = config();
    check_bytes("config.json", &c.encode());
    assert_eq!(Config::decode(&read_vector("config.json")).unwrap(), c);
}

#[test]
fn key_file_unwraps() {
    let (file, wrapping) = key_file();
    let bytes = file.encode();
    check_bytes("key_file.json", &bytes);
    let v = check_json(
        "key_unwrap.json",
        json!({
            "password": String::from_utf8_lossy(PASSWORD),
            "salt": hex::encode(KEY_SALT),
            "m_cost": file.params.m_cost,
            "t_cost": file.params.t_cost,
            "p_cost": file.params.p_cost,
            "wrapping_key": hex::encode(wrapping),
            "aad": aad(Sealed::MasterKey),
            "nonce": hex::encode(nonce(NONCE_KEY)),
            "master_key": hex::encode(master().encode()),
            "key_id": KeyId(hash_object(&bytes)).to_hex(),
            "config_mac_context": CONFIG_MAC_CONTEXT,
            "config_mac_key": hex::encode(blake3::derive_key(CONFIG_MAC_CONTEXT, &master().encode())),
            "config_mac": hex::encode(config_mac(&master(), &config().encode())),
        }),
    );

    // Unwrap the stored key file as `open` does.
    let stored = read_vector("key_file.json");
    assert_eq!(
        hex::encode(hash_object(&stored)),
        v["key_id"].as_str().unwrap()
    );
    let f = KeyFile::decode(&stored, "vector").unwrap();
    let w =
        crypto::derive_wrapping_key(PASSWORD, &f.salt_bytes("vector").unwrap(), &f.params).unwrap();
    assert_eq!(w.to_vec(), field(&v, "wrapping_key"));
    let plain = crypto::open(
        &w,
        Sealed::MasterKey,
        &f.sealed_bytes("vector").unwrap(),
        "vector",
    )
    .unwrap();
    assert_eq!(MasterKey::decode(&plain).unwrap(), master());

    // Its config tag authenticates the bytes of `config.json`, as `open`
    // checks: keyed BLAKE3 under the derived key.
    let tag = f.config_mac_bytes("vector").unwrap().expect("a config tag");
    assert_eq!(tag.to_vec(), field(&v, "config_mac"));
    let mac_key: [u8; 32] = field(&v, "config_mac_key").try_into().unwrap();
    let config = read_vector("config.json");
    assert_eq!(*blake3::keyed_hash(&mac_key, &config).as_bytes(), tag);
    // One changed byte of config (compression 3 -> 2) no longer matches.
    let changed = String::from_utf8(config)
        .unwrap()
        .replace("\"compression\": 3", "\"compression\": 2");
    assert_ne!(config_mac(&master(), changed.as_bytes()), tag);
}

#[test]
fn chunk_boundaries() {
    let input = chunk_input();
    let k = master();
    let chunker = Chunker::new(chunk_params(), k.gear_seed);
    let mut chunks = Vec::new();
    let mut offset = 0usize;
    chunker
        .chunks(&input[..], input.len() as u64, &"vector", &mut |c| {
            chunks.push(json!([offset, c.len(), k.blob_id(&c).to_hex()]));
            offset += c.len();
            Ok(())
        })
        .unwrap();
    assert_eq!(offset, input.len());
    let p = chunk_params();
    check_json(
        "chunks.json",
        json!({
            "input": "xorshift64 (13, 7, 17) from 0x9e3779b97f4a7c15, low byte of each step, 307200 bytes",
            "input_blake3": hex::encode(hash_object(&input)),
            "min_size": p.min_size,
            "avg_size": p.avg_size,
            "max_size": p.max_size,
            "gear_seed": k.gear_seed,
            "chunk_fields": ["offset", "length", "blob_id"],
            "chunks": chunks,
        }),
    );
}
