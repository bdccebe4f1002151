use super::unfinished::{Interrupted, Marker};
use crate::crypto;
use crate::error::{Error, Result};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack::{self, BlobKind, PackBlob, PackHeader};
use crate::format::payload;
use crate::id::{BlobId, PackId, hash_object};
use crate::repo::{Flushed, Repository};
use crate::store::{PutHints, StorageClass};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// An index object is written after this many packs, so an interrupted
/// backup leaves checkpoints and the next run does not upload them again
/// (16 packs of 32 MiB: at most ~512 MiB to redo).
const CHECKPOINT_PACKS: usize = 16;
/// Data packs bound for an archive class (`GLACIER`, `DEEP_ARCHIVE`) are at
/// least this large: S3 adds 40 KiB of billed metadata to each archived
/// object and Deep Archive charges $0.05 per 1,000 PUTs, under 0.1 % of
/// the bill at this size.
pub const ARCHIVE_PACK_SIZE: usize = 64 * 1024 * 1024;

/// Data blobs smaller than this are compressed and sealed together, in
/// compression groups: one by one, small files compress poorly (a 1.34×
/// larger repository than one zstd stream on a toolchain tree; grouped,
/// 1.01×, docs/design/cold-lock-cost.md).
pub const GROUP_BELOW: usize = 128 * 1024;
/// A group is sealed once its plaintext reaches this (so it stays under
/// `GROUP_SIZE + GROUP_BELOW`), or the pack size if that is smaller: what
/// a reader of one small file opens.
pub const GROUP_SIZE: usize = 1024 * 1024;

/// What a writer added to the repository.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterStats {
    pub blobs_new: u64,
    /// Plaintext bytes of new blobs.
    pub bytes_new: u64,
    /// Bytes of packs and index objects stored.
    pub bytes_stored: u64,
    pub packs: u64,
    /// Index objects stored.
    pub index_objects: u64,
}

/// Where the blobs of a pack must end: their u32 offsets and lengths.
const MAX_PACK_BODY: usize = u32::MAX as usize;

// A blob of MAX_PLAIN bytes, sealed (flag byte + nonce + tag), fits a u32
// `length`; blobs above MAX_PLAIN are refused before they are sealed.
const _: () = assert!(payload::MAX_PLAIN + 1 + crypto::SEAL_OVERHEAD as u64 <= u32::MAX as u64);

#[derive(Default)]
struct OpenPack {
    body: Vec<u8>,
    blobs: Vec<PackBlob>,
}

/// Small data blobs waiting to be sealed together.
#[derive(Default)]
struct OpenGroup {
    plain: Vec<u8>,
    /// Entries with their offset in `plain` set; offset and length in the
    /// pack are set when the group is appended.
    blobs: Vec<PackBlob>,
}

struct Shared {
    repo: Arc<Repository>,
    /// Ids this writer added that the index does not name yet (in a pack
    /// open, queued or uploading): an id leaves once its pack is indexed,
    /// so the set stays as small as the packs in flight.
    seen: Mutex<HashSet<BlobId>>,
    data: Mutex<OpenPack>,
    tree: Mutex<OpenPack>,
    group: Mutex<OpenGroup>,
    /// Whether small data blobs are grouped (not when compression is off).
    grouping: bool,
    /// A group is sealed at this plaintext size: [`GROUP_SIZE`], or the
    /// pack size if smaller (a group never outgrows a pack).
    group_size: usize,
    /// Uploaded packs not yet named by an index object.
    pending: Mutex<Vec<IndexPack>>,
    failed: Mutex<Option<Error>>,
    data_class: StorageClass,
    /// Data packs are sealed at this size (tree packs at `pack_size`).
    data_pack_size: usize,
    /// Packs are built and counted but neither stored nor indexed.
    dry_run: bool,
    blobs_new: AtomicU64,
    bytes_new: AtomicU64,
    bytes_stored: AtomicU64,
    packs: AtomicU64,
    index_objects: AtomicU64,
}

struct Sealed {
    kind: BlobKind,
    body: Vec<u8>,
    blobs: Vec<PackBlob>,
}

