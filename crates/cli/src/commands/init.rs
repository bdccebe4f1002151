use crate::args::InitArgs;
use crate::settings::Settings;
use coffer_core::Result;

pub fn run(a: InitArgs, s: &Settings) -> Result<i32> {
    s.prepare_bucket(a.create_bucket)?;
    let repo = s.init()?;
    if s.json {
        crate::output::json(&serde_json::json!({
            "repository": s.repo,
            "id": repo.config().id,
            "version": repo.config().version,
        }))?;
    } else if !s.quiet {
        println!(
            "created repository {} at {}",
            repo.config().id.short(),
            s.repo
        );
        println!(
            "keep the password safe: without it nobody can restore anything from this repository"
        );
    }
    Ok(0)
}
