//! Text analysis shared by documents and queries: RediSearch's tokenisation (split on
//! whitespace and punctuation other than `_`, `\` escapes a separator into the word),
//! lowercasing, its default stop words, then a Snowball stemmer in the field's
//! language unless the field is `NOSTEM`.
//!
//! Positions count kept words only: a stop word takes no position, so the phrase
//! `"state art"` matches "state of the art", as in RediSearch.

use tantivy::tokenizer::{
    Language as StemLanguage, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

use crate::model::schema::{TextLanguage, TextOptions};

/// RediSearch's default stop words (its `DEFAULT_STOPWORDS`), used for every field
/// whatever its language, as RediSearch does unless an index sets its own list.
pub(crate) const STOP_WORDS: [&str; 33] = [
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
    "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with",
];

/// Longest token kept, in bytes; longer runs are cut there (a megabyte "word" would
/// otherwise become one term that every prefix or fuzzy scan has to compare).
const MAX_TOKEN_BYTES: usize = 256;

/// Whether `c` separates words in a document or a query word.
pub(crate) fn is_separator(c: char) -> bool {
    c.is_whitespace() || (c.is_ascii_punctuation() && c != '_')
}

/// One analysed word of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    /// Lowercased, unstemmed: what prefix and fuzzy matching compare.
    pub raw: String,
    /// The indexed term: `raw` stemmed (or `raw` itself for a `NOSTEM` field).
    pub stem: String,
    /// Position among the text's kept words, from 0.
    pub position: u32,
    /// Byte range in the text (for highlighting).
    pub from: usize,
    pub to: usize,
}

/// Splits `text` as RediSearch does and lowercases: `(word, from, to)` for each word,
/// stop words included.
fn split(text: &str) -> Vec<(String, usize, usize)> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let c = if c == '\\' {
            match chars.peek() {
                Some(&(_, next)) if is_separator(next) && !next.is_whitespace() => {
                    chars.next();
                    next
                }
                _ => {
                    // A lone backslash separates like other punctuation.
                    if !current.is_empty() {
                        words.push((std::mem::take(&mut current), start, at));
                    }
                    continue;
                }
            }
        } else if is_separator(c) {
            if !current.is_empty() {
                words.push((std::mem::take(&mut current), start, at));
            }
            continue;
        } else {
            c
        };
        if current.is_empty() {
            start = at;
        }
        if current.len() < MAX_TOKEN_BYTES {
            current.extend(c.to_lowercase());
        }
    }
    if !current.is_empty() {
        words.push((current, start, text.len()));
    }
    words
}

/// The analyser of one TEXT field.
#[derive(Clone)]
pub(crate) struct Analyzer {
    /// `None` for a `NOSTEM` field.
    stemmer: Option<TextAnalyzer>,
    /// The same stemmer over one word taken whole (a query word the query parser
    /// already split, which may hold escaped punctuation).
    word_stemmer: Option<TextAnalyzer>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("stems", &self.stemmer.is_some())
            .finish()
    }
}

/// A tantivy analyser equal to Strata's for a field with `options`: what the BM25
/// oracle in the tests registers.
pub fn tantivy_analyzer(options: &TextOptions) -> TextAnalyzer {
    let builder = TextAnalyzer::builder(RedisTokenizer);
    match options.stemming_language() {
        Some(language) => builder
            .filter(Stemmer::new(stem_language(language)))
            .build(),
        None => builder.build(),
    }
}

fn stem_language(language: TextLanguage) -> StemLanguage {
    match language {
        TextLanguage::Arabic => StemLanguage::Arabic,
        TextLanguage::Danish => StemLanguage::Danish,
        TextLanguage::Dutch => StemLanguage::Dutch,
        TextLanguage::English => StemLanguage::English,
        TextLanguage::Finnish => StemLanguage::Finnish,
        TextLanguage::French => StemLanguage::French,
        TextLanguage::German => StemLanguage::German,
        TextLanguage::Greek => StemLanguage::Greek,
        TextLanguage::Hungarian => StemLanguage::Hungarian,
        TextLanguage::Italian => StemLanguage::Italian,
        TextLanguage::Norwegian => StemLanguage::Norwegian,
        TextLanguage::Portuguese => StemLanguage::Portuguese,
        TextLanguage::Romanian => StemLanguage::Romanian,
        TextLanguage::Russian => StemLanguage::Russian,
        TextLanguage::Spanish => StemLanguage::Spanish,
        TextLanguage::Swedish => StemLanguage::Swedish,
        TextLanguage::Tamil => StemLanguage::Tamil,
        TextLanguage::Turkish => StemLanguage::Turkish,
    }
}

