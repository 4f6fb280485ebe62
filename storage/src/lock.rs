//! The exclusive lock that keeps two handles from writing one database.
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows) on the
//! file `LOCK` in the database directory. Such locks conflict between two opens of the
//! same file even inside one process, so a second `Database::open` of the same path
//! fails whether it comes from this process or another. The OS drops the lock when the
//! process dies, so a crash never leaves a database locked. The holder writes its pid
//! into the file so that a refused opener can say who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::LockGuard;

/// The name of the lock file inside a database directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// A held lock on a database directory; released on drop.
#[derive(Debug)]
pub struct DirectoryLock {
    // Never read; holding the open file is what holds the lock.
    _file: File,
    path: PathBuf,
}

impl DirectoryLock {
    /// Takes the lock on `dir`, or returns [`Error::Locked`] naming the holder's pid.
    pub fn acquire(dir: &Path) -> Result<DirectoryLock> {
        let path = dir.join(LOCK_FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open the lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    holder: holder.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        // The pid is a courtesy for error messages; failing to write it is harmless.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(std::process::id().to_string().as_bytes()));
        Ok(DirectoryLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl LockGuard for DirectoryLock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_the_same_process_is_refused_with_our_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirectoryLock::acquire(dir.path()).unwrap();
        match DirectoryLock::acquire(dir.path()) {
            Err(Error::Locked { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        DirectoryLock::acquire(dir.path()).expect("released on drop");
    }
}
