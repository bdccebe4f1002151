//! A store that locks every object it writes (S3 Object Lock): each put
//! carries a lock mode and a date `period` from now, so no version coffer
//! writes can be deleted or changed before then, by anyone (`COMPLIANCE`)
//! or by anyone without the bypass permission (`GOVERNANCE`). A repository
//! whose `config` asks for Object Lock writes through one.

use super::{ObjectMeta, PutHints, Store, Tier, Versioned};
use crate::error::Result;
use crate::store::LockMode;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

pub struct LockingStore {
    inner: Arc<dyn Store>,
    mode: LockMode,
    period: Duration,
}

impl LockingStore {
    pub fn new(inner: Arc<dyn Store>, mode: LockMode, period: Duration) -> Self {
        LockingStore {
            inner,
            mode,
            period,
        }
    }
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store for LockingStore {
    fn put(&self, key: &str, data: &[u8], hints: &PutHints) -> Result<()> {
        let until = now_secs().saturating_add(self.period.as_secs() as i64);
        let hints = PutHints {
            retain: Some((self.mode, until)),
            ..hints.clone()
        };
        self.inner.put(key, data, &hints)
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Vec<u8>> {
        self.inner.get(key, range)
    }

    fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key)
    }

    fn list(&self, prefix: &str, each: &mut dyn FnMut(ObjectMeta) -> Result<()>) -> Result<()> {
        self.inner.list(prefix, each)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }

    fn location(&self) -> String {
        self.inner.location()
    }

    fn remove_fragments(&self, before: std::time::SystemTime) -> Result<u64> {
        self.inner.remove_fragments(before)
    }

    fn state_dir(&self) -> Option<&std::path::Path> {
        self.inner.state_dir()
    }

    fn versioned(&self) -> Option<&dyn Versioned> {
        self.inner.versioned()
    }

    fn request_thaw(&self, key: &str, days: u32, tier: Tier) -> Result<()> {
        self.inner.request_thaw(key, days, tier)
    }
}
