//! Text predicates: `@field:word`, phrases, prefixes and fuzzy words compiled against
//! the schema (each field's words analysed as that field says) and evaluated to a
//! bitmap of rows per source, like a TAG predicate, so they combine with other
//! predicates and pre-filter a KNN clause.

use roaring::RoaringBitmap;
use strata_query::{TextTerm, Value as AstValue};

use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};
use crate::read::filter::RowSource;
use crate::text::Analyzer;

/// What a text predicate matches in one field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TextMatch {
    /// An indexed (stemmed) term: a bare or `@field:` word.
    Term(String),
    /// Raw (unstemmed) words at consecutive positions: a quoted phrase, or a negated
    /// word (RediSearch expands neither to its stem).
    Verbatim(Vec<String>),
    /// Nothing: a quoted phrase holding a stop word (not indexed, so RediSearch's
    /// exact phrase never matches).
    Nothing,
    /// Raw words starting with the text (`hel*`).
    Prefix(String),
    /// Raw words within a Levenshtein distance of the text (`%word%`, 1 to 3).
    Fuzzy(String, u8),
}

/// A text predicate checked against the schema: the fields it searches and what it
/// matches in each (terms are analysed per field: fields may stem differently).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TextPredicate {
    pub fields: Vec<(u16, TextMatch)>,
    /// The query word as written, lowercased, for a positive word: RediSearch's
    /// scorers weigh the word and its stem expansions as separate terms.
    pub word: Option<String>,
}

/// Longest distance `%%%word%%%` asks for, as in RediSearch.
pub(crate) const MAX_FUZZY_DISTANCE: u8 = 3;

/// What a text node of the query compiles to: a predicate, or nothing at all when
/// every word of it is a stop word (RediSearch drops those from the query).
pub(crate) enum Compiled {
    Predicate(TextPredicate),
    StopWords,
}

/// Compiles `@field:term` (or a bare term: `field` is `None`, every TEXT field).
pub(crate) fn compile(
    schema: &Schema,
    collection: &str,
    field: Option<&str>,
    term: &TextTerm,
    negated: bool,
    in_fields: Option<&[String]>,
) -> Result<Compiled> {
    let fields: Vec<(u16, &crate::model::schema::TextOptions)> = match field {
        Some(name) => {
            let (position, declared) = schema.field(name).ok_or_else(|| Error::UnknownField {
                collection: collection.to_string(),
                field: name.to_string(),
            })?;
            match &declared.kind {
                FieldKind::Text(options) => vec![(position as u16, options)],
                other => {
                    return Err(crate::read::filter::query_field_type(
                        name,
                        "TEXT",
                        other.name(),
                    ))
                }
            }
        }
        None => schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(position, field)| match &field.kind {
                FieldKind::Text(options) => Some((position as u16, options)),
                _ => None,
            })
            .collect(),
    };
    // `INFIELDS` (checked to name TEXT fields): a predicate on another field, or a
    // bare word, looks only where the list allows.
    let restricted = in_fields.is_some();
    let fields: Vec<_> = match in_fields {
        Some(allowed) => fields
            .into_iter()
            .filter(|(position, _)| {
                allowed.iter().any(|name| {
                    schema
                        .field(name)
                        .is_some_and(|(p, _)| p as u16 == *position)
                })
            })
            .collect(),
        None => fields,
    };
    if fields.is_empty() && restricted {
        return Ok(Compiled::Predicate(TextPredicate {
            fields: Vec::new(),
            word: None,
        }));
    }
    if fields.is_empty() {
        return Err(Error::InvalidQuery {
            pos: 0,
            message: format!(
                "collection `{collection}` has no TEXT field for the words of the query to \
                 match; query TAG fields with @field:{{value}}"
            ),
        });
    }
    let mut compiled = Vec::new();
    for (position, options) in fields {
        let analyzer = Analyzer::new(options);
        let matched = match term {
            TextTerm::Word(word) => {
                let word = match word {
                    AstValue::Literal(word) => word,
                    AstValue::Param(name) => {
                        return Err(Error::InvalidQuery {
                            pos: 0,
                            message: format!(
                                "parameter `${name}` has no value; pass it with .param()"
                            ),
                        })
                    }
                };
                match (negated, analyzer.query_term(word)) {
                    (_, None) => continue,
                    (false, Some(term)) => TextMatch::Term(term),
                    (true, Some(_)) => TextMatch::Verbatim(vec![lowercase(word)]),
                }
            }
            TextTerm::Phrase(words) => {
                if words.iter().any(|word| analyzer.query_term(word).is_none()) {
                    TextMatch::Nothing
                } else {
                    TextMatch::Verbatim(words.iter().map(|word| lowercase(word)).collect())
                }
            }
            TextTerm::Prefix(prefix) => TextMatch::Prefix(prefix.to_lowercase()),
            TextTerm::Fuzzy { word, distance } => {
                if !(1..=MAX_FUZZY_DISTANCE).contains(distance) {
                    return Err(Error::InvalidQuery {
                        pos: 0,
                        message: format!(
                            "fuzzy distance {distance}; use 1 to 3 `%` around the word"
                        ),
                    });
                }
                TextMatch::Fuzzy(word.to_lowercase(), *distance)
            }
        };
        compiled.push((position, matched));
    }
    Ok(if compiled.is_empty() {
        Compiled::StopWords
    } else {
        let word = match (term, negated) {
            (TextTerm::Word(AstValue::Literal(word)), false) => Some(lowercase(word)),
            _ => None,
        };
        Compiled::Predicate(TextPredicate {
            fields: compiled,
            word,
        })
    })
}

