//! `strata::Error`: one enum for every failure a caller can see.
//!
//! Each variant's doc says whose fault it is: the caller's (bad input, nothing was
//! changed), the environment's (I/O), or the data's (damage on disk).

use std::path::PathBuf;

/// Result alias for Strata operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Strata. Match on the variant; print it for a
/// sentence that says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Environment: the OS refused an operation (disk full, permissions). Nothing that
    /// returned this error was acknowledged; earlier acknowledged writes are intact.
    #[error("could not {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Data: a file failed a check (magic, checksum, sequence, structure). Restore a
    /// backup, or for WAL damage open with `Recovery::TruncateAtCorruption`.
    #[error("{file} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Data: a file of a format version this build cannot read.
    #[error("{file} has format version {found}, this build reads version {supported}; there is no migration: open the database with the Strata version that wrote it, export the documents, and load them into a new database with this one")]
    UnsupportedVersion {
        file: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Caller: another handle (this process or process `holder`) has the database open.
    #[error("database {path} is already open{}; close the other handle first", holder.map_or_else(String::new, |pid| format!(" by process {pid}")))]
    Locked { path: PathBuf, holder: Option<u32> },
    /// Environment: an earlier fsync failed, so durability is unknown; reopen.
    #[error("the database refuses writes after an earlier I/O failure ({reason}); reopen it")]
    Poisoned { reason: String },
    /// Caller: a vector of the wrong length for its field or query.
    #[error("field `{field}` holds {expected}-dimensional vectors, got {found} dimensions")]
    DimensionMismatch {
        field: String,
        expected: usize,
        found: usize,
    },
    /// Caller: a vector component or number that is NaN or infinite.
    #[error("field `{field}` got a non-finite value {value} at position {index}; vectors and numbers must be finite")]
    NonFinite {
        field: String,
        index: usize,
        value: f64,
    },
    /// Caller: a field the collection's schema does not declare.
    #[error("field `{field}` is not in the schema of collection `{collection}`")]
    UnknownField { collection: String, field: String },
    /// Caller: a value of the wrong kind for its field (a number for a TAG, ...).
    #[error("field `{field}` is a {expected} field, got a {found} value")]
    FieldType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// Caller: a query predicate of the wrong kind for its field (`KNN` on a TEXT
    /// field, `@price:{1}` on a NUMERIC field). Redis answers such a query with no
    /// results; Strata refuses it, since it can never match.
    #[error("the query uses `{field}` as a {used} field, but it is a {declared} field; {hint}")]
    QueryFieldType {
        field: String,
        used: &'static str,
        declared: &'static str,
        hint: &'static str,
    },
    /// Caller: the same field name twice in a schema or a document.
    #[error("field `{field}` appears twice; each field may be given once")]
    DuplicateField { field: String },
    /// Caller: a collection or field name Strata does not accept.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    /// Caller: a document key that is empty or longer than 1 KiB.
    #[error("invalid key: {reason}")]
    InvalidKey { reason: String },
    /// Caller: a value, document or batch over its configured limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },
    /// Caller: a schema that cannot be built as given.
    #[error("invalid schema: {reason}")]
    InvalidSchema { reason: String },
    /// Caller: an argument out of its allowed range (k = 0, k over the limit, ...).
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },
    /// Caller: `create_collection` with a name already taken.
    #[error("collection `{name}` already exists")]
    CollectionExists { name: String },
    /// Caller: a collection that does not exist (or was dropped).
    #[error("collection `{name}` does not exist")]
    CollectionNotFound { name: String },
    /// Caller: a query string that does not parse, or a parameter it names that is
    /// missing or of the wrong type. `pos` is the byte offset in the query string (0
    /// when the problem is not at one place).
    #[error("invalid query at byte {pos}: {message}")]
    InvalidQuery { pos: usize, message: String },
    /// Caller: a query past one of the bounds in `Limits` (length, depth, terms, k,
    /// EF_RUNTIME, LIMIT).
    #[error("the query's {what} is {found}, over the limit of {limit}; simplify it or raise the limit in Options")]
    QueryLimit {
        what: &'static str,
        limit: u64,
        found: u64,
    },
    /// Caller: a feature this version of Strata does not provide yet. Never served
    /// silently by something else.
    #[error("{feature} is not supported yet")]
    Unsupported { feature: String },
}

impl From<strata_query::QueryError> for Error {
    fn from(error: strata_query::QueryError) -> Error {
        use strata_query::QueryError as Query;
        match error {
            Query::Syntax {
                pos,
                expected,
                found,
            } => Error::InvalidQuery {
                pos,
                message: format!("expected {expected}, found {found}"),
            },
            Query::Unsupported { feature, .. } => Error::Unsupported { feature },
            Query::LimitExceeded { what, limit, found } => Error::QueryLimit { what, limit, found },
            other => Error::InvalidQuery {
                pos: 0,
                message: other.to_string(),
            },
        }
    }
}

impl From<strata_storage::Error> for Error {
    fn from(error: strata_storage::Error) -> Error {
        use strata_storage::Error as Storage;
        match error {
            Storage::Io { op, path, source } => Error::Io { op, path, source },
            Storage::Corrupt {
                path,
                offset,
                reason,
            } => Error::Corrupt {
                file: path,
                offset,
                reason,
            },
            Storage::UnsupportedVersion {
                path,
                found,
                supported,
            } => Error::UnsupportedVersion {
                file: path,
                found,
                supported,
            },
            Storage::Locked { path, holder } => Error::Locked { path, holder },
            Storage::Poisoned { reason } => Error::Poisoned { reason },
            Storage::RecordTooLarge { size, limit } => Error::TooLarge {
                what: "the encoded write".to_string(),
                size,
                limit,
            },
            other => Error::Io {
                op: "use storage",
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}
