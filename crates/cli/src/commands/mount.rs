//! `coffer mount`: the repository's snapshots as a read-only directory
//! tree, through FUSE. What is shown and read comes from the core's
//! [`BrowseView`]; this file only speaks the FUSE protocol (`fuser`) and
//! ends the mount on Ctrl-C, SIGTERM or `umount`.

use crate::args::MountArgs;
use crate::settings::{Settings, snapshot_filter};
use coffer_core::{BrowseAttr, BrowseKind, BrowseView, Error, Kind, Result, SnapshotRef};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    MountOption, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry,
    ReplyOpen, ReplyXattr, Request, SessionACL,
};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Snapshots never change: the kernel may keep what it was told.
const TTL: Duration = Duration::from_secs(3600);

/// Threads answering the kernel (reads of several files, or readahead of
/// one, at the same time).
const THREADS: usize = 4;

/// Names in `snapshots/`: the time (local, or UTC with --utc), with the
/// short id added where two snapshots share a second.
fn names(snapshots: Vec<SnapshotRef>, utc: bool) -> Vec<(String, SnapshotRef)> {
    let stamp = |s: &SnapshotRef| {
        let t = chrono::DateTime::from_timestamp_nanos(s.snapshot.time);
        match utc {
            true => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            false => t
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%dT%H:%M:%S%z")
                .to_string(),
        }
    };
    let mut count = std::collections::HashMap::new();
    for s in &snapshots {
        *count.entry(stamp(s)).or_insert(0) += 1;
    }
    snapshots
        .into_iter()
        .map(|s| {
            let t = stamp(&s);
            let name = match count[&t] {
                1 => t,
                _ => format!("{t}-{}", s.id.short()),
            };
            (name, s)
        })
        .collect()
}

pub fn run(a: MountArgs, s: &Settings) -> Result<i32> {
    // Before any thread starts (S3 clients start some), so none of them
    // takes the signal and dies with the mount in place.
    let signals = block_signals();
    let repo = s.open()?;
    let filter = snapshot_filter(&a.filter);
    let snapshots: Vec<_> = repo
        .snapshots()?
        .into_iter()
        .filter(|x| filter.matches(&x.snapshot))
        .collect();
    let count = snapshots.len();
    let view = BrowseView::new(repo, &names(snapshots, s.utc), a.cache_size);
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName("coffer".into()),
        MountOption::Subtype("coffer".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::DefaultPermissions,
    ];
    if a.allow_other {
        config.acl = SessionACL::All;
    }
    config.n_threads = Some(THREADS);
    let fs = Fs {
        view,
        listings: Default::default(),
        next_handle: std::sync::atomic::AtomicU64::new(1),
    };
    let session = fuser::spawn_mount(fs, &a.mountpoint, &config).map_err(|e| {
        Error::io(
            "cannot mount (is /dev/fuse there, and the directory empty?)",
            a.mountpoint.display(),
            e,
        )
    })?;
    if !s.quiet {
        eprintln!(
            "{count} snapshot(s) mounted read-only at {}; Ctrl-C or `umount {}` ends it",
            a.mountpoint.display(),
            a.mountpoint.display()
        );
    }
    loop {
        if session.guard.is_finished() {
            // Unmounted from outside (`umount`, `fusermount -u`).
            session.join().map_err(|e| {
                Error::io("the mount ended with an error", a.mountpoint.display(), e)
            })?;
            return Ok(0);
        }
        if wait_signal(&signals, Duration::from_millis(200)) {
            if let Err(e) = session.umount_and_join() {
                // In use (a shell inside it): detached now, gone once the
                // last user leaves; the files answer nothing after this
                // process ends.
                detach(&a.mountpoint).map_err(|d| {
                    Error::io(
                        format!("cannot unmount ({e}), nor detach"),
                        a.mountpoint.display(),
                        d,
                    )
                })?;
                if !s.quiet {
                    eprintln!(
                        "coffer: {} was in use ({e}): detached, it goes away when nothing uses it",
                        a.mountpoint.display()
                    );
                }
            }
            return Ok(0);
        }
    }
}