/// The write scope for blobs. Thread-safe: many workers may `add` at once.
pub struct BlobWriter {
    shared: Arc<Shared>,
    tx: Option<Sender<Sealed>>,
    uploaders: Vec<JoinHandle<()>>,
    marker: Option<Marker>,
}

impl BlobWriter {
    /// Starts a writer with `connections` uploader threads; data packs are
    /// stored with `data_class`. First it *resumes*: packs that no index
    /// names (what an interrupted backup uploaded after its last index
    /// checkpoint) are adopted by reading their headers and named in an
    /// index object at once, so their blobs are not uploaded again. This is
    /// best effort: a pack whose header cannot be read stays unindexed
    /// (`check` notes it, `prune` removes it).
    pub fn new(repo: Arc<Repository>, connections: usize, data_class: StorageClass) -> Self {
        Self::with_archive_pack_size(repo, connections, data_class, ARCHIVE_PACK_SIZE)
    }

    /// [`new`](Self::new), with data packs for an archive class sealed at
    /// `archive_pack_size` (at least the repository's pack size).
    pub fn with_archive_pack_size(
        repo: Arc<Repository>,
        connections: usize,
        data_class: StorageClass,
        archive_pack_size: usize,
    ) -> Self {
        let mut w = Self::start(repo, connections, (data_class, archive_pack_size), false);
        w.resume();
        w.mark();
        w
    }

    /// Adopts the packs no index names (see [`new`](Self::new)); returns
    /// how many.
    fn resume(&self) -> usize {
        let state = self.shared.repo.store().state_dir();
        let interrupted = Interrupted::find(state);
        if matches!(interrupted, Interrupted::None) {
            return 0; // no writer from this machine left packs behind
        }
        let Ok(packs) = self.shared.repo.unindexed_packs() else {
            return 0;
        };
        let (adopted, _unreadable) = self.shared.repo.adopt_packs(&packs);
        let n = adopted.len();
        self.shared
            .pending
            .lock()
            .expect("poisoned")
            .extend(adopted);
        // Named now, so a second interruption does not read them again.
        if write_index(&self.shared, 1).is_ok() {
            interrupted.done(state);
        }
        n
    }

    /// Leaves a marker that this writer may store packs no index names
    /// yet, until it has named them all (`unfinished`).
    fn mark(&mut self) {
        self.marker = self
            .shared
            .repo
            .store()
            .state_dir()
            .and_then(Marker::create);
    }

    /// A writer that does not resume: prune's, whose index leaves out on
    /// purpose the packs it condemns.
    pub fn without_resume(
        repo: Arc<Repository>,
        connections: usize,
        data_class: StorageClass,
    ) -> Self {
        let mut w = Self::start(repo, connections, (data_class, ARCHIVE_PACK_SIZE), false);
        w.mark();
        w
    }

    /// A writer that stores nothing: blobs are deduplicated, compressed,
    /// encrypted and packed as for real, so its [`WriterStats`] say what a
    /// real run would add, but no pack and no index object is written.
    pub fn dry_run(repo: Arc<Repository>) -> Self {
        Self::start(repo, 1, (StorageClass::Standard, ARCHIVE_PACK_SIZE), true)
    }

