//! S3 Object Lock and versions: a bucket created with Object Lock, locks
//! on what is written, locks extended, and the versions that deletes leave
//! behind listed and, once their lock has passed, deleted for good.

use super::S3Store;
use super::errors::map_err;
use crate::error::{Error, Kind, Result};
use crate::store::{LockMode, Version, Versioned};
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode};

pub(super) fn mode(m: LockMode) -> ObjectLockMode {
    match m {
        LockMode::Governance => ObjectLockMode::Governance,
        LockMode::Compliance => ObjectLockMode::Compliance,
    }
}

pub(super) fn date(secs: i64) -> DateTime {
    DateTime::from_secs(secs)
}

/// The `Content-MD5` header S3 requires on a write that carries a lock.
pub(super) fn content_md5(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    aws_smithy_types::base64::encode(Md5::digest(data))
}

impl S3Store {
    /// Creates the bucket with Object Lock enabled (and so versioning).
    /// An existing bucket is checked instead: it must have Object Lock.
    pub fn create_locked_bucket(&self) -> Result<()> {
        let url = format!("s3://{}", self.bucket);
        let r = self.rt.block_on(
            self.client
                .create_bucket()
                .bucket(&self.bucket)
                .object_lock_enabled_for_bucket(true)
                .send(),
        );
        match r.map_err(|e| map_err(e, &url)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == Kind::AlreadyExists => self.require_lock(),
            Err(e) => Err(e),
        }
    }

    /// Fails unless the bucket has Object Lock enabled.
    pub fn require_lock(&self) -> Result<()> {
        if self.lock_enabled()? {
            return Ok(());
        }
        Err(Error::at(
            Kind::Fatal,
            "the bucket has no Object Lock: S3 turns it on when a bucket is created (`coffer init --create-bucket --object-lock …` with a new bucket) or on a versioned bucket with `aws s3api put-object-lock-configuration`",
            format!("s3://{}", self.bucket),
        ))
    }
}

impl Versioned for S3Store {
    fn lock_enabled(&self) -> Result<bool> {
        let url = format!("s3://{}", self.bucket);
        let r = self.rt.block_on(
            self.client
                .get_object_lock_configuration()
                .bucket(&self.bucket)
                .send(),
        );
        match r {
            Ok(out) => Ok(out
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| e.as_str() == "Enabled")),
            Err(e)
                if e.as_service_error().and_then(|s| s.meta().code())
                    == Some("ObjectLockConfigurationNotFoundError") =>
            {
                Ok(false)
            }
            Err(e) => Err(map_err(e, &url)),
        }
    }

    fn list_versions(
        &self,
        prefix: &str,
        each: &mut dyn FnMut(Version) -> Result<()>,
    ) -> Result<()> {
        let full = format!("{}{prefix}", self.prefix);
        let url = self.url(prefix);
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .rt
                .block_on(
                    self.client
                        .list_object_versions()
                        .bucket(&self.bucket)
                        .prefix(&full)
                        .set_key_marker(key_marker.take())
                        .set_version_id_marker(version_marker.take())
                        .send(),
                )
                .map_err(|e| map_err(e, &url))?;
            let strip = |k: Option<&str>| {
                k.and_then(|k| k.strip_prefix(&self.prefix))
                    .map(String::from)
            };
            // Versions and delete markers, one shape: (key, id, latest, marker, size).
            let versions = page.versions().iter().map(|v| {
                let size = v.size().unwrap_or(0).max(0) as u64;
                (v.key(), v.version_id(), v.is_latest(), false, size)
            });
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id(), m.is_latest(), true, 0));
            for (key, id, latest, delete_marker, size) in versions.chain(markers) {
                if let (Some(key), Some(id)) = (strip(key), id) {
                    each(Version {
                        key,
                        version_id: id.to_string(),
                        latest: latest.unwrap_or(false),
                        delete_marker,
                        size,
                    })?;
                }
            }
            if !page.is_truncated().unwrap_or(false) {
                return Ok(());
            }
            key_marker = page.next_key_marker().map(String::from);
            version_marker = page.next_version_id_marker().map(String::from);
            if key_marker.is_none() && version_marker.is_none() {
                return Ok(());
            }
        }
    }

    fn delete_version(&self, key: &str, version_id: &str) -> Result<bool> {
        let full = self.key(key)?;
        let url = self.url(key);
        let r = self
            .rt
            .block_on(self.delete_request(&full, Some(version_id)).send());
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Ok(false),
            Err(e) => match map_err(e, &url) {
                gone if gone.kind() == Kind::NotFound => Ok(true),
                other => Err(other),
            },
        }
    }

    fn extend_lock(&self, key: &str, mode: LockMode, until: i64) -> Result<()> {
        let full = self.key(key)?;
        let url = self.url(key);
        let retention = ObjectLockRetention::builder()
            .mode(match mode {
                LockMode::Governance => ObjectLockRetentionMode::Governance,
                LockMode::Compliance => ObjectLockRetentionMode::Compliance,
            })
            .retain_until_date(date(until))
            .build();
        self.rt
            .block_on(
                self.client
                    .put_object_retention()
                    .bucket(&self.bucket)
                    .key(&full)
                    .retention(retention)
                    .send(),
            )
            .map(|_| ())
            .map_err(|e| map_err(e, &url))
    }
}
