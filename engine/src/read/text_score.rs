//! Ranking text matches with BM25 over collection-wide statistics: the document count,
//! each term's document frequency and each field's average length are summed over the
//! sources of the version a query reads, live rows only. A row's score is then what a
//! plain tantivy index over the same live documents gives it (tantivy's idf, its
//! k1 = 1.2 and b = 0.75, its one-byte field-length quantisation), whichever source
//! holds the row.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::Bm25Weight;

use crate::model::error::Result;
use crate::read::filter::RowSource;
use crate::read::text::{TextMatch, TextPredicate};

/// One term whose matches add to a row's score.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScoreTerm {
    pub position: u16,
    pub term: String,
    /// The field's `WEIGHT`.
    pub weight: f64,
}

/// The terms of the positive (not negated) word predicates, each once. Phrases,
/// prefixes and fuzzy words match but add nothing to the score.
pub(crate) fn score_terms(
    predicates: &[&TextPredicate],
    weight_of: &dyn Fn(u16) -> f64,
) -> Vec<ScoreTerm> {
    let mut terms: Vec<ScoreTerm> = Vec::new();
    for predicate in predicates {
        for (position, matched) in &predicate.fields {
            let words: &[String] = match matched {
                TextMatch::Term(term) => std::slice::from_ref(term),
                TextMatch::Verbatim(_)
                | TextMatch::Nothing
                | TextMatch::Prefix(_)
                | TextMatch::Fuzzy(..) => &[],
            };
            for word in words {
                if !terms
                    .iter()
                    .any(|t| t.position == *position && &t.term == word)
                {
                    terms.push(ScoreTerm {
                        position: *position,
                        term: word.clone(),
                        weight: weight_of(*position),
                    });
                }
            }
        }
    }
    terms
}

/// Collection-wide statistics for a set of terms, gathered over every source first.
#[derive(Debug, Default)]
pub(crate) struct Statistics {
    documents: u64,
    /// Total length per field.
    tokens: HashMap<u16, u64>,
    /// Document frequency per term (same order as the terms).
    frequencies: Vec<u64>,
}

impl Statistics {
    pub fn new(terms: &[ScoreTerm]) -> Statistics {
        Statistics {
            frequencies: vec![0; terms.len()],
            ..Statistics::default()
        }
    }

    /// Adds one source's live rows.
    pub fn add(
        &mut self,
        source: &dyn RowSource,
        live: &RoaringBitmap,
        terms: &[ScoreTerm],
    ) -> Result<()> {
        self.documents += live.len();
        let mut seen: Vec<u16> = Vec::new();
        for term in terms {
            if !seen.contains(&term.position) {
                seen.push(term.position);
                *self.tokens.entry(term.position).or_default() +=
                    source.text_total_length(term.position, live)?;
            }
        }
        for (term, frequency) in terms.iter().zip(&mut self.frequencies) {
            *frequency += source
                .text_postings(term.position, &term.term)?
                .iter()
                .filter(|posting| live.contains(posting.row))
                .count() as u64;
        }
        Ok(())
    }

    /// The scores of `rows` of `source` (the rows a query matched there).
    pub fn score(
        &self,
        source: &dyn RowSource,
        rows: &RoaringBitmap,
        terms: &[ScoreTerm],
    ) -> Result<HashMap<u32, f32>> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (term, frequency) in terms.iter().zip(&self.frequencies) {
            if *frequency == 0 || self.documents == 0 {
                continue;
            }
            let average = self.tokens.get(&term.position).copied().unwrap_or(0) as f32
                / self.documents as f32;
            let weight =
                Bm25Weight::for_one_term_without_explain(*frequency, self.documents, average);
            let postings: Vec<_> = source
                .text_postings(term.position, &term.term)?
                .into_iter()
                .filter(|posting| rows.contains(posting.row))
                .collect();
            let matched: Vec<u32> = postings.iter().map(|posting| posting.row).collect();
            let lengths = source.text_lengths(term.position, &matched)?;
            for (posting, length) in postings.iter().zip(lengths) {
                let score = weight.score(
                    FieldNormReader::fieldnorm_to_id(length),
                    posting.positions.len() as u32,
                ) * term.weight as f32;
                *scores.entry(posting.row).or_default() += score;
            }
        }
        Ok(scores)
    }
}
