//! A segment's text index for one TEXT field (`text-<f>`, FORMAT.md "Text index"):
//! written by the flush or merge that writes the segment, from the rows' stored text,
//! and read straight from the block-checked map.
//!
//! Body, all little-endian `u32` words (bytes padded to a word):
//! ```text
//! n_rows ‖ n_terms ‖ n_raw ‖ 0
//! lengths:            n_rows words (each row's kept-word count: BM25's field length)
//! term_offsets:       n_terms + 1 (byte offsets into term_bytes; terms sorted)
//! posting_offsets:    n_terms + 1 (word offsets into postings)
//! raw_offsets:        n_raw + 1   (byte offsets into raw_bytes; raw words sorted)
//! raw_posting_offsets n_raw + 1   (word offsets into raw_postings)
//! term_bytes_len ‖ term_bytes ‖ raw_bytes_len ‖ raw_bytes
//! postings_len ‖ per term: per row ascending: row, tf, tf positions ascending
//! raw_postings_len ‖ per raw word: the same (row, tf, positions)
//! ```
//! Terms are the stemmed words (what word queries and BM25 use); raw words are the
//! lowercased unstemmed ones (what exact phrases, negated words, prefix and fuzzy
//! queries compare, as RediSearch does not expand those to stems).
//!
//! `open` reads the header and section sizes only (O(1)); every offset, row and count
//! is checked where it is used, so damage that passed the block checksums (a writer's
//! bug) is an error naming what is wrong, never a panic or a row past the segment.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::analyzer::Analyzer;
use super::Posting;

/// Builds the body from each row's text in the field (`None`: the row has none).
pub(crate) fn encode<'a>(
    analyzer: &Analyzer,
    rows: impl Iterator<Item = Option<&'a str>>,
) -> Vec<u8> {
    let mut lengths = Vec::new();
    let mut terms: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut raws: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (row, text) in rows.enumerate() {
        let row = row as u32;
        let words = text.map(|text| analyzer.analyze(text)).unwrap_or_default();
        lengths.push(words.len() as u32);
        let mut by_term: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut by_raw: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for word in &words {
            by_term.entry(&word.stem).or_default().push(word.position);
            by_raw.entry(&word.raw).or_default().push(word.position);
        }
        for (map, found) in [(&mut terms, by_term), (&mut raws, by_raw)] {
            for (term, positions) in found {
                let list = map.entry(term.to_string()).or_default();
                list.push(row);
                list.push(positions.len() as u32);
                list.extend(positions);
            }
        }
    }
    let mut out = Vec::new();
    let word = |out: &mut Vec<u8>, value: u32| out.extend_from_slice(&value.to_le_bytes());
    word(&mut out, lengths.len() as u32);
    word(&mut out, terms.len() as u32);
    word(&mut out, raws.len() as u32);
    word(&mut out, 0);
    for length in &lengths {
        word(&mut out, *length);
    }
    let dictionary = |out: &mut Vec<u8>, map: &BTreeMap<String, Vec<u32>>| {
        let mut at = 0u32;
        word(out, 0);
        for term in map.keys() {
            at += term.len() as u32;
            word(out, at);
        }
        let mut at = 0u32;
        word(out, 0);
        for list in map.values() {
            at += list.len() as u32;
            word(out, at);
        }
    };
    dictionary(&mut out, &terms);
    dictionary(&mut out, &raws);
    let bytes = |out: &mut Vec<u8>, map: &BTreeMap<String, Vec<u32>>| {
        let total: usize = map.keys().map(String::len).sum();
        word(out, total as u32);
        for term in map.keys() {
            out.extend_from_slice(term.as_bytes());
        }
        out.resize(out.len().next_multiple_of(4), 0);
    };
    bytes(&mut out, &terms);
    bytes(&mut out, &raws);
    let lists = |out: &mut Vec<u8>, map: &BTreeMap<String, Vec<u32>>| {
        let total: usize = map.values().map(Vec::len).sum();
        word(out, total as u32);
        for value in map.values().flatten() {
            word(out, *value);
        }
    };
    lists(&mut out, &terms);
    lists(&mut out, &raws);
    out
}

/// A section of `u32` words.
#[derive(Clone, Copy)]
struct Words<'a>(&'a [u8]);

impl Words<'_> {
    fn len(&self) -> usize {
        self.0.len() / 4
    }

    fn get(&self, index: usize) -> Result<u32, String> {
        let at = index.checked_mul(4).ok_or("offset overflows")?;
        self.0
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("word {index} is past its section"))
    }
}

/// One dictionary: sorted strings and their lists.
#[derive(Clone, Copy)]
struct Dictionary<'a> {
    count: usize,
    offsets: Words<'a>,
    list_offsets: Words<'a>,
    bytes: &'a [u8],
    lists: Words<'a>,
}

