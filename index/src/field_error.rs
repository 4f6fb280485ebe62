//! The one error type of the TAG and NUMERIC field-index views.
//!
//! Views run over bytes from a segment file that the engine has already
//! checksummed, so these errors mean a bug or damage the checksum missed. They
//! are values, never panics, so a damaged segment fails one query instead of
//! the process.

use std::fmt;

/// Why bytes are not a usable field-index body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldIndexError {
    /// The body is shorter than its fixed header.
    TooShort {
        /// Which index ("tag index" or "numeric index").
        kind: &'static str,
        /// Bytes given.
        len: u64,
        /// Bytes the header needs.
        need: u64,
    },
    /// The body does not start with the magic of this kind of index.
    BadMagic {
        /// Which index was expected.
        kind: &'static str,
    },
    /// The body was written by a format version this code does not read.
    UnsupportedVersion {
        /// Which index.
        kind: &'static str,
        /// The version found.
        version: u32,
    },
    /// The body's length differs from what its header describes.
    LengthMismatch {
        /// Which index.
        kind: &'static str,
        /// Length the header implies (saturated at `u64::MAX` on overflow).
        expected: u64,
        /// Length given.
        actual: u64,
    },
    /// A structural rule is broken at one entry (found by a query or `verify`).
    Corrupt {
        /// Which index.
        kind: &'static str,
        /// The table entry (tag index) or position (numeric index).
        entry: u64,
        /// Which rule.
        what: &'static str,
    },
}

impl fmt::Display for FieldIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FIX: &str = "the segment file is damaged; restore it or rebuild the index";
        match self {
            FieldIndexError::TooShort { kind, len, need } => {
                write!(
                    f,
                    "The {kind} body is {len} bytes but needs at least {need}: {FIX}."
                )
            }
            FieldIndexError::BadMagic { kind } => {
                write!(f, "The bytes are not a {kind} body (bad magic): {FIX}.")
            }
            FieldIndexError::UnsupportedVersion { kind, version } => write!(
                f,
                "The {kind} body has format version {version}, which this build cannot read: \
                 open the database with the version of Strata that wrote it."
            ),
            FieldIndexError::LengthMismatch {
                kind,
                expected,
                actual,
            } => write!(
                f,
                "The {kind} body is {actual} bytes but its header describes {expected}: {FIX}."
            ),
            FieldIndexError::Corrupt { kind, entry, what } => {
                write!(
                    f,
                    "The {kind} body is corrupt at entry {entry} ({what}): {FIX}."
                )
            }
        }
    }
}

impl std::error::Error for FieldIndexError {}

/// Reads a little-endian `u64` at `at`, or `None` past the end.
pub(crate) fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    Some(u64::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}

/// Reads a little-endian `u32` at `at`, or `None` past the end.
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    Some(u32::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}
