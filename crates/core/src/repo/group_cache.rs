//! The compression groups a repository opened last (see `blob::groups`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Opened groups kept: about 1 MiB of plaintext each.
const KEPT: usize = 8;

/// An opened group: (pack key, offset in the pack, plaintext).
type Kept = (String, u32, Arc<Vec<u8>>);

/// The last groups opened, by (pack key, offset in the pack).
#[derive(Default)]
pub struct GroupCache {
    kept: Mutex<VecDeque<Kept>>,
}

impl GroupCache {
    pub fn get(&self, key: &str, offset: u32) -> Option<Arc<Vec<u8>>> {
        let kept = self.kept.lock().expect("poisoned");
        kept.iter()
            .find(|(k, o, _)| *o == offset && k == key)
            .map(|(_, _, g)| Arc::clone(g))
    }

    pub fn put(&self, key: &str, offset: u32, group: Arc<Vec<u8>>) {
        let mut kept = self.kept.lock().expect("poisoned");
        if kept.iter().any(|(k, o, _)| *o == offset && k == key) {
            return;
        }
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((key.to_string(), offset, group));
    }
}
