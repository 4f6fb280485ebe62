//! Field predicates: tag lists, numeric ranges and comparisons, VECTOR_RANGE.

use crate::ast::{Filter, RangeBound, TagPattern, Value};
use crate::cursor::{is_space, is_word_char};
use crate::error::{excerpt, QueryError};
use crate::parser::Parser;

/// One entry of a tag list.
enum TagValue {
    Exact(Value<String>),
    Pattern(TagPattern),
}

impl Parser<'_> {
    /// `{a | b | $p | "quoted value"}`; the cursor is on `{`.
    pub(crate) fn parse_tag_list(&mut self, field: String) -> Result<Filter, QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        let mut values = Vec::new();
        let mut patterns = Vec::new();
        loop {
            self.cursor.skip_space();
            match self.parse_tag_value()? {
                TagValue::Exact(value) => values.push(value),
                TagValue::Pattern(pattern) => patterns.push(pattern),
            }
            self.count_term()?;
            self.cursor.skip_space();
            match self.cursor.peek() {
                Some('|') => {
                    self.cursor.bump();
                }
                Some('}') => {
                    self.cursor.bump();
                    break;
                }
                None => {
                    return Err(self
                        .cursor
                        .error(format!("`}}` to close the tag list opened at byte {open}")))
                }
                Some(_) => {
                    return Err(self.cursor.error(
                        "`|` or `}` in the tag list (escape punctuation in tag values with `\\`)",
                    ))
                }
            }
        }
        let mut alternatives: Vec<Filter> = Vec::new();
        if !values.is_empty() {
            alternatives.push(Filter::Tag {
                field: field.clone(),
                values,
            });
        }
        alternatives.extend(patterns.into_iter().map(|pattern| Filter::TagMatch {
            field: field.clone(),
            pattern,
        }));
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Filter::Or(alternatives)
        })
    }

    /// A value, `$param`, or a wildcard: `fin*`, `*ance`, `*an*` (the text bare or
    /// quoted; escape a literal `*` as `\*`).
    fn parse_tag_value(&mut self) -> Result<TagValue, QueryError> {
        let start = self.cursor.pos();
        let leading = self.cursor.eat('*');
        let value = match self.cursor.peek() {
            Some('$') if !leading => {
                self.cursor.bump();
                Value::Param(self.cursor.read_name("a parameter name after `$`")?)
            }
            Some('"') => Value::Literal(self.read_quoted_tag()?),
            _ => Value::Literal(self.read_bare_tag()?),
        };
        if matches!(&value, Value::Literal(text) if text.is_empty()) {
            return Err(self.cursor.error_at(start, "a tag value"));
        }
        let trailing = self.cursor.peek() == Some('*');
        let text = match value {
            Value::Literal(text) if leading || trailing => text,
            Value::Param(_) if trailing => {
                return Err(self.cursor.unsupported_at(
                    start,
                    "a wildcard on a parameter in a tag list (put the `*` in the value)",
                ))
            }
            exact => return Ok(TagValue::Exact(exact)),
        };
        if trailing {
            self.cursor.bump();
        }
        Ok(TagValue::Pattern(match (leading, trailing) {
            (true, true) => TagPattern::Infix(text),
            (true, false) => TagPattern::Suffix(text),
            _ => TagPattern::Prefix(text),
        }))
    }

    /// An unquoted tag value: surrounding whitespace is trimmed and inner runs of
    /// unescaped whitespace become one space, as RediSearch joins a multi-word tag.
    fn read_bare_tag(&mut self) -> Result<String, QueryError> {
        let mut value = String::new();
        let mut pending_space = false;
        loop {
            match self.cursor.peek() {
                Some(c) if is_space(c) => {
                    self.cursor.bump();
                    pending_space = true;
                }
                Some(c) if is_word_char(c) || c == '\\' => {
                    if let Some(c) = self.cursor.read_word_char()? {
                        if pending_space && !value.is_empty() {
                            value.push(' ');
                        }
                        pending_space = false;
                        value.push(c);
                    }
                }
                _ => return Ok(value),
            }
        }
    }

    /// `"..."`: every character literal except `\`, which takes the next one as is.
    fn read_quoted_tag(&mut self) -> Result<String, QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        let mut value = String::new();
        loop {
            match self.cursor.bump() {
                Some('"') => return Ok(value),
                Some('\\') => match self.cursor.bump() {
                    Some(c) => value.push(c),
                    None => break,
                },
                Some(c) => value.push(c),
                None => break,
            }
        }
        Err(self
            .cursor
            .error(format!("`\"` to close the tag value opened at byte {open}")))
    }

    /// `[low high]`, `[value]` or `[VECTOR_RANGE radius $vec]`; the cursor is on `[`.
    pub(crate) fn parse_bracket(&mut self, field: String) -> Result<Filter, QueryError> {
        let open = self.cursor.pos();
        self.cursor.bump();
        self.cursor.skip_space();
        let keyword_start = self.cursor.pos();
        let keyword = self.cursor.read_word()?;
        if keyword.eq_ignore_ascii_case("VECTOR_RANGE") {
            return self.parse_vector_range(field, open);
        }
        self.cursor.reset(keyword_start);
        self.count_term()?;
        let low = self.parse_bound("a lower bound: a number, `-inf` or a `$parameter`")?;
        self.skip_separator();
        if self.cursor.peek() == Some(']') {
            if !low.inclusive {
                return Err(self
                    .cursor
                    .error("an upper bound (a single-value range `[v]` cannot be exclusive)"));
            }
            self.cursor.bump();
            let high = low.clone();
            return Ok(Filter::Range { field, low, high });
        }
        let high = self.parse_bound("an upper bound: a number, `+inf` or a `$parameter`")?;
        self.cursor.skip_space();
        if !self.cursor.eat(']') {
            if self
                .cursor
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '$')
            {
                return Err(self
                    .cursor
                    .unsupported_at(open, "geo filters (`[lon lat radius unit]`)"));
            }
            return Err(self.cursor.error(format!(
                "`]` to close the numeric range opened at byte {open}"
            )));
        }
        Ok(Filter::Range { field, low, high })
    }

    fn skip_separator(&mut self) {
        self.cursor.skip_space();
        if self.cursor.eat(',') {
            self.cursor.skip_space();
        }
    }

    /// One bound: `5`, `(5`, `-inf`, `$lo`, `($lo`.
    fn parse_bound(&mut self, what: &str) -> Result<RangeBound, QueryError> {
        self.cursor.skip_space();
        let inclusive = !self.cursor.eat('(');
        self.cursor.skip_space();
        let value = self.parse_number_value(what)?;
        Ok(RangeBound { value, inclusive })
    }

    /// A number literal or a `$parameter`.
    pub(crate) fn parse_number_value(&mut self, what: &str) -> Result<Value<f64>, QueryError> {
        if self.cursor.eat('$') {
            return Ok(Value::Param(
                self.cursor.read_name("a parameter name after `$`")?,
            ));
        }
        Ok(Value::Literal(self.cursor.read_number(what)?))
    }

    /// A non-negative finite number literal or a `$parameter` (radius, epsilon).
    pub(crate) fn parse_distance_value(&mut self, what: &str) -> Result<Value<f64>, QueryError> {
        let start = self.cursor.pos();
        let value = self.parse_number_value(what)?;
        if let Value::Literal(number) = value {
            if !(number.is_finite() && number >= 0.0) {
                return Err(QueryError::Syntax {
                    pos: start,
                    expected: what.to_string(),
                    found: excerpt(self.cursor.slice(start, self.cursor.pos())),
                });
            }
        }
        Ok(value)
    }

    /// `@field==v`, `!=`, `>`, `>=`, `<`, `<=` (RediSearch 2.10 shorthand for ranges).
    pub(crate) fn parse_comparison(&mut self, field: String) -> Result<Filter, QueryError> {
        let operator_start = self.cursor.pos();
        let operator = ["==", "!=", ">=", "<=", ">", "<"]
            .into_iter()
            .find(|operator| self.cursor.eat_str(operator));
        let Some(operator) = operator else {
            return Err(self
                .cursor
                .error_at(operator_start, "`:`, `==`, `!=`, `>`, `>=`, `<` or `<=`"));
        };
        self.cursor.skip_space();
        self.count_term()?;
        let value = self.parse_number_value("a number or a `$parameter`")?;
        let bound = |inclusive| RangeBound {
            value: value.clone(),
            inclusive,
        };
        let (low, high) = match operator {
            "==" | "!=" => (bound(true), bound(true)),
            ">" => (bound(false), RangeBound::inclusive(f64::INFINITY)),
            ">=" => (bound(true), RangeBound::inclusive(f64::INFINITY)),
            "<" => (RangeBound::inclusive(f64::NEG_INFINITY), bound(false)),
            _ => (RangeBound::inclusive(f64::NEG_INFINITY), bound(true)),
        };
        let range = Filter::Range { field, low, high };
        Ok(if operator == "!=" {
            Filter::Not(Box::new(range))
        } else {
            range
        })
    }

    /// After `[VECTOR_RANGE`: `radius $vec ]`.
    fn parse_vector_range(&mut self, field: String, open: usize) -> Result<Filter, QueryError> {
        self.count_term()?;
        self.cursor.skip_space();
        let radius = self.parse_distance_value(
            "the VECTOR_RANGE radius: a non-negative number or a `$parameter`",
        )?;
        self.cursor.skip_space();
        let vector_param = self.parse_vector_param()?;
        self.cursor.skip_space();
        if !self.cursor.eat(']') {
            return Err(self.cursor.error(format!(
                "`]` to close the VECTOR_RANGE clause opened at byte {open}"
            )));
        }
        Ok(Filter::VectorRange {
            field,
            radius,
            vector_param,
            yield_distance_as: None,
            epsilon: None,
        })
    }

    /// `$name` naming the query vector.
    pub(crate) fn parse_vector_param(&mut self) -> Result<String, QueryError> {
        if !self.cursor.eat('$') {
            return Err(self.cursor.error("a `$parameter` holding the query vector"));
        }
        self.cursor.read_name("a parameter name after `$`")
    }
}