impl TextPredicate {
    /// Rows of `source` among `universe` that match in any of the fields.
    pub fn evaluate(
        &self,
        source: &dyn RowSource,
        universe: &RoaringBitmap,
    ) -> Result<RoaringBitmap> {
        let mut rows = RoaringBitmap::new();
        for (position, matched) in &self.fields {
            rows |= match matched {
                TextMatch::Term(term) => source
                    .text_postings(*position, term)?
                    .into_iter()
                    .map(|posting| posting.row)
                    .collect(),
                TextMatch::Verbatim(words) => phrase_rows(source, *position, words, universe)?,
                TextMatch::Nothing => RoaringBitmap::new(),
                // Prefixes compare the words as written; fuzzy matching also reaches
                // the stems as `+stem` (RediSearch's fuzzy walk covers its stem
                // entries, one edit further away for the `+`).
                TextMatch::Prefix(prefix) => source.text_rows_matching(
                    *position,
                    &|word| word.starts_with(prefix.as_str()),
                    false,
                )?,
                TextMatch::Fuzzy(word, distance) => source.text_rows_matching(
                    *position,
                    &|candidate| within_distance(word, candidate, *distance),
                    true,
                )?,
            };
        }
        Ok(rows & universe)
    }
}

fn lowercase(word: &str) -> String {
    word.chars().flat_map(char::to_lowercase).collect()
}

/// Rows where the raw words `terms` occur at consecutive positions.
fn phrase_rows(
    source: &dyn RowSource,
    position: u16,
    terms: &[String],
    universe: &RoaringBitmap,
) -> Result<RoaringBitmap> {
    let mut lists = Vec::with_capacity(terms.len());
    let mut rows = universe.clone();
    for term in terms {
        let postings = source.text_raw_postings(position, term)?;
        rows &= postings.iter().map(|p| p.row).collect::<RoaringBitmap>();
        lists.push(postings);
    }
    let mut matched = RoaringBitmap::new();
    for row in &rows {
        let positions: Vec<&[u32]> = lists
            .iter()
            .filter_map(|list| {
                list.binary_search_by_key(&row, |p| p.row)
                    .ok()
                    .map(|at| list[at].positions.as_slice())
            })
            .collect();
        if positions.len() != terms.len() {
            continue;
        }
        let adjacent = positions[0].iter().any(|&start| {
            positions[1..].iter().enumerate().all(|(offset, list)| {
                start
                    .checked_add(offset as u32 + 1)
                    .is_some_and(|wanted| list.binary_search(&wanted).is_ok())
            })
        });
        if adjacent {
            matched.insert(row);
        }
    }
    Ok(matched)
}

/// Whether the Levenshtein distance between `a` and `b` (in characters) is at most
/// `max`; stops early once every cell of a row is past it.
pub(crate) fn within_distance(a: &str, b: &str, max: u8) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let max = usize::from(max);
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        let mut best = current[0];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            best = best.min(current[j + 1]);
        }
        if best > max {
            return false;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()] <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_bounds() {
        assert!(within_distance("hello", "hello", 1));
        assert!(within_distance("hello", "helo", 1));
        assert!(within_distance("hello", "jello", 1));
        assert!(!within_distance("hello", "jelly", 1));
        assert!(within_distance("hello", "jelly", 2));
        assert!(within_distance("", "abc", 3));
        assert!(!within_distance("", "abcd", 3));
        assert!(within_distance("straße", "strasse", 2));
    }
}
