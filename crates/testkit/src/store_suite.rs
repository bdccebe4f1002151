//! The one conformance suite every [`Store`] implementation must pass: it
//! checks the contract written on the trait (`coffer_core::Store`).
//!
//! Everything the suite writes lives under a fresh prefix
//! `conformance-<random>/`, removed again at the end (also when a check
//! fails), so it can run against a bucket other runs share. It fails
//! rather than skips: a store that cannot do something the contract
//! promises does not conform.
//!
//! Beyond the trait's text, the suite holds stores to two rules every
//! caller relies on: a malformed key (`""`, `../x`, `a//b`, `/a`, `a/`,
//! `a/./b`) is refused with `Kind::InvalidInput` by every verb, and a key
//! that only names a "directory" of other keys is not found.

use crate::fixture::pseudo_random;
use coffer_core::{Error, Kind, Result};
use coffer_core::{PutHints, Store, list_all};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

/// More keys than one S3 ListObjectsV2 page (1,000), so listings must page.
pub const MANY_KEYS: usize = 1_100;

/// Runs every check against `store`, panicking at the first violation with
/// the store's location, the key and what was expected.
pub fn run_conformance(store: &dyn Store) {
    let suite = Suite {
        store,
        p: format!("conformance-{:016x}/", rand::random::<u64>()),
    };
    let _cleanup = Cleanup(&suite);
    suite.round_trip();
    suite.ranges();
    suite.not_found();
    suite.create_only();
    suite.concurrent_create_only();
    suite.replace();
    suite.list_prefixes();
    suite.list_many();
    suite.list_callback_error();
    suite.many_components();
    suite.delete();
    suite.invalid_keys();
}

struct Suite<'s> {
    store: &'s dyn Store,
    /// Unique prefix of this run, ending in `/`.
    p: String,
}

/// Removes what the run wrote, whether it passed or not.
struct Cleanup<'a, 's>(&'a Suite<'s>);

impl Drop for Cleanup<'_, '_> {
    fn drop(&mut self) {
        let Suite { store, p } = self.0;
        if let Ok(all) = list_all(*store, p) {
            for m in all {
                let _ = store.delete(&m.key);
            }
        }
    }
}

