//! The storage crate's error type. The engine maps each variant onto `strata::Error`.

use std::io;
use std::path::PathBuf;

/// Result alias for storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong below the data model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation (the environment's fault: disk full,
    /// permissions, a vanished directory). Names the operation and the path.
    #[error("could not {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file failed a check (magic, checksum, sequence, bounds). The disk or another
    /// program damaged it; restore from a backup, or open with truncating recovery when
    /// the damage is in the WAL and losing its tail is acceptable.
    #[error("{path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A file was written by a format version this build does not read.
    #[error("{path} has format version {found}, this build reads version {supported}; there is no migration: open the database with the Strata version that wrote it, export the documents, and load them into a new database with this one")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Another handle, in this process or another, holds the directory.
    #[error("{path} is locked by {}; close that handle first", holder.map_or_else(|| "another handle".to_string(), |pid| format!("process {pid}")))]
    Locked { path: PathBuf, holder: Option<u32> },
    /// An earlier fsync failed, so what the OS holds for the WAL is unknown. Writing
    /// on could acknowledge data that is already lost; reopen the database.
    #[error(
        "the write-ahead log is unusable after an earlier failure ({reason}); reopen the database"
    )]
    Poisoned { reason: String },
    /// A single record exceeds what the WAL frames.
    #[error("a WAL record of {size} bytes exceeds the limit of {limit} bytes; split the write")]
    RecordTooLarge { size: usize, limit: usize },
}

impl Error {
    /// Wraps an `io::Error` with the operation and path it came from.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
