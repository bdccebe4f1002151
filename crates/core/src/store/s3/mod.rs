//! The S3 store: `s3://bucket/prefix` through the official AWS SDK for Rust.
//!
//! Credentials, profiles, regions, retries with backoff and
//! `AWS_ENDPOINT_URL` come from the SDK's default chain, exactly as the AWS
//! CLI resolves them. Each blocking call of the [`Store`] trait runs one
//! request on this store's own small tokio runtime (many pipeline threads may
//! call at once; the SDK's connection pool is shared). The SDK already
//! retries transient failures: no second retry layer here.

mod connect;
mod errors;
mod lock;
mod multipart;
mod object;
mod retries;
mod stream;

pub use super::s3_settings::{ChecksumMode, S3Settings};
pub use connect::connect;
pub use stream::{ObjectReader, ObjectWriter};

use super::create_only::settle_existing;
use super::{ObjectMeta, PutHints, StorageClass, Store, Thaw, Tier};
use crate::error::{Error, Kind, Result};
use aws_sdk_s3::Client;
use errors::map_err;
use std::ops::Range;

/// Objects larger than this go up as multipart uploads. Packs (32 MiB by
/// default) stay single PUTs: one request each.
const MULTIPART_THRESHOLD: usize = 64 * 1024 * 1024;

pub struct S3Store {
    client: Client,
    bucket: String,
    /// Key prefix with a trailing `/`, or empty.
    prefix: String,
    rt: tokio::runtime::Runtime,
    /// Parallel part uploads of one multipart upload.
    connections: usize,
    /// Where retries are counted, the SDK's and the body re-reads.
    requests: std::sync::Arc<crate::store::request_log::RequestLog>,
    /// Reads of one object whose body arrives cut short or damaged, at most
    /// (the SDK's attempt limit: it cannot retry a body read after it returned).
    body_attempts: u32,
}

/// Splits `s3://bucket/some/prefix` into bucket and prefix.
pub fn parse_location(location: &str) -> Result<(String, String)> {
    let rest = location.strip_prefix("s3://").ok_or_else(|| {
        Error::invalid("an S3 location starts with s3://").with_location(location)
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.len() < 3 {
        return Err(
            Error::invalid("S3 bucket name is missing or too short").with_location(location)
        );
    }
    let prefix = prefix.trim_matches('/');
    Ok((
        bucket.to_string(),
        if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
    ))
}

fn storage_class(c: StorageClass) -> aws_sdk_s3::types::StorageClass {
    use aws_sdk_s3::types::StorageClass as S;
    match c {
        StorageClass::Standard => S::Standard,
        StorageClass::StandardIa => S::StandardIa,
        StorageClass::OnezoneIa => S::OnezoneIa,
        StorageClass::IntelligentTiering => S::IntelligentTiering,
        StorageClass::GlacierIr => S::GlacierIr,
        StorageClass::Glacier => S::Glacier,
        StorageClass::DeepArchive => S::DeepArchive,
    }
}

impl S3Store {
    fn key(&self, key: &str) -> Result<String> {
        if key.is_empty()
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid("invalid object key").with_location(key));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Fails with `NoRepository` and a hint if the bucket does not exist
    /// (some servers would otherwise create it on the first PUT).
    pub fn check_bucket(&self) -> Result<()> {
        let url = format!("s3://{}", self.bucket);
        match self
            .rt
            .block_on(self.client.head_bucket().bucket(&self.bucket).send())
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let forbidden = e.raw_response().is_some_and(|r| r.status().as_u16() == 403);
                let err = map_err(e, &url);
                if forbidden {
                    // Narrow credentials may not be allowed HeadBucket; the
                    // first PUT will still say if the bucket is missing.
                    return Ok(());
                }
                if err.kind() == Kind::NotFound {
                    Err(Error::at(
                        Kind::NoRepository,
                        format!(
                            "bucket does not exist (create it with `aws s3 mb s3://{}` or `coffer init --create-bucket`)",
                            self.bucket
                        ),
                        url,
                    ))
                } else {
                    Err(err)
                }
            }
        }
    }

    /// HeadObject of `key` (relative to the prefix).
    fn head_object(
        &self,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput> {
        let full = self.key(key)?;
        let url = self.url(key);
        self.rt
            .block_on(
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(&full)
                    .send(),
            )
            .map_err(|e| map_err(e, &url))
    }

    /// The storage class S3 reports for an object (`STANDARD` when none is
    /// given, as S3 omits it then).
    pub fn storage_class(&self, key: &str) -> Result<String> {
        let out = self.head_object(key)?;
        Ok(out
            .storage_class()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "STANDARD".into()))
    }

    /// The DELETE of the object `full` (of one version of it, with `version`).
    fn delete_request(
        &self,
        full: &str,
        version: Option<&str>,
    ) -> aws_sdk_s3::operation::delete_object::builders::DeleteObjectFluentBuilder {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(full)
            .set_version_id(version.map(String::from))
    }

    /// Creates the bucket (for `init --create-bucket` and tests).
    pub fn create_bucket(&self) -> Result<()> {
        self.rt.block_on(async {
            match self
                .client
                .create_bucket()
                .bucket(&self.bucket)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => {
                    let err = map_err(e, &format!("s3://{}", self.bucket));
                    if err.kind() == Kind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(err)
                    }
                }
            }
        })
    }
}

