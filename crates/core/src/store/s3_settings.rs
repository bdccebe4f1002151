//! How to reach S3. Plain settings, compiled with or without the `s3`
//! feature, so callers can carry them either way; only `store::s3` (behind
//! the feature) uses them.

use super::request_log::RequestLog;
use std::sync::Arc;
use std::time::Duration;

/// When the SDK adds request checksums and validates response checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// Only where the API requires them: works on every S3-compatible store
    /// tried (Garage rejects the SDK's default aws-chunked checksummed bodies).
    /// The default when an endpoint is given.
    WhenRequired,
    /// The SDK's default (CRC32 on every upload): for AWS itself.
    #[default]
    WhenSupported,
}

/// How to reach S3; the CLI fills this from flags. Anything left `None`
/// comes from the SDK's default chain (environment, profile, IMDS).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// `--endpoint-url`; `AWS_ENDPOINT_URL` is read by the SDK itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`http://host/bucket/key`); forced when an
    /// endpoint is set, since S3-compatible servers rarely do virtual hosts.
    pub path_style: bool,
    pub checksum: Option<ChecksumMode>,
    /// Parallel part uploads of one multipart upload.
    pub connections: usize,
    /// Longest wait from sending a request to the first byte of its answer
    /// (`--s3-timeout`); `None` is `store::s3::READ_TIMEOUT`.
    pub read_timeout: Option<Duration>,
    /// Attempts per request, first included; `None` is `store::s3::MAX_ATTEMPTS`.
    pub max_attempts: Option<u32>,
    /// Where requests and retries are counted (retries reported as they
    /// happen, with an observer).
    pub requests: Arc<RequestLog>,
    /// Keys to sign with instead of the SDK's credential chain (tests, and
    /// callers that hold keys of their own); `None` is the usual chain.
    pub credentials: Option<StaticCredentials>,
}

/// An access key and its secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .finish()
    }
}
