//! NUMERIC field index: value → rows, answering range filters such as
//! `@price:[10 (20]`, in memory ([`NumericIndex`]) and over mapped segment
//! bytes ([`NumericIndexView`]).
//!
//! Semantics, shared by both forms:
//! - a row has at most one value; rows without one never match any range;
//! - NaN is never stored: [`NumericIndex::insert`] with NaN leaves the row
//!   without a value (and returns `false`), and a NaN bound matches nothing;
//! - `-0.0 == 0.0`: both are stored as `0.0`, so `[0 0]` matches either and
//!   `(0 +inf]` matches neither;
//! - ±infinity are ordinary values; an unbounded side and an infinite bound
//!   differ only in that `(-inf` excludes rows whose value is `-inf`;
//! - a range whose low end is above its high end is empty.
//!
//! # Body layout, version 1
//!
//! All integers and floats are little-endian; the engine's sealed-file footer
//! carries the checksum.
//!
//! ```text
//! [0..4)                 magic      b"SNUM"
//! [4..8)                 u32 version 1
//! [8..16)                u64 count
//! [16..16+8c)            count × f64 values, ascending (no NaN; -0.0 written as 0.0)
//! [16+8c..16+12c)        count × u32 rows, row[i] has value[i]; ascending among equal values
//! ```
//!
//! Values and rows are separate arrays so a binary search touches only values;
//! the values start at offset 16, so they are 8-byte aligned whenever the body
//! is. Each row appears at most once and is below the segment's row count. The
//! body length is exactly `16 + 12 × count`, checked in O(1) at open.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use roaring::RoaringBitmap;

use crate::field_error::{read_u32, read_u64, FieldIndexError};

/// First four bytes of a numeric index body.
pub const NUMERIC_MAGIC: [u8; 4] = *b"SNUM";
/// The body version this code writes and reads.
pub const NUMERIC_FORMAT_VERSION: u32 = 1;
/// Bytes of the body header.
pub const NUMERIC_HEADER_LEN: usize = 16;

const KIND: &str = "numeric index";
const SIGN: u64 = 1 << 63;

/// Maps a value to a `u64` whose unsigned order is the numeric order, with
/// `-0.0` and `0.0` mapped to the same key. Integer keys make equality, the
/// "just above" of an exclusive bound and range ends exact, with no float
/// comparison subtleties. (NaN gets a key too, outside ±inf; callers keep it out.)
/// Public so that other in-memory forms (the engine's live memtable) order and
/// range values exactly as this index does.
pub fn key(value: f64) -> u64 {
    let value = if value == 0.0 { 0.0 } else { value };
    let bits = value.to_bits();
    if bits & SIGN != 0 {
        !bits
    } else {
        bits | SIGN
    }
}

/// The inverse of [`key`].
fn value_of(key: u64) -> f64 {
    if key & SIGN != 0 {
        f64::from_bits(key & !SIGN)
    } else {
        f64::from_bits(!key)
    }
}

/// The inclusive key interval a pair of bounds selects, or `None` when it is
/// empty (including any NaN bound).
pub fn key_range(low: Bound<f64>, high: Bound<f64>) -> Option<(u64, u64)> {
    let lo = match low {
        Bound::Unbounded => 0,
        Bound::Included(v) if !v.is_nan() => key(v),
        Bound::Excluded(v) if !v.is_nan() => key(v).checked_add(1)?,
        _ => return None,
    };
    let hi = match high {
        Bound::Unbounded => u64::MAX,
        Bound::Included(v) if !v.is_nan() => key(v),
        Bound::Excluded(v) if !v.is_nan() => key(v).checked_sub(1)?,
        _ => return None,
    };
    (lo <= hi).then_some((lo, hi))
}

/// Builds a bitmap from rows in any order.
fn bitmap_of(mut rows: Vec<u32>) -> RoaringBitmap {
    rows.sort_unstable();
    // Damaged view bytes may repeat a row; the bitmap wants it once.
    rows.dedup();
    RoaringBitmap::from_sorted_iter(rows).unwrap_or_default()
}

