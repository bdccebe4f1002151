//! `coffer stats [SNAP...] [--mode restore-size|deduplicated|raw]`; with
//! `--cost`, the monthly bill (`cost.rs`).

use crate::args::StatsArgs;
use crate::output::size;
use crate::settings::{Settings, select_snapshots};
use coffer_core::Result;
use coffer_core::{StatsMode, stats};

pub fn run(a: StatsArgs, s: &Settings) -> Result<i32> {
    if a.cost {
        return super::cost::run(&a, s);
    }
    let mode = StatsMode::parse(&a.mode)?;
    let repo = s.open()?;
    let snaps = select_snapshots(&repo, &a.snapshots, &a.filter)?;
    let roots: Vec<_> = snaps.iter().map(|r| (r.id, r.snapshot.tree)).collect();
    let st = stats(&repo, &roots, mode)?;
    if s.json {
        crate::output::json(&serde_json::json!({ "mode": mode, "stats": st }))?;
        return Ok(0);
    }
    println!("snapshots:          {}", st.snapshots);
    let line = |label: &str, v: Option<u64>, bytes: bool| {
        if let Some(v) = v {
            let text = if bytes { size(v) } else { v.to_string() };
            println!("{label:<20}{text}");
        }
    };
    line("files:", st.files, false);
    line("directories:", st.dirs, false);
    line("other entries:", st.other, false);
    line("restore size:", st.restore_size, true);
    line("blobs:", st.blobs, false);
    line("deduplicated size:", st.deduplicated_size, true);
    line("stored size:", st.stored_size, true);
    if let (Some(raw), Some(stored)) = (st.deduplicated_size, st.stored_size)
        && stored > 0
    {
        println!("compression:        {:.2}x", raw as f64 / stored as f64);
    }
    line("repository packs:", st.repository_packs, false);
    line("repository size:", st.repository_size, true);
    Ok(0)
}
