//! Test vectors: the bytes of every repository object, recomputed from fixed
//! inputs and compared with the files in `docs/vectors/` (described in
//! docs/FORMAT.md and docs/vectors/README.md). A change to one byte of the
//! format fails here. `COFFER_WRITE_VECTORS=1` rewrites the files instead.
//!
//! Every vector is also read back: the stored bytes must decode to the
//! inputs, so a decoder change that still encodes the same is caught too.

use coffer_core::Chunker;
use coffer_core::LockFile;
use coffer_core::crypto;
use coffer_core::crypto::MasterKey;
use coffer_core::crypto::Sealed;
use coffer_core::format::catalog::Catalog;
use coffer_core::format::config::Config;
use coffer_core::format::index::IndexFile;
use coffer_core::format::key::KeyFile;
use coffer_core::format::pack;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::pack::PackHeader;
use coffer_core::format::payload;
use coffer_core::format::snapshot::Snapshot;
use coffer_core::format::tree::Tree;
use coffer_core::id::KeyId;
use coffer_core::id::hash_object;
use coffer_core::{CONFIG_MAC_CONTEXT, PruneRecord, config_mac};
use serde_json::{Value, json};
use std::path::PathBuf;

#[path = "format_vectors/objects.rs"]
mod objects;
use objects::*;

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
fn grouped_pack() {
    let p = grouped_pack_vector();
    let k = master();
    let header_cbor = p.header.encode();
    let v = check_json(
        "pack_grouped.json",
        json!({
            "group_plaintext": hex::encode(&p.group),
            "group_nonce": hex::encode(nonce(NONCE_GROUP)),
            "sealed_group": hex::encode(&p.sealed_group),
            "header_cbor": hex::encode(&header_cbor),
            "header_nonce": hex::encode(nonce(NONCE_GROUPED_HEADER)),
            "sealed_header": hex::encode(&p.sealed_header),
            "pack": hex::encode(&p.bytes),
            "pack_id": p.id.to_hex(),
        }),
    );
    // Read it back as a reader does: header, then each blob as a slice of
    // the opened group, checked against its id.
    let bytes = field(&v, "pack");
    let trailer: [u8; 4] = bytes[bytes.len() - 4..].try_into().unwrap();
    let range = pack::header_range(bytes.len() as u64, trailer, "vector").unwrap();
    let plain = open_payload(
        Sealed::PackHeader,
        &bytes[range.start as usize..range.end as usize],
    );
    let h = PackHeader::decode(&plain, "vector").unwrap();
    assert_eq!(h, p.header);
    assert_eq!(h.version, 2);
    for (b, want) in h.blobs.iter().zip([BLOB_A, BLOB_B]) {
        let group = open_payload(
            Sealed::Blob,
            &bytes[b.offset as usize..(b.offset + b.length) as usize],
        );
        let (at, len) = b.slice().expect("grouped");
        let blob = &group[at as usize..(at + len) as usize];
        assert_eq!(blob, want);
        assert_eq!(k.blob_id(blob), b.id);
    }
    // An index naming it is version 2 as well.
    let i = IndexFile::new(
        vec![coffer_core::format::index::IndexPack {
            id: p.id,
            kind: BlobKind::Data,
            size: bytes.len() as u64,
            blobs: h.blobs.clone(),
        }],
        Vec::new(),
    );
    assert_eq!(i.version, 2);
    assert_eq!(IndexFile::decode(&i.encode(), "vector").unwrap(), i);
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

/// A snapshot catalog holding the sealed snapshot of `snapshot.json`.
#[test]
fn catalog_vector() {
    let s = snapshot(master().blob_id(&tree().encode()).tree());
    let entry = seal_raw(Sealed::Snapshot, &s.encode(), NONCE_SNAPSHOT);
    let superseded = coffer_core::id::CatalogId([0x09; 32]);
    let c = Catalog::new(vec![entry.clone()], vec![superseded]);
    let plain = sealed_object_vector(
        "catalog.json",
        Sealed::Catalog,
        NONCE_CATALOG,
        &c.encode(),
        "catalog_id",
    );
    let decoded = Catalog::decode(&plain, "vector").unwrap();
    assert_eq!(decoded, c);
    // The entry is the snapshot object itself: its hash is the snapshot id.
    let v: Value = serde_json::from_slice(&read_vector("snapshot.json")).unwrap();
    assert_eq!(
        hex::encode(hash_object(&decoded.snapshots[0])),
        v["snapshot_id"].as_str().unwrap()
    );
}

/// An image snapshot (`image backup`): the optional `image` map.
#[test]
fn image_snapshot_vector() {
    let mut s = snapshot(master().blob_id(&tree().encode()).tree());
    s.parent = None;
    s.image = Some(coffer_core::format::snapshot::ImageInfo {
        source: "/dev/vdb".into(),
        size: (3 << 20) + 5,
        chunk_size: 1 << 20,
    });
    let plain = sealed_object_vector(
        "snapshot_image.json",
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
fn config_with_object_lock_vector() {
    let c = Config {
        object_lock: Some(coffer_core::format::config::ObjectLock {
            mode: "COMPLIANCE".into(),
            retention_secs: 30 * 86_400,
        }),
        ..config()
    };
    check_bytes("config_locked.json", &c.encode());
    assert_eq!(
        Config::decode(&read_vector("config_locked.json")).unwrap(),
        c
    );
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
