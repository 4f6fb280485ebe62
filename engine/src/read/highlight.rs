//! `HIGHLIGHT` and `SUMMARIZE`: returned TEXT fields rewritten around the words the
//! query matched, following RediSearch 2.10's fragmenter (`src/fragmenter.c`): matches
//! at most 8 words apart form one fragment, the best-scoring fragments are kept in
//! text order, and each is widened by the words of context `LEN` leaves over, counted
//! at an estimated 6 bytes a word.

use strata_query::QueryOptions;

use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};
use crate::read::filter::Compiled;
use crate::read::text::TextMatch;
use crate::text::Analyzer;

/// Matches further apart than this many words start a new fragment (RediSearch's).
const MAX_DISTANCE: u32 = 8;
/// Bytes a word of context is taken to span (RediSearch's estimate).
const WORD_BYTES: usize = 6;
const DEFAULT_FRAGS: usize = 3;
const DEFAULT_LEN: usize = 20;
const DEFAULT_SEPARATOR: &str = "... ";
const DEFAULT_OPEN: &str = "<b>";
const DEFAULT_CLOSE: &str = "</b>";

/// How one returned TEXT field is rewritten.
#[derive(Debug, Clone)]
pub(crate) struct Marking {
    /// The field's position in the schema.
    pub position: usize,
    analyzer: Analyzer,
    /// The query's words that are marked.
    matches: Vec<TextMatch>,
    /// Tags around each matched word: `Some` with `HIGHLIGHT` on this field.
    tags: Option<(String, String)>,
    /// `SUMMARIZE` on this field: (fragments, words of context, separator).
    summary: Option<(usize, usize, String)>,
}

/// The fields `options` asks to highlight or summarise, each with the text predicates
/// of `filter` that can match in it. A named field must exist and be TEXT.
pub(crate) fn prepare(
    options: &QueryOptions,
    filter: &Compiled,
    schema: &Schema,
    collection: &str,
) -> Result<Vec<Marking>> {
    if options.highlight.is_none() && options.summarize.is_none() {
        return Ok(Vec::new());
    }
    for name in [&options.highlight.as_ref().and_then(|h| h.fields.clone())]
        .into_iter()
        .chain([&options.summarize.as_ref().and_then(|s| s.fields.clone())])
        .flatten()
        .flatten()
    {
        let (_, field) = schema.field(name).ok_or_else(|| Error::UnknownField {
            collection: collection.to_string(),
            field: name.to_string(),
        })?;
        if !matches!(field.kind, FieldKind::Text(_)) {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "HIGHLIGHT and SUMMARIZE apply to TEXT fields; `{name}` is a {} field",
                    field.kind.name()
                ),
            });
        }
    }
    let applies = |fields: &Option<Vec<String>>, name: &str| {
        fields
            .as_ref()
            .is_none_or(|fields| fields.iter().any(|f| f == name))
    };
    let predicates = filter.positive_text();
    let mut markings = Vec::new();
    for (position, field) in schema.fields().iter().enumerate() {
        let FieldKind::Text(text_options) = &field.kind else {
            continue;
        };
        let tags = options
            .highlight
            .as_ref()
            .filter(|h| applies(&h.fields, &field.name))
            .map(|h| {
                h.tags
                    .clone()
                    .unwrap_or_else(|| (DEFAULT_OPEN.to_string(), DEFAULT_CLOSE.to_string()))
            });
        let summary = options
            .summarize
            .as_ref()
            .filter(|s| applies(&s.fields, &field.name))
            .map(|s| {
                (
                    s.frags.map_or(DEFAULT_FRAGS, |n| n as usize),
                    s.len.map_or(DEFAULT_LEN, |n| n as usize),
                    s.separator
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SEPARATOR.to_string()),
                )
            });
        if tags.is_none() && summary.is_none() {
            continue;
        }
        // Like RediSearch's term offsets, a word the query matched in any field is
        // marked in every field. Prefix and fuzzy words are not marked: RediSearch
        // 2.10 records no offsets for their expansions.
        let mut matches: Vec<TextMatch> = Vec::new();
        for predicate in &predicates {
            for (_, matched) in &predicate.fields {
                let terms = match matched {
                    // A phrase's words each count, as RediSearch's offsets do.
                    TextMatch::Verbatim(words) => words
                        .iter()
                        .map(|w| TextMatch::Verbatim(vec![w.clone()]))
                        .collect(),
                    TextMatch::Term(_) => vec![matched.clone()],
                    TextMatch::Nothing | TextMatch::Prefix(_) | TextMatch::Fuzzy(..) => Vec::new(),
                };
                for term in terms {
                    if !matches.contains(&term) {
                        matches.push(term);
                    }
                }
            }
        }
        markings.push(Marking {
            position,
            analyzer: Analyzer::new(text_options),
            matches,
            tags,
            summary,
        });
    }
    Ok(markings)
}

