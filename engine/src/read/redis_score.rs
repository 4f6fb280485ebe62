//! RediSearch's scorers (`SCORER TFIDF`, `TFIDF.DOCNORM`, `BM25`, `BM25STD`, `DISMAX`,
//! `DOCSCORE`, `HAMMING`), computed as Redis Stack 7.4 (RediSearch 2.10) computes them, so
//! `WITHSCORES` gives Redis's numbers and the order they imply.
//!
//! RediSearch scores a document from the tree of index results its query iterators
//! produced for it, with statistics of its own index layout. Strata rebuilds both:
//!
//! - A document's forward index comes from its stored text, analysed again: every
//!   TEXT field in schema order, one entry per word (its frequency summed over all
//!   fields, each occurrence counting the field's `WEIGHT`, at least 1) and, for a word
//!   of 4 bytes or more whose stem differs, a `+stem` entry. The largest frequency
//!   (TFIDF's norm) also counts 1 per vector the document holds, as RediSearch's
//!   vector indexer does; the document length (TFIDF.DOCNORM's norm, BM25STD's length)
//!   counts the words. Positions run from 1 across the fields.
//! - A query word is the union of the word, `+stem` and the stem, each with its own
//!   document frequency over all TEXT fields; a tag value is a term of its own; a
//!   numeric range, `*` and a negation are terms without a frequency.
//! - TFIDF's idf is `logb(1 + (N + 1) / df)` (RediSearch's, an integer); BM25STD's is
//!   `ln(1 + (N - df + 0.5) / (df + 0.5))` in single precision; BM25 (RediSearch's
//!   legacy one) uses b = 0.5, k1 = 1.2 and the average length alone.
//! - TFIDF and BM25 divide by RediSearch's "slop", the minimal distance between the
//!   positions of an intersection's children, with its integer arithmetic.
//!
//! Statistics are over the version's live rows, like the other text scores. Redis
//! counts deleted documents in a term's frequency until its garbage collector runs;
//! Strata counts live rows only.

use std::cell::RefCell;
use std::collections::HashMap;

use roaring::RoaringBitmap;
use strata_query::Scorer;

use crate::model::doc::{Doc, Value};
use crate::model::error::Result;
use crate::model::schema::{FieldKind, Schema};
use crate::read::filter::{Compiled, RowSource};
use crate::read::text::{within_distance, TextMatch, TextPredicate};
use crate::text::Analyzer;

/// RediSearch's `STEM_TOKEN_FACTOR`: a stem entry counts a fifth of the word.
const STEM_TOKEN_FACTOR: f32 = 0.2;
/// RediSearch's default `MINSTEMLEN`: shorter words get no stem entry.
const MIN_STEM_LENGTH: usize = 4;
/// Offset iterators' end, `RS_OFFSETVECTOR_EOF`.
const EOF: u32 = u32::MAX;

/// A term of RediSearch's inverted indexes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum IndexTerm {
    /// A word as written (lowercased), or `+stem` for a stem entry.
    Text(String),
    /// A tag value of the TAG field at a position.
    Tag(u16, String),
}

/// Collection-wide statistics: the live document count, the total document length,
/// and document frequencies, counted on first use.
pub(crate) struct Collection<'a> {
    sources: Vec<(&'a dyn RowSource, RoaringBitmap)>,
    schema: &'a Schema,
    analyzers: Vec<Option<Analyzer>>,
    documents: u64,
    total_length: u64,
    frequencies: RefCell<HashMap<IndexTerm, u64>>,
}

/// A TEXT field's weight as RediSearch counts an occurrence: `(uint32_t)` of a float,
/// at least 1.
fn occurrence(weight: f32) -> u32 {
    (weight as u32).max(1)
}