    /// `data`: the class of data packs, and their size if it is an archive class.
    fn start(
        repo: Arc<Repository>,
        connections: usize,
        data: (StorageClass, usize),
        dry_run: bool,
    ) -> Self {
        let (data_class, archive_pack_size) = data;
        let pack_size = repo.config().pack_size as usize;
        let data_pack_size = if data_class.is_archive() {
            pack_size.max(archive_pack_size)
        } else {
            pack_size
        };
        // Larger packs, fewer of them in flight: the bytes of packs held
        // stay what they are with ordinary packs (a backup still peaks
        // higher, measured: the multipart upload's part copies).
        let connections = (connections * pack_size / data_pack_size).max(1);
        let grouping = repo.config().compression != 0;
        let shared = Arc::new(Shared {
            repo,
            seen: Mutex::new(HashSet::new()),
            data: Mutex::new(OpenPack {
                body: Vec::new(),
                blobs: Vec::new(),
            }),
            tree: Mutex::new(OpenPack {
                body: Vec::new(),
                blobs: Vec::new(),
            }),
            group: Mutex::new(OpenGroup::default()),
            grouping,
            group_size: GROUP_SIZE.min(pack_size),
            pending: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
            data_class,
            data_pack_size,
            dry_run,
            blobs_new: AtomicU64::new(0),
            bytes_new: AtomicU64::new(0),
            bytes_stored: AtomicU64::new(0),
            packs: AtomicU64::new(0),
            index_objects: AtomicU64::new(0),
        });
        // One pack uploading per connection, one fewer waiting, and one
        // held by an adder (see `add_with_id`): about 2 * connections packs
        // of each kind in memory whatever the size of the backup; 2 on a
        // local disk (one writer: a pack is handed over only when the
        // writer is free).
        let (tx, rx) = bounded::<Sealed>(connections - 1);
        let uploaders = (0..connections)
            .filter_map(|i| {
                let (sh, rx) = (Arc::clone(&shared), rx.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("coffer-upload-{i}"))
                    .spawn(move || upload_loop(&sh, &rx));
                // Out of threads (a process limit): every `add` then fails
                // with this error before it could wait for an uploader.
                spawned
                    .map_err(|e| {
                        let e = Error::io("cannot start a thread", format!("coffer-upload-{i}"), e);
                        shared.failed.lock().expect("poisoned").get_or_insert(e);
                    })
                    .ok()
            })
            .collect();
        BlobWriter {
            shared,
            tx: Some(tx),
            uploaders,
            marker: None,
        }
    }

    pub fn repo(&self) -> &Arc<Repository> {
        &self.shared.repo
    }

    /// Adds a blob unless the repository or this writer already has it.
    /// Returns its id and whether it was new.
    pub fn add(&self, kind: BlobKind, plain: &[u8]) -> Result<(BlobId, bool)> {
        let id = self.shared.repo.key().blob_id(plain);
        let new = self.add_with_id(kind, id, plain)?;
        Ok((id, new))
    }

