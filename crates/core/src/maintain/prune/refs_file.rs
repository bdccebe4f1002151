//! The reference counts kept in the local cache between prunes
//! (`<state>/prune-references`). A cache, not part of the repository: a
//! missing, torn, foreign or altered file is ignored and prune counts from
//! nothing.
//!
//! Layout, little-endian: `MAGIC[16] ‖ repo id[32] ‖ n u64 ‖ n × (snapshot
//! id[32] ‖ root tree id[32]) ‖ m u64 ‖ m × (blob id[32] ‖ count u32) ‖
//! tag[32]`, where the tag is keyed BLAKE3 of everything before it under a
//! key derived from the repository's master key. Read and written as a
//! stream (the file is tens of MiB at a million files), the tag checked
//! before the counts are used.

use super::refs::References;
use crate::crypto::MasterKey;
use crate::id::{BlobId, RepoId, SnapshotId, TreeId};
use crate::store::local::{PRIVATE_FILE, create_private_dir};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"coffer-refs-v1\n\0";
const NAME: &str = "prune-references";
/// More entries than this is not a file we wrote (~150 GiB of counts).
const MAX_ENTRIES: u64 = 1 << 32;

fn tag_key(key: &MasterKey) -> [u8; 32] {
    let mut material = [0u8; 64];
    material[..32].copy_from_slice(&key.enc);
    material[32..].copy_from_slice(&key.id);
    blake3::derive_key("coffer v1 prune reference counts in the cache", &material)
}

/// Where the counts of the repository whose state directory is `state` live.
pub fn path(state: &Path) -> PathBuf {
    state.join(NAME)
}

/// Reads and hashes at once.
struct Tagged<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Tagged<R> {
    fn exact<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).ok()?;
        self.hasher.update(&b);
        Some(b)
    }

    fn count(&mut self) -> Option<u64> {
        let n = u64::from_le_bytes(self.exact::<8>()?);
        (n <= MAX_ENTRIES).then_some(n)
    }
}

/// The counts stored for `repo`, if the file is there, whole, ours and
/// unaltered.
pub fn load(state: &Path, repo: &RepoId, key: &MasterKey) -> Option<References> {
    let file = File::open(path(state)).ok()?;
    let mut r = Tagged {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: blake3::Hasher::new_keyed(&tag_key(key)),
    };
    if &r.exact::<16>()? != MAGIC || &r.exact::<32>()? != repo.as_bytes() {
        return None;
    }
    let n = r.count()?;
    let mut snapshots = HashMap::new();
    for _ in 0..n {
        let s = SnapshotId::from_bytes(r.exact::<32>()?);
        let t = TreeId::from_bytes(r.exact::<32>()?);
        snapshots.insert(s, t);
    }
    let m = r.count()?;
    let mut counts = HashMap::with_capacity(m.min(1 << 24) as usize);
    for _ in 0..m {
        let b = BlobId::from_bytes(r.exact::<32>()?);
        let c = u32::from_le_bytes(r.exact::<4>()?);
        if c == 0 {
            return None;
        }
        counts.insert(b, c);
    }
    let want = r.hasher.finalize();
    let mut tag = [0u8; 32];
    r.inner.read_exact(&mut tag).ok()?;
    let mut rest = [0u8; 1];
    if r.inner.read(&mut rest).ok()? != 0 || blake3::Hash::from(tag) != want {
        return None;
    }
    Some(References { snapshots, counts })
}

/// Writes the counts through a temporary file renamed into place (owner
/// only). Best effort: a cache that cannot be written costs the next prune
/// a full count, nothing else.
pub fn save(state: &Path, repo: &RepoId, key: &MasterKey, refs: &References) {
    if create_private_dir(state).is_err() {
        return;
    }
    let tmp = state.join(format!(".{NAME}.{:016x}", rand::random::<u64>()));
    if write(&tmp, repo, key, refs).is_err() || fs::rename(&tmp, path(state)).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

fn write(tmp: &Path, repo: &RepoId, key: &MasterKey, refs: &References) -> std::io::Result<()> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(PRIVATE_FILE)
        .open(tmp)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut hasher = blake3::Hasher::new_keyed(&tag_key(key));
    let mut put = |w: &mut BufWriter<File>, b: &[u8]| -> std::io::Result<()> {
        hasher.update(b);
        w.write_all(b)
    };
    put(&mut w, MAGIC)?;
    put(&mut w, repo.as_bytes())?;
    put(&mut w, &(refs.snapshots.len() as u64).to_le_bytes())?;
    for (s, t) in &refs.snapshots {
        put(&mut w, s.as_bytes())?;
        put(&mut w, t.as_bytes())?;
    }
    put(&mut w, &(refs.counts.len() as u64).to_le_bytes())?;
    for (b, c) in &refs.counts {
        put(&mut w, b.as_bytes())?;
        put(&mut w, &c.to_le_bytes())?;
    }
    let tag = hasher.finalize();
    w.write_all(tag.as_bytes())?;
    w.flush()
}
