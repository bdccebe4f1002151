//! uid/gid <-> user/group names, cached (a system tree has few owners but
//! many files).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Every entry of a backup asks for two names, from several threads at
/// once: lookups share a read lock and only a miss takes the write lock.
#[derive(Default)]
pub struct Owners {
    users: RwLock<HashMap<u32, String>>,
    groups: RwLock<HashMap<u32, String>>,
    uids: RwLock<HashMap<String, Option<u32>>>,
    gids: RwLock<HashMap<String, Option<u32>>>,
}

/// `map[key]`, computing it with `miss` the first time.
fn cached<K: Hash + Eq + Clone, V: Clone>(
    map: &RwLock<HashMap<K, V>>,
    key: &K,
    miss: impl FnOnce() -> V,
) -> V {
    if let Some(v) = map.read().expect("owner cache poisoned").get(key) {
        return v.clone();
    }
    let v = miss();
    map.write()
        .expect("owner cache poisoned")
        .entry(key.clone())
        .or_insert(v)
        .clone()
}

impl Owners {
    pub fn new() -> Self {
        Self::default()
    }

    /// The user name of `uid`, or "" if the system does not know it.
    pub fn user_name(&self, uid: u32) -> String {
        cached(&self.users, &uid, || {
            uzers::get_user_by_uid(uid)
                .map(|u| u.name().to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }

    pub fn group_name(&self, gid: u32) -> String {
        cached(&self.groups, &gid, || {
            uzers::get_group_by_gid(gid)
                .map(|g| g.name().to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }

    /// The uid this system gives to user `name`, if any.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        cached(&self.uids, &name.to_string(), || {
            uzers::get_user_by_name(name).map(|u| u.uid())
        })
    }

    pub fn gid_of(&self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        cached(&self.gids, &name.to_string(), || {
            uzers::get_group_by_name(name).map(|g| g.gid())
        })
    }
}
