//! The file-system seam.
//!
//! All file I/O of the storage layer goes through [`FileSystem`], so that tests can
//! swap in a backend that fails on demand or forgets everything not yet fsynced (a
//! simulated power cut). [`StdFileSystem`] is the real one.
//!
//! The trait is deliberately small: the operations a log-structured store needs
//! (append, sync, truncate, whole-file write, rename, directory sync), and nothing that
//! would let a caller bypass the durability rules.

pub mod sim;
mod std_fs;

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

pub use sim::SimFileSystem;
pub use std_fs::StdFileSystem;

/// A file opened for appending, as the WAL uses it. Shared between the writer and the
/// background syncer, hence `&self` everywhere.
pub trait WalFile: Send + Sync + fmt::Debug {
    /// Appends `data` at the end of the file.
    fn append(&self, data: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes, so that a failed append leaves no partial record.
    fn truncate(&self, len: u64) -> io::Result<()>;
}

/// Guard of an exclusive directory lock; dropping it releases the lock.
pub trait LockGuard: Send + Sync + fmt::Debug {}

/// A new file being written start to finish, as a segment file is.
pub trait NewFile: Write + Send + fmt::Debug {
    /// Makes everything written durable (`fsync`). Until then a power cut may lose it.
    fn sync(&mut self) -> io::Result<()>;
}

/// The bytes of a sealed file, read-only: an mmap for the real file system, a copy for
/// a simulated one. The file behind it must never change while it is mapped.
pub trait MappedFile: Send + Sync + fmt::Debug {
    /// The whole file.
    fn bytes(&self) -> &[u8];

    /// Tells the OS how the bytes are about to be read (`madvise`). Only a hint: doing
    /// nothing, as the default does, is correct, just possibly slower.
    fn advise(&self, _access: Access) {}

    /// Asks the OS to read `range` in now (`MADV_WILLNEED`): one request for a block
    /// about to be read whole, instead of a fault per page under [`Access::Random`].
    /// Only a hint, like [`MappedFile::advise`].
    fn will_need(&self, _range: std::ops::Range<usize>) {}
}

/// How a mapped file is about to be read, for the OS's read-ahead.
///
/// Why it matters: by default a page fault on a cold file also reads the pages around
/// it, as much as the device's `read_ahead_kb` (8 MiB on some virtual disks). Opening a
/// database touches only a footer and a few header words per segment file, and with
/// the default each touch read megabytes of vectors and keys from disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Scattered small reads (footers, header words): a fault reads its page only.
    Random,
    /// The OS default: a fault reads the pages around it too. For data read in bulk,
    /// such as vectors scanned by an exact search.
    Normal,
    /// Start to end, once (a checksum over the whole body).
    Sequential,
}

/// The file operations Strata's storage performs. Paths are absolute or relative to
/// the process's working directory, exactly as the engine built them.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates `path` and any missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of directory `path`, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for appending; it must exist.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Opens `path` for sequential reading, with its length.
    fn open_read(&self, path: &Path) -> io::Result<(Box<dyn Read + Send>, u64)>;
    /// Creates `path` (replacing any file there) for writing start to finish.
    fn create(&self, path: &Path) -> io::Result<Box<dyn NewFile>>;
    /// Maps the sealed file at `path` read-only.
    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>>;
    /// Makes `to` a second name of the file `from` (a hard link), for backups of
    /// immutable files. Fails where the file system has no hard links.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the directory `path` and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates (or replaces) `path` with `data` and fsyncs it. Not atomic on its own:
    /// publish with [`FileSystem::rename`] and [`FileSystem::sync_dir`].
    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs the directory `path`, making renames, creations and removals in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on the directory `dir`, or fails with [`Error::Locked`].
    fn lock_dir(&self, dir: &Path) -> Result<Box<dyn LockGuard>>;
}

/// Writes `data` to `dir/name` so that a crash leaves either the old file or the new
/// one, never a mix: write a temporary, fsync it, rename over, fsync the directory.
pub fn write_atomic(fs: &dyn FileSystem, dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    let target = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    fs.write_file(&temporary, data)
        .map_err(|e| Error::io("write", &temporary, e))?;
    fs.rename(&temporary, &target)
        .map_err(|e| Error::io("rename into place", &target, e))?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// Reads the whole file at `path`.
pub fn read_all(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>> {
    let (mut reader, len) = fs.open_read(path).map_err(|e| Error::io("open", path, e))?;
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 30));
    reader
        .read_to_end(&mut data)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(data)
}
