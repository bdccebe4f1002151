//! Locks: `locks/<id>`, taken only by the commands that delete or must see
//! a repository that nothing deletes from (prune and forget exclusively,
//! check shared). Backups take none: they only add objects.
//!
//! A lock object is a sealed box (kind [`Sealed::Lock`]) of a CBOR
//! [`LockFile`]; its name is the BLAKE3 of its bytes like every other object.
//!
//! Protocol:
//! - **Acquire**: list `locks/`; a live lock that conflicts (an exclusive
//!   one, or any lock when we want an exclusive one) fails with
//!   `Kind::Locked` (exit code 11). Otherwise write our lock, list again, and
//!   if a conflicting live lock appeared meanwhile, remove ours and fail —
//!   two racing commands may both back off, never both proceed.
//! - **Refresh**: a holder writes a fresh lock object every
//!   [`REFRESH_EVERY`] and then deletes the previous one (objects are never
//!   modified), so a long prune stays visibly alive.
//! - **Stale**: a lock is stale when its time is older than [`STALE_AFTER`]
//!   (it missed six refreshes), or when its [`Holder`] shows it was taken in
//!   this boot of this kernel, in this PID namespace, by a process that no
//!   longer runs (no process with its pid, or one that started at another
//!   time: pids are reused). Host name and pid alone prove nothing (cloned
//!   machines share a host name, containers share pids), so a lock from
//!   another boot or namespace, or one without a holder (written by an
//!   earlier version), goes stale by age only. Stale locks do not block;
//!   they are reported and `coffer unlock` removes them. The age rule
//!   assumes clocks agree within a few minutes.
//! - **Release**: dropping the [`LockGuard`] deletes the lock.
//!
//! A holder whose refresh keeps failing could look stale to others: before
//! each destructive step it calls [`LockGuard::check`], which fails once the
//! last successful refresh is older than [`STALE_AFTER`] minus a margin.

use super::Repository;
use crate::crypto::Sealed;
use crate::error::{Error, Kind, Result};
use crate::format::{check_version, from_cbor, to_cbor};
use crate::id::LockId;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a holder writes a fresh lock.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// A lock older than this is stale: its holder missed six refreshes.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// A holder stops before others could think its lock stale.
const HOLDER_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a lock object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    pub version: u32,
    pub exclusive: bool,
    pub host: String,
    pub user: String,
    pub pid: u32,
    /// When the lock was written (taken or refreshed), ns since the epoch.
    pub time: i64,
    /// The command holding it: `prune`, `check`, `forget`.
    pub command: String,
    /// What tells whether the holding process still runs; absent in locks
    /// of earlier versions (and where /proc cannot be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
}

/// The holding process, named by what is unique to it: a pid within a PID
/// namespace within one boot of one kernel, started at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `/proc/sys/kernel/random/boot_id`: new at every boot, different on
    /// every machine (even clones of one image).
    pub boot_id: String,
    /// The inode of `/proc/self/ns/pid`: which PID namespace `pid` is in.
    pub pid_ns: u64,
    /// When the process started, in clock ticks after boot (field 22 of
    /// `/proc/PID/stat`): a reused pid has another start time.
    pub start_time: u64,
}

/// The boot and PID namespace this process runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub boot_id: String,
    pub pid_ns: u64,
}

impl System {
    /// This process's boot and PID namespace; `None` without /proc.
    pub fn current() -> Option<System> {
        use std::os::unix::fs::MetadataExt;
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let pid_ns = std::fs::metadata("/proc/self/ns/pid").ok()?.ino();
        Some(System {
            boot_id: boot_id.trim().to_string(),
            pid_ns,
        })
    }
}

