//! The reports opening and verifying a database return.

use std::path::PathBuf;

/// What opening found in the write-ahead log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// WAL records replayed (records already in segments are not counted).
    pub records_replayed: u64,
    /// A cut made to the log, if any.
    pub cut: Option<WalCut>,
}

/// Bytes cut from the end of a WAL file at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalCut {
    /// The WAL file.
    pub file: PathBuf,
    /// Offset of the first byte cut.
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// `None` for a torn tail (an interrupted last write; nothing acknowledged under
    /// `Durability::Always` is lost). `Some(reason)` for corruption cut away under
    /// `Recovery::TruncateAtCorruption`, which may have lost acknowledged writes.
    pub corruption: Option<String>,
}

/// What [`Database::verify`](crate::Database::verify) checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments whose every file, key order and document archive was checked.
    pub segments: usize,
    /// Bytes of segment files read and checksummed.
    pub segment_bytes: u64,
    /// WAL records read and checksummed.
    pub wal_records: u64,
}
