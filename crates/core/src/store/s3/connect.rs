//! Building the S3 client the way the AWS CLI would.

use super::retries::{RequestCounter, retry_config, retry_partition, timeout_config};
use super::{ChecksumMode, S3Settings, S3Store, parse_location};
use crate::error::{Error, Result};
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};

/// Connects to `s3://bucket/prefix`. No request is sent yet.
pub fn connect(location: &str, settings: &S3Settings) -> Result<S3Store> {
    let (bucket, prefix) = parse_location(location)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("coffer-s3")
        .enable_all()
        .build()
        .map_err(|e| Error::fatal("cannot start the S3 runtime").with_source(e))?;
    let sdk = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).load());
    let endpoint = settings
        .endpoint
        .clone()
        .or_else(|| sdk.endpoint_url().map(String::from));
    let mut b = aws_sdk_s3::config::Builder::from(&sdk);
    if let Some(ep) = &settings.endpoint {
        b = b.endpoint_url(ep);
    }
    if let Some(c) = &settings.credentials {
        b = b.credentials_provider(aws_sdk_s3::config::Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            None,
            None,
            "coffer-settings",
        ));
    }
    let custom_endpoint = endpoint.is_some();
    b = b.force_path_style(settings.path_style || custom_endpoint);
    match settings
        .region
        .clone()
        .or_else(|| sdk.region().map(|r| r.to_string()))
    {
        Some(r) => b = b.region(Region::new(r)),
        // S3-compatible servers ignore the region but SigV4 needs one.
        None if custom_endpoint => b = b.region(Region::new("us-east-1")),
        None => {
            return Err(Error::invalid(
                "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or region in ~/.aws/config) or pass --region",
            )
            .with_location(location));
        }
    }
    let mode = settings.checksum.unwrap_or(if custom_endpoint {
        ChecksumMode::WhenRequired
    } else {
        ChecksumMode::WhenSupported
    });
    if mode == ChecksumMode::WhenRequired {
        b = b
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    b = b
        .retry_config(retry_config(settings.max_attempts))
        .retry_partition(retry_partition())
        .timeout_config(timeout_config(settings.read_timeout))
        .interceptor(RequestCounter {
            log: settings.requests.clone(),
            bucket: bucket.clone(),
        });
    let client = aws_sdk_s3::Client::from_conf(b.build());
    Ok(S3Store {
        client,
        bucket,
        prefix,
        rt,
        connections: settings.connections.max(1),
        requests: settings.requests.clone(),
        body_attempts: settings
            .max_attempts
            .unwrap_or(super::retries::MAX_ATTEMPTS)
            .max(1),
    })
}
