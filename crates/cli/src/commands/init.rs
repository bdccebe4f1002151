use crate::args::InitArgs;
use crate::settings::Settings;
use coffer_core::format::config::{Config, ObjectLock};
use coffer_core::{Error, InitOptions, Result, parse_duration};

/// The `object_lock` of `config` that `--object-lock` and `--retention` ask for.
fn object_lock(a: &InitArgs) -> Result<Option<ObjectLock>> {
    let (Some(mode), Some(retention)) = (&a.object_lock, &a.retention) else {
        return Ok(None);
    };
    let secs = parse_duration(retention)?.as_secs();
    if secs == 0 {
        return Err(
            Error::invalid("--retention must be at least one second").with_location(retention)
        );
    }
    Ok(Some(ObjectLock {
        mode: mode.to_ascii_uppercase(),
        retention_secs: secs,
    }))
}

pub fn run(a: InitArgs, s: &Settings) -> Result<i32> {
    let lock = object_lock(&a)?;
    s.prepare_bucket(a.create_bucket, lock.is_some())?;
    let mut config = Config::new();
    config.object_lock = lock;
    let repo = s.init_with(InitOptions {
        config,
        ..Default::default()
    })?;
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
        if let Some((mode, period)) = repo.object_lock() {
            println!(
                "every object is locked ({}) for {} after it is written; prune keeps what snapshots need locked",
                mode.name(),
                humantime(period.as_secs())
            );
        }
        println!(
            "keep the password safe: without it nobody can restore anything from this repository"
        );
    }
    Ok(0)
}

/// `30d`, `12h`, `90s`: the largest whole unit.
fn humantime(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