impl Store for S3Store {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        match self.put_object(key, data, hints) {
            Err(e) if hints.create_only && e.kind() == Kind::AlreadyExists => {
                settle_existing(self, key, data, e)
            }
            // A multipart upload completed by an attempt whose answer was
            // lost: the retry finds no such upload, the object is there.
            Err(e) if data.len() > MULTIPART_THRESHOLD && e.kind() == Kind::NotFound => {
                settle_existing(self, key, data, e)
            }
            r => r,
        }
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        self.get_object(key, range)
    }

    fn head(&self, key: &str) -> Result<ObjectMeta> {
        let out = self.head_object(key)?;
        // HEAD names no class for STANDARD objects.
        let class = out
            .storage_class()
            .and_then(|c| StorageClass::parse(c.as_str()))
            .unwrap_or_default();
        Ok(ObjectMeta {
            class: Some(class),
            modified: out.last_modified().map(|t| t.secs()),
            thaw: Some(thaw_state(class, out.restore())),
            locked_until: out.object_lock_retain_until_date().map(|t| t.secs()),
            ..ObjectMeta::new(key, out.content_length().unwrap_or(0).max(0) as u64)
        })
    }

    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        let full = format!("{}{prefix}", self.prefix);
        let url = self.url(prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        loop {
            let page = match self.rt.block_on(pages.next()) {
                None => return Ok(()),
                Some(p) => p.map_err(|e| map_err(e, &url))?,
            };
            for obj in page.contents() {
                let Some(k) = obj.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                each(ObjectMeta {
                    class: Some(
                        obj.storage_class()
                            .and_then(|c| StorageClass::parse(c.as_str()))
                            .unwrap_or_default(),
                    ),
                    modified: obj.last_modified().map(|t| t.secs()),
                    ..ObjectMeta::new(k, obj.size().unwrap_or(0).max(0) as u64)
                })?;
            }
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let full = self.key(key)?;
        let url = self.url(key);
        let r = self.rt.block_on(self.delete_request(&full, None).send());
        match r.map_err(|e| map_err(e, &url)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == Kind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
    }

    fn versioned(&self) -> Option<&dyn super::Versioned> {
        Some(self)
    }

    fn request_thaw(&self, key: &str, days: u32, tier: Tier) -> Result<()> {
        use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, Tier as S3Tier};
        let full = self.key(key)?;
        let url = self.url(key);
        let tier = match tier {
            Tier::Expedited => S3Tier::Expedited,
            Tier::Standard => S3Tier::Standard,
            Tier::Bulk => S3Tier::Bulk,
        };
        let job = GlacierJobParameters::builder()
            .tier(tier)
            .build()
            .map_err(|e| Error::new(Kind::Fatal, format!("cannot build a restore request: {e}")))?;
        let request = RestoreRequest::builder()
            .days(i32::try_from(days).unwrap_or(i32::MAX))
            .glacier_job_parameters(job)
            .build();
        let r = self.rt.block_on(
            self.client
                .restore_object()
                .bucket(&self.bucket)
                .key(&full)
                .restore_request(request)
                .send(),
        );
        match r {
            Ok(_) => Ok(()),
            // Asked before (by this run or an earlier one): nothing to add.
            Err(e)
                if e.as_service_error().and_then(|s| s.meta().code())
                    == Some("RestoreAlreadyInProgress") =>
            {
                Ok(())
            }
            Err(e) => Err(map_err(e, &url)),
        }
    }
}

/// Where an object of `class` stands, from HEAD's `x-amz-restore` header
/// (`ongoing-request="true"`, or `ongoing-request="false", expiry-date=…`).
fn thaw_state(class: StorageClass, restore: Option<&str>) -> Thaw {
    match restore {
        _ if !class.is_archive() => Thaw::Hot,
        None => Thaw::Frozen,
        Some(h) if h.replace(' ', "").contains("ongoing-request=\"true\"") => Thaw::Thawing,
        Some(_) => Thaw::Thawed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            parse_location("s3://bucket").unwrap(),
            ("bucket".into(), "".into())
        );
        assert_eq!(
            parse_location("s3://bucket/a/b/").unwrap(),
            ("bucket".into(), "a/b/".into())
        );
        assert!(parse_location("s3://").is_err());
        assert!(parse_location("/tmp").is_err());
    }

    #[test]
    fn reads_the_restore_header() {
        use StorageClass::*;
        assert_eq!(thaw_state(Standard, None), Thaw::Hot);
        assert_eq!(thaw_state(GlacierIr, None), Thaw::Hot);
        assert_eq!(thaw_state(Glacier, None), Thaw::Frozen);
        let ongoing = Some("ongoing-request=\"true\"");
        assert_eq!(thaw_state(DeepArchive, ongoing), Thaw::Thawing);
        let done = Some("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"");
        assert_eq!(thaw_state(Glacier, done), Thaw::Thawed);
    }
}
