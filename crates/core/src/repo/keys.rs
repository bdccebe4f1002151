//! Key files: the master key wrapped under Argon2id(password). Any number of
//! key files may open one repository (`coffer key add|list|remove|passwd`).
//! A key file's bytes are checked against its id (BLAKE3 = file name) before
//! use; opening tries every key file and skips damaged ones.

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

/// The BLAKE3 derive-key context of the config tag's key.
pub const CONFIG_MAC_CONTEXT: &str = "coffer/v1/config-mac";

/// The tag that authenticates `config` (docs/FORMAT.md §3): keyed BLAKE3 of
/// its exact bytes, keyed with `BLAKE3-derive-key(CONFIG_MAC_CONTEXT,
/// master key's 72 bytes)`. Only a holder of the master key can make one,
/// and every key file of a repository carries the same tag.
pub fn config_mac(key: &MasterKey, config: &[u8]) -> [u8; 32] {
    let mac_key = blake3::derive_key(CONFIG_MAC_CONTEXT, &key.encode());
    *blake3::keyed_hash(&mac_key, config).as_bytes()
}

/// Wraps `key` under `password` and stores a new key file carrying the
/// config tag `config_mac`.
pub(super) fn add_key(
    store: &dyn Store,
    key: &MasterKey,
    config_mac: [u8; 32],
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
        config_mac: Some(hex::encode(config_mac)),
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

/// The ids of every key file (names that are not ids are skipped).
fn key_ids(store: &dyn Store) -> Result<Vec<KeyId>> {
    Ok(list_all(store, "keys/")?
        .iter()
        .filter_map(|m| {
            m.key
                .strip_prefix("keys/")
                .and_then(|h| KeyId::parse(h).ok())
        })
        .collect())
}

/// Reads and decodes one key file, checking its bytes against its id.
fn read_key_file(store: &dyn Store, id: &KeyId) -> Result<KeyFile> {
    let what = key_name(id);
    let bytes = store.get(&what, None)?;
    if KeyId(hash_object(&bytes)) != *id {
        return Err(Error::corrupt("key file does not match its id", what));
    }
    KeyFile::decode(&bytes, &what)
}

/// Tries one key file: `Ok(None)` if `password` does not open it, an error
/// if it is damaged.
fn try_key(store: &dyn Store, id: &KeyId, password: &[u8]) -> Result<Option<(MasterKey, KeyFile)>> {
    let what = key_name(id);
    let f = read_key_file(store, id)?;
    let wrapping = crypto::derive_wrapping_key(password, &f.salt_bytes(&what)?, &f.params)
        .map_err(|e| e.with_location(&what))?;
    match crypto::open(&wrapping, Sealed::MasterKey, &f.sealed_bytes(&what)?, &what) {
        Ok(plain) => MasterKey::decode(&plain)
            .map(|k| Some((k, f)))
            .map_err(|e| e.with_location(&what)),
        Err(_) => Ok(None),
    }
}

/// Finds the key file that `password` opens and returns the master key.
/// Every key file is tried: a damaged one (does not match its id, does not
/// decode, refused KDF parameters, wrong master key length) is skipped, and
/// named in the error if no other key opens. Only store failures stop the
/// search.
pub(super) fn unlock(store: &dyn Store, password: &[u8]) -> Result<(KeyId, MasterKey, KeyFile)> {
    let ids = key_ids(store)?;
    if ids.is_empty() {
        return Err(Error::corrupt(
            "repository has no key files",
            format!("{}/keys/", store.location()),
        ));
    }
    let mut tried = 0;
    let mut damaged = Vec::new();
    for id in &ids {
        match try_key(store, id, password) {
            Ok(Some((key, file))) => return Ok((*id, key, file)),
            Ok(None) => tried += 1,
            // Removed since the listing (`key passwd` elsewhere): not a key.
            Err(e) if e.kind() == Kind::NotFound => {}
            Err(e) if matches!(e.kind(), Kind::Corrupt | Kind::Unsupported) => damaged.push(*id),
            Err(e) => return Err(e),
        }
    }
    let wrong = "wrong password: no key of the repository opens with it";
    if damaged.is_empty() {
        return Err(Error::at(Kind::WrongPassword, wrong, store.location()));
    }
    let mut names: Vec<String> = damaged.iter().take(3).map(key_name).collect();
    if damaged.len() > 3 {
        names.push("…".into());
    }
    let names = names.join(", ");
    let list = match damaged.len() {
        1 => format!("1 key file is damaged: {names}"),
        n => format!("{n} key files are damaged: {names}"),
    };
    if tried == 0 {
        // No key file could even be tried: not the password's fault.
        return Err(Error::corrupt(
            format!("no key file can be read ({list})"),
            store.location(),
        ));
    }
    Err(Error::at(
        Kind::WrongPassword,
        format!("{wrong} ({list})"),
        store.location(),
    ))
}

/// Checks `config`'s bytes against the tags of the key files, with the
/// master key that `opened` (the key file `id`) unwrapped; returns whether
/// a tag authenticated them.
///
/// The key file that opened the repository decides when it has a tag: it
/// must match. A key file without one (written before config was
/// authenticated) defers to the others: if any carries a tag it must match,
/// and if none does the repository is from before authentication and its
/// config is accepted as it is (`Ok(false)`). A tag that does not match is
/// a `config` changed after `init`: refused, never used.
pub(super) fn verify_config(
    store: &dyn Store,
    key: &MasterKey,
    id: &KeyId,
    opened: &KeyFile,
    config: &[u8],
) -> Result<bool> {
    let mac = config_mac(key, config);
    let refuse = |by: &KeyId| {
        Error::corrupt(
            format!(
                "config does not match the tag in {} (it was changed after the repository was created); its chunker, pack size and compression are not used",
                key_name(by)
            ),
            "config",
        )
    };
    if let Some(tag) = opened.config_mac_bytes(&key_name(id))? {
        return if tag == mac {
            Ok(true)
        } else {
            Err(refuse(id))
        };
    }
    let mut authenticated = false;
    for other in key_ids(store)?.iter().filter(|o| *o != id) {
        let tag = match read_key_file(store, other) {
            Ok(f) => f.config_mac_bytes(&key_name(other)),
            Err(e) => Err(e),
        };
        match tag {
            Ok(Some(tag)) if tag == mac => authenticated = true,
            Ok(Some(_)) => return Err(refuse(other)),
            Ok(None) => {}
            // Damaged or removed since the listing: not a witness either way.
            Err(e) if matches!(e.kind(), Kind::NotFound | Kind::Corrupt | Kind::Unsupported) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(authenticated)
}

impl Repository {
    /// Adds a key file for another password; returns its id.
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<KeyId> {
        if password.is_empty() {
            return Err(Error::invalid("an empty password is not allowed"));
        }
        add_key(
            self.store().as_ref(),
            self.key(),
            self.config_mac,
            password,
            kdf,
        )
    }

    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let store = self.store().as_ref();
        key_ids(store)?
            .into_iter()
            .map(|id| {
                let f = read_key_file(store, &id)?;
                Ok(KeyInfo {
                    id,
                    current: id == self.key_id(),
                    created: f.created,
                    host: f.host,
                    user: f.user,
                })
            })
            .collect()
    }

    /// Every key file that is damaged (does not match its id, does not
    /// decode, or its salt, parameters or wrapped key are refused), as an
    /// error naming it; opening skips such files. Argon2 is not run, so a
    /// wrapped key that fails to open is not found here. Only a store
    /// failure is returned as `Err`.
    pub fn damaged_keys(&self) -> Result<Vec<Error>> {
        let store = self.store().as_ref();
        let mut out = Vec::new();
        for id in key_ids(store)? {
            let what = key_name(&id);
            let r = read_key_file(store, &id).and_then(|f| {
                f.sealed_bytes(&what)?;
                crypto::check_kdf_params(&f.salt_bytes(&what)?, &f.params)
                    .map_err(|e| e.with_location(&what))
            });
            match r {
                Ok(_) => {}
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) if matches!(e.kind(), Kind::Corrupt | Kind::Unsupported) => out.push(e),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
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
        // From the names alone, so a damaged key file can be found and removed.
        let ids: Vec<KeyId> = key_ids(self.store().as_ref())?
            .into_iter()
            .filter(|id| id.to_hex().starts_with(prefix))
            .collect();
        match ids.as_slice() {
            [id] => Ok(*id),
            [] => Err(Error::at(Kind::NotFound, "no key matches", prefix)),
            _ => Err(Error::invalid("more than one key matches").with_location(prefix)),
        }
    }
}
