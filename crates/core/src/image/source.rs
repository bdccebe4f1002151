//! The thing an image is read from: a block device (sized with
//! `BLKGETSIZE64`) or a regular file (whose holes, found with `SEEK_DATA`,
//! are not read).

use crate::error::{Error, Result};
use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};

/// `_IOR(0x12, 114, size_t)`: a block device's size in bytes.
pub(crate) const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

pub struct Source {
    file: File,
    path: PathBuf,
    pub size: u64,
    /// Data regions (offset, length), sorted; a device is all data.
    regions: Vec<(u64, u64)>,
}

/// The size of the block device open as `file`.
pub(crate) fn device_size(file: &File) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 into `size`, which outlives the call.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size) };
    match r {
        0 => Ok(size),
        _ => Err(std::io::Error::last_os_error()),
    }
}

impl Source {
    pub fn open(path: &Path) -> Result<Source> {
        let file = File::open(path).map_err(|e| Error::io("cannot open", path.display(), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io("cannot stat", path.display(), e))?;
        let ft = meta.file_type();
        let (size, regions) = if ft.is_block_device() {
            let size = device_size(&file)
                .map_err(|e| Error::io("cannot size the device", path.display(), e))?;
            (size, vec![(0, size)])
        } else if ft.is_file() {
            let regions = crate::fs::sparse::data_regions(&file)
                .map_err(|e| Error::io("cannot find the holes of", path.display(), e))?;
            (meta.len(), regions)
        } else {
            return Err(Error::invalid(
                "not a block device or a regular file (an image is read from /dev/… or a disk image file)",
            )
            .with_location(path.display()));
        };
        Ok(Source {
            file,
            path: path.to_path_buf(),
            size,
            regions,
        })
    }

    /// Whether `len` bytes from `at` hold any data region.
    pub fn has_data(&self, at: u64, len: u64) -> bool {
        let i = self.regions.partition_point(|&(o, l)| o + l <= at);
        self.regions.get(i).is_some_and(|&(o, _)| o < at + len)
    }

    /// Fills `buf` from `at`; a source that ends early is an error (it
    /// shrank while it was read).
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> Result<()> {
        self.file.read_exact_at(buf, at).map_err(|e| {
            Error::io(
                format!("cannot read {} bytes at offset {at} of", buf.len()),
                self.path.display(),
                e,
            )
        })
    }
}