/// The mutable NUMERIC index of a memtable.
///
/// A B-tree of `(key, row)` gives O(log n) updates and O(log n + matches)
/// ranges; the row → value map lets [`NumericIndex::remove`] find the entry
/// without the caller remembering the old value.
#[derive(Clone, Debug, Default)]
pub struct NumericIndex {
    by_value: BTreeSet<(u64, u32)>,
    by_row: HashMap<u32, u64>,
}

impl NumericIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `row`'s value, replacing any previous one. With NaN the row is left
    /// without a value and the result is `false`.
    pub fn insert(&mut self, row: u32, value: f64) -> bool {
        self.remove(row);
        if value.is_nan() {
            return false;
        }
        let k = key(value);
        self.by_value.insert((k, row));
        self.by_row.insert(row, k);
        true
    }

    /// Removes `row`'s value, returning it (`-0.0` comes back as `0.0`).
    pub fn remove(&mut self, row: u32) -> Option<f64> {
        let k = self.by_row.remove(&row)?;
        self.by_value.remove(&(k, row));
        Some(value_of(k))
    }

    /// `row`'s value, if it has one.
    pub fn get(&self, row: u32) -> Option<f64> {
        self.by_row.get(&row).copied().map(value_of)
    }

    /// Rows whose value lies within the bounds.
    pub fn range(&self, low: Bound<f64>, high: Bound<f64>) -> RoaringBitmap {
        let Some((lo, hi)) = key_range(low, high) else {
            return RoaringBitmap::new();
        };
        // lo <= hi, so the B-tree range is well-formed (it panics otherwise).
        let rows = self
            .by_value
            .range((lo, 0)..=(hi, u32::MAX))
            .map(|&(_, row)| row)
            .collect();
        bitmap_of(rows)
    }

    /// `(value, row)` pairs in ascending value, then row, order.
    pub fn iter(&self) -> impl Iterator<Item = (f64, u32)> + '_ {
        self.by_value.iter().map(|&(k, row)| (value_of(k), row))
    }

    /// Number of rows with a value.
    pub fn len(&self) -> usize {
        self.by_row.len()
    }

    /// True when no row has a value.
    pub fn is_empty(&self) -> bool {
        self.by_row.is_empty()
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.by_value.clear();
        self.by_row.clear();
    }

    /// The body bytes (layout in the module docs).
    pub fn write_body(&self) -> Vec<u8> {
        let count = self.by_value.len();
        let mut body = Vec::with_capacity(NUMERIC_HEADER_LEN + 12 * count);
        body.extend_from_slice(&NUMERIC_MAGIC);
        body.extend_from_slice(&NUMERIC_FORMAT_VERSION.to_le_bytes());
        body.extend_from_slice(&(count as u64).to_le_bytes());
        for (value, _) in self.iter() {
            body.extend_from_slice(&value.to_le_bytes());
        }
        for (_, row) in self.iter() {
            body.extend_from_slice(&row.to_le_bytes());
        }
        body
    }
}

/// A read-only NUMERIC index over a body's bytes (from a map or a copy; any
/// alignment). Opening checks only the header and length; [`verify`] checks
/// the order and the rows.
///
/// [`verify`]: NumericIndexView::verify
#[derive(Clone, Copy, Debug)]
pub struct NumericIndexView<'a> {
    values: &'a [u8],
    rows: &'a [u8],
    count: usize,
}

fn corrupt(entry: usize, what: &'static str) -> FieldIndexError {
    FieldIndexError::Corrupt {
        kind: KIND,
        entry: entry as u64,
        what,
    }
}

