//! Reaching the S3 server that `.ci/run` started on 127.0.0.1.
//!
//! The endpoint comes from `COFFER_TEST_S3_ENDPOINT` (credentials from the
//! usual AWS variables). When it is missing the test fails with a message
//! saying how to start the server: it never skips silently.

use coffer_core::StaticCredentials;
use coffer_core::{S3Settings, S3Store, connect_s3 as connect};

/// Settings for the test server; panics (fails the test) if it is not configured.
pub fn settings() -> S3Settings {
    let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "COFFER_TEST_S3_ENDPOINT is not set: run the tests through `bash .ci/run`, which starts SeaweedFS on 127.0.0.1"
    );
    // The test server's keys when the environment has none (never by
    // changing the environment: other threads of the test read it).
    let credentials = std::env::var_os("AWS_ACCESS_KEY_ID")
        .is_none()
        .then(|| StaticCredentials {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
        });
    S3Settings {
        credentials,
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        connections: 4,
        ..Default::default()
    }
}

/// A fresh bucket for one test; returns `s3://<bucket>/<prefix>`.
pub fn fresh_location(test: &str, prefix: &str) -> String {
    let name: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let bucket = format!("ct-{name}-{:08x}", rand::random::<u32>());
    let location = format!("s3://{bucket}/{prefix}");
    store(&location)
        .create_bucket()
        .expect("cannot create a test bucket on the S3 test server");
    location
}

/// A store for `location` on the test server.
pub fn store(location: &str) -> S3Store {
    connect(location, &settings()).expect("cannot connect to the S3 test server")
}

/// A store for `location` on another S3 server of the test run (moto), at
/// `endpoint`, with the test server's credentials.
pub fn store_at(endpoint: &str, location: &str) -> S3Store {
    let settings = S3Settings {
        endpoint: Some(endpoint.to_string()),
        ..settings()
    };
    connect(location, &settings).expect("cannot connect to the S3 test server")
}
