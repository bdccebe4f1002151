//! The shared write and read paths of blobs.
//!
//! Write: plaintext -> keyed id -> dedup (stop if known) -> zstd (skipped when
//! it does not shrink) -> AEAD -> appended to a pack of its kind -> pack
//! uploaded by one of N uploader threads -> index checkpoint every few packs.
//! The writer is a scope: [`BlobWriter::finish`] flushes the open packs, waits
//! for every upload, writes the index, and only then hands out the
//! [`crate::repo::Flushed`] proof that saving a snapshot requires.
//!
//! Read: index lookup -> range GET of the sealed blob -> open -> decompress ->
//! re-hash and compare with the id (a mismatch is corruption, never silent).

mod reader;
mod writer;

pub use writer::{BlobWriter, WriterStats};
