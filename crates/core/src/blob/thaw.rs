//! Cold data packs: before a command reads data packs, find those in an
//! archive class (`GLACIER`, `DEEP_ARCHIVE`) that are not readable, and
//! either stop with the plan, or ask S3 to restore them and wait.
//!
//! The one step every reader of data packs runs first (restore, export,
//! `check --read-data`): [`Repository::thaw_for_read`].
//!
//! ```text
//! probe    one HEAD of a data pack: a store that names no storage class
//!          (local) has nothing archived, and the step ends here
//! list     one LIST of data/ (1,000 packs a request): the archived packs
//!          of the repository; none, and the step ends here
//! need     only now the reader says which packs it needs (for restore a
//!          dry-run plan: a second walk of the trees, paid only by
//!          repositories with archived data); HEAD of the archived ones
//!          among them says where each stands
//! decide   none frozen or thawing: read. A one-byte GET of a frozen
//!          pack that succeeds: the store serves archived objects directly
//!          (it stores the class, not its semantics): read. Frozen packs
//!          and no tier given: report the plan, stop (Kind::Cold, exit
//!          13), nothing written
//! request  RestoreObject for the frozen ones only, in parallel; one
//!          already under way counts as asked
//! wait     HEAD the thawing ones, further and further apart, until all
//!          are readable (or stop at once, Kind::Cold, with `wait: false`)
//! ```
//! The state lives in S3, not in a local file: running the same command
//! again finds the restores it asked for under way and asks nothing again.

use crate::error::{Error, Kind, Result, parallel};
use crate::format::pack;
use crate::format::pack::BlobKind;
use crate::progress::{ColdClass, ColdEvent, Progress};
use crate::repo::{PackInfo, Repository};
use crate::store::{ObjectMeta, StorageClass, Thaw, Tier};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Requests in flight at once while planning, requesting and polling.
const CONNECTIONS: usize = 16;
/// The longest pause between two polls of restores under way.
const POLL_MAX: Duration = Duration::from_secs(15 * 60);

/// What a reader does about archived packs.
#[derive(Debug, Clone, Copy)]
pub struct ColdOptions {
    /// Ask S3 to restore frozen packs at this tier; `None`: stop with the plan.
    pub tier: Option<Tier>,
    /// Days a restored copy stays readable.
    pub days: u32,
    /// Wait until every needed pack is readable; otherwise return
    /// `Kind::Cold` once the restores are asked for.
    pub wait: bool,
    /// First pause between polls; it doubles up to 15 minutes.
    pub poll: Duration,
}

impl Default for ColdOptions {
    fn default() -> Self {
        ColdOptions {
            tier: None,
            days: 2,
            wait: true,
            poll: Duration::from_secs(60),
        }
    }
}

fn count(packs: &[ObjectMeta], state: Thaw) -> usize {
    packs.iter().filter(|m| m.thaw == Some(state)).count()
}

/// The plan per class, as reported.
fn plan(archived: &[ObjectMeta]) -> Vec<ColdClass> {
    StorageClass::ALL
        .into_iter()
        .filter_map(|class| {
            let mine: Vec<&ObjectMeta> =
                archived.iter().filter(|m| m.class == Some(class)).collect();
            let frozen: Vec<&&ObjectMeta> = mine
                .iter()
                .filter(|m| m.thaw == Some(Thaw::Frozen))
                .collect();
            (!mine.is_empty()).then(|| ColdClass {
                class: class.name(),
                packs: mine.len() as u64,
                bytes: mine.iter().map(|m| m.size).sum(),
                frozen_packs: frozen.len() as u64,
                frozen_bytes: frozen.iter().map(|m| m.size).sum(),
                thawing_packs: mine
                    .iter()
                    .filter(|m| m.thaw == Some(Thaw::Thawing))
                    .count() as u64,
            })
        })
        .collect()
}

