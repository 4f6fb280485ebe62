//! A TEXT field's postings in the live memtable: appended with the row (before the
//! key map, so a row is findable by text once its write is acknowledged), read
//! lock-free and cut at the reader's horizon like the TAG postings.
//!
//! Terms and raw words are interned to ids in lock-free maps; postings are
//! `id << 32 | slot` in lock-free skiplists (one range scan per term, slots
//! ascending); each slot's length and per-term positions sit in an append-only vector
//! indexed by slot.

use std::sync::atomic::{AtomicU32, Ordering};

use crossbeam_skiplist::SkipSet;
use roaring::RoaringBitmap;

use super::analyzer::{Analyzer, Word};
use super::Posting;

/// One slot's analysed text in the field.
#[derive(Debug, Default)]
struct SlotText {
    length: u32,
    /// `(term id, positions)`, sorted by id.
    terms: Box<[(u32, Box<[u32]>)]>,
    /// `(raw word id, positions)`, sorted by id.
    raws: Box<[(u32, Box<[u32]>)]>,
}

/// Interned strings: the writer hands out ids, readers look them up lock-free.
#[derive(Debug, Default)]
struct Interner {
    ids: papaya::HashMap<Box<str>, u32>,
    next: AtomicU32,
}

impl Interner {
    fn intern(&self, word: &str) -> u32 {
        let ids = self.ids.pin();
        if let Some(id) = ids.get(word) {
            return *id;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        ids.insert(Box::from(word), id);
        id
    }

    fn get(&self, word: &str) -> Option<u32> {
        self.ids.pin().get(word).copied()
    }
}

/// One TEXT field's postings.
#[derive(Debug)]
pub(crate) struct TextPostings {
    analyzer: Analyzer,
    terms: Interner,
    raws: Interner,
    postings: SkipSet<u64>,
    raw_postings: SkipSet<u64>,
    /// Indexed by slot: every slot gets an entry, empty when it has no text here.
    slots: boxcar::Vec<SlotText>,
}

fn slots_of(set: &SkipSet<u64>, id: u32, horizon: u32) -> impl Iterator<Item = u32> + '_ {
    let first = u64::from(id) << 32;
    set.range(first..(first | u64::from(horizon)))
        .map(|entry| *entry.value() as u32)
}

impl TextPostings {
    pub fn new(analyzer: Analyzer) -> TextPostings {
        TextPostings {
            analyzer,
            terms: Interner::default(),
            raws: Interner::default(),
            postings: SkipSet::new(),
            raw_postings: SkipSet::new(),
            slots: boxcar::Vec::new(),
        }
    }

    /// Indexes `text` (`None`: the row has no value here) for `slot`, the next slot.
    /// One writer at a time.
    ///
    /// # Panics
    ///
    /// When `slot` is not the next slot: a caller's bug, as for the memtable's rows.
    pub fn insert(&self, slot: u32, text: Option<&str>) {
        let words = text
            .map(|text| self.analyzer.analyze(text))
            .unwrap_or_default();
        let group = |interner: &Interner, postings: &SkipSet<u64>, pick: &dyn Fn(&Word) -> &str| {
            let mut grouped: Vec<(u32, Vec<u32>)> = Vec::new();
            for word in &words {
                let id = interner.intern(pick(word));
                match grouped.iter_mut().find(|(t, _)| *t == id) {
                    Some((_, positions)) => positions.push(word.position),
                    None => grouped.push((id, vec![word.position])),
                }
            }
            grouped.sort_unstable_by_key(|(id, _)| *id);
            for (id, _) in &grouped {
                postings.insert(u64::from(*id) << 32 | u64::from(slot));
            }
            grouped
                .into_iter()
                .map(|(id, positions)| (id, positions.into_boxed_slice()))
                .collect()
        };
        let terms = group(&self.terms, &self.postings, &|word| &word.stem);
        let raws = group(&self.raws, &self.raw_postings, &|word| &word.raw);
        let pushed = self.slots.push(SlotText {
            length: words.len() as u32,
            terms,
            raws,
        });
        assert_eq!(
            pushed, slot as usize,
            "text postings out of step with the rows"
        );
    }

    /// Slots below `horizon` holding `term`, with positions.
    pub fn postings(&self, term: &str, horizon: u32) -> Vec<Posting> {
        self.postings_in(&self.terms, &self.postings, term, horizon, |text| {
            &text.terms
        })
    }

    /// Slots below `horizon` holding the raw (unstemmed) `word`, with positions.
    pub fn raw_postings(&self, word: &str, horizon: u32) -> Vec<Posting> {
        self.postings_in(&self.raws, &self.raw_postings, word, horizon, |text| {
            &text.raws
        })
    }

    fn postings_in(
        &self,
        interner: &Interner,
        postings: &SkipSet<u64>,
        word: &str,
        horizon: u32,
        lists: impl Fn(&SlotText) -> &[(u32, Box<[u32]>)],
    ) -> Vec<Posting> {
        let Some(id) = interner.get(word) else {
            return Vec::new();
        };
        slots_of(postings, id, horizon)
            .filter_map(|slot| {
                let list = lists(self.slots.get(slot as usize)?);
                let at = list.binary_search_by_key(&id, |(t, _)| *t).ok()?;
                Some(Posting {
                    row: slot,
                    positions: list[at].1.to_vec(),
                })
            })
            .collect()
    }

    /// Slots below `horizon` holding a raw word, or with `stems` also a term, that
    /// `matches` accepts; terms are offered as `+term` (as `file::TextIndexView::
    /// rows_matching` does).
    pub fn rows_matching(
        &self,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
        horizon: u32,
    ) -> RoaringBitmap {
        let mut rows = RoaringBitmap::new();
        for (word, id) in self.raws.ids.pin().iter() {
            if matches(word) {
                rows.extend(slots_of(&self.raw_postings, *id, horizon));
            }
        }
        if stems {
            for (term, id) in self.terms.ids.pin().iter() {
                if matches(&format!("+{term}")) {
                    rows.extend(slots_of(&self.postings, *id, horizon));
                }
            }
        }
        rows
    }

    /// The kept-word count of `slot`'s text.
    pub fn length(&self, slot: u32) -> u32 {
        self.slots.get(slot as usize).map_or(0, |text| text.length)
    }

    /// Sum of the lengths of `slots`.
    pub fn total_length(&self, slots: &RoaringBitmap) -> u64 {
        slots.iter().map(|slot| u64::from(self.length(slot))).sum()
    }
}
