//! How a database is opened: durability, recovery and limits.

use std::sync::Arc;
use std::time::Duration;

use strata_storage::wal::{RecoveryMode, SyncPolicy};
use strata_storage::FileSystem;

/// What an HNSW graph's level-0 walk reads: the FLOAT32 rows (the default) or 8-bit
/// codes of the rows. Named after the `COMPRESSION` attribute of Redis 8's
/// SVS-VAMANA vector index (Redis's HNSW has none); set per database, applied to
/// every segment written after it is set (flush and compaction), while segments
/// already written keep what they were written with.
///
/// With [`HnswCompression::Sq8`] each segment's graph file also holds a byte per
/// dimension of every row (per-dimension scalar quantisation trained on the
/// segment's rows), next to each node's neighbour list. A search walks the graph
/// over those codes, a quarter of the memory traffic of the FLOAT32 rows, and
/// re-ranks the `EF_RUNTIME` candidates it ends with exactly from the FLOAT32 rows:
/// returned distances are exact, and recall at equal `EF_RUNTIME` stays within
/// 0.005 of the FLOAT32 walk on samples of the dev data. VECTOR_RANGE walks FLOAT32
/// either way (its radius is a bound on exact distances), and so do memtable graphs.
///
/// ```
/// use strata::{Database, HnswCompression, Options};
/// # let dir = tempfile::tempdir().unwrap();
/// // Walk 8-bit codes and re-rank exactly (graph files grow by a byte per dimension).
/// let options = Options { hnsw_compression: HnswCompression::Sq8, ..Options::default() };
/// let db = Database::open_with(dir.path().join("db"), options)?;
/// # drop(db);
/// # Ok::<(), strata::Error>(())
/// ```
///
/// FLOAT32 stays the default until the side-by-side comparison on an idle machine
/// shows the walk over codes faster: the codes cut the memory traffic of a search,
/// but the current kernel (FLOAT32 query against byte codes) executes more
/// instructions per distance than the FLOAT32 one, so on rows that fit in cache it
/// is slower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HnswCompression {
    /// 8-bit codes walked, candidates re-ranked exactly (`COMPRESSION SQ8`).
    Sq8,
    /// The FLOAT32 rows walked (no compression), as Redis does.
    #[default]
    Float32,
}

/// When an acknowledged write is on disk, with the meaning of Redis's `appendfsync`.
///
/// ```
/// use strata::{Database, Durability, Options};
/// # let dir = tempfile::tempdir().unwrap();
/// // Every acknowledged write survives a power cut (appendfsync always).
/// let db = Database::open_with(dir.path().join("db"), Options { durability: Durability::Always, ..Options::default() })?;
/// # drop(db);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync before each write returns (a batch is one fsync): an acknowledged write
    /// survives power loss.
    Always,
    /// fsync once a second in the background (the default): a process crash loses
    /// nothing acknowledged; a power loss may lose the last second.
    #[default]
    EverySec,
    /// Leave writeback to the OS: a process crash loses nothing acknowledged; a power
    /// loss may lose whatever the OS had not written.
    Never,
}

impl Durability {
    pub(crate) fn sync_policy(self) -> SyncPolicy {
        match self {
            Durability::Always => SyncPolicy::Always,
            Durability::EverySec => SyncPolicy::EverySecond,
            Durability::Never => SyncPolicy::Never,
        }
    }
}

/// What opening does with a damaged write-ahead log.
///
/// ```
/// use strata::{Database, Options, Recovery};
/// # let dir = tempfile::tempdir().unwrap();
/// // Like aof-load-truncated yes: open past a damaged log record, and say what was cut.
/// let db = Database::open_with(dir.path().join("db"), Options { recovery: Recovery::TruncateAtCorruption, ..Options::default() })?;
/// assert!(db.recovery_report().cut.is_none());
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Recovery {
    /// A torn last record (an interrupted write) is cut off and reported; damage with
    /// intact records after it is `Error::Corrupt`. The default.
    #[default]
    Strict,
    /// Like Redis's `aof-load-truncated`: cut the log at the first damaged record,
    /// dropping everything after it, and open. Reported in [`crate::RecoveryReport`].
    TruncateAtCorruption,
}

impl Recovery {
    pub(crate) fn mode(self) -> RecoveryMode {
        match self {
            Recovery::Strict => RecoveryMode::Strict,
            Recovery::TruncateAtCorruption => RecoveryMode::TruncateAtCorruption,
        }
    }
}