/// One run of matches at most [`MAX_DISTANCE`] words apart.
struct Fragment {
    /// Byte range from its first match's start to its last match's end.
    start: usize,
    end: usize,
    /// Matched words' byte ranges.
    words: Vec<(usize, usize)>,
    /// Distinct word forms matched (`fox` and `foxes` are two, as in RediSearch):
    /// each adds 1 to the score.
    terms: Vec<String>,
    score: f32,
    last_position: u32,
    /// Words from the first match to the last, both included.
    total_words: u32,
}

/// RediSearch's separator test, on bytes: ASCII only, so every cut lands on a UTF-8
/// character boundary.
fn is_separator_byte(byte: u8) -> bool {
    byte.is_ascii_whitespace() || (byte.is_ascii_punctuation() && byte != b'_')
}

impl Marking {
    /// `text` as the options ask: highlighted, summarised, or both. `None` leaves it as
    /// it is (highlighting alone, or both, when nothing matched).
    pub fn apply(&self, text: &str) -> Option<String> {
        let fragments = self.fragments(text);
        let bytes = text.as_bytes();
        let (open, close) = self
            .tags
            .as_ref()
            .map_or(("", ""), |(o, c)| (o.as_str(), c.as_str()));
        let Some((frags, len, separator)) = &self.summary else {
            if fragments.is_empty() {
                return None;
            }
            let mut out = String::with_capacity(text.len() + 16);
            let mut from = 0;
            for (start, end) in fragments.iter().flat_map(|f| f.words.iter()) {
                out.push_str(&text[from..*start]);
                out.push_str(open);
                out.push_str(&text[*start..*end]);
                out.push_str(close);
                from = *end;
            }
            out.push_str(&text[from..]);
            return Some(out);
        };
        if fragments.is_empty() {
            return self.tags.is_none().then(|| trim_head(text, *frags, *len));
        }
        // The best fragments (ties to the earlier), written in text order.
        let mut chosen: Vec<usize> = (0..fragments.len()).collect();
        chosen.sort_by(|&a, &b| {
            fragments[b]
                .score
                .total_cmp(&fragments[a].score)
                .then(a.cmp(&b))
        });
        chosen.truncate(*frags);
        chosen.sort_unstable();
        let mut out = String::new();
        for (rank, &index) in chosen.iter().enumerate() {
            let fragment = &fragments[index];
            let limit_before = if rank > 0 {
                fragments[chosen[rank - 1]].end
            } else {
                0
            };
            let limit_after = match chosen.get(rank + 1) {
                Some(&next) => fragments[next].start as isize,
                None => bytes.len() as isize - 1,
            };
            let (before, after) = context(bytes, fragment, *len, limit_before, limit_after);
            let mut piece = String::new();
            piece.push_str(&text[before..fragment.start]);
            let mut from = fragment.start;
            for (start, end) in &fragment.words {
                piece.push_str(&text[from..*start]);
                piece.push_str(open);
                piece.push_str(&text[*start..*end]);
                piece.push_str(close);
                from = *end;
            }
            piece.push_str(&text[fragment.end..after]);
            collapse_spaces(&piece, &mut out);
            out.push_str(separator);
        }
        Some(out)
    }

