//! SDK errors -> coffer errors: one line, the object's s3:// URL, a kind.

use crate::error::{Error, Kind};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// Maps an SDK error on `url` to a coffer error.
pub fn map_err<E>(e: SdkError<E, HttpResponse>, url: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let (code, message) = match e.as_service_error() {
        Some(se) => (
            se.code().unwrap_or_default().to_string(),
            se.message().unwrap_or_default().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let detail = if message.is_empty() {
        code.clone()
    } else {
        format!("{code}: {message}")
    };
    match (code.as_str(), status) {
        ("NoSuchBucket", _) => Error::at(
            Kind::NoRepository,
            format!(
                "bucket does not exist (create it with `aws s3 mb s3://{bucket}` or `coffer init --create-bucket`)"
            ),
            format!("s3://{bucket}"),
        ),
        ("NoSuchKey", _) | ("NotFound", _) | (_, Some(404)) => {
            Error::at(Kind::NotFound, "no such object", url)
        }
        ("PreconditionFailed", _) | (_, Some(412)) => {
            Error::at(Kind::AlreadyExists, "object already exists", url)
        }
        ("BucketAlreadyOwnedByYou", _) | ("BucketAlreadyExists", _) => {
            Error::at(Kind::AlreadyExists, "bucket already exists", url)
        }
        ("InvalidAccessKeyId", _) | ("SignatureDoesNotMatch", _) => Error::at(
            Kind::Fatal,
            format!(
                "S3 rejected the credentials ({detail}); check AWS_PROFILE / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            ),
            url,
        ),
        // Before the 403s: S3 answers it with 403.
        ("InvalidObjectState", _) => Error::at(
            Kind::Cold,
            "object is in an archive storage class (GLACIER, DEEP_ARCHIVE) and not restored; run the command again with --cold-restore TIER",
            url,
        ),
        ("AccessDenied", _) | (_, Some(403)) => Error::at(
            Kind::Fatal,
            format!(
                "access denied by S3 ({})",
                if detail.is_empty() { "403" } else { &detail }
            ),
            url,
        ),
        (_, Some(416)) => Error::corrupt("range is outside the object", url),
        _ => {
            let transient = matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))
                || status.is_some_and(|s| s >= 500 || s == 429);
            let what = match &e {
                SdkError::DispatchFailure(_) => "cannot reach the S3 endpoint".to_string(),
                SdkError::TimeoutError(_) => "S3 request timed out".to_string(),
                SdkError::ConstructionFailure(_) => {
                    "cannot build the S3 request (missing region or credentials?)".to_string()
                }
                _ => match status {
                    Some(s) if detail.is_empty() => format!("S3 request failed (HTTP {s})"),
                    Some(s) => format!("S3 request failed (HTTP {s} {detail})"),
                    None => format!("S3 request failed ({detail})"),
                },
            };
            let err = Error::at(Kind::Fatal, what, url).transient(transient);
            // A service error says all in its code and message; the SDK's
            // chain would only repeat them ("unhandled error (…)").
            if matches!(e, SdkError::ServiceError(_)) && !detail.is_empty() {
                err
            } else {
                err.with_source(ErrorChain(e).to_string())
            }
        }
    }
}

/// The SDK's error with its source chain flattened (its Display is terse).
struct ErrorChain<E>(E);

impl<E: std::error::Error> std::fmt::Display for ErrorChain<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut src = self.0.source();
        let mut parts = Vec::new();
        while let Some(s) = src {
            parts.push(s.to_string());
            src = s.source();
        }
        if parts.is_empty() {
            write!(f, "{}", self.0)
        } else {
            f.write_str(&parts.join(": "))
        }
    }
}
