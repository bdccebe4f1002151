//! The requests a run sends to S3, counted by kind (what S3 bills: PUT,
//! GET, HEAD, LIST, POST, DELETE) with the bytes sent and received, and
//! the retries among them, counted by cause and optionally reported as they
//! happen. The retrying itself is the AWS SDK's (no second layer): this
//! only observes it, so `-v` can show each retry and `--json` summaries can
//! count requests and retries. Plain code, compiled with or without the
//! `s3` feature.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The kind S3 bills a request as: `LIST` for a GET of a bucket with
/// `list-type` (ListObjectsV2), else the HTTP method (`PUT` covers uploads
/// of parts, `POST` the creation and completion of multipart uploads).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub fn request_kind(method: &str, query: &str) -> &'static str {
    match method {
        "GET" if query.split('&').any(|p| p.starts_with("list-type=")) => "LIST",
        "GET" => "GET",
        "PUT" => "PUT",
        "HEAD" => "HEAD",
        "POST"
            if query
                .split('&')
                .any(|p| p == "restore" || p.starts_with("restore=")) =>
        {
            "RESTORE"
        }
        "POST" => "POST",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

/// One retry about to be made.
#[derive(Debug, Clone)]
pub struct Retry {
    /// `PUT`, `GET`, ...
    pub method: String,
    /// The object, as an `s3://` URL.
    pub url: String,
    /// The attempt about to start (2 for the first retry).
    pub attempt: u32,
    /// Why the previous attempt failed, e.g. `HTTP 503`, `connection reset`,
    /// `timeout`, `body cut short`.
    pub cause: String,
}

type Observer = Box<dyn Fn(&Retry) + Send + Sync>;

/// Counts requests by kind and retries by cause; shared by every client of
/// one process.
#[derive(Default)]
pub struct RequestLog {
    counts: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<&'static str, u64>>,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    observer: Option<Observer>,
}

impl fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLog")
            .field("counts", &self.by_cause())
            .finish()
    }
}

impl RequestLog {
    /// A log that also calls `observer` on each retry (the CLI prints with `-v`).
    pub fn with_observer(observer: impl Fn(&Retry) + Send + Sync + 'static) -> Arc<RequestLog> {
        Arc::new(RequestLog {
            observer: Some(Box::new(observer)),
            ..Default::default()
        })
    }

    /// One request sent (every attempt is one: each is billed), of `kind`
    /// (see [`request_kind`]), with a body of `sent` bytes.
    pub fn request(&self, kind: &'static str, sent: u64) {
        *self
            .requests
            .lock()
            .expect("poisoned")
            .entry(kind)
            .or_default() += 1;
        self.bytes_sent.fetch_add(sent, Ordering::Relaxed);
    }

    /// Bytes of an answer's body, as its `Content-Length` declares them.
    pub fn received(&self, bytes: u64) {
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Requests so far, by kind.
    pub fn by_kind(&self) -> BTreeMap<&'static str, u64> {
        self.requests.lock().expect("poisoned").clone()
    }

    /// Request body bytes sent and answer body bytes received so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_sent.load(Ordering::Relaxed),
            self.bytes_received.load(Ordering::Relaxed),
        )
    }

    pub fn record(&self, retry: Retry) {
        *self
            .counts
            .lock()
            .expect("poisoned")
            .entry(retry.cause.clone())
            .or_default() += 1;
        if let Some(o) = &self.observer {
            o(&retry);
        }
    }

    /// Retries so far, by cause.
    pub fn by_cause(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("poisoned").clone()
    }

    pub fn total(&self) -> u64 {
        self.counts.lock().expect("poisoned").values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn counts_by_cause_and_calls_the_observer() {
        let seen = Arc::new(AtomicU32::new(0));
        let s = seen.clone();
        let log = RequestLog::with_observer(move |r| {
            s.fetch_add(r.attempt, Ordering::Relaxed);
        });
        for (cause, attempt) in [("HTTP 503", 2), ("HTTP 503", 3), ("timeout", 2)] {
            log.record(Retry {
                method: "PUT".into(),
                url: "s3://b/k".into(),
                attempt,
                cause: cause.into(),
            });
        }
        assert_eq!(log.total(), 3);
        assert_eq!(log.by_cause()["HTTP 503"], 2);
        assert_eq!(log.by_cause()["timeout"], 1);
        assert_eq!(seen.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn counts_requests_by_the_kind_s3_bills() {
        let log = RequestLog::default();
        for (method, query, sent) in [
            ("GET", "list-type=2&prefix=index%2F", 0),
            ("GET", "", 0),
            ("GET", "x-id=GetObject", 0),
            ("PUT", "partNumber=1&uploadId=u", 100),
            ("PUT", "", 20),
            ("POST", "uploads", 0),
            ("HEAD", "", 0),
        ] {
            log.request(request_kind(method, query), sent);
        }
        log.received(7);
        let k = log.by_kind();
        assert_eq!(
            (k["LIST"], k["GET"], k["PUT"], k["POST"], k["HEAD"]),
            (1, 2, 2, 1, 1)
        );
        assert_eq!(log.bytes(), (120, 7));
    }
}
