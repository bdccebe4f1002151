//! Key files: the master key wrapped under Argon2id(password). Any number of
//! key files may open one repository (`coffer key add|list|remove|passwd`).

use super::Repository;
use crate::crypto::{self, MasterKey, Sealed};
use crate::error::{Error, Kind, Result};
use crate::format::key::{KdfParams, KeyFile};
use crate::id::{KeyId, hash_object};
use crate::store::{PutHints, Store, list_all};

/// What `key list` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub id: KeyId,
    pub current: bool,
    pub created: String,
    pub host: String,
    pub user: String,
}

fn key_name(id: &KeyId) -> String {
    format!("keys/{id}")
}

/// Wraps `key` under `password` and stores a new key file.
pub(super) fn add_key(
    store: &dyn Store,
    key: &MasterKey,
    password: &[u8],
    kdf: KdfParams,
) -> Result<KeyId> {
    let salt: [u8; 16] = rand::random();
    let wrapping = crypto::derive_wrapping_key(password, &salt, &kdf)?;
    let file = KeyFile {
        version: crate::format::FORMAT_VERSION,
        kdf: "argon2id".into(),
        params: kdf,
        salt: hex::encode(salt),
        sealed: hex::encode(crypto::seal(&wrapping, Sealed::MasterKey, &key.encode())),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        user: uzers::get_current_username()
            .map(|u| u.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let bytes = file.encode();
    let id = KeyId(hash_object(&bytes));
    store.put(&key_name(&id), &bytes, &PutHints::immutable())?;
    Ok(id)
}

fn load_key_files(store: &dyn Store) -> Result<Vec<(KeyId, KeyFile)>> {
    let mut out = Vec::new();
    for meta in list_all(store, "keys/")? {
        let Some(id) = meta
            .key
            .strip_prefix("keys/")
            .and_then(|h| KeyId::parse(h).ok())
        else {
            continue;
        };
        let bytes = store.get(&meta.key, None)?;
        out.push((id, KeyFile::decode(&bytes, &meta.key)?));
    }
    Ok(out)
}

/// Finds the key file that `password` opens and returns the master key.
pub(super) fn unlock(store: &dyn Store, password: &[u8]) -> Result<(KeyId, MasterKey)> {
    let files = load_key_files(store)?;
    if files.is_empty() {
        return Err(Error::corrupt(
            "repository has no key files",
            format!("{}/keys/", store.location()),
        ));
    }
    for (id, f) in files {
        let what = key_name(&id);
        let wrapping = crypto::derive_wrapping_key(password, &f.salt_bytes(&what)?, &f.params)?;
        if let Ok(plain) =
            crypto::open(&wrapping, Sealed::MasterKey, &f.sealed_bytes(&what)?, &what)
        {
            return Ok((id, MasterKey::decode(&plain)?));
        }
    }
    Err(Error::at(
        Kind::WrongPassword,
        "wrong password: no key of the repository opens with it",
        store.location(),
    ))
}

impl Repository {
    /// Adds a key file for another password; returns its id.
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        if password.is_empty() {
            return Err(Error::invalid("an empty password is not allowed"));
        }
        add_key(self.store().as_ref(), self.key(), password, kdf)
    }

    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(load_key_files(self.store().as_ref())?
            .into_iter()
            .map(|(id, f)| KeyInfo {
                id,
                current: id == self.key_id(),
                created: f.created,
                host: f.host,
                user: f.user,
            })
            .collect())
    }

    /// Removes a key file. The key this session opened with cannot be removed
    /// (use `passwd`), so the repository always keeps a usable key.
    pub fn remove_key(&self, id: KeyId) -> Result<()> {
        if id == self.key_id() {
            return Err(Error::invalid(
                "cannot remove the key in use; open the repository with another key first",
            ));
        }
        let name = key_name(&id);
        self.store().head(&name)?;
        self.store().delete(&name)
    }

    /// Replaces the current key's password: adds the new key, then removes the old one.
    pub fn change_password(&mut self, new_password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        let new_id = self.add_key(new_password, kdf)?;
        let old = self.key_id();
        self.key_id = new_id;
        self.store().delete(&key_name(&old))?;
        Ok(new_id)
    }

    /// Resolves a key id or unique prefix.
    pub fn find_key(&self, prefix: &str) -> Result<KeyId> {
        let ids: Vec<KeyId> = self
            .list_keys()?
            .into_iter()
            .map(|k| k.id)
            .filter(|id| id.to_hex().starts_with(prefix))
            .collect();
        match ids.as_slice() {
            [id] => Ok(*id),
            [] => Err(Error::at(Kind::NotFound, "no key matches", prefix)),
            _ => Err(Error::invalid("more than one key matches").with_location(prefix)),
        }
    }
}