impl<'a> Dictionary<'a> {
    fn term(&self, index: usize) -> Result<&'a [u8], String> {
        let (start, end) = (
            self.offsets.get(index)? as usize,
            self.offsets.get(index + 1)? as usize,
        );
        self.bytes
            .get(start..end)
            .ok_or_else(|| format!("term {index} lies outside the term bytes"))
    }

    fn list(&self, index: usize) -> Result<(usize, usize), String> {
        let (start, end) = (
            self.list_offsets.get(index)? as usize,
            self.list_offsets.get(index + 1)? as usize,
        );
        if start > end || end > self.lists.len() {
            return Err(format!(
                "the list of term {index} lies outside the postings"
            ));
        }
        Ok((start, end))
    }

    fn find(&self, term: &[u8]) -> Result<Option<usize>, String> {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.term(mid)?.cmp(term) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(Some(mid)),
            }
        }
        Ok(None)
    }
}

/// A text index answered from its bytes.
#[derive(Clone, Copy)]
pub(crate) struct TextIndexView<'a> {
    rows: u32,
    lengths: Words<'a>,
    terms: Dictionary<'a>,
    raws: Dictionary<'a>,
}

/// Splits `n` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("the file ends inside {what}"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_word(rest: &mut &[u8], what: &str) -> Result<u32, String> {
    let bytes = take(rest, 4, what)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn words_len(count: usize, what: &str) -> Result<usize, String> {
    count
        .checked_mul(4)
        .ok_or_else(|| format!("{what} is too long"))
}

impl<'a> TextIndexView<'a> {
    /// The O(1) check at segment open: the header is there and names the segment's
    /// row count.
    pub fn check_header(body: &[u8], row_count: u32) -> Result<(), String> {
        let mut rest = body;
        let rows = take_word(&mut rest, "the header")?;
        if rows != row_count {
            return Err(format!(
                "the text index has {rows} rows, the segment {row_count}"
            ));
        }
        Ok(())
    }

    /// Checks the header and section sizes against the file's length and the
    /// segment's row count.
    pub fn open(body: &'a [u8], row_count: u32) -> Result<TextIndexView<'a>, String> {
        let mut rest = body;
        let rows = take_word(&mut rest, "the header")?;
        let n_terms = take_word(&mut rest, "the header")? as usize;
        let n_raws = take_word(&mut rest, "the header")? as usize;
        take_word(&mut rest, "the header")?;
        if rows != row_count {
            return Err(format!(
                "the text index has {rows} rows, the segment {row_count}"
            ));
        }
        let lengths = Words(take(
            &mut rest,
            words_len(rows as usize, "lengths")?,
            "the lengths",
        )?);
        let offsets = |rest: &mut &'a [u8], count: usize| -> Result<Words<'a>, String> {
            Ok(Words(take(
                rest,
                words_len(count.checked_add(1).ok_or("count overflows")?, "offsets")?,
                "the dictionary",
            )?))
        };
        let term_offsets = offsets(&mut rest, n_terms)?;
        let term_lists = offsets(&mut rest, n_terms)?;
        let raw_offsets = offsets(&mut rest, n_raws)?;
        let raw_lists = offsets(&mut rest, n_raws)?;
        let bytes = |rest: &mut &'a [u8]| -> Result<&'a [u8], String> {
            let len = take_word(rest, "the term bytes")? as usize;
            let padded = len.next_multiple_of(4);
            Ok(&take(rest, padded, "the term bytes")?[..len])
        };
        let term_bytes = bytes(&mut rest)?;
        let raw_bytes = bytes(&mut rest)?;
        let lists = |rest: &mut &'a [u8]| -> Result<Words<'a>, String> {
            let len = take_word(rest, "the postings")? as usize;
            Ok(Words(take(
                rest,
                words_len(len, "postings")?,
                "the postings",
            )?))
        };
        let postings = lists(&mut rest)?;
        let raw_postings = lists(&mut rest)?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after the postings", rest.len()));
        }
        Ok(TextIndexView {
            rows,
            lengths,
            terms: Dictionary {
                count: n_terms,
                offsets: term_offsets,
                list_offsets: term_lists,
                bytes: term_bytes,
                lists: postings,
            },
            raws: Dictionary {
                count: n_raws,
                offsets: raw_offsets,
                list_offsets: raw_lists,
                bytes: raw_bytes,
                lists: raw_postings,
            },
        })
    }

    /// The kept-word count of `row`'s text in the field.
    pub fn length(&self, row: u32) -> Result<u32, String> {
        self.lengths.get(row as usize)
    }

    /// The rows holding `term` (a stemmed term), with their positions.
    pub fn postings(&self, term: &str) -> Result<Vec<Posting>, String> {
        let Some(index) = self.terms.find(term.as_bytes())? else {
            return Ok(Vec::new());
        };
        self.postings_at(&self.terms, index)
    }

    /// The rows holding the raw (unstemmed) `word`, with its positions.
    pub fn raw_postings(&self, word: &str) -> Result<Vec<Posting>, String> {
        let Some(index) = self.raws.find(word.as_bytes())? else {
            return Ok(Vec::new());
        };
        self.postings_at(&self.raws, index)
    }