    fn fragments(&self, text: &str) -> Vec<Fragment> {
        let mut fragments: Vec<Fragment> = Vec::new();
        if self.matches.is_empty() {
            return fragments;
        }
        let bytes = text.as_bytes();
        let mut since_match = 0u32;
        let mut last_end = 0usize;
        for word in self.analyzer.analyze(text) {
            let matched = self.matches.iter().any(|m| match m {
                TextMatch::Term(stem) => word.stem == *stem || word.raw == *stem,
                TextMatch::Verbatim(words) => words.first() == Some(&word.raw),
                _ => false,
            });
            if !matched {
                since_match += 1;
                continue;
            }
            if word.from < last_end {
                continue;
            }
            // The highlighted token runs to the next separator, as RediSearch's does.
            let end = bytes[word.from..]
                .iter()
                .position(|&b| is_separator_byte(b))
                .map_or(bytes.len(), |at| word.from + at);
            let joins = fragments
                .last()
                .is_some_and(|f| word.position - f.last_position <= MAX_DISTANCE);
            if !joins {
                since_match = 0;
                fragments.push(Fragment {
                    start: word.from,
                    end,
                    words: Vec::new(),
                    terms: Vec::new(),
                    score: 0.0,
                    last_position: word.position,
                    total_words: 0,
                });
            }
            let fragment = fragments.last_mut().expect("pushed above");
            if !fragment.terms.contains(&word.raw) {
                fragment.terms.push(word.raw.clone());
                fragment.score += 1.0;
            }
            fragment.end = end;
            fragment.last_position = word.position;
            fragment.total_words += since_match + 1;
            since_match = 0;
            fragment.words.push((word.from, end));
            last_end = end;
        }
        fragments
    }
}

/// The byte range of context around `fragment`: what `len` words leave after the
/// fragment's own unmatched words, half on each side, cut back to whole words and kept
/// clear of the neighbouring fragments (`limit_after` is inclusive).
fn context(
    bytes: &[u8],
    fragment: &Fragment,
    len: usize,
    limit_before: usize,
    limit_after: isize,
) -> (usize, usize) {
    let unmatched = (fragment.total_words as usize).saturating_sub(fragment.words.len());
    if len <= unmatched {
        return (fragment.start, fragment.end);
    }
    let span = (len - unmatched) / 2 * WORD_BYTES;
    let mut before = fragment.start.saturating_sub(span).max(limit_before);
    while before < fragment.start && !is_separator_byte(bytes[before]) {
        before += 1;
    }
    while before < fragment.start && is_separator_byte(bytes[before]) {
        before += 1;
    }
    let mut after = ((fragment.end + span) as isize).min(limit_after);
    while after > fragment.end as isize && !is_separator_byte(bytes[after as usize]) {
        after -= 1;
    }
    while after > fragment.end as isize && is_separator_byte(bytes[after as usize]) {
        after -= 1;
    }
    let after = ((after + 1).max(fragment.end as isize) as usize).min(bytes.len());
    (before, after)
}

/// RediSearch's summary of a field without matches: its first `frags * len` words'
/// worth of bytes, spaces collapsed, cut back to the last separator.
fn trim_head(text: &str, frags: usize, len: usize) -> String {
    let head = WORD_BYTES
        .saturating_mul(len)
        .saturating_mul(frags)
        .saturating_add(WORD_BYTES)
        .min(text.len());
    let mut cut = head;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::new();
    collapse_spaces(&text[..cut], &mut out);
    // RediSearch drops the last word even when the whole text fit: it cannot tell a
    // cut word from a whole one.
    while out.len() > 1 && !out.as_bytes().last().is_some_and(|&b| is_separator_byte(b)) {
        out.pop();
    }
    out.truncate(
        out.trim_end_matches(|c: char| c.is_ascii_whitespace())
            .len(),
    );
    out
}

/// Appends `text` with each run of whitespace turned into one space.
fn collapse_spaces(text: &str, out: &mut String) {
    let mut last_space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() || c == '\u{b}' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
}
