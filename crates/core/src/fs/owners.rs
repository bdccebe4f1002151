//! uid/gid <-> user/group names, cached (a system tree has few owners but
//! many files).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Owners {
    users: Mutex<HashMap<u32, String>>,
    groups: Mutex<HashMap<u32, String>>,
    uids: Mutex<HashMap<String, Option<u32>>>,
    gids: Mutex<HashMap<String, Option<u32>>>,
}

impl Owners {
    pub fn new() -> Self {
        Self::default()
    }

    /// The user name of `uid`, or "" if the system does not know it.
    pub fn user_name(&self, uid: u32) -> String {
        let mut m = self.users.lock().expect("owner cache poisoned");
        m.entry(uid)
            .or_insert_with(|| {
                uzers::get_user_by_uid(uid)
                    .map(|u| u.name().to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .clone()
    }

    pub fn group_name(&self, gid: u32) -> String {
        let mut m = self.groups.lock().expect("owner cache poisoned");
        m.entry(gid)
            .or_insert_with(|| {
                uzers::get_group_by_gid(gid)
                    .map(|g| g.name().to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .clone()
    }

    /// The uid this system gives to user `name`, if any.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        let mut m = self.uids.lock().expect("owner cache poisoned");
        *m.entry(name.to_string())
            .or_insert_with(|| uzers::get_user_by_name(name).map(|u| u.uid()))
    }

    pub fn gid_of(&self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        let mut m = self.gids.lock().expect("owner cache poisoned");
        *m.entry(name.to_string())
            .or_insert_with(|| uzers::get_group_by_name(name).map(|g| g.gid()))
    }
}