impl<'a> Collection<'a> {
    /// Statistics over `sources`, each with its live rows.
    pub fn new(
        schema: &'a Schema,
        sources: Vec<(&'a dyn RowSource, RoaringBitmap)>,
    ) -> Result<Collection<'a>> {
        let analyzers: Vec<Option<Analyzer>> = schema
            .fields()
            .iter()
            .map(|field| match &field.kind {
                FieldKind::Text(options) => Some(Analyzer::new(options)),
                _ => None,
            })
            .collect();
        let mut documents = 0;
        let mut total_length = 0;
        for (source, live) in &sources {
            documents += live.len();
            for (position, field) in schema.fields().iter().enumerate() {
                if let FieldKind::Text(options) = &field.kind {
                    total_length += u64::from(occurrence(options.weight as f32))
                        * source.text_total_length(position as u16, live)?;
                }
            }
        }
        Ok(Collection {
            sources,
            schema,
            analyzers,
            documents,
            total_length,
            frequencies: RefCell::new(HashMap::new()),
        })
    }

    fn text_positions(&self) -> impl Iterator<Item = (u16, &Analyzer, bool)> + '_ {
        self.schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(
                |(position, field)| match (&field.kind, &self.analyzers[position]) {
                    (FieldKind::Text(options), Some(analyzer)) => Some((
                        position as u16,
                        analyzer,
                        options.stemming_language().is_some(),
                    )),
                    _ => None,
                },
            )
    }

    /// How many live documents hold `term` (RediSearch's inverted index `numDocs`).
    fn frequency(&self, term: &IndexTerm) -> Result<u64> {
        if let Some(known) = self.frequencies.borrow().get(term) {
            return Ok(*known);
        }
        let mut count = 0;
        for (source, live) in &self.sources {
            let mut rows = RoaringBitmap::new();
            match term {
                IndexTerm::Tag(position, value) => rows |= source.tag_rows(*position, value)?,
                IndexTerm::Text(word) => match word.strip_prefix('+') {
                    None => {
                        for (position, ..) in self.text_positions() {
                            rows.extend(
                                source
                                    .text_raw_postings(position, word)?
                                    .iter()
                                    .map(|posting| posting.row),
                            );
                        }
                    }
                    Some(stem) => {
                        for (position, analyzer, stems) in self.text_positions() {
                            if stems {
                                let has_stem = |raw: &str| {
                                    raw.len() >= MIN_STEM_LENGTH
                                        && raw != stem
                                        && analyzer.query_term(raw).as_deref() == Some(stem)
                                };
                                rows |= source.text_rows_matching(position, &has_stem, false)?;
                            }
                        }
                    }
                },
            }
            count += (rows & live).len();
        }
        self.frequencies.borrow_mut().insert(term.clone(), count);
        Ok(count)
    }

    /// TFIDF's idf: RediSearch's `logb(1 + totalDocs / termDocs)`, where its document
    /// table counts one more than the documents.
    fn idf(&self, term: &IndexTerm) -> Result<f64> {
        let frequency = self.frequency(term)?.max(1) as f64;
        Ok((1.0 + (self.documents + 1) as f64 / frequency)
            .log2()
            .floor())
    }

    /// BM25STD's idf, in RediSearch's single precision.
    fn bm25_idf(&self, term: &IndexTerm) -> Result<f64> {
        let frequency = self.frequency(term)?;
        let rest = self.documents.wrapping_sub(frequency) as f32;
        let ratio = (rest + 0.5) / (frequency as f32 + 0.5);
        Ok(f64::from(1.0f32 + ratio).ln())
    }

    fn average_length(&self) -> f64 {
        if self.documents == 0 {
            0.0
        } else {
            self.total_length as f64 / self.documents as f64
        }
    }

    /// The fields [`Forward::of`] needs from a stored document.
    pub fn projection(&self) -> Vec<usize> {
        self.schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, field)| matches!(field.kind, FieldKind::Text(_) | FieldKind::Vector(_)))
            .map(|(position, _)| position)
            .collect()
    }

    /// Per-source row sets of the query's non-text leaves, computed once per source.
    pub fn leaves(
        &self,
        filter: &Compiled,
        source: &dyn RowSource,
        live: &RoaringBitmap,
    ) -> Result<Leaves> {
        let mut leaves = Leaves::default();
        collect_leaves(filter, source, live, &mut leaves)?;
        Ok(leaves)
    }

    /// The score `scorer` gives the document `doc` (row `row` of the source `leaves`
    /// were computed on), which the query `filter` matched.
    pub fn score(
        &self,
        scorer: Scorer,
        filter: &Compiled,
        leaves: &Leaves,
        row: u32,
        doc: &Doc,
    ) -> Result<f64> {
        let forward = Forward::of(self, doc);
        let Some(result) = self.result(filter, leaves, row, &forward)? else {
            return Ok(0.0);
        };
        let average = self.average_length();
        Ok(match scorer {
            Scorer::Tfidf | Scorer::TfidfDocnorm => {
                let norm = if scorer == Scorer::Tfidf {
                    forward.max_frequency
                } else {
                    forward.length
                };
                if norm == 0 {
                    return Ok(0.0);
                }
                tfidf(&result) / f64::from(norm) / f64::from(slop(&result))
            }
            Scorer::Bm25 => bm25(&result, average) / f64::from(slop(&result)),
            Scorer::Bm25Std => bm25_std(&result, forward.length, average),
            Scorer::Dismax => dismax(&result),
            Scorer::Docscore | Scorer::Bm25StdTantivy => 1.0,
            Scorer::Hamming => 0.0,
        })
    }

    /// RediSearch's index result for the document, `None` where the node does not
    /// match it.
    fn result(
        &self,
        node: &Compiled,
        leaves: &Leaves,
        row: u32,
        forward: &Forward,
    ) -> Result<Option<Res>> {
        Ok(match node {
            Compiled::All => Some(Res::Virtual { frequency: 1.0 }),
            Compiled::StopWords => None,
            Compiled::Not(_) => Some(Res::Virtual { frequency: 0.0 }),
            Compiled::Tag { position, tags } => {
                let mut children = Vec::new();
                for tag in tags {
                    let matched = leaves
                        .tags
                        .get(&(*position, tag.clone()))
                        .is_some_and(|rows| rows.contains(row));
                    if matched {
                        let term = IndexTerm::Tag(*position, tag.clone());
                        children.push(Res::Term {
                            frequency: 1.0,
                            idf: self.idf(&term)?,
                            bm25_idf: self.bm25_idf(&term)?,
                            offsets: Vec::new(),
                        });
                    }
                }
                match (tags.len(), children.len()) {
                    (_, 0) => None,
                    (1, _) => children.pop(),
                    _ => Some(Res::union(children)),
                }
            }
            Compiled::Range { .. } | Compiled::TagMatch { .. } | Compiled::VectorRange { .. } => {
                let key = node as *const Compiled as usize;
                if !leaves
                    .others
                    .get(&key)
                    .is_some_and(|rows| rows.contains(row))
                {
                    return Ok(None);
                }
                // RediSearch reads a range as a union of numeric entries, which
                // counts as an aggregate with (no) offsets in the slop.
                Some(Res::Aggregate {
                    union: true,
                    children: vec![Res::Numeric],
                    offsets: true,
                })
            }
            Compiled::Text(predicate) => self.text_result(predicate, forward)?,
            Compiled::And(children) => {
                let mut results = Vec::new();
                for child in children {
                    if matches!(child, Compiled::StopWords) {
                        continue;
                    }
                    match self.result(child, leaves, row, forward)? {
                        Some(result) => results.push(result),
                        None => return Ok(None),
                    }
                }
                match results.len() {
                    0 => None,
                    1 => results.pop(),
                    _ => Some(Res::intersection(results)),
                }
            }
            Compiled::Or(children) => {
                // `@a|b:word` reaches here as one predicate per field; RediSearch reads
                // it as one term over both fields.
                if let Some(merged) = same_text(children) {
                    return self.text_result(&merged, forward);
                }
                let mut results = Vec::new();
                for child in children {
                    results.extend(self.result(child, leaves, row, forward)?);
                }
                match results.len() {
                    0 => None,
                    _ => Some(Res::union(results)),
                }
            }
        })
    }

    /// A text predicate's result: a word expanded to its stems, a phrase as an
    /// intersection of its words, a prefix or fuzzy word as the union of the terms it
    /// reaches.
    fn text_result(&self, predicate: &TextPredicate, forward: &Forward) -> Result<Option<Res>> {
        let fields: Vec<u16> = predicate
            .fields
            .iter()
            .map(|(position, _)| *position)
            .collect();
        let Some((_, first)) = predicate.fields.first() else {
            return Ok(None);
        };
        let term = |word: &str| -> Result<Option<Res>> {
            let Some(entry) = forward.entries.get(word) else {
                return Ok(None);
            };
            if !entry.fields.iter().any(|field| fields.contains(field)) {
                return Ok(None);
            }
            let term = IndexTerm::Text(word.to_string());
            Ok(Some(Res::Term {
                frequency: f64::from(entry.frequency),
                idf: self.idf(&term)?,
                bm25_idf: self.bm25_idf(&term)?,
                offsets: entry.positions.clone(),
            }))
        };
        let expanded = |words: Vec<String>| -> Result<Option<Res>> {
            let mut children = Vec::new();
            for word in words {
                children.extend(term(&word)?);
            }
            Ok((!children.is_empty()).then(|| Res::union(children)))
        };
        Ok(match first {
            TextMatch::Term(stem) => {
                let word = predicate.word.clone().unwrap_or_else(|| stem.clone());
                let mut words = vec![word.clone(), format!("+{stem}")];
                if *stem != word {
                    words.push(stem.clone());
                }
                expanded(words)?
            }
            TextMatch::Verbatim(words) => {
                let mut children = Vec::new();
                for word in words {
                    match term(word)? {
                        Some(child) => children.push(child),
                        None => return Ok(None),
                    }
                }
                match children.len() {
                    1 => children.pop(),
                    _ => Some(Res::intersection(children)),
                }
            }
            TextMatch::Nothing => None,
            // RediSearch's prefix and fuzzy unions stop at the first term that holds
            // the document, in its trie's order.
            TextMatch::Prefix(prefix) => expanded(
                forward
                    .sorted_words()
                    .filter(|word| !word.starts_with('+') && word.starts_with(prefix.as_str()))
                    .filter(|word| forward.in_fields(word, &fields))
                    .take(1)
                    .collect(),
            )?,
            TextMatch::Fuzzy(word, distance) => expanded(
                forward
                    .sorted_words()
                    .filter(|candidate| within_distance(word, candidate, *distance))
                    .filter(|candidate| forward.in_fields(candidate, &fields))
                    .take(1)
                    .collect(),
            )?,
        })
    }
}

