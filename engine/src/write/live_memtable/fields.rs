//! TAG and NUMERIC postings of the live memtable: append-only, read lock-free, each
//! read cut at the reader's horizon.
//!
//! Both are ordered lock-free skiplists of fixed-size integer keys whose order puts a
//! tag's (or a value's) slots together and ascending, so a read is one range scan:
//! - TAG: `tag id << 32 | slot`, with tag strings interned to ids in a lock-free map
//!   (an id per distinct normalised tag, never reused in this memtable);
//! - NUMERIC: `(order key, slot)`, where the order key is the segment index's
//!   ([`strata_index::numeric::key`]), so ranges match exactly what a segment answers
//!   (`-0.0 == 0.0`, NaN never stored, ±inf ordinary values).

use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};

use crossbeam_skiplist::SkipSet;
use roaring::RoaringBitmap;
use strata_index::numeric::{key, key_range};
use strata_index::tags::split_tags;

use crate::model::schema::TagOptions;

/// One TAG field's postings.
#[derive(Debug)]
pub(crate) struct TagPostings {
    options: TagOptions,
    ids: papaya::HashMap<Box<str>, u32>,
    /// The next id to hand out; only the writer touches it.
    next_id: AtomicU32,
    postings: SkipSet<u64>,
}

impl TagPostings {
    pub fn new(options: TagOptions) -> TagPostings {
        TagPostings {
            options,
            ids: papaya::HashMap::new(),
            next_id: AtomicU32::new(0),
            postings: SkipSet::new(),
        }
    }

    /// Indexes the raw value `raw` (split and normalised as the segment's index does)
    /// for `slot`. One writer at a time.
    pub fn insert(&self, slot: u32, raw: &str) {
        let ids = self.ids.pin();
        for tag in split_tags(raw, self.options.separator, self.options.case_sensitive) {
            let id = match ids.get(tag.as_str()) {
                Some(id) => *id,
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    ids.insert(tag.into_boxed_str(), id);
                    id
                }
            };
            self.postings.insert(u64::from(id) << 32 | u64::from(slot));
        }
    }

    /// Slots below `horizon` whose value holds `tag` (already normalised, as a
    /// query's tag is).
    pub fn rows(&self, tag: &str, horizon: u32) -> RoaringBitmap {
        let Some(id) = self.ids.pin().get(tag).copied() else {
            return RoaringBitmap::new();
        };
        let first = u64::from(id) << 32;
        let slots = self
            .postings
            .range(first..(first | u64::from(horizon)))
            .map(|entry| *entry.value() as u32);
        // Ascending by construction (same id, slots in the low bits).
        RoaringBitmap::from_sorted_iter(slots).unwrap_or_default()
    }
}

impl TagPostings {
    /// Slots below `horizon` whose value holds a tag `matches` accepts (a wildcard).
    pub fn rows_matching(&self, matches: &dyn Fn(&str) -> bool, horizon: u32) -> RoaringBitmap {
        let ids = self.ids.pin();
        let mut rows = RoaringBitmap::new();
        for (tag, _) in ids.iter().filter(|(tag, _)| matches(tag)) {
            rows |= self.rows(tag, horizon);
        }
        rows
    }
}

/// One NUMERIC field's entries.
#[derive(Debug, Default)]
pub(crate) struct NumericPostings {
    entries: SkipSet<(u64, u32)>,
}

impl NumericPostings {
    /// Indexes `value` for `slot`; NaN is not indexed (it matches no range), as in
    /// the segment's index. One writer at a time.
    pub fn insert(&self, slot: u32, value: f64) {
        if !value.is_nan() {
            self.entries.insert((key(value), slot));
        }
    }

    /// Slots below `horizon` whose value lies within the bounds.
    pub fn rows(&self, low: Bound<f64>, high: Bound<f64>, horizon: u32) -> RoaringBitmap {
        let Some((lo, hi)) = key_range(low, high) else {
            return RoaringBitmap::new();
        };
        let mut slots: Vec<u32> = self
            .entries
            .range((lo, 0)..=(hi, u32::MAX))
            .map(|entry| entry.value().1)
            .filter(|slot| *slot < horizon)
            .collect();
        slots.sort_unstable();
        RoaringBitmap::from_sorted_iter(slots).unwrap_or_default()
    }
}
