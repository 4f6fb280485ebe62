//! Bounds that keep hostile or careless input from costing unbounded time, memory or stack.

/// Ceilings checked while parsing and binding. Past any of them the call fails with
/// [`QueryError::LimitExceeded`](crate::QueryError::LimitExceeded) naming the limit.
///
/// Build one with struct update syntax: `Limits { max_k: 100, ..Limits::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Length of the query string in bytes (default 64 KiB).
    pub max_query_bytes: usize,
    /// Nesting of parentheses and `-` negations (default 128). The parser recurses
    /// once per level, so this also bounds its stack use.
    pub max_depth: usize,
    /// Predicates in one query, counting each tag value and phrase word (default 1024).
    pub max_terms: usize,
    /// KNN `k` (default 10 000).
    pub max_k: u64,
    /// KNN `EF_RUNTIME` (default 10 000).
    pub max_ef_runtime: u64,
    /// KNN `BATCH_SIZE` (default 10 000).
    pub max_batch_size: u64,
    /// `LIMIT offset count`: the count (default 10 000).
    pub max_limit: u64,
    /// `LIMIT offset count`: the offset (default 1 000 000).
    pub max_offset: u64,
    /// Number of trailing FT.SEARCH arguments (default 1024).
    pub max_args: usize,
    /// Total bytes of the trailing arguments (default 1 MiB).
    pub max_args_bytes: usize,
    /// Name/value pairs in `PARAMS` (default 256).
    pub max_params: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_query_bytes: 64 * 1024,
            max_depth: 128,
            max_terms: 1024,
            max_k: 10_000,
            max_ef_runtime: 10_000,
            max_batch_size: 10_000,
            max_limit: 10_000,
            max_offset: 1_000_000,
            max_args: 1024,
            max_args_bytes: 1024 * 1024,
            max_params: 256,
        }
    }
}

/// Widens a count for [`QueryError::LimitExceeded`](crate::QueryError::LimitExceeded).
pub(crate) fn widen(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}