/// A lazy unmount: as root directly, else through fusermount.
fn detach(at: &std::path::Path) -> std::io::Result<()> {
    let path = std::ffi::CString::new(at.as_os_str().as_bytes())?;
    // SAFETY: a C string that lives across the call.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(());
    }
    let direct = std::io::Error::last_os_error();
    for tool in ["fusermount3", "fusermount"] {
        let st = std::process::Command::new(tool)
            .args(["-u", "-z"])
            .arg(at)
            .status();
        if st.is_ok_and(|st| st.success()) {
            return Ok(());
        }
    }
    Err(direct)
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread it
/// starts, so they wait for [`wait_signal`] instead of killing the process
/// with the mount still in place.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a sigset owned here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Whether one of `set` arrived within `timeout`.
fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> bool {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `set` and `ts` live across the call; no siginfo is asked.
    unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) > 0 }
}

struct Fs {
    view: BrowseView,
    /// Listings of open directories, by handle: the kernel reads a large
    /// directory in many small pieces, each from the same listing.
    listings: std::sync::Mutex<std::collections::HashMap<u64, Arc<Listing>>>,
    next_handle: std::sync::atomic::AtomicU64,
}

type Listing = Vec<(Vec<u8>, u64, BrowseKind)>;

/// The errno for an error of the view: an entry that is not there is
/// ENOENT, a question that does not fit the entry (entries of a file)
/// EINVAL; anything else (the repository unreachable, damaged or missing
/// data) is EIO, and said on stderr.
fn errno(e: &Error) -> Errno {
    match e.kind() {
        Kind::NotFound => Errno::ENOENT,
        Kind::InvalidInput => Errno::EINVAL,
        _ => {
            eprintln!("coffer: error: {e}");
            Errno::EIO
        }
    }
}

fn time(ns: i64) -> SystemTime {
    match ns >= 0 {
        true => UNIX_EPOCH + Duration::from_nanos(ns as u64),
        false => UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs()),
    }
}

fn kind(k: BrowseKind) -> FileType {
    match k {
        BrowseKind::Dir => FileType::Directory,
        BrowseKind::File => FileType::RegularFile,
        BrowseKind::Symlink => FileType::Symlink,
        BrowseKind::Char => FileType::CharDevice,
        BrowseKind::Block => FileType::BlockDevice,
        BrowseKind::Fifo => FileType::NamedPipe,
        BrowseKind::Socket => FileType::Socket,
    }
}

fn file_attr(a: &BrowseAttr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: time(a.atime),
        mtime: time(a.mtime),
        ctime: time(a.ctime),
        crtime: time(a.mtime),
        kind: kind(a.kind),
        perm: (a.perm & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev as u32,
        blksize: 4096,
        flags: 0,
    }
}

/// An xattr reply: the size asked about, or the bytes if they fit.
fn xattr_reply(bytes: &[u8], size: u32, reply: ReplyXattr) {
    if size == 0 {
        reply.size(bytes.len() as u32);
    } else if bytes.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(bytes);
    }
}

impl Filesystem for Fs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.view.lookup(parent.0, name.as_bytes()) {
            Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.view.attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.view.readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, _ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match flags.acc_mode() {
            OpenAccMode::O_RDONLY => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
            _ => reply.error(Errno::EROFS),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.view.read(ino.0, offset, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let entries = match self.view.list(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (b".".to_vec(), ino.0, BrowseKind::Dir),
            (b"..".to_vec(), ino.0, BrowseKind::Dir),
        ];
        let all: Listing = dots.into_iter().chain(entries).collect();
        let fh = self
            .next_handle
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.listings
            .lock()
            .expect("poisoned")
            .insert(fh, Arc::new(all));
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: fuser::ReplyEmpty,
    ) {
        self.listings.lock().expect("poisoned").remove(&fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listing = self.listings.lock().expect("poisoned").get(&fh.0).cloned();
        let Some(all) = listing else {
            return reply.error(Errno::EBADF);
        };
        for (i, (name, child, k)) in all.iter().enumerate().skip(offset as usize) {
            let name = OsStr::from_bytes(name);
            if reply.add(INodeNo(*child), i as u64 + 1, kind(*k), name) {
                break;
            }
        }
        reply.ok();
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.view.xattrs(ino.0) {
            Ok(x) => match x.iter().find(|x| x.name == name.as_bytes()) {
                Some(x) => xattr_reply(&x.value, size, reply),
                None => reply.error(Errno::NO_XATTR),
            },
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.view.xattrs(ino.0) {
            Ok(x) => {
                let mut names = Vec::new();
                for x in &x {
                    names.extend_from_slice(&x.name);
                    names.push(0);
                }
                xattr_reply(&names, size, reply);
            }
            Err(e) => reply.error(errno(&e)),
        }
    }
}