impl Repository {
    /// Makes readable the data packs a command needs, as `opts` says (see
    /// the module documentation). `needed` names them; it is called only
    /// when the repository holds archived data packs at all.
    pub fn thaw_for_read(
        &self,
        needed: impl FnOnce() -> Result<Vec<PackInfo>>,
        opts: &ColdOptions,
        progress: &dyn Progress,
    ) -> Result<()> {
        let archived = self.archived_data_packs()?;
        if archived.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = needed()?
            .iter()
            .filter(|p| p.kind == BlobKind::Data)
            .map(|p| pack::key(p.kind, &p.id))
            .filter(|k| archived.contains(k))
            .collect::<HashSet<String>>()
            .into_iter()
            .collect();
        let mut archived: Vec<ObjectMeta> = self
            .head_all(&keys)?
            .into_iter()
            .filter(|m| m.class.is_some_and(StorageClass::is_archive))
            .collect();
        if archived.is_empty() {
            return Ok(());
        }
        if let Some(f) = archived.iter().find(|m| m.thaw == Some(Thaw::Frozen))
            && self.store().get(&f.key, Some(0..1)).is_ok()
        {
            // A store that takes archive classes but serves their objects
            // directly (SeaweedFS, ...): nothing to restore.
            return Ok(());
        }
        progress.cold(&ColdEvent::Plan(plan(&archived)));
        let frozen: Vec<&ObjectMeta> = archived
            .iter()
            .filter(|m| m.thaw == Some(Thaw::Frozen))
            .collect();
        if !frozen.is_empty() {
            let Some(tier) = opts.tier else {
                return Err(Error::new(
                    Kind::Cold,
                    format!(
                        "{} data pack(s), {} bytes, in an archive storage class and not restored: run again with --cold-restore TIER (Bulk, Standard, or Expedited for GLACIER)",
                        frozen.len(),
                        frozen.iter().map(|m| m.size).sum::<u64>()
                    ),
                ));
            };
            self.request_thaw(&frozen, tier, opts.days)?;
            progress.cold(&ColdEvent::Requested {
                packs: frozen.len() as u64,
                tier: tier.name(),
                days: opts.days,
            });
            for m in &mut archived {
                if m.thaw == Some(Thaw::Frozen) {
                    m.thaw = Some(Thaw::Thawing);
                }
            }
        }
        self.wait_thawed(archived, opts, progress)
    }

    /// Keys of the archived data packs of the store; none for a store
    /// without storage classes (one HEAD tells).
    fn archived_data_packs(&self) -> Result<HashSet<String>> {
        let probe = {
            let index = self.index();
            index
                .packs()
                .iter()
                .find(|p| p.kind == BlobKind::Data)
                .map(|p| pack::key(p.kind, &p.id))
        };
        let Some(probe) = probe else {
            return Ok(HashSet::new());
        };
        match self.store().head(&probe) {
            Ok(m) if m.class.is_none() => return Ok(HashSet::new()),
            // Missing or unreadable: the listing decides.
            _ => {}
        }
        let mut out = HashSet::new();
        self.store().list("data/", &mut |m| {
            if m.class.is_some_and(StorageClass::is_archive) {
                out.insert(m.key);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// HEAD of every key, [`CONNECTIONS`] at a time, in order.
    fn head_all(&self, keys: &[String]) -> Result<Vec<ObjectMeta>> {
        let out: Vec<Mutex<Option<Result<ObjectMeta>>>> =
            keys.iter().map(|_| Mutex::new(None)).collect();
        parallel(CONNECTIONS, keys.len(), |i| {
            *out[i].lock().expect("poisoned") = Some(self.store().head(&keys[i]));
        });
        out.into_iter()
            .map(|m| m.into_inner().expect("poisoned").expect("every key asked"))
            .collect()
    }

    /// Asks for a restore of each of `packs`.
    fn request_thaw(&self, packs: &[&ObjectMeta], tier: Tier, days: u32) -> Result<()> {
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        parallel(CONNECTIONS, packs.len(), |i| {
            if failed.lock().expect("poisoned").is_some() {
                return;
            }
            if let Err(e) = self.store().request_thaw(&packs[i].key, days, tier) {
                failed.lock().expect("poisoned").get_or_insert(e);
            }
        });
        match failed.into_inner().expect("poisoned") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Polls the packs still thawing until none is, or returns `Kind::Cold`
    /// at once without `opts.wait`.
    fn wait_thawed(
        &self,
        mut archived: Vec<ObjectMeta>,
        opts: &ColdOptions,
        progress: &dyn Progress,
    ) -> Result<()> {
        let total = archived.len();
        let mut pause = opts.poll.max(Duration::from_millis(100));
        loop {
            let thawing = count(&archived, Thaw::Thawing);
            progress.cold(&ColdEvent::Waiting {
                ready: (total - thawing) as u64,
                total: total as u64,
            });
            if thawing == 0 {
                return Ok(());
            }
            if !opts.wait {
                return Err(Error::new(
                    Kind::Cold,
                    format!(
                        "{thawing} of {total} archived data packs are still being restored: run the same command again later (nothing is asked for twice)"
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(POLL_MAX);
            let keys: Vec<String> = archived
                .iter()
                .filter(|m| m.thaw == Some(Thaw::Thawing))
                .map(|m| m.key.clone())
                .collect();
            let now: HashMap<String, ObjectMeta> = self
                .head_all(&keys)?
                .into_iter()
                .map(|m| (m.key.clone(), m))
                .collect();
            for m in &mut archived {
                if let Some(n) = now.get(&m.key) {
                    // Frozen again: its copy expired (or was never
                    // made); asking again costs money, so the user decides.
                    m.thaw = match n.thaw {
                        Some(Thaw::Frozen) => {
                            return Err(Error::at(
                                Kind::Cold,
                                "a restored pack expired before it was read: run again with --cold-restore and more --cold-days",
                                &m.key,
                            ));
                        }
                        other => other,
                    };
                }
            }
        }
    }
}