/// The deepest filter nesting any `Limits` allows (see `max_query_depth`).
const MAX_QUERY_DEPTH_CEILING: usize = 200;

/// Bounds on input, so that no single call can exhaust memory or disk.
///
/// ```
/// use strata::{Database, Doc, Error, Limits, Options, Schema};
/// # let dir = tempfile::tempdir().unwrap();
/// let limits = Limits { max_document_bytes: 100, ..Limits::default() };
/// let db = Database::open_with(dir.path().join("db"), Options { limits, ..Options::default() })?;
/// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
/// assert!(matches!(notes.upsert("a", Doc::new().text("body", "x".repeat(200))), Err(Error::TooLarge { .. })));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded document (all its fields), default 16 MiB.
    pub max_document_bytes: usize,
    /// Largest `upsert_many` batch, encoded, default 256 MiB (at most 512 MiB, the
    /// WAL's record limit).
    pub max_batch_bytes: usize,
    /// Largest `k` a search may ask for, default 10,000.
    pub max_k: usize,
    /// Largest `EF_RUNTIME`, default 10,000.
    pub max_ef_runtime: usize,
    /// Longest query string, default 64 KiB.
    pub max_query_bytes: usize,
    /// Deepest nesting of a filter, default 128. Values over 200 act as 200: parsing
    /// and evaluating a filter recurse once per level, and in an unoptimised build
    /// the parser overflows a thread's default 2 MiB stack between 200 and 256 levels.
    pub max_query_depth: usize,
    /// Most predicates in one query, default 1,024.
    pub max_query_terms: usize,
    /// Largest `LIMIT` count, default 10,000.
    pub max_limit: usize,
}

impl Limits {
    /// The parser's bounds.
    pub(crate) fn query(&self) -> strata_query::Limits {
        strata_query::Limits {
            max_query_bytes: self.max_query_bytes,
            max_depth: self.max_query_depth.min(MAX_QUERY_DEPTH_CEILING),
            max_terms: self.max_query_terms,
            max_k: self.max_k as u64,
            max_ef_runtime: self.max_ef_runtime as u64,
            max_limit: self.max_limit as u64,
            ..strata_query::Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_document_bytes: 16 << 20,
            max_batch_bytes: 256 << 20,
            max_k: 10_000,
            max_ef_runtime: 10_000,
            max_query_bytes: 64 << 10,
            max_query_depth: 128,
            max_query_terms: 1_024,
            max_limit: 10_000,
        }
    }
}

/// Options for [`crate::Database::open_with`].
///
/// ```
/// use std::time::Duration;
/// use strata::{Database, Options};
/// # let dir = tempfile::tempdir().unwrap();
/// let options = Options {
///     memtable_rows_max: 10_000,
///     background_interval: Duration::from_millis(200),
///     ..Options::default()
/// };
/// let db = Database::open_with(dir.path().join("db"), options)?;
/// # drop(db);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes are fsynced; default [`Durability::EverySec`].
    pub durability: Durability,
    /// What to do with a damaged WAL; default [`Recovery::Strict`].
    pub recovery: Recovery,
    /// Input bounds.
    pub limits: Limits,
    /// Flush the memtables to a segment once they hold this many documents (default
    /// 100,000)...
    pub memtable_rows_max: usize,
    /// ...or once this many bytes were written into them (default 64 MiB).
    pub memtable_bytes_max: usize,
    /// Run active expiry and compaction on a background thread (default true).
    pub background_work: bool,
    /// How often the background thread looks for work (default 1 s).
    pub background_interval: Duration,
    /// Segments of one size tier that trigger a merge (default 4).
    pub compaction_trigger: usize,
    /// What new segments' HNSW graphs are walked over (default
    /// [`HnswCompression::Float32`]).
    pub hnsw_compression: HnswCompression,
    /// The file system to use; `None` (the default) is the operating system's. Tests
    /// pass a simulated one to inject faults and power cuts.
    pub file_system: Option<Arc<dyn FileSystem>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::default(),
            recovery: Recovery::default(),
            limits: Limits::default(),
            memtable_rows_max: 100_000,
            memtable_bytes_max: 64 << 20,
            background_work: true,
            background_interval: Duration::from_secs(1),
            compaction_trigger: 4,
            hnsw_compression: HnswCompression::default(),
            file_system: None,
        }
    }
}
