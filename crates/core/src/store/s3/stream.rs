//! Streaming one object of unknown length into S3 (for `coffer archive`):
//! bytes arrive through `Write`, parts go up while more are produced, and
//! the result is checked against what was sent.
//!
//! Input: bytes, in order. Output: one object at `key` and an
//! [`UploadReport`]. An object that ends below one part is a single PUT.
//! Invariants: every part carries its Content-MD5 (the server refuses a
//! part damaged on the way); after completion the object's size must
//! equal the bytes sent and its ETag, when it is S3's `md5(part md5s)-N`,
//! must equal ours — else the upload is an error. Memory: at most
//! `connections` parts in flight plus the one being filled. A writer
//! dropped before [`ObjectWriter::finish`] aborts its multipart upload;
//! a process killed outright leaves one, which [`abort_incomplete`]
//! removes (every `archive` run does so for its own key).

use super::errors::map_err;
use super::{S3Store, storage_class};
use crate::error::{Error, Kind, Result};
use crate::store::StorageClass;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use md5::{Digest, Md5};
use std::collections::VecDeque;
use std::io::{self, Write};
use tokio::task::JoinHandle;

/// The first 1000 parts are 16 MiB, the next 1000 32 MiB, and so on: an
/// upload can reach S3's 10,000-part limit only past 800 GiB.
const PART_SIZE: usize = 16 * 1024 * 1024;

/// What arrived, as S3 reports it after the upload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReport {
    pub url: String,
    pub size: u64,
    pub parts: usize,
    pub etag: String,
    /// Whether the ETag could be compared with ours (not with SSE-KMS).
    pub etag_verified: bool,
    /// SHA-256 of the whole object, stored with it: object metadata
    /// `coffer-sha256` (single PUT) or object tag `coffer-sha256` (multipart).
    pub sha256: String,
    /// Where the SHA-256 was stored, or why it could not be.
    pub sha256_stored_as: String,
}

pub struct ObjectWriter {
    s3: S3Store,
    key: String,
    url: String,
    storage_class: StorageClass,
    part: Vec<u8>,
    upload_id: Option<String>,
    in_flight: VecDeque<JoinHandle<Result<CompletedPart>>>,
    done: Vec<CompletedPart>,
    md5s: Vec<[u8; 16]>,
    sha: sha2::Sha256,
    size: u64,
    finished: bool,
}

fn b64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes)
}