    fn postings_at(
        &self,
        dictionary: &Dictionary<'_>,
        index: usize,
    ) -> Result<Vec<Posting>, String> {
        let (mut at, end) = dictionary.list(index)?;
        let list = dictionary.lists;
        let mut out: Vec<Posting> = Vec::new();
        while at < end {
            let row = list.get(at)?;
            let tf = list.get(at + 1)? as usize;
            at += 2;
            if row >= self.rows || out.last().is_some_and(|last| last.row >= row) {
                return Err(format!(
                    "posting of term {index} names row {row} out of order"
                ));
            }
            if tf == 0 || tf > end - at {
                return Err(format!("posting of term {index} has a bad frequency {tf}"));
            }
            let positions = (at..at + tf)
                .map(|i| list.get(i))
                .collect::<Result<_, _>>()?;
            at += tf;
            out.push(Posting { row, positions });
        }
        Ok(out)
    }

    /// Rows holding a raw (unstemmed) word, or with `stems` also a term, that
    /// `matches` accepts; terms are offered as `+term`, the form of RediSearch's stem
    /// entries, which fuzzy matching reaches at one more edit.
    pub fn rows_matching(
        &self,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap, String> {
        let mut rows = RoaringBitmap::new();
        let dictionaries: &[&Dictionary<'_>] = if stems {
            &[&self.raws, &self.terms]
        } else {
            &[&self.raws]
        };
        let mut stem = String::new();
        for (which, dictionary) in dictionaries.iter().enumerate() {
            for index in 0..dictionary.count {
                let mut word = std::str::from_utf8(dictionary.term(index)?)
                    .map_err(|_| format!("word {index} is not UTF-8"))?;
                if which == 1 {
                    stem.clear();
                    stem.push('+');
                    stem.push_str(word);
                    word = &stem;
                }
                if matches(word) {
                    rows.extend(self.postings_at(dictionary, index)?.iter().map(|p| p.row));
                }
            }
        }
        Ok(rows)
    }

    /// Sum of the lengths of `rows`.
    pub fn total_length(&self, rows: &RoaringBitmap) -> Result<u64, String> {
        rows.iter().map(|row| self.length(row).map(u64::from)).sum()
    }

    /// Checks everything `open` leaves to use: dictionaries sorted and UTF-8, every
    /// list well formed, every row in range.
    pub fn verify(&self) -> Result<(), String> {
        for dictionary in [&self.terms, &self.raws] {
            let mut previous: Option<&[u8]> = None;
            for index in 0..dictionary.count {
                let term = dictionary.term(index)?;
                std::str::from_utf8(term).map_err(|_| format!("term {index} is not UTF-8"))?;
                if previous.is_some_and(|p| p >= term) {
                    return Err(format!("term {index} is out of order"));
                }
                previous = Some(term);
                dictionary.list(index)?;
            }
        }
        for dictionary in [&self.terms, &self.raws] {
            for index in 0..dictionary.count {
                self.postings_at(dictionary, index)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::TextOptions;

    #[test]
    fn round_trips_and_refuses_damage_without_panicking() {
        let analyzer = Analyzer::new(&TextOptions::default());
        let texts = [Some("running dogs run"), None, Some("a dog"), Some("cats")];
        let body = encode(&analyzer, texts.iter().copied());
        let view = TextIndexView::open(&body, 4).unwrap();
        view.verify().unwrap();
        let run = view.postings("run").unwrap();
        assert_eq!(run.len(), 1);
        assert_eq!((run[0].row, run[0].positions.clone()), (0, vec![0, 2]));
        assert_eq!(
            view.postings("dog")
                .unwrap()
                .iter()
                .map(|p| p.row)
                .collect::<Vec<_>>(),
            [0, 2]
        );
        assert!(view.postings("absent").unwrap().is_empty());
        assert_eq!(view.length(0).unwrap(), 3);
        assert_eq!(view.length(1).unwrap(), 0);
        let runn = view
            .rows_matching(&|w| w.starts_with("runn"), false)
            .unwrap();
        assert_eq!(runn.iter().collect::<Vec<_>>(), [0]);
        let running = view.raw_postings("running").unwrap();
        assert_eq!((running[0].row, running[0].positions.clone()), (0, vec![0]));
        assert_eq!(view.rows_matching(&|w| w == "+dog", true).unwrap().len(), 2);
        assert_eq!(view.rows_matching(&|w| w == "dog", false).unwrap().len(), 1);
        assert!(TextIndexView::open(&body, 5).is_err());
        // Every single-byte change and every truncation is an error or an answer,
        // never a panic.
        for at in 0..body.len() {
            let mut bad = body.clone();
            bad[at] ^= 0x5a;
            if let Ok(view) = TextIndexView::open(&bad, 4) {
                let _ = view.verify();
                let _ = view.postings("run");
                let _ = view.rows_matching(&|_| true, true);
            }
            assert!(TextIndexView::open(&body[..at], 4).is_err());
        }
    }
}
