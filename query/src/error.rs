//! The one error type of the crate.

use std::fmt;

/// Why a query, its options or its parameters were rejected.
///
/// Positions in the query string are byte offsets; positions in the trailing
/// arguments are indexes into the slice given to
/// [`parse_options`](crate::parse_options) (0 = the first argument after the query).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// The query string is malformed at `pos`.
    Syntax {
        /// Byte offset into the query.
        pos: usize,
        /// What would have been valid there.
        expected: String,
        /// What was there instead (`end of query` or a quoted excerpt).
        found: String,
    },
    /// RediSearch syntax Strata does not implement (fuzzy `%term%`, `~optional`, ...).
    Unsupported {
        /// Byte offset into the query.
        pos: usize,
        /// The construct, described.
        feature: String,
    },
    /// A bound from [`Limits`](crate::Limits) was crossed.
    LimitExceeded {
        /// Which quantity.
        what: &'static str,
        /// The configured ceiling.
        limit: u64,
        /// The value found (for counts: the first value past the limit).
        found: u64,
    },
    /// The query references `$name` and no value was supplied.
    MissingParam {
        /// The name, without `$`.
        name: String,
    },
    /// A parameter's value does not fit where the query uses it.
    ParamType {
        /// The name, without `$`.
        name: String,
        /// What the use site needs.
        expected: String,
        /// The value supplied, described.
        found: String,
    },
    /// `PARAMS` names the same parameter twice.
    DuplicateParam {
        /// The name.
        name: String,
    },
    /// `DIALECT` other than 2, 3 or 4.
    UnsupportedDialect {
        /// The dialect as given.
        found: String,
    },
    /// A trailing argument is malformed.
    InvalidArgument {
        /// Index into the argument slice.
        index: usize,
        /// What would have been valid there.
        expected: String,
        /// What was there instead.
        found: String,
    },
    /// A trailing argument is not an FT.SEARCH option at all.
    UnknownOption {
        /// Index into the argument slice.
        index: usize,
        /// The argument.
        name: String,
    },
    /// An FT.SEARCH option Strata does not implement (`SLOP`, `INORDER`, ...).
    UnsupportedOption {
        /// Index into the argument slice.
        index: usize,
        /// The option keyword.
        name: String,
    },
    /// The same option given twice.
    DuplicateOption {
        /// Index of the second occurrence.
        index: usize,
        /// The option keyword.
        name: String,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Syntax {
                pos,
                expected,
                found,
            } => write!(
                f,
                "syntax error at byte {pos}: expected {expected}, found {found}"
            ),
            QueryError::Unsupported { pos, feature } => {
                write!(f, "at byte {pos}: Strata does not support {feature}")
            }
            QueryError::LimitExceeded { what, limit, found } => {
                write!(f, "{what} exceeds the limit of {limit} (found {found})")
            }
            QueryError::MissingParam { name } => {
                write!(f, "the query uses `${name}` but no value was given for it")
            }
            QueryError::ParamType {
                name,
                expected,
                found,
            } => write!(f, "parameter `${name}` must be {expected}, found {found}"),
            QueryError::DuplicateParam { name } => {
                write!(f, "parameter `{name}` is given more than once")
            }
            QueryError::UnsupportedDialect { found } => write!(
                f,
                "DIALECT {found} is not supported: Strata speaks DIALECT 2 (3 and 4 are \
                 accepted and mean the same for its documents); DIALECT 1's parsing of \
                 `|`, `-` and phrases differs, so rewrite the query for DIALECT 2"
            ),
            QueryError::InvalidArgument {
                index,
                expected,
                found,
            } => write!(f, "argument {index}: expected {expected}, found {found}"),
            QueryError::UnknownOption { index, name } => {
                write!(f, "argument {index}: unknown option `{name}`")
            }
            QueryError::UnsupportedOption { index, name } => {
                write!(
                    f,
                    "argument {index}: Strata does not support option `{name}`"
                )
            }
            QueryError::DuplicateOption { index, name } => {
                write!(
                    f,
                    "argument {index}: option `{name}` is given more than once"
                )
            }
        }
    }
}

impl std::error::Error for QueryError {}

/// Quotes user text for an error message, cut short so a hostile 64 KiB token
/// cannot balloon every error.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 32;
    let mut out = String::from("`");
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}
