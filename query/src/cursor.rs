//! Character-level reading of the query string.
//!
//! The dialect is context-sensitive (`1.5` is a number inside `[...]` but not a word,
//! `|` separates tag values inside `{...}` and alternatives outside), so instead of a
//! separate token stream the parser reads through this cursor with the reader that
//! fits the context. Every position it holds sits on a character boundary.

use crate::error::{excerpt, QueryError};
use crate::number::{parse_count, parse_number, NumberText};

/// Characters that make up words, field names and parameter names unescaped.
/// Mirrors RediSearch: anything but ASCII punctuation, whitespace and control
/// characters; non-ASCII text is all word characters.
pub(crate) fn is_word_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || c == '_'
}

/// Whitespace as C's `isspace` sees it (RediSearch's lexer skips exactly these).
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// What a backslash may escape: ASCII punctuation and whitespace.
pub(crate) fn is_escapable(c: char) -> bool {
    c.is_ascii_punctuation() || is_space(c)
}

#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    source: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(source: &'a str) -> Cursor<'a> {
        Cursor { source, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to a position this cursor handed out earlier.
    pub(crate) fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The source between two positions this cursor handed out.
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.source.get(start..end).unwrap_or("")
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.source.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(crate) fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_str(&mut self, expected: &str) -> bool {
        if self.rest().starts_with(expected) {
            self.pos += expected.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
    }

    /// True at `=>` (after optional whitespace) followed by `open`; consumes nothing.
    pub(crate) fn at_arrow_then(&mut self, open: char) -> bool {
        let start = self.pos;
        self.skip_space();
        let found = self.eat_str("=>") && {
            self.skip_space();
            self.peek() == Some(open)
        };
        self.pos = start;
        found
    }

    /// Describes what sits at `pos` for an error message.
    pub(crate) fn found_at(&self, pos: usize) -> String {
        let rest = self.source.get(pos..).unwrap_or("");
        let mut chars = rest.chars();
        let in_word = |c: char| is_word_char(c) || c == '\\';
        match chars.next() {
            None => "end of query".to_string(),
            // A sigil is shown with its name: `$vec`, `@field`.
            Some(c)
                if in_word(c) || (matches!(c, '$' | '@') && chars.next().is_some_and(in_word)) =>
            {
                let end = rest
                    .char_indices()
                    .skip(1)
                    .find(|&(_, c)| !in_word(c))
                    .map_or(rest.len(), |(at, _)| at);
                excerpt(rest.get(..end).unwrap_or(rest))
            }
            Some(c) => excerpt(c.encode_utf8(&mut [0; 4])),
        }
    }

    pub(crate) fn error_at(&self, pos: usize, expected: impl Into<String>) -> QueryError {
        QueryError::Syntax {
            pos,
            expected: expected.into(),
            found: self.found_at(pos),
        }
    }

    pub(crate) fn error(&self, expected: impl Into<String>) -> QueryError {
        self.error_at(self.pos, expected)
    }

    pub(crate) fn unsupported_at(&self, pos: usize, feature: impl Into<String>) -> QueryError {
        QueryError::Unsupported {
            pos,
            feature: feature.into(),
        }
    }

    /// Reads word characters and backslash escapes; may return an empty string.
    pub(crate) fn read_word(&mut self) -> Result<String, QueryError> {
        let mut word = String::new();
        while let Some(c) = self.read_word_char()? {
            word.push(c);
        }
        Ok(word)
    }

    /// One word character, unescaped; `None` at anything that ends a word.
    pub(crate) fn read_word_char(&mut self) -> Result<Option<char>, QueryError> {
        match self.peek() {
            Some(c) if is_word_char(c) => {
                self.bump();
                Ok(Some(c))
            }
            Some('\\') => {
                self.bump();
                match self.peek() {
                    Some(c) if is_escapable(c) => {
                        self.bump();
                        Ok(Some(c))
                    }
                    _ => Err(self.error("punctuation or whitespace after `\\`")),
                }
            }
            _ => Ok(None),
        }
    }

    /// A non-empty word, or an error naming `what` was expected.
    pub(crate) fn read_name(&mut self, what: &str) -> Result<String, QueryError> {
        let start = self.pos;
        let word = self.read_word()?;
        if word.is_empty() {
            return Err(self.error_at(start, what));
        }
        Ok(word)
    }

    /// The run of characters a number or count could be made of, for reading and
    /// for quoting whole in an error (`abc`, `1.5`, `-3` rather than one character).
    fn read_numeric_token(&mut self) -> &'a str {
        let start = self.pos;
        let mut previous = None;
        while let Some(c) = self.peek() {
            let sign_allowed = previous.is_none() || matches!(previous, Some('e' | 'E'));
            if c.is_ascii_alphanumeric() || c == '.' || (sign_allowed && (c == '+' || c == '-')) {
                self.bump();
                previous = Some(c);
            } else {
                break;
            }
        }
        self.source.get(start..self.pos).unwrap_or("")
    }

    /// A numeric literal (`-1.5`, `2e3`, `+inf`).
    pub(crate) fn read_number(&mut self, what: &str) -> Result<f64, QueryError> {
        let start = self.pos;
        let token = self.read_numeric_token();
        match parse_number(token) {
            NumberText::Valid(value) => Ok(value),
            NumberText::OutOfRange => Err(QueryError::Syntax {
                pos: start,
                expected: "a number within the range of a 64-bit float".to_string(),
                found: excerpt(token),
            }),
            NumberText::Invalid => Err(self.invalid_token(start, token, what)),
        }
    }

    /// A whole number of digits; saturates past `u64` (the caller's limit catches it).
    pub(crate) fn read_count(&mut self, what: &str) -> Result<u64, QueryError> {
        let start = self.pos;
        let token = self.read_numeric_token();
        parse_count(token).ok_or_else(|| self.invalid_token(start, token, what))
    }

    fn invalid_token(&self, start: usize, token: &str, what: &str) -> QueryError {
        if token.is_empty() {
            self.error_at(start, what)
        } else {
            QueryError::Syntax {
                pos: start,
                expected: what.to_string(),
                found: excerpt(token),
            }
        }
    }
}
