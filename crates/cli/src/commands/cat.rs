use crate::args::CatArgs;
use crate::settings::Settings;
use coffer_core::crypto::Sealed;
use coffer_core::format::index::IndexFile;
use coffer_core::format::key::KeyFile;
use coffer_core::format::pack;
use coffer_core::format::pack::BlobKind;
use coffer_core::format::tree::Tree;
use coffer_core::id::PackId;
use coffer_core::id::TreeId;
use coffer_core::{Error, Kind, Result};
use serde_json::Value;

/// Byte strings (names, targets) as text when they are UTF-8, else as a byte array.
fn bytes_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => serde_json::to_value(b).unwrap_or(Value::Null),
    }
}

fn tree_json(t: &Tree) -> Result<Value> {
    let mut v =
        serde_json::to_value(t).map_err(|e| Error::fatal(format!("cannot encode JSON ({e})")))?;
    if let Some(nodes) = v.get_mut("nodes").and_then(Value::as_array_mut) {
        for (n, node) in nodes.iter_mut().zip(&t.nodes) {
            n["name"] = bytes_value(&node.name);
            if let Some(tg) = &node.target {
                n["target"] = bytes_value(tg);
            }
            if let Some(xs) = n.get_mut("xattrs").and_then(Value::as_array_mut) {
                for (x, xa) in xs.iter_mut().zip(&node.xattrs) {
                    x["name"] = bytes_value(&xa.name);
                }
            }
        }
    }
    Ok(v)
}

fn need(id: &Option<String>, kind: &str) -> Result<String> {
    id.clone()
        .ok_or_else(|| Error::invalid(format!("`coffer cat {kind}` needs an id")))
}

pub fn run(a: CatArgs, s: &Settings) -> Result<i32> {
    let value: Value = match a.kind.as_str() {
        "config" => {
            let repo = s.open_without_index()?;
            serde_json::to_value(repo.config()).unwrap_or(Value::Null)
        }
        "key" => {
            let repo = s.open_without_index()?;
            let id = repo.find_key(&need(&a.id, "key")?)?;
            let name = format!("keys/{id}");
            let f = KeyFile::decode(&repo.store().get(&name, None)?, &name)?;
            serde_json::to_value(f).unwrap_or(Value::Null)
        }
        "snapshot" => {
            let repo = s.open_without_index()?;
            let snap = repo.find_snapshot(&need(&a.id, "snapshot")?, &Default::default())?;
            serde_json::to_value(&snap.snapshot).unwrap_or(Value::Null)
        }
        "index" => {
            let repo = s.open_without_index()?;
            let id = need(&a.id, "index")?;
            let name = format!("index/{}", coffer_core::id::IndexId::parse(&id)?);
            serde_json::to_value(IndexFile::decode(
                &repo.load_sealed(Sealed::Index, &name)?,
                &name,
            )?)
            .unwrap_or(Value::Null)
        }
        "tree" => {
            let repo = s.open()?;
            let id = need(&a.id, "tree")?;
            let tree_id = if id == "latest" || id.len() < 64 {
                repo.find_snapshot(&id, &Default::default())?.snapshot.tree
            } else {
                TreeId::parse(&id)?
            };
            tree_json(&repo.read_tree(&tree_id)?)?
        }
        "pack" => {
            let repo = s.open_without_index()?;
            let id = PackId::parse(&need(&a.id, "pack")?)?;
            let mut found = None;
            for kind in [BlobKind::Data, BlobKind::Tree] {
                let key = pack::key(kind, &id);
                match repo.store().get(&key, None) {
                    Ok(bytes) => {
                        found = Some(repo.decode_pack_header(&bytes, &key, kind)?);
                        break;
                    }
                    Err(e) if e.kind() == Kind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            let h = found.ok_or_else(|| Error::at(Kind::NotFound, "no such pack", id))?;
            serde_json::to_value(h).unwrap_or(Value::Null)
        }
        other => {
            return Err(Error::invalid(format!(
                "unknown object kind {other:?}: use config, snapshot, tree, index, key or pack"
            )));
        }
    };
    crate::output::json(&value)?;
    Ok(0)
}
