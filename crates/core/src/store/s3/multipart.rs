//! Multipart upload for large objects: parts uploaded in parallel, then
//! completed (create-only when asked); any failure aborts the upload so no
//! orphaned parts are left billing the user.

use super::errors::map_err;
use super::{S3Store, storage_class};
use crate::error::Result;
use crate::store::{PutHints, StorageClass};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

/// 16 MiB parts: well above S3's 5 MiB minimum, 625 parts for 10 GiB.
const PART_SIZE: usize = 16 * 1024 * 1024;

pub async fn upload(
    s: &S3Store,
    key: &str,
    url: &str,
    data: &[u8],
    hints: &PutHints,
    hash: &str,
) -> Result<()> {
    let mut create = s
        .client
        .create_multipart_upload()
        .bucket(&s.bucket)
        .key(key)
        .metadata(super::object::HASH_METADATA, hash);
    if hints.storage_class != StorageClass::Standard {
        create = create.storage_class(storage_class(hints.storage_class));
    }
    if let Some((mode, until)) = hints.retain {
        create = create
            .object_lock_mode(super::lock::mode(mode))
            .object_lock_retain_until_date(super::lock::date(until));
    }
    let upload_id = create
        .send()
        .await
        .map_err(|e| map_err(e, url))?
        .upload_id()
        .unwrap_or_default()
        .to_string();
    let result = upload_parts(s, key, url, data, &upload_id, hints).await;
    if result.is_err() {
        let _ = s
            .client
            .abort_multipart_upload()
            .bucket(&s.bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    result
}

async fn upload_parts(
    s: &S3Store,
    key: &str,
    url: &str,
    data: &[u8],
    upload_id: &str,
    hints: &PutHints,
) -> Result<()> {
    let mut parts = Vec::new();
    let chunks: Vec<&[u8]> = data.chunks(PART_SIZE).collect();
    for (batch_no, batch) in chunks.chunks(s.connections).enumerate() {
        let futures = batch.iter().enumerate().map(|(i, chunk)| {
            let number = (batch_no * s.connections + i + 1) as i32;
            let mut req = s
                .client
                .upload_part()
                .bucket(&s.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(chunk.to_vec()));
            if hints.retain.is_some() {
                req = req.content_md5(super::lock::content_md5(chunk));
            }
            async move { (number, req.send().await) }
        });
        for (number, r) in futures_util::future::join_all(futures).await {
            let out = r.map_err(|e| map_err(e, url))?;
            // Only ETag and number: echoing checksums breaks some stores.
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(String::from))
                    .build(),
            );
        }
    }
    let mut complete = s
        .client
        .complete_multipart_upload()
        .bucket(&s.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        );
    if hints.create_only {
        complete = complete.if_none_match("*");
    }
    complete.send().await.map_err(|e| map_err(e, url))?;
    Ok(())
}