impl Suite<'_> {
    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.p)
    }

    /// Unwraps `r`, or panics naming the store and the step.
    #[track_caller]
    fn ok<T>(&self, r: Result<T>, step: impl Debug) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("store {}: {step:?} failed: {e}", self.store.location()),
        }
    }

    /// Checks that `r` failed with `kind`.
    #[track_caller]
    fn fails<T: Debug>(&self, r: Result<T>, kind: Kind, step: impl Debug) {
        match r {
            Err(e) if e.kind() == kind => {}
            Err(e) => panic!(
                "store {}: {step:?} must fail with {kind:?}, failed with {:?}: {e}",
                self.store.location(),
                e.kind()
            ),
            Ok(v) => panic!(
                "store {}: {step:?} must fail with {kind:?}, got {v:?}",
                self.store.location()
            ),
        }
    }

    #[track_caller]
    fn put(&self, key: &str, data: &[u8]) {
        self.ok(
            self.store.put(key, data, &PutHints::default()),
            ("put", key),
        );
    }

    #[track_caller]
    fn get(&self, key: &str) -> Vec<u8> {
        self.ok(self.store.get(key, None), ("get", key))
    }

    #[track_caller]
    fn listing(&self, prefix: &str) -> BTreeMap<String, u64> {
        let all = self.ok(list_all(self.store, prefix), ("list", prefix));
        let n = all.len();
        let map: BTreeMap<String, u64> = all.into_iter().map(|m| (m.key, m.size)).collect();
        assert_eq!(
            map.len(),
            n,
            "store {}: list {prefix:?} reported a key twice",
            self.store.location()
        );
        map
    }

    fn round_trip(&self) {
        let big = pseudo_random(1, 5 << 20);
        for (name, data) in [("empty", &b""[..]), ("one", &b"x"[..]), ("big", &big[..])] {
            let key = self.key(&format!("rt/{name}"));
            self.put(&key, data);
            let got = self.get(&key);
            assert!(
                got == data,
                "store {}: get {key} returned other bytes",
                self.store.location()
            );
            let head = self.ok(self.store.head(&key), ("head", &key));
            assert_eq!(
                (&head.key, head.size),
                (&key, data.len() as u64),
                "head {key}"
            );
        }
    }

    fn ranges(&self) {
        let key = self.key("rt/big");
        let data = pseudo_random(1, 5 << 20);
        let len = data.len() as u64;
        let mid = len / 2;
        for r in [
            0..1,
            mid - 100..mid + 100,
            1_000_000..2_048_577,
            len - 1..len,
            0..len,
        ] {
            let got = self.ok(
                self.store.get(&key, Some(r.clone())),
                ("get range", &key, &r),
            );
            let want = &data[r.start as usize..r.end as usize];
            assert!(
                got == want,
                "store {}: get {key} {r:?} returned other bytes",
                self.store.location()
            );
        }
        for r in [len..len + 1, len - 1..len + 1, len + 10..len + 20] {
            let got = self.store.get(&key, Some(r.clone()));
            assert!(
                got.is_err(),
                "store {}: get {key} {r:?} past the end must fail",
                self.store.location()
            );
        }
        let one = self.key("rt/one");
        assert_eq!(
            self.ok(self.store.get(&one, Some(0..1)), ("get", &one)),
            b"x"
        );
        assert!(
            self.store.get(&one, Some(1..2)).is_err(),
            "range past a 1-byte object must fail"
        );
    }

    fn not_found(&self) {
        self.put(&self.key("nf/dir/object"), b"here");
        let missing = [
            self.key("nf/missing"),
            self.key("nf/no/such/dir/object"),
            // Keys that only prefix other keys are not objects.
            self.key("nf/dir"),
            self.key("nf/di"),
            // Below an object, as if it were a directory.
            self.key("nf/dir/object/below"),
        ];
        for key in &missing {
            self.fails(self.store.get(key, None), Kind::NotFound, ("get", key));
            self.fails(
                self.store.get(key, Some(0..1)),
                Kind::NotFound,
                ("get range", key),
            );
            self.fails(self.store.head(key), Kind::NotFound, ("head", key));
            self.ok(self.store.delete(key), ("delete of a missing key", key));
        }
        assert_eq!(self.get(&self.key("nf/dir/object")), b"here");
    }

    /// A create-only put onto different bytes fails; onto the very same
    /// bytes (a retry meeting its own first attempt) it succeeds.
    fn create_only(&self) {
        let key = self.key("co/object");
        let first = b"first version".to_vec();
        self.ok(
            self.store.put(&key, &first, &PutHints::immutable()),
            ("create-only put", &key),
        );
        for second in [&b"second, different"[..], &b"first versioN"[..]] {
            let r = self.store.put(&key, second, &PutHints::immutable());
            self.fails(
                r,
                Kind::AlreadyExists,
                ("create-only put of other bytes onto existing", &key),
            );
            assert_eq!(self.get(&key), first, "create-only put changed {key}");
        }
        self.ok(
            self.store.put(&key, &first, &PutHints::immutable()),
            ("create-only put of the same bytes onto existing", &key),
        );
        assert_eq!(self.get(&key), first);
        assert_eq!(
            self.ok(self.store.head(&key), ("head", &key)).size,
            first.len() as u64
        );
    }

    /// Writers racing to create one key: exactly one wins, the others are
    /// told, and the stored bytes are the winner's.
    fn concurrent_create_only(&self) {
        let key = self.key("co/race");
        let results: Vec<(Vec<u8>, Result<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u64)
                .map(|i| {
                    let key = &key;
                    s.spawn(move || {
                        let data = pseudo_random(100 + i, 64 << 10);
                        let r = self.store.put(key, &data, &PutHints::immutable());
                        (data, r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("writer thread"))
                .collect()
        });
        let winners: Vec<&Vec<u8>> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(d, _)| d)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "store {}: {} racing create-only puts succeeded",
            self.store.location(),
            winners.len()
        );
        for (_, r) in &results {
            if let Err(e) = r {
                assert_eq!(e.kind(), Kind::AlreadyExists, "losing create-only put: {e}");
            }
        }
        assert!(
            &self.get(&key) == winners[0],
            "store {}: {key} does not hold the winner's bytes",
            self.store.location()
        );
    }

    fn replace(&self) {
        let key = self.key("replace/object");
        self.put(&key, b"a longer first version");
        self.put(&key, b"v2");
        assert_eq!(self.get(&key), b"v2", "plain put must replace {key}");
        assert_eq!(self.ok(self.store.head(&key), ("head", &key)).size, 2);
        assert_eq!(self.listing(&key).get(&key), Some(&2), "list after replace");
    }

    fn list_prefixes(&self) {
        let keys = [
            "data/ab/k1",
            "data/ab/k2",
            "data/abc/k3",
            "data/cd/k4",
            "data/ab/deeper/k5",
            "datum",
        ];
        for (i, k) in keys.iter().enumerate() {
            self.put(&self.key(k), &vec![b'x'; i]);
        }
        let expect = |names: &[&str]| -> BTreeMap<String, u64> {
            names
                .iter()
                .map(|n| {
                    (
                        self.key(n),
                        keys.iter().position(|k| k == n).expect("known key") as u64,
                    )
                })
                .collect()
        };
        let cases: [(&str, &[&str]); 7] = [
            (
                "data/ab/",
                &["data/ab/k1", "data/ab/k2", "data/ab/deeper/k5"],
            ),
            (
                "data/ab",
                &[
                    "data/ab/k1",
                    "data/ab/k2",
                    "data/ab/deeper/k5",
                    "data/abc/k3",
                ],
            ),
            (
                "data/a",
                &[
                    "data/ab/k1",
                    "data/ab/k2",
                    "data/ab/deeper/k5",
                    "data/abc/k3",
                ],
            ),
            (
                "data/",
                &[
                    "data/ab/k1",
                    "data/ab/k2",
                    "data/ab/deeper/k5",
                    "data/abc/k3",
                    "data/cd/k4",
                ],
            ),
            ("dat", &keys),
            ("data/ab/k1", &["data/ab/k1"]),
            ("data/zz/", &[]),
        ];
        for (prefix, names) in cases {
            assert_eq!(
                self.listing(&self.key(prefix)),
                expect(names),
                "list {prefix:?} under {}",
                self.p
            );
        }
        assert!(self.listing(&self.key("nothing-here/")).is_empty());
    }

    fn list_many(&self) {
        let prefix = self.key("many/");
        let keys: Vec<String> = (0..MANY_KEYS).map(|i| format!("{prefix}k{i:05}")).collect();
        // A few writers: a network store takes a while for 1,100 sequential puts.
        std::thread::scope(|s| {
            for part in keys.chunks(MANY_KEYS.div_ceil(4)) {
                s.spawn(move || {
                    for k in part {
                        self.put(k, k.as_bytes());
                    }
                });
            }
        });
        let got = self.listing(&prefix);
        let want: BTreeMap<String, u64> =
            keys.iter().map(|k| (k.clone(), k.len() as u64)).collect();
        if got != want {
            let missing: Vec<_> = want
                .keys()
                .filter(|k| !got.contains_key(*k))
                .take(5)
                .collect();
            let extra: Vec<_> = got
                .keys()
                .filter(|k| !want.contains_key(*k))
                .take(5)
                .collect();
            panic!(
                "store {}: listing {prefix} has {} keys, want {MANY_KEYS}; missing e.g. {missing:?}, extra e.g. {extra:?}",
                self.store.location(),
                got.len()
            );
        }
    }

    /// An error returned by the callback stops the listing and comes back.
    fn list_callback_error(&self) {
        let mut calls = 0;
        let r = self.store.list(&self.key("many/"), &mut |_| {
            calls += 1;
            Err(Error::new(Kind::Locked, "stop here"))
        });
        self.fails(r, Kind::Locked, "list whose callback fails");
        assert_eq!(calls, 1, "list must stop at the callback's first error");
    }

    fn many_components(&self) {
        let key = self.key("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/object");
        self.put(&key, b"deep");
        assert_eq!(self.get(&key), b"deep");
        assert_eq!(
            self.listing(&self.key("a/b/c/")).keys().collect::<Vec<_>>(),
            [&key]
        );
    }

    fn delete(&self) {
        let key = self.key("del/object");
        let sibling = self.key("del/sibling");
        self.put(&key, b"to delete");
        self.put(&sibling, b"stays");
        self.ok(self.store.delete(&key), ("delete", &key));
        self.fails(
            self.store.get(&key, None),
            Kind::NotFound,
            ("get after delete", &key),
        );
        self.fails(
            self.store.head(&key),
            Kind::NotFound,
            ("head after delete", &key),
        );
        let left: BTreeSet<String> = self.listing(&self.key("del/")).into_keys().collect();
        assert_eq!(left, BTreeSet::from([sibling.clone()]), "list after delete");
        self.ok(self.store.delete(&key), ("delete of a deleted key", &key));
        self.ok(
            self.store.delete(&self.key("del/never/existed")),
            "delete of a missing key",
        );
        assert_eq!(self.get(&sibling), b"stays");
    }

    fn invalid_keys(&self) {
        let bad = [
            String::new(),
            "../x".to_string(),
            "a//b".to_string(),
            "/abs".to_string(),
            "trailing/".to_string(),
            self.key("../escape"),
            self.key("a//b"),
            self.key("./x"),
            self.key("x/.."),
        ];
        let before = self.listing(&self.p);
        for key in &bad {
            let r = self
                .store
                .put(key, b"must not be stored", &PutHints::default());
            self.fails(r, Kind::InvalidInput, ("put", key));
            self.fails(self.store.get(key, None), Kind::InvalidInput, ("get", key));
            self.fails(self.store.head(key), Kind::InvalidInput, ("head", key));
            self.fails(self.store.delete(key), Kind::InvalidInput, ("delete", key));
        }
        assert_eq!(
            self.listing(&self.p),
            before,
            "a rejected put stored something"
        );
    }
}