impl<'a> NumericIndexView<'a> {
    /// Checks the header and the body length against it, in O(1).
    pub fn open(body: &'a [u8]) -> Result<Self, FieldIndexError> {
        let actual = body.len() as u64;
        if body.len() < NUMERIC_HEADER_LEN {
            return Err(FieldIndexError::TooShort {
                kind: KIND,
                len: actual,
                need: NUMERIC_HEADER_LEN as u64,
            });
        }
        if body[..4] != NUMERIC_MAGIC {
            return Err(FieldIndexError::BadMagic { kind: KIND });
        }
        let version = read_u32(body, 4).unwrap_or(0);
        if version != NUMERIC_FORMAT_VERSION {
            return Err(FieldIndexError::UnsupportedVersion {
                kind: KIND,
                version,
            });
        }
        let count = read_u64(body, 8).unwrap_or(u64::MAX);
        let expected = count
            .checked_mul(12)
            .and_then(|n| n.checked_add(NUMERIC_HEADER_LEN as u64));
        if expected != Some(actual) {
            return Err(FieldIndexError::LengthMismatch {
                kind: KIND,
                expected: expected.unwrap_or(u64::MAX),
                actual,
            });
        }
        // The length matched, so count fits in usize and the split is in range.
        let count = (actual as usize - NUMERIC_HEADER_LEN) / 12;
        let (values, rows) = body[NUMERIC_HEADER_LEN..].split_at(8 * count);
        Ok(Self {
            values,
            rows,
            count,
        })
    }

    /// Number of rows with a value.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no row has a value.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Value `i`. In range for every `i < count` by construction; NaN otherwise,
    /// which callers treat as damage rather than a reason to panic.
    fn value(&self, i: usize) -> f64 {
        i.checked_mul(8)
            .and_then(|at| read_u64(self.values, at))
            .map_or(f64::NAN, f64::from_bits)
    }

    fn row(&self, i: usize) -> Result<u32, FieldIndexError> {
        i.checked_mul(4)
            .and_then(|at| read_u32(self.rows, at))
            .ok_or_else(|| corrupt(i, "row out of bounds"))
    }

    /// The first position whose key is not below `k` (values ascending).
    fn lower_bound(&self, k: u64) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(self.value(mid)) < k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Rows whose value lies within the bounds: two binary searches over the
    /// values, then one read per match.
    pub fn range(
        &self,
        low: Bound<f64>,
        high: Bound<f64>,
    ) -> Result<RoaringBitmap, FieldIndexError> {
        let Some((lo, hi)) = key_range(low, high) else {
            return Ok(RoaringBitmap::new());
        };
        let start = self.lower_bound(lo);
        let end = match hi.checked_add(1) {
            Some(above) => self.lower_bound(above),
            None => self.count,
        };
        // Unsorted (damaged) values can put end before start: nothing matches.
        let rows = (start..end.max(start))
            .map(|i| self.row(i))
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(bitmap_of(rows))
    }

    /// `(value, row)` pairs in body order, for compaction and checks.
    pub fn iter(&self) -> impl Iterator<Item = Result<(f64, u32), FieldIndexError>> + 'a {
        let view = *self;
        (0..self.count).map(move |i| Ok((view.value(i), view.row(i)?)))
    }

    /// Full structural check, O(n): no NaN, values ascending (with `-0.0 ==
    /// 0.0`), rows ascending among equal values, each row once and below
    /// `row_count`.
    pub fn verify(&self, row_count: u32) -> Result<(), FieldIndexError> {
        let mut seen = RoaringBitmap::new();
        let mut prev: Option<(u64, u32)> = None;
        for i in 0..self.count {
            let value = self.value(i);
            if value.is_nan() {
                return Err(corrupt(i, "value is NaN"));
            }
            let row = self.row(i)?;
            let entry = (key(value), row);
            if prev.is_some_and(|p| p >= entry) {
                return Err(corrupt(i, "entries are not ascending by value, then row"));
            }
            prev = Some(entry);
            if row >= row_count {
                return Err(corrupt(i, "row is past the segment's row count"));
            }
            if !seen.insert(row) {
                return Err(corrupt(i, "row has more than one value"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
