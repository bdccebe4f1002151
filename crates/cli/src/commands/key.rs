use crate::args::KeyCommand;
use crate::settings::{Settings, new_password};
use coffer_core::Result;
use coffer_core::format::key::KdfParams;

pub fn run(k: KeyCommand, s: &Settings) -> Result<i32> {
    let mut repo = s.open_without_index()?;
    match k {
        KeyCommand::Add(a) => {
            let id = repo.add_key(&new_password(&a.new_password_file)?, KdfParams::default())?;
            if s.json {
                crate::output::json(&serde_json::json!({"id": id}))?;
            } else if !s.quiet {
                println!("added key {}", id.short());
            }
        }
        KeyCommand::List => {
            let keys = repo.list_keys()?;
            if s.json {
                crate::output::json(&keys)?;
            } else {
                println!("  {:<8}  {:<20}  {:<16}  user", "id", "created", "host");
                for k in keys {
                    let mark = if k.current { "*" } else { " " };
                    println!(
                        "{mark} {:<8}  {:<20}  {:<16}  {}",
                        k.id.short(),
                        k.created,
                        k.host,
                        k.user
                    );
                }
            }
        }
        KeyCommand::Remove { id } => {
            let id = repo.find_key(&id)?;
            repo.remove_key(id)?;
            if !s.quiet && !s.json {
                println!("removed key {}", id.short());
            }
        }
        KeyCommand::Passwd(a) => {
            let id =
                repo.change_password(&new_password(&a.new_password_file)?, KdfParams::default())?;
            if s.json {
                crate::output::json(&serde_json::json!({"id": id}))?;
            } else if !s.quiet {
                println!("changed password; new key {}", id.short());
            }
        }
    }
    Ok(0)
}