impl ObjectWriter {
    /// Starts an object at `key` (relative to the store's prefix). Earlier
    /// incomplete multipart uploads of the same key (a killed run) are
    /// aborted first, where the credentials allow it.
    pub fn new(s3: S3Store, key: &str, storage_class: StorageClass) -> Result<ObjectWriter> {
        let full = s3.key(key)?;
        let url = s3.url(key);
        // Best effort: narrow credentials may not list or abort uploads,
        // and that must not stop the archive.
        let _ = abort_incomplete(&s3, &full, true);
        let part_size = PART_SIZE;
        Ok(ObjectWriter {
            s3,
            key: full,
            url,
            storage_class,
            part: Vec::with_capacity(part_size),
            upload_id: None,
            in_flight: VecDeque::new(),
            done: Vec::new(),
            md5s: Vec::new(),
            sha: <sha2::Sha256 as sha2::Digest>::new(),
            size: 0,
            finished: false,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn part_size(&self) -> usize {
        PART_SIZE * (1 + self.md5s.len() / 1000)
    }

    fn ensure_upload(&mut self) -> Result<String> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let mut create = self
            .s3
            .client
            .create_multipart_upload()
            .bucket(&self.s3.bucket)
            .key(&self.key);
        if self.storage_class != StorageClass::Standard {
            create = create.storage_class(storage_class(self.storage_class));
        }
        let out = self
            .s3
            .rt
            .block_on(create.send())
            .map_err(|e| map_err(e, &self.url))?;
        let id = out
            .upload_id()
            .ok_or_else(|| Error::at(Kind::Fatal, "S3 returned no upload id", &self.url))?
            .to_string();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    fn send_part(&mut self) -> Result<()> {
        let upload_id = self.ensure_upload()?;
        let next = Vec::with_capacity(self.part_size());
        let data = std::mem::replace(&mut self.part, next);
        let md5: [u8; 16] = Md5::digest(&data).into();
        self.md5s.push(md5);
        let number = self.md5s.len() as i32;
        let req = self
            .s3
            .client
            .upload_part()
            .bucket(&self.s3.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .content_md5(b64(&md5))
            .body(ByteStream::from(data));
        let url = self.url.clone();
        let task = self.s3.rt.spawn(async move {
            let out = req.send().await.map_err(|e| map_err(e, &url))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(String::from))
                .build())
        });
        self.in_flight.push_back(task);
        while self.in_flight.len() >= self.s3.connections.max(1) {
            self.wait_one()?;
        }
        Ok(())
    }

    fn wait_one(&mut self) -> Result<()> {
        if let Some(t) = self.in_flight.pop_front() {
            let part = self.s3.rt.block_on(t).map_err(|e| {
                Error::at(Kind::Fatal, format!("upload task failed: {e}"), &self.url)
            })??;
            self.done.push(part);
        }
        Ok(())
    }

    /// Sends what is left, completes the upload and checks the object.
    pub fn finish(mut self) -> Result<UploadReport> {
        let sha = hex::encode(sha2::Digest::finalize(self.sha.clone()));
        let report = if self.upload_id.is_none() {
            self.put_single(&sha)?
        } else {
            self.complete(&sha)?
        };
        self.finished = true;
        Ok(report)
    }

    fn put_single(&mut self, sha: &str) -> Result<UploadReport> {
        let data = std::mem::take(&mut self.part);
        let md5: [u8; 16] = Md5::digest(&data).into();
        let mut req = self
            .s3
            .client
            .put_object()
            .bucket(&self.s3.bucket)
            .key(&self.key)
            .content_md5(b64(&md5))
            .metadata("coffer-sha256", sha)
            .body(ByteStream::from(data));
        if self.storage_class != StorageClass::Standard {
            req = req.storage_class(storage_class(self.storage_class));
        }
        self.s3
            .rt
            .block_on(req.send())
            .map_err(|e| map_err(e, &self.url))?;
        self.verify(hex::encode(md5), 1, sha, "metadata coffer-sha256".into())
    }

    fn complete(&mut self, sha: &str) -> Result<UploadReport> {
        if !self.part.is_empty() || self.md5s.is_empty() {
            self.send_part()?;
        }
        while !self.in_flight.is_empty() {
            self.wait_one()?;
        }
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let mut parts = std::mem::take(&mut self.done);
        parts.sort_by_key(|p| p.part_number());
        let req = self
            .s3
            .client
            .complete_multipart_upload()
            .bucket(&self.s3.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        // NoSuchUpload after the SDK retried: the first attempt may have
        // completed the upload and lost its answer. Then the object is
        // there, and only an ETag that proves it is ours (checked below)
        // makes that a success.
        let confirmed = match self.s3.rt.block_on(req.send()) {
            Ok(_) => true,
            Err(e) => match map_err(e, &self.url) {
                e if e.kind() == Kind::NotFound => false,
                e => return Err(e),
            },
        };
        // Completed: nothing left to abort, whatever the checks below say.
        self.upload_id = None;
        let mut all = Vec::with_capacity(self.md5s.len() * 16);
        for m in &self.md5s {
            all.extend_from_slice(m);
        }
        let expected = format!("{}-{}", hex::encode(Md5::digest(&all)), self.md5s.len());
        let tag = Tagging::builder()
            .tag_set(
                Tag::builder()
                    .key("coffer-sha256")
                    .value(sha)
                    .build()
                    .map_err(|e| Error::fatal(format!("tag: {e}")))?,
            )
            .build()
            .map_err(|e| Error::fatal(format!("tagging: {e}")))?;
        let tagged = self.s3.rt.block_on(
            self.s3
                .client
                .put_object_tagging()
                .bucket(&self.s3.bucket)
                .key(&self.key)
                .tagging(tag)
                .send(),
        );
        let stored = match tagged {
            Ok(_) => "object tag coffer-sha256".to_string(),
            Err(e) => format!("not stored: {}", map_err(e, &self.url)),
        };
        let parts = self.md5s.len();
        let report = self.verify(expected, parts, sha, stored)?;
        if !confirmed && !report.etag_verified {
            return Err(Error::at(
                Kind::Fatal,
                "S3 did not confirm completing the upload, and the object's ETag cannot prove it is this one",
                &self.url,
            ));
        }
        Ok(report)
    }

    /// HEAD the object: its size must be what we sent, and its ETag, when
    /// the server computes it from MD5s, what we computed.
    fn verify(
        &self,
        expected_etag: String,
        parts: usize,
        sha: &str,
        stored: String,
    ) -> Result<UploadReport> {
        let head = self
            .s3
            .rt
            .block_on(
                self.s3
                    .client
                    .head_object()
                    .bucket(&self.s3.bucket)
                    .key(&self.key)
                    .send(),
            )
            .map_err(|e| map_err(e, &self.url))?;
        let size = head.content_length().unwrap_or(-1);
        if size != self.size as i64 {
            return Err(Error::at(
                Kind::Corrupt,
                format!("uploaded object has {size} bytes, {} were sent", self.size),
                &self.url,
            ));
        }
        let etag = head
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let md5_shaped = etag.len() >= 32 && etag[..32].bytes().all(|b| b.is_ascii_hexdigit());
        let comparable =
            md5_shaped && (etag.len() == 32) == (parts == 1 && !expected_etag.contains('-'));
        if comparable && etag != expected_etag {
            return Err(Error::at(
                Kind::Corrupt,
                format!(
                    "uploaded object's ETag {etag} differs from the {expected_etag} computed while sending"
                ),
                &self.url,
            ));
        }
        Ok(UploadReport {
            url: self.url.clone(),
            size: self.size,
            parts,
            etag,
            etag_verified: comparable,
            sha256: sha.to_string(),
            sha256_stored_as: stored,
        })
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.part_size() - self.part.len();
        let n = data.len().min(room);
        self.part.extend_from_slice(&data[..n]);
        sha2::Digest::update(&mut self.sha, &data[..n]);
        self.size += n as u64;
        if self.part.len() == self.part_size() {
            self.send_part().map_err(io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        for t in self.in_flight.drain(..) {
            t.abort();
        }
        if let Some(id) = self.upload_id.take() {
            let _ = self.s3.rt.block_on(
                self.s3
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.s3.bucket)
                    .key(&self.key)
                    .upload_id(id)
                    .send(),
            );
        }
    }
}

/// Incomplete multipart uploads under `prefix` (a full key prefix), as
/// (key, upload id).
fn list_incomplete(s3: &S3Store, prefix: &str) -> Result<Vec<(String, String)>> {
    let url = format!("s3://{}/{prefix}", s3.bucket);
    let mut found = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut id_marker: Option<String> = None;
    loop {
        let out = s3
            .rt
            .block_on(
                s3.client
                    .list_multipart_uploads()
                    .bucket(&s3.bucket)
                    .prefix(prefix)
                    .set_key_marker(key_marker.clone())
                    .set_upload_id_marker(id_marker.clone())
                    .send(),
            )
            .map_err(|e| map_err(e, &url))?;
        for u in out.uploads() {
            if let (Some(k), Some(id)) = (u.key(), u.upload_id()) {
                found.push((k.to_string(), id.to_string()));
            }
        }
        key_marker = out.next_key_marker().map(String::from);
        id_marker = out.next_upload_id_marker().map(String::from);
        if out.is_truncated() != Some(true) || (key_marker.is_none() && id_marker.is_none()) {
            return Ok(found);
        }
    }
}

/// Aborts incomplete multipart uploads: of exactly `key` (full key) when
/// `exact`, else of every key under it. Returns (key, upload id) of each.
pub fn abort_incomplete(s3: &S3Store, key: &str, exact: bool) -> Result<Vec<(String, String)>> {
    let mut aborted = Vec::new();
    for (k, id) in list_incomplete(s3, key)? {
        if exact && k != key {
            continue;
        }
        s3.rt
            .block_on(
                s3.client
                    .abort_multipart_upload()
                    .bucket(&s3.bucket)
                    .key(&k)
                    .upload_id(&id)
                    .send(),
            )
            .map_err(|e| map_err(e, &format!("s3://{}/{k}", s3.bucket)))?;
        aborted.push((k, id));
    }
    Ok(aborted)
}

impl S3Store {
    /// Aborts the incomplete multipart uploads under `prefix` (relative to
    /// the store's prefix; empty for all of it).
    pub fn abort_incomplete_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        abort_incomplete(self, &format!("{}{prefix}", self.prefix), false)
    }

    /// The incomplete multipart uploads under `prefix` (relative to the
    /// store's prefix), as (full key, upload id).
    pub fn incomplete_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        list_incomplete(self, &format!("{}{prefix}", self.prefix))
    }

    /// The user metadata `name` of the object `key` (`x-amz-meta-NAME`).
    pub fn user_metadata(&self, key: &str, name: &str) -> Result<Option<String>> {
        let head = self.head_object(key)?;
        Ok(head.metadata().and_then(|m| m.get(name)).cloned())
    }
}

/// Reads an object front to back in ranges of 16 MiB (for `coffer import`
/// of an s3:// archive): memory stays at one range whatever the size.
pub struct ObjectReader {
    s3: S3Store,
    key: String,
    size: u64,
    pos: u64,
    buf: Vec<u8>,
    off: usize,
}

impl ObjectReader {
    pub fn open(s3: S3Store, key: &str) -> Result<ObjectReader> {
        let size = crate::store::Store::head(&s3, key)?.size;
        Ok(ObjectReader {
            s3,
            key: key.to_string(),
            size,
            pos: 0,
            buf: Vec::new(),
            off: 0,
        })
    }
}

impl io::Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.off == self.buf.len() {
            if self.pos >= self.size {
                return Ok(0);
            }
            let end = (self.pos + PART_SIZE as u64).min(self.size);
            self.buf = crate::store::Store::get(&self.s3, &self.key, Some(self.pos..end))
                .map_err(io::Error::other)?;
            self.off = 0;
            self.pos = end;
        }
        let n = out.len().min(self.buf.len() - self.off);
        out[..n].copy_from_slice(&self.buf[self.off..self.off + n]);
        self.off += n;
        Ok(n)
    }
}