/// The one predicate an OR of the same text match over several fields stands for.
fn same_text(children: &[Compiled]) -> Option<TextPredicate> {
    let mut merged: Option<TextPredicate> = None;
    for child in children {
        let Compiled::Text(predicate) = child else {
            return None;
        };
        match &mut merged {
            None => merged = Some(predicate.clone()),
            Some(merged) => {
                let same = merged.word == predicate.word
                    && merged.fields.first().map(|(_, m)| m)
                        == predicate.fields.first().map(|(_, m)| m);
                if !same {
                    return None;
                }
                merged.fields.extend(predicate.fields.iter().cloned());
            }
        }
    }
    merged.filter(|_| children.len() > 1)
}

/// Row sets of a query's non-text leaves in one source.
#[derive(Default)]
pub(crate) struct Leaves {
    tags: HashMap<(u16, String), RoaringBitmap>,
    /// Ranges, tag wildcards and vector ranges, by node address.
    others: HashMap<usize, RoaringBitmap>,
}

fn collect_leaves(
    node: &Compiled,
    source: &dyn RowSource,
    live: &RoaringBitmap,
    leaves: &mut Leaves,
) -> Result<()> {
    match node {
        Compiled::Tag { position, tags } => {
            for tag in tags {
                let rows = source.tag_rows(*position, tag)? & live;
                leaves.tags.insert((*position, tag.clone()), rows);
            }
        }
        Compiled::Range { .. } | Compiled::TagMatch { .. } | Compiled::VectorRange { .. } => {
            let rows = node.evaluate(source, live, &mut Vec::new())?;
            leaves.others.insert(node as *const Compiled as usize, rows);
        }
        Compiled::And(children) | Compiled::Or(children) => {
            for child in children {
                collect_leaves(child, source, live, leaves)?;
            }
        }
        Compiled::All | Compiled::StopWords | Compiled::Not(_) | Compiled::Text(_) => {}
    }
    Ok(())
}

