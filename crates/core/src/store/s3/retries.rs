//! How the SDK retries, and an interceptor that counts each request and
//! reports each retry.
//!
//! The SDK's standard retry strategy does the retrying (no second layer
//! here); this file only tunes it and watches it:
//!
//! - more attempts than the SDK's default of 3: a backup is thousands of
//!   requests, and an endpoint answering 503 SlowDown under load must slow
//!   the backup down, not fail it;
//! - no retry quota: the SDK's token bucket (500 tokens, 5 per retry) is
//!   meant for request/response services and runs dry after ~100 retries in
//!   one process, after which every transient error fails the command;
//! - a read timeout, so a request that gets no answer is retried instead of
//!   hanging forever (the SDK sets none by default).

use crate::store::request_log::{RequestLog, Retry, request_kind};
use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::sync::Arc;
use std::time::Duration;

/// Attempts per request, first one included. With the SDK's exponential
/// backoff (1 s doubling, jittered, capped at 20 s) ten attempts wait up to
/// ~2 minutes: longer than any SlowDown episode we have seen, short enough
/// that a dead endpoint fails the command in minutes, not hours.
pub const MAX_ATTEMPTS: u32 = 10;

/// Time from sending a request to the first byte of its answer, upload of
/// the request body included: a 32 MiB pack over a 2 Mbit/s uplink takes
/// ~130 s, so five minutes leaves room while no request hangs forever.
pub const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Connecting takes one round trip; the SDK's own default is 3.1 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn retry_config(max_attempts: Option<u32>) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(max_attempts.unwrap_or(MAX_ATTEMPTS).max(1))
}

pub fn retry_partition() -> RetryPartition {
    RetryPartition::custom("coffer")
        .token_bucket(TokenBucket::unlimited())
        .build()
}

pub fn timeout_config(read_timeout: Option<Duration>) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(read_timeout.unwrap_or(READ_TIMEOUT))
        .build()
}

/// Why the last attempt failed, kept between attempts of one request.
#[derive(Debug, Clone)]
struct LastCause(String);

impl Storable for LastCause {
    type Storer = StoreReplace<Self>;
}

/// A numeric header's value.
fn header_u64(value: Option<&str>) -> Option<u64> {
    value?.trim().parse().ok()
}

/// Records every request the SDK sends, and every retry among them, in
/// the [`RequestLog`].
#[derive(Debug)]
pub struct RequestCounter {
    pub log: Arc<RequestLog>,
    /// For messages: the request's path starts with it (path style) or
    /// not (virtual hosts).
    pub bucket: String,
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "coffer::RequestCounter"
    }

    fn read_before_attempt(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let req = ctx.request();
        let query = req.uri().split_once('?').map_or("", |(_, q)| q);
        let sent = header_u64(req.headers().get("content-length"))
            .or_else(|| req.body().content_length())
            .unwrap_or(0);
        self.log.request(request_kind(req.method(), query), sent);
        if attempt > 1 {
            let path = req.uri().split_once("://").map_or(req.uri(), |(_, r)| r);
            let path = path.split_once('/').map_or("", |(_, p)| p);
            let path = path.split('?').next().unwrap_or_default();
            let path = path
                .strip_prefix(&format!("{}/", self.bucket))
                .unwrap_or(path);
            let cause = cfg
                .load::<LastCause>()
                .map_or_else(|| "unknown".to_string(), |c| c.0.clone());
            self.log.record(Retry {
                method: req.method().to_string(),
                url: format!("s3://{}/{path}", self.bucket),
                attempt,
                cause,
            });
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = ctx.response().map(|r| r.status().as_u16());
        // A HEAD answer declares the object's length but carries no body.
        let head = ctx.request().is_some_and(|r| r.method() == "HEAD");
        if let Some(r) = ctx.response()
            && !head
        {
            self.log
                .received(header_u64(r.headers().get("content-length")).unwrap_or(0));
        }
        let cause = match ctx.output_or_error() {
            Some(Err(e)) if e.is_timeout_error() => "timeout".to_string(),
            Some(Err(e)) => match e.as_connector_error() {
                Some(c) if c.is_timeout() => "timeout".to_string(),
                Some(c) if c.is_io() => "connection dropped".to_string(),
                Some(_) => "connection failed".to_string(),
                None => match status {
                    Some(s) => format!("HTTP {s}"),
                    None => "response unreadable".to_string(),
                },
            },
            _ => match status {
                Some(s) => format!("HTTP {s}"),
                None => "no response".to_string(),
            },
        };
        cfg.interceptor_state().store_put(LastCause(cause));
        Ok(())
    }
}
