//! `fsfreeze` around an image backup: the file system mounted from the
//! source is frozen (writes wait, its journal is flushed) while it is
//! read, so the image is consistent, and thawed when the guard goes,
//! whatever happened meanwhile (Ctrl-C and SIGTERM only stop the read, see
//! the module above, so the guard always runs).

use crate::error::{Error, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `_IOWR('X', 119, int)` and `_IOWR('X', 120, int)`.
const FIFREEZE: libc::c_ulong = 0xC004_5877;
const FITHAW: libc::c_ulong = 0xC004_5878;

/// A frozen file system, thawed on drop.
pub struct Frozen {
    dir: File,
    path: PathBuf,
}

impl Frozen {
    pub fn freeze(mountpoint: &Path) -> Result<Frozen> {
        let dir = File::open(mountpoint)
            .map_err(|e| Error::io("cannot open mount point", mountpoint.display(), e))?;
        // SAFETY: FIFREEZE takes an int argument it ignores.
        if unsafe { libc::ioctl(dir.as_raw_fd(), FIFREEZE as _, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::io(
                "cannot freeze (is it a mount point of a file system that supports freezing?)",
                mountpoint.display(),
                e,
            ));
        }
        Ok(Frozen {
            dir,
            path: mountpoint.to_path_buf(),
        })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: FITHAW takes an int argument it ignores.
        if unsafe { libc::ioctl(self.dir.as_raw_fd(), FITHAW as _, 0) } != 0 {
            eprintln!(
                "coffer: error: cannot thaw {} ({}): run `fsfreeze --unfreeze {}`",
                self.path.display(),
                std::io::Error::last_os_error(),
                self.path.display()
            );
        }
    }
}
