use super::owners::Owners;
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind, Xattr};
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Reads everything but file content about `path` (lstat, link target,
/// xattrs, owner names). `meta` is the lstat result the caller already has.
pub fn read_node(path: &Path, meta: &Metadata, owners: &Owners) -> Result<Node> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        NodeKind::File
    } else if ft.is_dir() {
        NodeKind::Dir
    } else if ft.is_symlink() {
        NodeKind::Symlink
    } else if ft.is_char_device() {
        NodeKind::Chardev
    } else if ft.is_block_device() {
        NodeKind::Blockdev
    } else if ft.is_fifo() {
        NodeKind::Fifo
    } else {
        NodeKind::Socket
    };
    let target = if kind == NodeKind::Symlink {
        let t = std::fs::read_link(path)
            .map_err(|e| Error::io("cannot read symlink", path.display(), e))?;
        Some(t.as_os_str().as_bytes().to_vec())
    } else {
        None
    };
    let xattrs = if kind == NodeKind::Symlink {
        Vec::new()
    } else {
        read_xattrs(path)?
    };
    Ok(Node {
        name: super::name_bytes(path),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        user: owners.user_name(meta.uid()),
        group: owners.group_name(meta.gid()),
        mtime: ns(meta.mtime(), meta.mtime_nsec()),
        // A directory's atime changes whenever a backup lists it, and a
        // symlink's when the backup reads its target; recording them would
        // make trees differ from the last backup's and defeat tree dedup.
        // Files are read with O_NOATIME, so theirs is stable.
        atime: if matches!(kind, NodeKind::Dir | NodeKind::Symlink) {
            0
        } else {
            ns(meta.atime(), meta.atime_nsec())
        },
        ctime: ns(meta.ctime(), meta.ctime_nsec()),
        size: if kind == NodeKind::File {
            meta.size()
        } else {
            0
        },
        inode: meta.ino(),
        dev: meta.dev(),
        links: meta.nlink(),
        rdev: if matches!(kind, NodeKind::Chardev | NodeKind::Blockdev) {
            meta.rdev()
        } else {
            0
        },
        target,
        xattrs,
        holes: Vec::new(),
        content: Vec::new(),
        subtree: None,
    })
}

/// All extended attributes of `path`, sorted by name. A filesystem without
/// xattr support yields none.
pub fn read_xattrs(path: &Path) -> Result<Vec<Xattr>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::io(
                "cannot list extended attributes",
                path.display(),
                e,
            ));
        }
    };
    let mut out = Vec::new();
    for name in names {
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push(Xattr {
                name: name.as_bytes().to_vec(),
                value,
            }),
            Ok(None) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => {
                return Err(Error::io(
                    "cannot read extended attribute",
                    path.display(),
                    e,
                ));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::ENODATA))
}
