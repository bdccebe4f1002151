//! Typed 32-byte ids that cannot be mixed: a `PackId` is never accepted where
//! a `BlobId` is expected. Shown and parsed as 64 lowercase hex digits; in the
//! binary (CBOR) encoding they are 32-byte strings, in JSON hex strings.

use crate::error::{Error, Result};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn from_bytes(b: [u8; 32]) -> Self {
                $name(b)
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// The first 8 hex digits, as shown in tables.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
            pub fn parse(s: &str) -> Result<Self> {
                let mut b = [0u8; 32];
                hex::decode_to_slice(s, &mut b).map_err(|_| {
                    Error::invalid(format!(
                        "not a valid {} (64 hex digits expected)",
                        stringify!($name)
                    ))
                    .with_location(s)
                })?;
                Ok($name(b))
            }
            /// A random id (repository ids, lock ids).
            pub fn random() -> Self {
                $name(rand::random())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <String as serde::Deserialize>::deserialize(d)?;
                    $name::parse(&s).map_err(serde::de::Error::custom)
                } else {
                    let b = <serde_bytes::ByteBuf as serde::Deserialize>::deserialize(d)?;
                    let arr: [u8; 32] = b.as_slice().try_into().map_err(|_| {
                        serde::de::Error::invalid_length(b.len(), &"32 bytes")
                    })?;
                    Ok($name(arr))
                }
            }
        }
    };
}

id_type!(
    /// Keyed BLAKE3 of a blob's plaintext (file content chunk or tree).
    BlobId
);
id_type!(
    /// BLAKE3 of a pack file's bytes.
    PackId
);
id_type!(
    /// Blob id of a tree blob (a directory listing).
    TreeId
);
id_type!(
    /// BLAKE3 of a snapshot object's bytes.
    SnapshotId
);
id_type!(
    /// BLAKE3 of an index object's bytes.
    IndexId
);
id_type!(
    /// BLAKE3 of a key file's bytes.
    KeyId
);
id_type!(
    /// Random id of a repository, chosen at `init`.
    RepoId
);
id_type!(
    /// BLAKE3 of a lock object's bytes.
    LockId
);
id_type!(
    /// BLAKE3 of a prune record's bytes (`prune/<id>`).
    PruneRecordId
);
id_type!(
    /// BLAKE3 of a snapshot catalog's bytes (`catalog/<id>`).
    CatalogId
);

impl TreeId {
    /// Trees are stored as blobs; this is the blob id under which one lives.
    pub fn blob(self) -> BlobId {
        BlobId(self.0)
    }
}

impl BlobId {
    pub fn tree(self) -> TreeId {
        TreeId(self.0)
    }
}

/// Unkeyed BLAKE3, the id of a whole stored object (pack, index, snapshot, key).
pub fn hash_object(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_garbage() {
        let id = BlobId::random();
        assert_eq!(BlobId::parse(&id.to_hex()).unwrap(), id);
        assert!(BlobId::parse("abc").is_err());
        assert!(BlobId::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn json_is_hex_cbor_is_bytes() {
        let id = PackId([7; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", "07".repeat(32)));
        let mut cbor = Vec::new();
        ciborium::into_writer(&id, &mut cbor).unwrap();
        assert_eq!(cbor.len(), 2 + 32); // major type 2, length 32 (0x58 0x20)
        let back: PackId = ciborium::from_reader(&cbor[..]).unwrap();
        assert_eq!(back, id);
    }
}
