//! TAG field index: tag → rows, in memory ([`TagIndex`]) and over mapped
//! segment bytes ([`TagIndexView`]).
//!
//! Normalisation (separator, trimming, case folding) is the caller's job, done
//! the same way for documents and queries through [`split_tags`]; this module
//! compares tags as exact bytes.
//!
//! # Body layout, version 1
//!
//! All integers are little-endian. The engine wraps the body in its sealed-file
//! footer (CRC), so the body carries no checksum of its own.
//!
//! ```text
//! header (32 bytes)
//!   [0..4)    magic        b"STAG"
//!   [4..8)    u32 version  1
//!   [8..16)   u64 count    number of tags
//!   [16..24)  u64 names_len    bytes of the names section
//!   [24..32)  u64 bitmaps_len  bytes of the bitmaps section
//! table (count × 32 bytes), one entry per tag, strictly ascending by tag bytes
//!   u64 name_offset   from the start of the names section
//!   u64 name_len
//!   u64 bitmap_offset from the start of the bitmaps section
//!   u64 bitmap_len
//! names (names_len bytes)     the UTF-8 tags, concatenated in table order
//! bitmaps (bitmaps_len bytes) each tag's rows as a non-empty RoaringBitmap in the
//!                             portable format (run-optimised), in table order
//! ```
//!
//! The body length is exactly `32 + 32 × count + names_len + bitmaps_len`, so
//! [`TagIndexView::open`] checks it in O(1). A lookup is a binary search over the
//! fixed-size table that touches O(log count) names and decodes one bitmap.
//! Every row in a bitmap is below the segment's row count.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::field_error::{read_u64, FieldIndexError};

/// First four bytes of a tag index body.
pub const TAG_MAGIC: [u8; 4] = *b"STAG";
/// The body version this code writes and reads.
pub const TAG_FORMAT_VERSION: u32 = 1;
/// Bytes of the body header.
pub const TAG_HEADER_LEN: usize = 32;
/// Bytes of one table entry.
pub const TAG_ENTRY_LEN: usize = 32;

const KIND: &str = "tag index";

/// Splits a raw TAG field value (or a query's tag list) into normalised tags:
/// split on `separator`, trim Unicode whitespace, drop empty pieces, lowercase
/// (Unicode `to_lowercase`) unless `case_sensitive`, and remove duplicates.
///
/// The result is sorted by bytes: order carries no meaning for a tag set, and a
/// sort makes deduplication O(n log n) for documents with many tags.
pub fn split_tags(raw: &str, separator: char, case_sensitive: bool) -> Vec<String> {
    let mut tags: Vec<String> = raw
        .split(separator)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if case_sensitive {
                t.to_owned()
            } else {
                t.to_lowercase()
            }
        })
        .collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// The mutable TAG index of a memtable: each tag maps to the rows that carry it.
///
/// A tag whose last row is removed disappears, so [`TagIndex::len`] counts only
/// tags that match something.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TagIndex {
    // BTreeMap: iteration in byte order is exactly the order the body needs.
    tags: BTreeMap<String, RoaringBitmap>,
}

impl TagIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `row` to each of `tags`.
    pub fn insert<I, S>(&mut self, row: u32, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for tag in tags {
            let tag = tag.as_ref();
            // Look up first so an existing tag costs no allocation.
            match self.tags.get_mut(tag) {
                Some(rows) => {
                    rows.insert(row);
                }
                None => {
                    self.tags
                        .insert(tag.to_owned(), RoaringBitmap::from_iter([row]));
                }
            }
        }
    }

    /// Removes `row` from each of `tags` (the tags it was inserted with).
    pub fn remove<I, S>(&mut self, row: u32, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for tag in tags {
            let tag = tag.as_ref();
            if let Some(rows) = self.tags.get_mut(tag) {
                rows.remove(row);
                if rows.is_empty() {
                    self.tags.remove(tag);
                }
            }
        }
    }

    /// Removes `row` from every tag. O(number of tags): prefer
    /// [`TagIndex::remove`] when the row's tags are known.
    pub fn remove_row(&mut self, row: u32) {
        self.tags.retain(|_, rows| {
            rows.remove(row);
            !rows.is_empty()
        });
    }

    /// The rows carrying `tag`, or `None` when no row does.
    pub fn rows(&self, tag: &str) -> Option<&RoaringBitmap> {
        self.tags.get(tag)
    }

    /// The distinct tags, in byte order.
    pub fn tags(&self) -> impl Iterator<Item = &str> + '_ {
        self.tags.keys().map(String::as_str)
    }

    /// `(tag, rows)` pairs, in byte order of the tags.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RoaringBitmap)> + '_ {
        self.tags.iter().map(|(t, r)| (t.as_str(), r))
    }

    /// Number of distinct tags.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when no row carries any tag.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Forgets every tag.
    pub fn clear(&mut self) {
        self.tags.clear();
    }

    /// The body bytes (layout in the module docs).
    pub fn write_body(&self) -> Vec<u8> {
        let count = self.tags.len();
        let mut table = Vec::with_capacity(count * TAG_ENTRY_LEN);
        let mut names = Vec::new();
        let mut bitmaps = Vec::new();
        for (tag, rows) in &self.tags {
            // Run containers shrink the dense bitmaps that tags with many rows have.
            let mut rows = rows.clone();
            rows.optimize();
            let bitmap_offset = bitmaps.len();
            rows.serialize_into(&mut bitmaps)
                .expect("writing to a Vec cannot fail");
            for field in [
                names.len(),
                tag.len(),
                bitmap_offset,
                bitmaps.len() - bitmap_offset,
            ] {
                table.extend_from_slice(&(field as u64).to_le_bytes());
            }
            names.extend_from_slice(tag.as_bytes());
        }
        let mut body =
            Vec::with_capacity(TAG_HEADER_LEN + table.len() + names.len() + bitmaps.len());
        body.extend_from_slice(&TAG_MAGIC);
        body.extend_from_slice(&TAG_FORMAT_VERSION.to_le_bytes());
        body.extend_from_slice(&(count as u64).to_le_bytes());
        body.extend_from_slice(&(names.len() as u64).to_le_bytes());
        body.extend_from_slice(&(bitmaps.len() as u64).to_le_bytes());
        body.extend_from_slice(&table);
        body.extend_from_slice(&names);
        body.extend_from_slice(&bitmaps);
        body
    }
}