impl Analyzer {
    /// The analyser for a field with `options`.
    pub fn new(options: &TextOptions) -> Analyzer {
        Analyzer {
            stemmer: options
                .stemming_language()
                .map(|_| tantivy_analyzer(options)),
            word_stemmer: options.stemming_language().map(|language| {
                TextAnalyzer::builder(RawTokenizer::default())
                    .filter(Stemmer::new(stem_language(language)))
                    .build()
            }),
        }
    }

    /// The words of `text`, stop words removed, each with its stem.
    pub fn analyze(&self, text: &str) -> Vec<Word> {
        let mut words: Vec<Word> = split(text)
            .into_iter()
            .filter(|(word, _, _)| !STOP_WORDS.contains(&word.as_str()))
            .enumerate()
            .map(|(position, (raw, from, to))| Word {
                stem: String::new(),
                raw,
                position: position as u32,
                from,
                to,
            })
            .collect();
        match &self.stemmer {
            None => {
                for word in &mut words {
                    word.stem = word.raw.clone();
                }
            }
            Some(stemmer) => {
                let mut stemmer = stemmer.clone();
                let mut stream = stemmer.token_stream(text);
                let mut index = 0;
                while stream.advance() {
                    if let Some(word) = words.get_mut(index) {
                        word.stem = stream.token().text.clone();
                    }
                    index += 1;
                }
            }
        }
        words
    }

    /// The indexed term a query word (as the query parser split it) stands for, or
    /// `None` for a stop word.
    pub fn query_term(&self, word: &str) -> Option<String> {
        let lower: String = word.chars().flat_map(char::to_lowercase).collect();
        if lower.is_empty() || STOP_WORDS.contains(&lower.as_str()) {
            return None;
        }
        Some(match &self.word_stemmer {
            None => lower,
            Some(stemmer) => {
                let mut stemmer = stemmer.clone();
                let mut stream = stemmer.token_stream(&lower);
                let stem = stream.advance().then(|| stream.token().text.clone());
                drop(stream);
                stem.unwrap_or(lower)
            }
        })
    }
}

/// RediSearch's tokeniser as a tantivy tokeniser, so a plain tantivy index (the tests'
/// BM25 oracle) analyses exactly as Strata does: separators, escapes, lowercasing and
/// stop words; positions count kept words.
#[derive(Clone, Debug, Default)]
pub struct RedisTokenizer;

/// The tokens of one text, owned so a filter (the stemmer) can rewrite each in place.
#[derive(Debug)]
pub struct RedisTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for RedisTokenizer {
    type TokenStream<'a> = RedisTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> RedisTokenStream {
        let tokens = split(text)
            .into_iter()
            .filter(|(word, _, _)| !STOP_WORDS.contains(&word.as_str()))
            .enumerate()
            .map(|(position, (word, from, to))| Token {
                offset_from: from,
                offset_to: to,
                position,
                text: word,
                position_length: 1,
            })
            .collect();
        RedisTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for RedisTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    // Called only after `advance` returned true (tantivy's contract), so `next >= 1`.
    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }

    fn token_mut(&mut self) -> &mut Token {
        let at = self.next.saturating_sub(1);
        &mut self.tokens[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(options: &TextOptions, text: &str) -> Vec<String> {
        Analyzer::new(options)
            .analyze(text)
            .into_iter()
            .map(|w| w.stem)
            .collect()
    }

    #[test]
    fn splits_like_redisearch_drops_stop_words_and_stems() {
        let english = TextOptions::default();
        assert_eq!(
            stems(&english, "The Running-dogs, of foo_bar.baz!"),
            ["run", "dog", "foo_bar", "baz"]
        );
        assert_eq!(
            stems(&english, r"hello\-world hello-world"),
            ["hello-world", "hello", "world"]
        );
        let nostem = TextOptions::default().no_stem();
        assert_eq!(stems(&nostem, "Running dogs"), ["running", "dogs"]);
        let words = Analyzer::new(&english).analyze("state of the art");
        assert_eq!(
            words
                .iter()
                .map(|w| (w.raw.as_str(), w.position))
                .collect::<Vec<_>>(),
            [("state", 0), ("art", 1)]
        );
        assert_eq!(Analyzer::new(&english).query_term("The"), None);
        assert_eq!(
            Analyzer::new(&english).query_term("Libraries"),
            Some("librari".into())
        );
        assert_eq!(
            Analyzer::new(&english).query_term("hello-world"),
            Some("hello-world".into())
        );
    }
}
