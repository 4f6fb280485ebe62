//! The reports opening and verifying a database return.

use std::path::PathBuf;

/// What opening found in the write-ahead log.
///
/// ```
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// let report = Database::open(dir.path().join("db"))?.recovery_report().clone();
/// assert_eq!(report.records_replayed, 0);
/// assert!(report.cut.is_none()); // nothing torn
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// WAL records replayed (records already in segments are not counted).
    pub records_replayed: u64,
    /// A cut made to the log, if any.
    pub cut: Option<WalCut>,
}

/// Bytes cut from the end of a WAL file at open.
///
/// ```
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"))?;
/// if let Some(cut) = &db.recovery_report().cut {
///     eprintln!("cut {} bytes of {} at {}", cut.bytes, cut.file.display(), cut.offset);
/// }
/// # Ok::<(), strata::Error>(())
/// ```
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
///
/// ```
/// use strata::{Doc, Schema};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = strata::Database::open(dir.path().join("db"))?;
/// db.create_collection("notes", Schema::builder().text("body").build()?)?
///     .upsert("a", Doc::new().text("body", "x"))?;
/// db.flush()?;
/// let report = db.verify()?;
/// assert_eq!(report.segments, 1);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments whose every file, key order and document archive was checked.
    pub segments: usize,
    /// Bytes of segment files read and checksummed.
    pub segment_bytes: u64,
    /// WAL records read and checksummed.
    pub wal_records: u64,
}