impl Holder {
    /// This process, as a lock names it.
    pub fn this_process() -> Option<Holder> {
        let sys = System::current()?;
        Some(Holder {
            boot_id: sys.boot_id,
            pid_ns: sys.pid_ns,
            start_time: start_time(std::process::id())?,
        })
    }
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`), or
/// `None` if there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    parse_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: the fields after it follow the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts with field 3 (state): field 22 is its 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl LockFile {
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let l: LockFile = from_cbor(plain, what)?;
        check_version(l.version, what)?;
        Ok(l)
    }

    /// Why this lock is stale, seen at `now` from a process running in
    /// `here` (its boot and PID namespace, if known); `None` if live.
    pub fn stale_reason(&self, now: i64, here: Option<&System>) -> Option<String> {
        let age = now.saturating_sub(self.time);
        if age > STALE_AFTER.as_nanos() as i64 {
            return Some(format!(
                "not refreshed for {} minutes",
                age / 60_000_000_000
            ));
        }
        // Only a holder in our boot and PID namespace can be looked up:
        // anything else (another machine, even one with our host name; a
        // container; a lock without a holder) is judged by age alone.
        let (h, here) = (self.holder.as_ref()?, here?);
        if h.boot_id != here.boot_id || h.pid_ns != here.pid_ns {
            return None;
        }
        match start_time(self.pid) {
            None => Some(format!("process {} on this host is gone", self.pid)),
            Some(t) if t != h.start_time => Some(format!(
                "process {} on this host is gone (its pid now belongs to another process)",
                self.pid
            )),
            Some(_) => None,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} lock of `{}` by {}@{} pid {}, written {}",
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            self.command,
            self.user,
            self.host,
            self.pid,
            time_text(self.time)
        )
    }
}

fn time_text(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// A lock found in the repository.
#[derive(Debug, Clone)]
pub struct LockInfo {
    pub id: LockId,
    /// `None` if the object could not be read (it blocks like a live lock).
    pub file: Option<LockFile>,
    /// Why it is stale, if it is.
    pub stale: Option<String>,
}

impl LockInfo {
    pub fn key(&self) -> String {
        format!("locks/{}", self.id)
    }

    fn conflicts(&self, exclusive: bool) -> bool {
        self.stale.is_none() && (exclusive || self.file.as_ref().is_none_or(|f| f.exclusive))
    }

    fn describe(&self) -> String {
        match &self.file {
            Some(f) => f.describe(),
            None => "unreadable lock".to_string(),
        }
    }
}

struct Held {
    id: LockId,
    refreshed: Instant,
    error: Option<String>,
}

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    repo: Arc<Repository>,
    held: Arc<Mutex<Held>>,
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
    released: bool,
    /// Stale locks of others that were ignored when this one was taken.
    pub stale: Vec<LockInfo>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockGuard(locks/{})", self.id())
    }
}

impl LockGuard {
    /// The current lock object's id.
    pub fn id(&self) -> LockId {
        self.held.lock().expect("poisoned").id
    }

    /// Fails if the lock may already look stale to others (refreshes kept
    /// failing): the caller must stop before deleting anything.
    pub fn check(&self) -> Result<()> {
        let held = self.held.lock().expect("poisoned");
        if held.refreshed.elapsed() > STALE_AFTER - HOLDER_MARGIN {
            return Err(Error::at(
                Kind::Fatal,
                format!(
                    "the lock could not be refreshed ({}); stopping before others think it stale",
                    held.error.as_deref().unwrap_or("unknown error")
                ),
                format!("locks/{}", held.id),
            ));
        }
        Ok(())
    }
}

impl LockGuard {
    /// Releases the lock, reporting a failure to delete it (credentials
    /// that may not delete, for instance; the lock then goes stale).
    pub fn release(mut self) -> Result<()> {
        self.stop_refresher();
        let key = format!("locks/{}", self.id());
        self.released = true;
        self.repo.store().delete(&key)
    }

    fn stop_refresher(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.refresher.take() {
            let _ = h.join();
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop_refresher();
        if !self.released {
            let id = self.held.lock().map(|h| h.id).unwrap_or_default();
            let _ = self.repo.store().delete(&format!("locks/{id}"));
        }
    }
}

impl Repository {
    /// Every lock object, with its staleness as seen from this host now.
    pub fn locks(&self) -> Result<Vec<LockInfo>> {
        let (now, here) = (now_ns(), System::current());
        let mut out = Vec::new();
        for meta in crate::store::list_all(self.store().as_ref(), "locks/")? {
            let Some(id) = meta
                .key
                .strip_prefix("locks/")
                .and_then(|h| LockId::parse(h).ok())
            else {
                continue;
            };
            let file = match self
                .load_sealed(Sealed::Lock, &meta.key)
                .and_then(|p| LockFile::decode(&p, &meta.key))
            {
                Ok(f) => Some(f),
                Err(e) if e.kind() == Kind::NotFound => continue, // released meanwhile
                Err(e) if matches!(e.kind(), Kind::Corrupt | Kind::Unsupported) => None,
                Err(e) => return Err(e),
            };
            let stale = file
                .as_ref()
                .and_then(|f| f.stale_reason(now, here.as_ref()));
            out.push(LockInfo { id, file, stale });
        }
        out.sort_by_key(|l| l.id);
        Ok(out)
    }

    /// How long [`lock`](Self::lock) keeps trying while another process
    /// holds a conflicting lock (`--retry-lock`); zero fails at once.
    pub fn set_lock_wait(&self, wait: Duration) {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.lock_wait_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes a lock for `command` (see the module documentation); while a
    /// conflicting lock is held, tries again until the lock wait is over,
    /// every few seconds (more often at first).
    pub fn lock(self: &Arc<Self>, exclusive: bool, command: &str) -> Result<LockGuard> {
        let wait =
            Duration::from_millis(self.lock_wait_ms.load(std::sync::atomic::Ordering::Relaxed));
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(500);
        loop {
            match self.try_lock(exclusive, command) {
                Err(e) if e.kind() == Kind::Locked && Instant::now() < deadline => {
                    std::thread::sleep(pause.min(deadline - Instant::now()));
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                r => return r,
            }
        }
    }

    fn try_lock(self: &Arc<Self>, exclusive: bool, command: &str) -> Result<LockGuard> {
        let blocking = |locks: &[LockInfo], mine: Option<LockId>| {
            locks
                .iter()
                .find(|l| Some(l.id) != mine && l.conflicts(exclusive))
                .map(|l| {
                    Error::at(
                        Kind::Locked,
                        format!(
                            "the repository is locked ({}); if that process is gone, `coffer unlock` removes stale locks",
                            l.describe()
                        ),
                        l.key(),
                    )
                })
        };
        if let Some(e) = blocking(&self.locks()?, None) {
            return Err(e);
        }
        let file = LockFile {
            version: crate::format::FORMAT_VERSION,
            exclusive,
            host: this_host(),
            user: uzers::get_current_username()
                .map(|u| u.to_string_lossy().into_owned())
                .unwrap_or_default(),
            pid: std::process::id(),
            time: now_ns(),
            command: command.to_string(),
            holder: Holder::this_process(),
        };
        let id = LockId(self.save_sealed("locks", Sealed::Lock, &file.encode())?.0);
        let locks = match self.locks() {
            Ok(l) => l,
            Err(e) => {
                let _ = self.store().delete(&format!("locks/{id}"));
                return Err(e);
            }
        };
        if let Some(e) = blocking(&locks, Some(id)) {
            let _ = self.store().delete(&format!("locks/{id}"));
            return Err(e);
        }
        let held = Arc::new(Mutex::new(Held {
            id,
            refreshed: Instant::now(),
            error: None,
        }));
        let (stop, stopped) = channel::<()>();
        let refresher = {
            let (repo, held) = (Arc::clone(self), Arc::clone(&held));
            std::thread::Builder::new()
                .name("coffer-lock".into())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH_EVERY) {
                        refresh(&repo, &held, &file);
                    }
                })
                .map_err(|e| Error::fatal(format!("cannot start the lock refresher: {e}")))?
        };
        Ok(LockGuard {
            repo: Arc::clone(self),
            held,
            stop: Some(stop),
            refresher: Some(refresher),
            released: false,
            stale: locks
                .into_iter()
                .filter(|l| l.stale.is_some() && l.id != id)
                .collect(),
        })
    }

    /// Removes stale locks (all locks with `all`); returns those removed.
    pub fn remove_locks(&self, all: bool) -> Result<Vec<LockInfo>> {
        let mut removed = Vec::new();
        for l in self.locks()? {
            if all || l.stale.is_some() {
                self.store().delete(&l.key())?;
                removed.push(l);
            }
        }
        Ok(removed)
    }
}

/// Writes a fresh lock object, then deletes the previous one.
fn refresh(repo: &Repository, held: &Mutex<Held>, file: &LockFile) {
    let fresh = LockFile {
        time: now_ns(),
        ..file.clone()
    };
    match repo.save_sealed("locks", Sealed::Lock, &fresh.encode()) {
        Ok((id, _)) => {
            let old = {
                let mut h = held.lock().expect("poisoned");
                let old = h.id;
                h.id = LockId(id);
                h.refreshed = Instant::now();
                h.error = None;
                old
            };
            let _ = repo.store().delete(&format!("locks/{old}"));
        }
        Err(e) => held.lock().expect("poisoned").error = Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(host: &str, pid: u32, time: i64) -> LockFile {
        LockFile {
            version: 1,
            exclusive: true,
            host: host.into(),
            user: "root".into(),
            pid,
            time,
            command: "prune".into(),
            holder: None,
        }
    }

    /// No process has this pid (above pid_max).
    const DEAD: u32 = 0x7fff_fff0;
    const NOW: i64 = 10_000 * 1_000_000_000;
    const MINUTE: i64 = 60 * 1_000_000_000;

    fn held_by(pid: u32, holder: Holder) -> LockFile {
        LockFile {
            holder: Some(holder),
            ..lock(&this_host(), pid, NOW)
        }
    }

    #[test]
    fn stale_by_age_whoever_holds_it() {
        let here = System::current().unwrap();
        let me = Holder::this_process().unwrap();
        let pid = std::process::id();
        assert_eq!(
            held_by(pid, me.clone()).stale_reason(NOW + 29 * MINUTE, Some(&here)),
            None
        );
        for l in [held_by(pid, me), lock("there", 1, NOW)] {
            assert!(
                l.stale_reason(NOW + 31 * MINUTE, Some(&here))
                    .unwrap()
                    .contains("not refreshed for 31 minutes")
            );
        }
    }

    #[test]
    fn a_holder_in_this_boot_and_namespace_is_looked_up_by_pid_and_start_time() {
        let here = System::current().unwrap();
        let me = Holder::this_process().unwrap();
        let pid = std::process::id();
        assert_eq!(
            held_by(pid, me.clone()).stale_reason(NOW, Some(&here)),
            None
        );
        // The pid is gone, or belongs to a process started at another time.
        assert!(
            held_by(DEAD, me.clone())
                .stale_reason(NOW, Some(&here))
                .unwrap()
                .contains("is gone")
        );
        let reused = Holder {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(
            held_by(pid, reused)
                .stale_reason(NOW, Some(&here))
                .unwrap()
                .contains("another process")
        );
    }

    #[test]
    fn host_name_and_pid_alone_never_make_a_lock_stale() {
        let here = System::current().unwrap();
        let me = Holder::this_process().unwrap();
        // A lock of an earlier version: our host name, a pid that does not
        // run here. It may be a clone of this machine, or a container.
        assert_eq!(
            lock(&this_host(), DEAD, NOW).stale_reason(NOW, Some(&here)),
            None
        );
        // Another boot (a clone, or this machine before a reboot: age tells).
        let other_boot = Holder {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..me.clone()
        };
        assert_eq!(
            held_by(DEAD, other_boot).stale_reason(NOW, Some(&here)),
            None
        );
        // Another PID namespace on this kernel (a container).
        let other_ns = Holder {
            pid_ns: me.pid_ns + 1,
            ..me.clone()
        };
        assert_eq!(held_by(DEAD, other_ns).stale_reason(NOW, Some(&here)), None);
        // And a reader that cannot tell where it runs judges by age alone.
        assert_eq!(held_by(DEAD, me).stale_reason(NOW, None), None);
    }

    #[test]
    fn start_time_reads_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "77 (a) b (c) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 4 5";
        assert_eq!(parse_start_time(stat), Some(123456));
        assert_eq!(parse_start_time("77 (short) S 1"), None);
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(DEAD), None);
    }

    #[test]
    fn locks_of_earlier_versions_decode_without_a_holder() {
        // The CBOR of docs/vectors/lock.json before holders existed.
        let old = hex::decode(
            "a76776657273696f6e01696578636c7573697665f564686f73746477656231647573657264726f6f74637069641910926474696d651b187afca767ca000067636f6d6d616e64657072756e65",
        )
        .unwrap();
        let l = LockFile::decode(&old, "old lock").unwrap();
        assert_eq!((l.host.as_str(), l.pid, l.holder), ("web1", 4242, None));
    }

    #[test]
    fn shared_locks_coexist_exclusive_ones_do_not() {
        let info = |exclusive: bool, stale: bool| LockInfo {
            id: LockId::random(),
            file: Some(LockFile {
                exclusive,
                ..lock("h", 1, 0)
            }),
            stale: stale.then(|| "old".to_string()),
        };
        assert!(!info(false, false).conflicts(false));
        assert!(info(false, false).conflicts(true));
        assert!(info(true, false).conflicts(false));
        assert!(
            !info(true, true).conflicts(true),
            "stale locks do not block"
        );
        let unreadable = LockInfo {
            id: LockId::random(),
            file: None,
            stale: None,
        };
        assert!(unreadable.conflicts(false));
    }
}