/// A read-only TAG index over a body's bytes (from a map or a copy; any
/// alignment). Opening checks only the header; every query bounds-checks what
/// it reads, and [`TagIndexView::verify`] checks everything.
#[derive(Clone, Copy, Debug)]
pub struct TagIndexView<'a> {
    table: &'a [u8],
    names: &'a [u8],
    bitmaps: &'a [u8],
    count: usize,
}

/// One table entry's raw fields.
struct RawEntry {
    name_offset: u64,
    name_len: u64,
    bitmap_offset: u64,
    bitmap_len: u64,
}

fn corrupt(entry: usize, what: &'static str) -> FieldIndexError {
    FieldIndexError::Corrupt {
        kind: KIND,
        entry: entry as u64,
        what,
    }
}

/// `bytes[offset..offset + len]`, or `None` when it does not fit.
fn section(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// Decodes a bitmap that must fill `bytes` exactly; a checked decode, so damaged
/// bytes become an error rather than a malformed bitmap.
fn decode_bitmap(mut bytes: &[u8]) -> Option<RoaringBitmap> {
    let rows = RoaringBitmap::deserialize_from(&mut bytes).ok()?;
    bytes.is_empty().then_some(rows)
}

impl<'a> TagIndexView<'a> {
    /// Checks the header and the body length against it, in O(1).
    pub fn open(body: &'a [u8]) -> Result<Self, FieldIndexError> {
        let actual = body.len() as u64;
        if body.len() < TAG_HEADER_LEN {
            return Err(FieldIndexError::TooShort {
                kind: KIND,
                len: actual,
                need: TAG_HEADER_LEN as u64,
            });
        }
        if body[..4] != TAG_MAGIC {
            return Err(FieldIndexError::BadMagic { kind: KIND });
        }
        let version = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
        if version != TAG_FORMAT_VERSION {
            return Err(FieldIndexError::UnsupportedVersion {
                kind: KIND,
                version,
            });
        }
        let header = |at| read_u64(body, at).unwrap_or(u64::MAX);
        let (count, names_len, bitmaps_len) = (header(8), header(16), header(24));
        let expected = count
            .checked_mul(TAG_ENTRY_LEN as u64)
            .and_then(|t| t.checked_add(TAG_HEADER_LEN as u64))
            .and_then(|t| t.checked_add(names_len))
            .and_then(|t| t.checked_add(bitmaps_len));
        let mismatch = FieldIndexError::LengthMismatch {
            kind: KIND,
            expected: expected.unwrap_or(u64::MAX),
            actual,
        };
        if expected != Some(actual) {
            return Err(mismatch);
        }
        // The sum equals the length, so every part fits; `section` still checks.
        let table_len = count * TAG_ENTRY_LEN as u64;
        let table = section(body, TAG_HEADER_LEN as u64, table_len);
        let names = section(body, TAG_HEADER_LEN as u64 + table_len, names_len);
        let bitmaps = section(body, actual - bitmaps_len, bitmaps_len);
        match (table, names, bitmaps, usize::try_from(count)) {
            (Some(table), Some(names), Some(bitmaps), Ok(count)) => Ok(Self {
                table,
                names,
                bitmaps,
                count,
            }),
            _ => Err(mismatch),
        }
    }

    /// Number of distinct tags.
    pub fn tag_count(&self) -> usize {
        self.count
    }

    fn raw_entry(&self, i: usize) -> Result<RawEntry, FieldIndexError> {
        let at = i
            .checked_mul(TAG_ENTRY_LEN)
            .ok_or_else(|| corrupt(i, "entry index overflows"))?;
        let field = |k: usize| {
            read_u64(self.table, at + 8 * k).ok_or_else(|| corrupt(i, "entry out of bounds"))
        };
        Ok(RawEntry {
            name_offset: field(0)?,
            name_len: field(1)?,
            bitmap_offset: field(2)?,
            bitmap_len: field(3)?,
        })
    }

    fn name_bytes(&self, i: usize, e: &RawEntry) -> Result<&'a [u8], FieldIndexError> {
        section(self.names, e.name_offset, e.name_len)
            .ok_or_else(|| corrupt(i, "name out of bounds"))
    }

    fn bitmap(&self, i: usize, e: &RawEntry) -> Result<RoaringBitmap, FieldIndexError> {
        let bytes = section(self.bitmaps, e.bitmap_offset, e.bitmap_len)
            .ok_or_else(|| corrupt(i, "bitmap out of bounds"))?;
        decode_bitmap(bytes).ok_or_else(|| corrupt(i, "bitmap does not decode"))
    }

    /// The rows carrying `tag` (an empty bitmap when none does), found by a
    /// binary search over the table. Rows are not checked against the segment's
    /// row count here; [`TagIndexView::verify`] does that.
    pub fn rows(&self, tag: &str) -> Result<RoaringBitmap, FieldIndexError> {
        let key = tag.as_bytes();
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let entry = self.raw_entry(mid)?;
            match self.name_bytes(mid, &entry)?.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.bitmap(mid, &entry),
            }
        }
        Ok(RoaringBitmap::new())
    }

    /// The tag of entry `i`, checked for bounds and UTF-8.
    fn tag(&self, i: usize) -> Result<&'a str, FieldIndexError> {
        let entry = self.raw_entry(i)?;
        std::str::from_utf8(self.name_bytes(i, &entry)?)
            .map_err(|_| corrupt(i, "name is not UTF-8"))
    }

    /// The tags in table (byte) order, without decoding any bitmap.
    pub fn tags(&self) -> impl Iterator<Item = Result<&'a str, FieldIndexError>> + 'a {
        let view = *self;
        (0..self.count).map(move |i| view.tag(i))
    }

    /// `(tag, rows)` pairs in table order, for compaction and checks.
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = Result<(&'a str, RoaringBitmap), FieldIndexError>> + 'a {
        let view = *self;
        (0..self.count).map(move |i| {
            let tag = view.tag(i)?;
            Ok((tag, view.bitmap(i, &view.raw_entry(i)?)?))
        })
    }

    /// Full structural check, O(body): names are UTF-8, strictly ascending and
    /// packed in table order; bitmaps decode exactly, are packed in table order,
    /// are non-empty and hold only rows below `row_count`.
    pub fn verify(&self, row_count: u32) -> Result<(), FieldIndexError> {
        let mut prev: Option<&[u8]> = None;
        let (mut names_end, mut bitmaps_end) = (0u64, 0u64);
        for i in 0..self.count {
            let e = self.raw_entry(i)?;
            // Packing makes the sections exactly the union of the entries, so no
            // bytes hide between them and no two entries share bytes.
            if e.name_offset != names_end {
                return Err(corrupt(i, "names are not packed in table order"));
            }
            if e.bitmap_offset != bitmaps_end {
                return Err(corrupt(i, "bitmaps are not packed in table order"));
            }
            let name = self.name_bytes(i, &e)?;
            std::str::from_utf8(name).map_err(|_| corrupt(i, "name is not UTF-8"))?;
            if prev.is_some_and(|p| p >= name) {
                return Err(corrupt(i, "names are not strictly ascending"));
            }
            prev = Some(name);
            let rows = self.bitmap(i, &e)?;
            match rows.max() {
                None => return Err(corrupt(i, "bitmap is empty")),
                Some(max) if max >= row_count => {
                    return Err(corrupt(i, "row is past the segment's row count"))
                }
                Some(_) => {}
            }
            names_end = e.name_offset + e.name_len;
            bitmaps_end = e.bitmap_offset + e.bitmap_len;
        }
        if names_end != self.names.len() as u64 {
            return Err(corrupt(self.count, "names section has trailing bytes"));
        }
        if bitmaps_end != self.bitmaps.len() as u64 {
            return Err(corrupt(self.count, "bitmaps section has trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
