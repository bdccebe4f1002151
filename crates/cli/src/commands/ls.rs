use crate::args::LsArgs;
use crate::output::{mode_string, time, time_rfc3339};
use crate::settings::{Settings, snapshot_filter};
use coffer_core::Result;
use coffer_core::format::tree::NodeKind;
use coffer_core::ls;
use std::path::PathBuf;

pub fn run(a: LsArgs, s: &Settings) -> Result<i32> {
    let repo = s.open()?;
    let snap = repo.find_snapshot(&a.snapshot, &snapshot_filter(&a.filter))?;
    let start = a.path.unwrap_or_else(|| PathBuf::from("/"));
    ls(
        &repo,
        snap.snapshot.tree,
        &start,
        !a.no_recursive,
        &mut |path, n| {
            if s.json {
                let line = serde_json::json!({
                    "path": path.to_string_lossy(),
                    "type": n.kind,
                    "mode": n.mode,
                    "uid": n.uid, "gid": n.gid, "user": n.user, "group": n.group,
                    "size": n.size,
                    "mtime": time_rfc3339(n.mtime),
                    "target": n.target.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
                });
                println!("{line}");
            } else {
                let owner = if n.user.is_empty() {
                    n.uid.to_string()
                } else {
                    n.user.clone()
                };
                let group = if n.group.is_empty() {
                    n.gid.to_string()
                } else {
                    n.group.clone()
                };
                let mut line = format!(
                    "{} {:<8} {:<8} {:>12} {} {}",
                    mode_string(n),
                    owner,
                    group,
                    n.size,
                    time(n.mtime, s.utc),
                    path.display()
                );
                if n.kind == NodeKind::Symlink {
                    line.push_str(" -> ");
                    line.push_str(&String::from_utf8_lossy(
                        n.target.as_deref().unwrap_or_default(),
                    ));
                }
                println!("{line}");
            }
            Ok(())
        },
    )?;
    Ok(0)
}