/// One entry of a document's forward index.
#[derive(Debug, Default)]
struct Entry {
    frequency: u32,
    fields: Vec<u16>,
    positions: Vec<u32>,
}

/// A document's forward index, as RediSearch builds it when it indexes the document.
#[derive(Debug, Default)]
struct Forward {
    entries: HashMap<String, Entry>,
    max_frequency: u32,
    length: u32,
}

impl Forward {
    fn of(collection: &Collection, doc: &Doc) -> Forward {
        let mut forward = Forward::default();
        let mut offset = 0u32;
        for (position, field) in collection.schema.fields().iter().enumerate() {
            match (&field.kind, doc.get(&field.name)) {
                (FieldKind::Text(options), Some(Value::Text(text))) => {
                    let Some(analyzer) = &collection.analyzers[position] else {
                        continue;
                    };
                    let weight = options.weight as f32;
                    let words = analyzer.analyze(text);
                    for word in &words {
                        let at = offset + word.position + 1;
                        forward.add(&word.raw, occurrence(weight), position as u16, at);
                        forward.length += occurrence(weight);
                        if options.stemming_language().is_some()
                            && word.raw.len() >= MIN_STEM_LENGTH
                            && word.stem != word.raw
                        {
                            let stem = format!("+{}", word.stem);
                            forward.add(
                                &stem,
                                occurrence(weight * STEM_TOKEN_FACTOR),
                                position as u16,
                                at,
                            );
                        }
                    }
                    offset += words.len() as u32;
                }
                (FieldKind::Vector(_), Some(Value::Vector(_))) => forward.max_frequency += 1,
                _ => {}
            }
        }
        forward
    }

