//! Retries of store requests, counted by cause and optionally reported as
//! they happen. The retrying itself is the AWS SDK's (no second layer): this
//! only observes it, so `-v` can show each retry and `--json` summaries can
//! count them. Plain code, compiled with or without the `s3` feature.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

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

/// Counts retries by cause; shared by every client of one process.
#[derive(Default)]
pub struct RetryLog {
    counts: Mutex<BTreeMap<String, u64>>,
    observer: Option<Observer>,
}

impl fmt::Debug for RetryLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLog")
            .field("counts", &self.by_cause())
            .finish()
    }
}

impl RetryLog {
    /// A log that also calls `observer` on each retry (the CLI prints with `-v`).
    pub fn with_observer(observer: impl Fn(&Retry) + Send + Sync + 'static) -> Arc<RetryLog> {
        Arc::new(RetryLog {
            counts: Mutex::default(),
            observer: Some(Box::new(observer)),
        })
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
        let log = RetryLog::with_observer(move |r| {
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
}
