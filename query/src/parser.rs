//! The query string grammar: boolean structure and the atoms it joins.
//!
//! ```text
//! query        = union [ "=>" knn_clause [ "=>" attributes ] ]
//! union        = intersection { "|" intersection }          -- lowest precedence
//! intersection = unary { unary }                            -- juxtaposition is AND
//! unary        = "-" unary | atom [ "=>" attributes ]
//! atom         = "(" union ")" | "*" | field_predicate | '"' phrase '"'
//!              | "$" name | word [ "*" ]
//! field_predicate = "@" name ( ":" ( tag_list | "[" range "]" | unary_in_field )
//!                            | ("==" | "!=" | ">" | ">=" | "<" | "<=") bound )
//! ```
//!
//! Inside `@field:(...)` only text atoms are allowed, and the field applies to each.

use crate::ast::{Filter, Query, QueryOptions, TextTerm, Value};
use crate::cursor::{is_word_char, Cursor};
use crate::error::QueryError;
use crate::limits::{widen, Limits};

pub(crate) struct Parser<'a> {
    pub(crate) cursor: Cursor<'a>,
    pub(crate) limits: &'a Limits,
    terms: usize,
}

/// Parses a query string (the FT.SEARCH query argument) into a [`Query`] with
/// default options. Parameters stay unbound; see [`Query::bind`].
///
/// # Errors
/// [`QueryError::Syntax`] with the byte position for malformed input,
/// [`QueryError::Unsupported`] for RediSearch syntax Strata lacks, and
/// [`QueryError::LimitExceeded`] past any of `limits`.
pub fn parse_query(query: &str, limits: &Limits) -> Result<Query, QueryError> {
    if query.len() > limits.max_query_bytes {
        return Err(QueryError::LimitExceeded {
            what: "query length in bytes",
            limit: widen(limits.max_query_bytes),
            found: widen(query.len()),
        });
    }
    let mut parser = Parser {
        cursor: Cursor::new(query),
        limits,
        terms: 0,
    };
    parser.parse_whole()
}

