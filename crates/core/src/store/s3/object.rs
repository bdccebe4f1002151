//! PutObject and GetObject, with what the SDK cannot check for us.
//!
//! Every object is stored with the BLAKE3 of its bytes as user metadata
//! (`x-amz-meta-coffer-blake3`). A whole-object GET is checked against it,
//! a ranged GET against the range it asked for and the `Content-Range` it
//! got, and every body against its `Content-Length`: a body cut short, or
//! answered with a wrong length, is read again, never handed on as data.
//! The SDK retries requests but not the reading of a body after it
//! returned: that one re-read, counted in the same [`Retry`] log, is the
//! only retrying done here.

use super::errors::map_err;
use super::{MULTIPART_THRESHOLD, S3Store, multipart, storage_class};
use crate::error::{Error, Kind, Result};
use crate::store::request_log::Retry;
use crate::store::{PutHints, StorageClass};
use aws_sdk_s3::primitives::ByteStream;
use std::ops::Range;

/// User metadata holding the BLAKE3 (hex) of the object's bytes.
pub const HASH_METADATA: &str = "coffer-blake3";

/// How one GET went.
enum Got {
    Body(Vec<u8>),
    /// The answer arrived damaged: worth reading again. (cause, error)
    Damaged(&'static str, Error),
}

impl S3Store {
    pub(super) fn put_object(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        let full = self.key(key)?;
        let url = self.url(key);
        let hash = blake3::hash(data).to_hex().to_string();
        if data.len() > MULTIPART_THRESHOLD {
            return self
                .rt
                .block_on(multipart::upload(self, &full, &url, data, hints, &hash));
        }
        self.rt.block_on(async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&full)
                .metadata(HASH_METADATA, &hash)
                .body(ByteStream::from(data.to_vec()));
            if hints.storage_class != StorageClass::Standard {
                req = req.storage_class(storage_class(hints.storage_class));
            }
            if hints.create_only {
                req = req.if_none_match("*");
            }
            if let Some((mode, until)) = hints.retain {
                // S3 wants Content-MD5 (or a checksum) with a lock.
                req = req
                    .object_lock_mode(super::lock::mode(mode))
                    .object_lock_retain_until_date(super::lock::date(until))
                    .content_md5(super::lock::content_md5(data));
            }
            req.send().await.map(|_| ()).map_err(|e| map_err(e, &url))
        })
    }

    pub(super) fn get_object(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        let full = self.key(key)?;
        let url = self.url(key);
        if let Some(r) = &range
            && r.end <= r.start
        {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            match self
                .rt
                .block_on(self.get_once(&full, &url, range.clone()))?
            {
                Got::Body(b) => return Ok(b),
                Got::Damaged(cause, error) => {
                    if attempt >= self.body_attempts {
                        return Err(error);
                    }
                    attempt += 1;
                    self.requests.record(Retry {
                        method: "GET".into(),
                        url: url.clone(),
                        attempt,
                        cause: cause.into(),
                    });
                }
            }
        }
    }

    async fn get_once(&self, full: &str, url: &str, range: Option<Range<u64>>) -> Result<Got> {
        let mut req = self.client.get_object().bucket(&self.bucket).key(full);
        if let Some(r) = &range {
            req = req.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = req.send().await.map_err(|e| map_err(e, url))?;
        let damaged = |cause: &'static str, what: String| {
            Ok(Got::Damaged(
                cause,
                Error::at(Kind::Fatal, what, url).transient(true),
            ))
        };
        let announced = out.content_length();
        let content_range = out.content_range().map(String::from);
        let hash = out
            .metadata()
            .and_then(|m| m.get(HASH_METADATA))
            .map(|h| h.to_ascii_lowercase());
        // Straight into one buffer of the announced size: collecting
        // and converting would hold the body two or three times over.
        let mut body = Vec::with_capacity(announced.unwrap_or(0).clamp(0, 1 << 30) as usize);
        let mut stream = out.body;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => body.extend_from_slice(&c),
                Err(e) => {
                    return damaged(
                        "body cut short",
                        format!("object body cut short after {} bytes ({e})", body.len()),
                    );
                }
            }
        }
        if let Some(n) = announced
            && body.len() as i64 != n
        {
            return damaged(
                "body length differs from Content-Length",
                format!(
                    "object body has {} bytes, Content-Length said {n}",
                    body.len()
                ),
            );
        }
        match range {
            Some(r) => {
                if body.len() as u64 == r.end - r.start {
                    return Ok(Got::Body(body));
                }
                // Shorter than asked: the object itself is, or the answer was cut.
                let total = content_range
                    .as_deref()
                    .and_then(|c| c.rsplit('/').next())
                    .and_then(|t| t.parse::<u64>().ok());
                if total.is_some_and(|t| t < r.end) {
                    return Err(Error::corrupt(
                        format!("object is shorter than range {}..{}", r.start, r.end),
                        url,
                    ));
                }
                damaged(
                    "body shorter than the range",
                    format!(
                        "answer to range {}..{} has {} bytes",
                        r.start,
                        r.end,
                        body.len()
                    ),
                )
            }
            None => match hash {
                Some(h) if blake3::hash(&body).to_hex().as_str() != h => damaged(
                    "body hash mismatch",
                    format!(
                        "object body ({} bytes) does not match its stored BLAKE3",
                        body.len()
                    ),
                ),
                _ => Ok(Got::Body(body)),
            },
        }
    }
}