    fn add(&mut self, word: &str, count: u32, field: u16, at: u32) {
        let entry = self.entries.entry(word.to_string()).or_default();
        entry.frequency += count;
        if !entry.fields.contains(&field) {
            entry.fields.push(field);
        }
        entry.positions.push(at);
        self.max_frequency = self.max_frequency.max(entry.frequency);
    }

    /// Whether `word` occurs in one of `fields`.
    fn in_fields(&self, word: &str, fields: &[u16]) -> bool {
        self.entries
            .get(word)
            .is_some_and(|entry| entry.fields.iter().any(|field| fields.contains(field)))
    }

    /// The entries' words in byte order, the order RediSearch's term trie expands.
    fn sorted_words(&self) -> impl Iterator<Item = String> {
        let mut words: Vec<String> = self.entries.keys().cloned().collect();
        words.sort();
        words.into_iter()
    }
}

/// RediSearch's `RSIndexResult`, reduced to what its scorers read.
#[derive(Debug)]
enum Res {
    Term {
        frequency: f64,
        idf: f64,
        bm25_idf: f64,
        offsets: Vec<u32>,
    },
    /// `*` (frequency 1) or a negation (frequency 0).
    Virtual { frequency: f64 },
    /// A numeric (or vector range) entry: frequency 1.
    Numeric,
    Aggregate {
        union: bool,
        children: Vec<Res>,
        /// RediSearch's `HasOffsets` for an aggregate: true unless its children are
        /// all virtual or all numeric results.
        offsets: bool,
    },
}

impl Res {
    fn union(children: Vec<Res>) -> Res {
        Res::aggregate(true, children)
    }

    fn intersection(children: Vec<Res>) -> Res {
        Res::aggregate(false, children)
    }

    fn aggregate(union: bool, children: Vec<Res>) -> Res {
        let offsets = !children
            .iter()
            .all(|child| matches!(child, Res::Virtual { .. }));
        Res::Aggregate {
            union,
            children,
            offsets,
        }
    }

    fn has_offsets(&self) -> bool {
        match self {
            Res::Term { offsets, .. } => !offsets.is_empty(),
            Res::Aggregate { offsets, .. } => *offsets,
            Res::Virtual { .. } | Res::Numeric => false,
        }
    }

