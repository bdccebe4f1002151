//! `coffer unlock`: removes stale locks (or, with --remove-all, every lock).

use crate::args::UnlockArgs;
use crate::settings::Settings;
use coffer_core::Result;

pub fn run(a: UnlockArgs, s: &Settings) -> Result<i32> {
    let repo = s.open_without_index()?;
    let removed = repo.remove_locks(a.remove_all)?;
    let kept = repo.locks()?;
    if s.json {
        let item = |l: &coffer_core::LockInfo| {
            serde_json::json!({
                "id": l.id,
                "lock": l.file.as_ref().map(|f| serde_json::json!({
                    "exclusive": f.exclusive,
                    "host": f.host,
                    "user": f.user,
                    "pid": f.pid,
                    "time": crate::output::time_rfc3339(f.time),
                    "command": f.command,
                })),
                "stale": l.stale,
            })
        };
        crate::output::json(&serde_json::json!({
            "removed": removed.iter().map(item).collect::<Vec<_>>(),
            "remaining": kept.iter().map(item).collect::<Vec<_>>(),
        }))?;
        return Ok(0);
    }
    for l in &removed {
        println!(
            "removed {} ({})",
            l.key(),
            l.stale.as_deref().unwrap_or("live")
        );
    }
    for l in &kept {
        println!("kept live lock {}", l.key());
    }
    if !s.quiet {
        println!("{} lock(s) removed", removed.len());
    }
    Ok(0)
}