impl Parser<'_> {
    fn parse_whole(&mut self) -> Result<Query, QueryError> {
        self.cursor.skip_space();
        if self.cursor.at_end() {
            return Err(self.cursor.error("a query (`*` matches every document)"));
        }
        let filter = self.parse_union(0, None)?;
        self.cursor.skip_space();
        let mut vector = None;
        let arrow = self.cursor.pos();
        if self.cursor.eat_str("=>") {
            self.cursor.skip_space();
            match self.cursor.peek() {
                Some('[') => {
                    let mut clause = self.parse_knn()?;
                    if self.cursor.at_arrow_then('{') {
                        self.cursor.skip_space();
                        self.cursor.eat_str("=>");
                        self.cursor.skip_space();
                        self.parse_knn_attributes(&mut clause)?;
                    }
                    vector = Some(clause);
                }
                Some('{') => return Err(self.attributes_unsupported(arrow)),
                _ => return Err(self.cursor.error("`[` to open a KNN clause after `=>`")),
            }
            self.cursor.skip_space();
        }
        if !self.cursor.at_end() {
            let expected = if vector.is_some() {
                "end of query after the KNN clause"
            } else {
                "end of query"
            };
            return Err(self.cursor.error(expected));
        }
        Ok(Query {
            filter,
            vector,
            options: QueryOptions::default(),
        })
    }

    pub(crate) fn attributes_unsupported(&self, pos: usize) -> QueryError {
        self.cursor.unsupported_at(
            pos,
            "a `=>{...}` attribute block anywhere but after VECTOR_RANGE or a KNN clause",
        )
    }

    /// Counts one predicate against `max_terms`, so a long flat query fails fast.
    pub(crate) fn count_term(&mut self) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(QueryError::LimitExceeded {
                what: "number of terms",
                limit: widen(self.limits.max_terms),
                found: widen(self.terms),
            });
        }
        Ok(())
    }

    fn parse_union(
        &mut self,
        depth: usize,
        field: Option<&[String]>,
    ) -> Result<Filter, QueryError> {
        let mut alternatives = vec![self.parse_intersection(depth, field)?];
        loop {
            self.cursor.skip_space();
            if !self.cursor.eat('|') {
                break;
            }
            alternatives.push(self.parse_intersection(depth, field)?);
        }
        Ok(collapse(alternatives, Filter::Or))
    }

    fn parse_intersection(
        &mut self,
        depth: usize,
        field: Option<&[String]>,
    ) -> Result<Filter, QueryError> {
        let mut parts = vec![self.parse_unary(depth, field)?];
        loop {
            self.cursor.skip_space();
            if !self.at_term_start() {
                break;
            }
            parts.push(self.parse_unary(depth, field)?);
        }
        Ok(collapse(parts, Filter::And))
    }

    fn at_term_start(&self) -> bool {
        self.cursor.peek().is_some_and(|c| {
            is_word_char(c) || matches!(c, '\\' | '@' | '(' | '-' | '"' | '$' | '*' | '%' | '~')
        })
    }

    fn parse_unary(
        &mut self,
        depth: usize,
        field: Option<&[String]>,
    ) -> Result<Filter, QueryError> {
        if depth > self.limits.max_depth {
            return Err(QueryError::LimitExceeded {
                what: "nesting depth",
                limit: widen(self.limits.max_depth),
                found: widen(depth),
            });
        }
        self.cursor.skip_space();
        if self.cursor.eat('-') {
            self.cursor.skip_space();
            let inner = self.parse_unary(depth + 1, field)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        let mut atom = self.parse_atom(depth, field)?;
        while self.cursor.at_arrow_then('{') {
            self.cursor.skip_space();
            let arrow = self.cursor.pos();
            self.cursor.eat_str("=>");
            self.cursor.skip_space();
            if matches!(atom, Filter::VectorRange { .. }) {
                self.parse_range_attributes(&mut atom)?;
            } else {
                return Err(self.attributes_unsupported(arrow));
            }
        }
        Ok(atom)
    }

    fn parse_atom(&mut self, depth: usize, field: Option<&[String]>) -> Result<Filter, QueryError> {
        let start = self.cursor.pos();
        let expected = if field.is_some() {
            "a word, phrase or `(` after the field's `:`"
        } else {
            "a query term"
        };
        match self.cursor.peek() {
            Some('(') => {
                self.cursor.bump();
                let inner = self.parse_union(depth + 1, field)?;
                self.cursor.skip_space();
                if !self.cursor.eat(')') {
                    return Err(self
                        .cursor
                        .error(format!("`)` to close the group opened at byte {start}")));
                }
                Ok(inner)
            }
            Some('@') if field.is_none() => self.parse_field_predicate(depth),
            Some('"') => {
                let words = self.parse_phrase()?;
                Ok(text(field, TextTerm::Phrase(words)))
            }
            Some('$') => {
                self.cursor.bump();
                let name = self.cursor.read_name("a parameter name after `$`")?;
                if self.cursor.peek() == Some('*') {
                    return Err(self
                        .cursor
                        .unsupported_at(start, "a prefix match on a parameter (`$name*`)"));
                }
                self.count_term()?;
                Ok(text(field, TextTerm::Word(Value::Param(name))))
            }
            Some('*') if field.is_none() => {
                self.cursor.bump();
                if self
                    .cursor
                    .peek()
                    .is_some_and(|c| is_word_char(c) || matches!(c, '\\' | '$'))
                {
                    return Err(self
                        .cursor
                        .unsupported_at(start, "suffix and infix matching (`*term`, `*term*`)"));
                }
                self.count_term()?;
                Ok(Filter::All)
            }
            Some('%') => {
                let mut distance = 0u8;
                while self.cursor.eat('%') {
                    distance = distance.saturating_add(1);
                }
                if distance > 3 {
                    return Err(self
                        .cursor
                        .error_at(start, "1 to 3 `%` around a fuzzy word"));
                }
                if !self
                    .cursor
                    .peek()
                    .is_some_and(|c| is_word_char(c) || c == '\\')
                {
                    return Err(self.cursor.error("a word after `%`"));
                }
                let word = self.cursor.read_word()?;
                for _ in 0..distance {
                    if !self.cursor.eat('%') {
                        return Err(self.cursor.error(format!(
                            "{distance} `%` to close the fuzzy word opened at byte {start}"
                        )));
                    }
                }
                self.count_term()?;
                Ok(text(field, TextTerm::Fuzzy { word, distance }))
            }
            Some('~') => Err(self
                .cursor
                .unsupported_at(start, "optional terms (`~term`)")),
            Some(c) if is_word_char(c) || c == '\\' => {
                let word = self.cursor.read_word()?;
                if word == "w" && self.cursor.peek() == Some('\'') {
                    return Err(self
                        .cursor
                        .unsupported_at(start, "wildcard matching (`w'pattern'`)"));
                }
                self.count_term()?;
                if self.cursor.eat('*') {
                    return Ok(text(field, TextTerm::Prefix(word)));
                }
                Ok(text(field, TextTerm::Word(Value::Literal(word))))
            }
            _ => Err(self.cursor.error(expected)),
        }
    }

    fn parse_field_predicate(&mut self, depth: usize) -> Result<Filter, QueryError> {
        let start = self.cursor.pos();
        self.cursor.bump();
        let field = self.cursor.read_name("a field name after `@`")?;
        let mut fields = vec![field.clone()];
        // `@a|b:...`: text in any of the fields.
        while self.cursor.peek() == Some('|') {
            self.cursor.bump();
            fields.push(self.cursor.read_name("a field name after `|`")?);
        }
        self.cursor.skip_space();
        if fields.len() > 1 {
            if !self.cursor.eat(':') {
                return Err(self.cursor.error("`:` after the field names"));
            }
            self.cursor.skip_space();
            if matches!(self.cursor.peek(), Some('{' | '[')) {
                return Err(self.cursor.unsupported_at(
                    start,
                    "several fields before a tag list or a range (`@a|b:` applies to text)",
                ));
            }
            if !self.at_term_start() {
                return Err(self.cursor.error("text after the fields' `:`"));
            }
            return self.parse_unary(depth, Some(&fields));
        }
        match self.cursor.peek() {
            Some(':') => {
                self.cursor.bump();
                self.cursor.skip_space();
                match self.cursor.peek() {
                    Some('{') => self.parse_tag_list(field),
                    Some('[') => self.parse_bracket(field),
                    _ if self.at_term_start() => self.parse_unary(depth, Some(&fields)),
                    _ => Err(self.cursor.error(
                        "a tag list `{...}`, a range `[...]` or text after the field's `:`",
                    )),
                }
            }
            Some('=' | '!' | '>' | '<') => self.parse_comparison(field),
            _ => Err(self
                .cursor
                .error("`:` after the field name (escape punctuation in field names with `\\`)")),
        }
    }

    /// A quoted phrase; the cursor is on the opening quote.
    fn parse_phrase(&mut self) -> Result<Vec<String>, QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        let mut words = Vec::new();
        loop {
            self.cursor.skip_space();
            match self.cursor.peek() {
                Some('"') => {
                    self.cursor.bump();
                    break;
                }
                None => {
                    return Err(self
                        .cursor
                        .error(format!("`\"` to close the phrase opened at byte {open}")))
                }
                Some(c) if is_word_char(c) || c == '\\' => {
                    self.count_term()?;
                    words.push(self.cursor.read_word()?);
                }
                Some(_) => {
                    return Err(self.cursor.error(
                        "a word or the closing `\"` (escape punctuation in phrases with `\\`)",
                    ))
                }
            }
        }
        if words.is_empty() {
            return Err(self
                .cursor
                .error_at(open, "a phrase with at least one word"));
        }
        Ok(words)
    }
}

/// A text predicate; over several fields (`@a|b:word`), the `Or` of one per field,
/// which prints as `@a:word | @b:word` and parses back to the same tree.
fn text(fields: Option<&[String]>, term: TextTerm) -> Filter {
    match fields {
        Some([field]) => Filter::Text {
            field: Some(field.clone()),
            term,
        },
        Some(fields) if !fields.is_empty() => Filter::Or(
            fields
                .iter()
                .map(|field| Filter::Text {
                    field: Some(field.clone()),
                    term: term.clone(),
                })
                .collect(),
        ),
        _ => Filter::Text { field: None, term },
    }
}

/// One operand stands for itself; several become the n-ary node.
fn collapse(mut items: Vec<Filter>, node: fn(Vec<Filter>) -> Filter) -> Filter {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    node(items)
}