    /// As [`add`](Self::add) with an id the caller already computed.
    pub fn add_with_id(&self, kind: BlobKind, id: BlobId, plain: &[u8]) -> Result<bool> {
        if plain.len() as u64 > payload::MAX_PLAIN {
            return Err(Error::fatal(format!(
                "blob of {} bytes is larger than the {} bytes readers accept",
                plain.len(),
                payload::MAX_PLAIN
            ))
            .with_location(id));
        }
        self.check_failed()?;
        if self.shared.repo.index().contains(&id)
            || !self.shared.seen.lock().expect("poisoned").insert(id)
        {
            return Ok(false);
        }
        if kind == BlobKind::Data && self.shared.grouping && plain.len() < GROUP_BELOW {
            self.add_to_group(id, plain)?;
        } else {
            let level = self.shared.repo.config().compression;
            let sealed = crypto::seal(
                &self.shared.repo.key().enc,
                crypto::Sealed::Blob,
                &payload::encode(plain, level),
            );
            let raw_length = u32::try_from(plain.len()).expect("blob below MAX_PLAIN");
            let entry = PackBlob {
                id,
                offset: 0,
                length: 0,
                raw_length,
                in_group: None,
            };
            self.append(kind, &sealed, vec![entry])?;
        }
        self.shared.blobs_new.fetch_add(1, Ordering::Relaxed);
        self.shared
            .bytes_new
            .fetch_add(plain.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    /// Adds a small data blob to the open group; seals and appends the
    /// group once it is full (compressing outside the group's lock, so
    /// other adders go on meanwhile).
    fn add_to_group(&self, id: BlobId, plain: &[u8]) -> Result<()> {
        let full = {
            let mut g = self.shared.group.lock().expect("poisoned");
            let at = u32::try_from(g.plain.len()).expect("group below 4 GiB");
            g.blobs.push(PackBlob {
                id,
                offset: 0,
                length: 0,
                raw_length: plain.len() as u32,
                in_group: Some(at),
            });
            g.plain.extend_from_slice(plain);
            (g.plain.len() >= self.shared.group_size).then(|| std::mem::take(&mut *g))
        };
        match full {
            Some(g) => self.seal_group(g),
            None => Ok(()),
        }
    }

    fn seal_group(&self, g: OpenGroup) -> Result<()> {
        let level = self.shared.repo.config().compression;
        let sealed = crypto::seal(
            &self.shared.repo.key().enc,
            crypto::Sealed::Blob,
            &payload::encode(&g.plain, level),
        );
        self.append(BlobKind::Data, &sealed, g.blobs)
    }

    /// Appends one sealed unit (a blob, or a group) to the open pack of
    /// `kind`, its entries placed at it; hands the pack over once full.
    fn append(&self, kind: BlobKind, sealed: &[u8], mut entries: Vec<PackBlob>) -> Result<()> {
        // A full pack is handed over with the open pack's lock held: if
        // every uploader is busy, adders of this kind wait here instead
        // of filling another pack meanwhile. That bounds the packs in
        // memory to those uploading, queued, and this one.
        let mut open = self.open_pack(kind).lock().expect("poisoned");
        // Offsets in a pack are u32: a unit that would end past 4 GiB goes
        // into the next pack. (With `pack_size` ≤ 1 GiB and blobs ≤
        // MAX_PLAIN this does not happen; the bound must hold anyway.)
        if open.body.len() + sealed.len() > MAX_PACK_BODY {
            self.send(kind, std::mem::take(&mut *open))?;
        }
        let offset = u32::try_from(open.body.len()).expect("pack body below 4 GiB");
        let length = u32::try_from(sealed.len()).expect("blob below MAX_PLAIN");
        for e in &mut entries {
            e.offset = offset;
            e.length = length;
        }
        let full = match kind {
            BlobKind::Data => self.shared.data_pack_size,
            BlobKind::Tree => self.shared.repo.config().pack_size as usize,
        };
        reserve_body(&mut open.body, full, sealed.len());
        open.blobs.extend(entries);
        open.body.extend_from_slice(sealed);
        if open.body.len() >= full {
            self.send(kind, std::mem::take(&mut *open))?;
        }
        Ok(())
    }

    fn open_pack(&self, kind: BlobKind) -> &Mutex<OpenPack> {
        match kind {
            BlobKind::Data => &self.shared.data,
            BlobKind::Tree => &self.shared.tree,
        }
    }

    fn send(&self, kind: BlobKind, p: OpenPack) -> Result<()> {
        let tx = self.tx.as_ref().expect("writer is open");
        tx.send(Sealed {
            kind,
            body: p.body,
            blobs: p.blobs,
        })
        .map_err(|_| Error::fatal("pack uploaders stopped"))?;
        self.check_failed()
    }

    fn check_failed(&self) -> Result<()> {
        match &*self.shared.failed.lock().expect("poisoned") {
            Some(e) => Err(Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Flushes open packs, waits for every upload and writes the index.
    /// Only then may a snapshot that refers to these blobs be saved.
    pub fn finish(self) -> Result<(Flushed, WriterStats)> {
        if self.shared.dry_run {
            return Err(Error::fatal(
                "a dry run stored nothing: no snapshot can refer to its blobs",
            ));
        }
        Ok((Flushed::new(), self.stats()?))
    }

    /// Flushes open packs and waits for the uploaders; what was added. For
    /// a dry run, what would have been.
    pub fn stats(mut self) -> Result<WriterStats> {
        self.close()?;
        let s = &self.shared;
        Ok(WriterStats {
            blobs_new: s.blobs_new.load(Ordering::Relaxed),
            bytes_new: s.bytes_new.load(Ordering::Relaxed),
            bytes_stored: s.bytes_stored.load(Ordering::Relaxed),
            packs: s.packs.load(Ordering::Relaxed),
            index_objects: s.index_objects.load(Ordering::Relaxed),
        })
    }

    fn close(&mut self) -> Result<()> {
        if self.tx.is_some() {
            let g = std::mem::take(&mut *self.shared.group.lock().expect("poisoned"));
            if let Err(e) = (!g.blobs.is_empty())
                .then(|| self.seal_group(g))
                .transpose()
            {
                let mut failed = self.shared.failed.lock().expect("poisoned");
                failed.get_or_insert(e);
            }
            for kind in [BlobKind::Data, BlobKind::Tree] {
                let p = std::mem::replace(
                    &mut *self.open_pack(kind).lock().expect("poisoned"),
                    OpenPack {
                        body: Vec::new(),
                        blobs: Vec::new(),
                    },
                );
                if !p.blobs.is_empty() {
                    // An error here is recorded in `failed` too.
                    let _ = self.send(kind, p);
                }
            }
            self.tx = None;
        }
        for h in self.uploaders.drain(..) {
            let _ = h.join();
        }
        // Name every stored pack in an index, even after a failure: the next
        // backup then reuses what was uploaded (resume).
        let written = write_index(&self.shared, usize::MAX);
        self.check_failed()?;
        written?;
        // Every pack stored is named: nothing for the next writer to adopt.
        if let Some(m) = self.marker.take() {
            m.finish();
        }
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Room a pack body is given at its first unit: the pack size and this,
/// so the last unit and the header (about 60 bytes a blob) usually fit
/// without the `Vec` doubling a full pack's capacity (a 32 MiB pack would
/// otherwise hold 64 MiB, in every pack in flight).
const PACK_SLACK: usize = GROUP_SIZE + GROUP_BELOW + 1024 * 1024;

/// Grows `body` for `unit` more bytes: to `full` plus [`PACK_SLACK`] at
/// first, and beyond that exactly (a pack takes no unit once full).
fn reserve_body(body: &mut Vec<u8>, full: usize, unit: usize) {
    if body.capacity() == 0 {
        body.reserve_exact(full.min(MAX_PACK_BODY) + PACK_SLACK);
    }
    if body.capacity() - body.len() < unit {
        body.reserve_exact(unit);
    }
}

fn upload_loop(shared: &Shared, rx: &Receiver<Sealed>) {
    for pack in rx.iter() {
        if shared.failed.lock().expect("poisoned").is_some() {
            continue; // drain without work so senders never block
        }
        if let Err(e) = upload(shared, pack).and_then(|_| write_index(shared, CHECKPOINT_PACKS)) {
            shared.failed.lock().expect("poisoned").get_or_insert(e);
        }
    }
}

fn upload(shared: &Shared, p: Sealed) -> Result<()> {
    let repo = &shared.repo;
    let header = PackHeader {
        version: pack::version_for(&p.blobs),
        kind: p.kind,
        blobs: p.blobs,
    };
    let sealed_header = crypto::seal(
        &repo.key().enc,
        crypto::Sealed::PackHeader,
        &payload::encode(&header.encode(), 3),
    );
    let bytes = pack::finish(p.body, &sealed_header)?;
    let id = PackId(hash_object(&bytes));
    let key = pack::key(p.kind, &id);
    if shared.dry_run {
        shared
            .bytes_stored
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        shared.packs.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let hints = PutHints {
        create_only: true,
        storage_class: if p.kind == BlobKind::Data {
            shared.data_class
        } else {
            StorageClass::Standard
        },
        ..Default::default()
    };
    match repo.store().put(&key, &bytes, &hints) {
        Ok(()) => {}
        // Same bytes, same id: another writer stored this very pack.
        Err(e) if e.kind() == crate::error::Kind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let entry = IndexPack {
        id,
        kind: p.kind,
        size: bytes.len() as u64,
        blobs: header.blobs,
    };
    repo.index_mut().add_pack(&entry);
    {
        // Indexed now: `add` finds these ids in the index first.
        let mut seen = shared.seen.lock().expect("poisoned");
        for b in &entry.blobs {
            seen.remove(&b.id);
        }
    }
    shared.pending.lock().expect("poisoned").push(entry);
    shared
        .bytes_stored
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    shared.packs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Writes an index object for the pending packs once there are at least `min`.
fn write_index(shared: &Shared, min: usize) -> Result<()> {
    if shared.dry_run {
        return Ok(());
    }
    let packs = {
        let mut pending = shared.pending.lock().expect("poisoned");
        if pending.is_empty() || (min != usize::MAX && pending.len() < min) {
            return Ok(());
        }
        std::mem::take(&mut *pending)
    };
    let file = IndexFile::new(packs, Vec::new());
    match shared
        .repo
        .save_sealed("index", crypto::Sealed::Index, &file.encode())
    {
        Ok((_, size)) => {
            shared.bytes_stored.fetch_add(size, Ordering::Relaxed);
            shared.index_objects.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            // Keep them pending so a later attempt may still name them.
            shared.pending.lock().expect("poisoned").extend(file.packs);
            Err(e)
        }
    }
}