    /// The positions an offset iterator over the result yields, in order.
    fn positions(&self) -> Vec<u32> {
        match self {
            Res::Term { offsets, .. } => offsets.clone(),
            Res::Virtual { .. } | Res::Numeric => Vec::new(),
            Res::Aggregate { children, .. } => {
                let mut all: Vec<u32> = children.iter().flat_map(Res::positions).collect();
                all.sort_unstable();
                all
            }
        }
    }
}

fn tfidf(result: &Res) -> f64 {
    match result {
        Res::Term { frequency, idf, .. } => frequency * idf,
        Res::Aggregate { children, .. } => children.iter().map(tfidf).sum(),
        Res::Virtual { frequency } => *frequency,
        Res::Numeric => 1.0,
    }
}

fn bm25(result: &Res, average: f64) -> f64 {
    let k1 = f64::from(1.2f32);
    let b = f64::from(0.5f32);
    let norm = |f: f64| f + k1 * ((1.0 - b) + b * average);
    match result {
        Res::Term { frequency, idf, .. } => idf * frequency / norm(*frequency),
        Res::Aggregate { children, .. } => children.iter().map(|c| bm25(c, average)).sum(),
        Res::Virtual { frequency } if *frequency != 0.0 => frequency / norm(*frequency),
        Res::Virtual { .. } => 0.0,
        Res::Numeric => 1.0 / norm(1.0),
    }
}

fn bm25_std(result: &Res, length: u32, average: f64) -> f64 {
    let k1 = 1.2f32;
    let b = 0.5f32;
    let formula = |idf: f64, f: f64| {
        idf * f * f64::from(k1 + 1.0)
            / (f + f64::from(k1)
                * (f64::from(1.0 - b) + f64::from(b) * (f64::from(length as f32) / average)))
    };
    match result {
        Res::Term {
            frequency,
            bm25_idf,
            ..
        } => formula(*bm25_idf, *frequency),
        Res::Aggregate { children, .. } => {
            children.iter().map(|c| bm25_std(c, length, average)).sum()
        }
        Res::Virtual { frequency } if *frequency != 0.0 => formula(1.0, 1.0),
        Res::Virtual { .. } | Res::Numeric => 0.0,
    }
}

fn dismax(result: &Res) -> f64 {
    match result {
        Res::Term { frequency, .. } => *frequency,
        Res::Virtual { frequency } => *frequency,
        Res::Numeric => 1.0,
        Res::Aggregate {
            union: false,
            children,
            ..
        } => children.iter().map(dismax).sum(),
        Res::Aggregate { children, .. } => children.iter().map(dismax).fold(0.0, f64::max),
    }
}

/// RediSearch's `IndexResult_MinOffsetDelta`, integer quirks included: the square root
/// of the summed squared distances between consecutive children's nearest positions,
/// where a child flagged as having offsets but holding none stands at the end marker.
fn slop(result: &Res) -> i32 {
    let Res::Aggregate { children, .. } = result else {
        return 1;
    };
    if children.len() <= 1 {
        return 1;
    }
    // C assigns the unsigned difference to an `int`: the end marker wraps negative.
    let delta = |a: u32, b: u32| a.abs_diff(b) as i32;
    let num = children.len();
    let mut dist: i64 = 0;
    let mut i = 0;
    while i < num {
        while i < num && !children[i].has_offsets() {
            i += 1;
        }
        if i == num {
            break;
        }
        let first = children[i].positions();
        i += 1;
        while i < num && !children[i].has_offsets() {
            i += 1;
        }
        if i == num {
            break;
        }
        let second = children[i].positions();
        let (mut a, mut b) = (first.iter().copied(), second.iter().copied());
        let mut p1 = a.next().unwrap_or(EOF);
        let mut p2 = b.next().unwrap_or(EOF);
        let mut cd = delta(p2, p1);
        while cd > 1 && p1 != EOF && p2 != EOF {
            cd = cd.min(delta(p2, p1));
            if p2 > p1 {
                p1 = a.next().unwrap_or(EOF);
            } else {
                p2 = b.next().unwrap_or(EOF);
            }
        }
        dist += i64::from(cd) * i64::from(cd);
    }
    if dist != 0 {
        (dist as f64).sqrt() as i32
    } else {
        num as i32 - 1
    }
}
