//! `config` is plaintext but authenticated (docs/FORMAT.md §3, §5): every
//! key file carries a tag of its bytes under a key derived from the master
//! key. A changed config is refused; a repository whose key files predate
//! the tag keeps opening, and the next key operation adds it.

use coffer_core::Kind;
use coffer_core::LocalStore;
use coffer_core::format::key::KdfParams;
use coffer_core::format::key::KeyFile;
use coffer_core::id::hash_object;
use coffer_core::{InitOptions, Repository};
use coffer_core::{PutHints, Store, list_all};
use std::sync::Arc;

fn init(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..InitOptions::default()
    };
    Repository::init(Arc::clone(&store), b"pw", opts).unwrap();
    store
}

fn key_names(store: &dyn Store) -> Vec<String> {
    list_all(store, "keys/")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect()
}

/// Replaces every key file with the same file without its config tag, as
/// coffer wrote them before config was authenticated.
fn strip_tags(dir: &tempfile::TempDir, store: &dyn Store) {
    for key in key_names(store) {
        let mut f = KeyFile::decode(&store.get(&key, None).unwrap(), &key).unwrap();
        assert!(f.config_mac.is_some(), "new key files carry the tag");
        f.config_mac = None;
        let bytes = f.encode();
        let name = format!("keys/{}", hex::encode(hash_object(&bytes)));
        store.put(&name, &bytes, &PutHints::immutable()).unwrap();
        std::fs::remove_file(dir.path().join(&key)).unwrap();
    }
}

/// Rewrites `config` behind coffer's back (it is never rewritten by coffer).
fn edit_config(dir: &tempfile::TempDir, from: &str, to: &str) {
    let path = dir.path().join("config");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

#[test]
fn a_changed_config_is_refused_naming_config_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = init(&dir);
    assert!(
        Repository::open(Arc::clone(&store), b"pw")
            .unwrap()
            .config_authenticated()
    );
    for (from, to) in [
        ("\"compression\": 3", "\"compression\": 19"),
        ("\"pack_size\": 33554432", "\"pack_size\": 1024"),
        ("\"min_size\": 262144", "\"min_size\": 64"),
    ] {
        edit_config(&dir, from, to);
        let e = Repository::open(Arc::clone(&store), b"pw")
            .err()
            .expect("a changed config is refused");
        assert_eq!(e.kind(), Kind::Corrupt, "{e}");
        let msg = e.to_string();
        assert!(msg.contains("config") && msg.contains("keys/"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        edit_config(&dir, to, from);
        Repository::open(Arc::clone(&store), b"pw").unwrap();
    }
}

#[test]
fn key_files_without_a_tag_open_and_the_next_key_operation_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = init(&dir);
    strip_tags(&dir, store.as_ref());
    let repo = Repository::open(Arc::clone(&store), b"pw").unwrap();
    assert!(!repo.config_authenticated(), "nothing authenticates it yet");
    // The documented rule: with no tag anywhere, config is taken as it is.
    edit_config(&dir, "\"compression\": 3", "\"compression\": 2");
    Repository::open(Arc::clone(&store), b"pw").unwrap();
    edit_config(&dir, "\"compression\": 2", "\"compression\": 3");

    // `key add` writes a tagged key file; from then on the old untagged
    // key opens only the config the tag authenticates.
    repo.add_key(b"second", KdfParams::insecure_fast()).unwrap();
    let repo = Repository::open(Arc::clone(&store), b"pw").unwrap();
    assert!(repo.config_authenticated());
    edit_config(&dir, "\"compression\": 3", "\"compression\": 2");
    for pw in [&b"pw"[..], b"second"] {
        let e = Repository::open(Arc::clone(&store), pw)
            .err()
            .expect("refused");
        assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    }
}

#[test]
fn passwd_on_an_untagged_repository_authenticates_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = init(&dir);
    strip_tags(&dir, store.as_ref());
    let mut repo = Repository::open(Arc::clone(&store), b"pw").unwrap();
    repo.change_password(b"new", KdfParams::insecure_fast())
        .unwrap();
    assert_eq!(key_names(store.as_ref()).len(), 1);
    assert!(
        Repository::open(Arc::clone(&store), b"new")
            .unwrap()
            .config_authenticated()
    );
    edit_config(&dir, "\"compression\": 3", "\"compression\": 2");
    assert!(Repository::open(Arc::clone(&store), b"new").is_err());
}
