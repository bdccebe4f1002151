//! `--lvm-snapshot VG/LV`: the image is read from an LVM snapshot of the
//! volume, made just before and removed after (whatever happened), so a
//! volume in use is backed up as it was at one instant without stopping
//! its writers for the whole read. A thin volume gets a thin snapshot; a
//! thick one a snapshot with room for 20 % of the origin's size in changes
//! during the read (lvcreate refuses when the volume group lacks it).

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::process::Command;

/// An LVM snapshot, removed on drop.
pub struct LvmSnapshot {
    /// `VG/NAME`.
    name: String,
    pub device: PathBuf,
}

/// Runs an LVM command; its stderr is the error.
fn lvm(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| {
            Error::io(
                format!("cannot run {} (is lvm2 installed?)", args[0]),
                args[0],
                e,
            )
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Err(Error::invalid(format!("{} failed: {why}", args.join(" "))));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `VG/LV`, each a plain LVM name.
fn parse(vg_lv: &str) -> Result<(&str, &str)> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c))
            && !s.starts_with('-')
    };
    match vg_lv.split_once('/') {
        Some((vg, lv)) if ok(vg) && ok(lv) => Ok((vg, lv)),
        _ => Err(Error::invalid(
            "--lvm-snapshot takes VG/LV (a volume group and a logical volume)",
        )
        .with_location(vg_lv)),
    }
}

impl LvmSnapshot {
    pub fn create(vg_lv: &str) -> Result<LvmSnapshot> {
        let (vg, lv) = parse(vg_lv)?;
        let snap = format!("{lv}-coffer-{}", std::process::id());
        let full = format!("{vg}/{snap}");
        let thin = lvm(&["lvs", "--noheadings", "-o", "segtype", vg_lv])? == "thin";
        if thin {
            lvm(&[
                "lvcreate",
                "-q",
                "--snapshot",
                "--name",
                &snap,
                "--setactivationskip",
                "n",
                "--activate",
                "y",
                vg_lv,
            ])?;
        } else {
            lvm(&[
                "lvcreate",
                "-q",
                "--snapshot",
                "--name",
                &snap,
                "--extents",
                "20%ORIGIN",
                vg_lv,
            ])?;
        }
        Ok(LvmSnapshot {
            device: PathBuf::from(format!("/dev/{vg}/{snap}")),
            name: full,
        })
    }
}

impl Drop for LvmSnapshot {
    fn drop(&mut self) {
        if let Err(e) = lvm(&["lvremove", "-q", "-f", &self.name]) {
            eprintln!(
                "coffer: error: the LVM snapshot {} is left: {e} (remove it with `lvremove {}`)",
                self.name, self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_are_checked() {
        assert_eq!(parse("vg0/data").unwrap(), ("vg0", "data"));
        for bad in ["vg0", "/data", "vg/", "vg/a b", "vg/-x", "vg/a;rm", "a/b/c"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
