//! Parameter values and the binding step that substitutes them into a query.

use std::collections::BTreeMap;

use crate::ast::{Filter, Query, RangeBound, TextTerm, Value};
use crate::error::{excerpt, QueryError};
use crate::limits::Limits;
use crate::number::{parse_count, parse_number, NumberText};

/// The value of one `$name` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Text, as FT.SEARCH's `PARAMS` carries it; numbers are parsed from it.
    Text(String),
    /// A query vector for KNN or VECTOR_RANGE.
    Vector(Vec<f32>),
}

/// Parameter values by name (without the `$`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params::default()
    }

    /// Adds (or replaces) a text parameter, builder style.
    pub fn with_text(mut self, name: impl Into<String>, value: impl Into<String>) -> Params {
        self.values
            .insert(name.into(), ParamValue::Text(value.into()));
        self
    }

    /// Adds (or replaces) a vector parameter, builder style.
    pub fn with_vector(mut self, name: impl Into<String>, vector: impl Into<Vec<f32>>) -> Params {
        self.values
            .insert(name.into(), ParamValue::Vector(vector.into()));
        self
    }

    /// Adds or replaces a parameter; returns the value it replaced.
    pub fn insert(&mut self, name: impl Into<String>, value: ParamValue) -> Option<ParamValue> {
        self.values.insert(name.into(), value)
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// The vector named `name`, if given as a vector.
    pub fn vector(&self, name: &str) -> Option<&[f32]> {
        match self.values.get(name) {
            Some(ParamValue::Vector(vector)) => Some(vector),
            _ => None,
        }
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Query {
    /// Substitutes every `$name` in the query with its value and checks it fits.
    ///
    /// Values come from `params` first, then from the query's own `PARAMS` option.
    /// Tag values, words, numeric bounds, `k`, `EF_RUNTIME`, `BATCH_SIZE`, radius and
    /// epsilon become literals; a numeric bound's text may start with `(` to make the
    /// bound exclusive, as in RediSearch. The query vector stays a reference by name
    /// (the engine reads it with [`Params::vector`]); `bind` only checks it exists
    /// and is a vector. Literal values are left as they are.
    ///
    /// # Errors
    /// [`QueryError::MissingParam`], [`QueryError::ParamType`] (such as `$lo` given
    /// as `"abc"` for a numeric bound), or [`QueryError::LimitExceeded`] when a bound
    /// `k`, `EF_RUNTIME` or `BATCH_SIZE` is over `limits`.
    pub fn bind(&self, params: &Params, limits: &Limits) -> Result<Query, QueryError> {
        let binder = Binder {
            params,
            options: &self.options.params,
        };
        let mut bound = self.clone();
        // An explicit stack rather than recursion: the tree may be hand-built.
        let mut pending: Vec<&mut Filter> = vec![&mut bound.filter];
        while let Some(node) = pending.pop() {
            match node {
                Filter::And(children) | Filter::Or(children) => pending.extend(children.iter_mut()),
                Filter::Not(inner) => pending.push(inner),
                Filter::All
                | Filter::TagMatch { .. }
                | Filter::Text {
                    term: TextTerm::Phrase(_) | TextTerm::Prefix(_) | TextTerm::Fuzzy { .. },
                    ..
                } => {}
                Filter::Tag { values, .. } => {
                    for value in values {
                        binder.text(value)?;
                    }
                }
                Filter::Text {
                    term: TextTerm::Word(word),
                    ..
                } => binder.text(word)?,
                Filter::Range { low, high, .. } => {
                    binder.bound(low)?;
                    binder.bound(high)?;
                }
                Filter::VectorRange {
                    radius,
                    vector_param,
                    epsilon,
                    ..
                } => {
                    binder.distance(radius)?;
                    if let Some(epsilon) = epsilon {
                        binder.distance(epsilon)?;
                    }
                    binder.vector(vector_param)?;
                }
            }
        }
        if let Some(clause) = &mut bound.vector {
            binder.count(&mut clause.k, 0, limits.max_k, "KNN k")?;
            if let Some(ef_runtime) = &mut clause.ef_runtime {
                binder.count(ef_runtime, 1, limits.max_ef_runtime, "EF_RUNTIME")?;
            }
            if let Some(batch_size) = &mut clause.batch_size {
                binder.count(batch_size, 1, limits.max_batch_size, "BATCH_SIZE")?;
            }
            if let Some(nprobe) = &mut clause.nprobe {
                binder.count(nprobe, 1, crate::knn::MAX_NPROBE, "NPROBE")?;
            }
            if let Some(refine) = &mut clause.refine {
                binder.count(refine, 1, crate::knn::MAX_REFINE, "REFINE")?;
            }
            binder.vector(&clause.vector_param)?;
        }
        Ok(bound)
    }
}

struct Binder<'a> {
    params: &'a Params,
    options: &'a [(String, String)],
}

impl Binder<'_> {
    fn lookup(&self, name: &str) -> Option<Lookup<'_>> {
        match self.params.get(name) {
            Some(ParamValue::Text(text)) => Some(Lookup::Text(text)),
            Some(ParamValue::Vector(vector)) => Some(Lookup::Vector(vector)),
            None => self
                .options
                .iter()
                .find(|(option_name, _)| option_name == name)
                .map(|(_, text)| Lookup::Text(text)),
        }
    }

    /// The text value of `name`, or why there is none.
    fn text_of(&self, name: &str, expected: &str) -> Result<&str, QueryError> {
        match self.lookup(name) {
            Some(Lookup::Text(text)) => Ok(text),
            Some(Lookup::Vector(vector)) => Err(QueryError::ParamType {
                name: name.to_string(),
                expected: expected.to_string(),
                found: format!("a vector of length {}", vector.len()),
            }),
            None => Err(missing(name)),
        }
    }

    fn text(&self, value: &mut Value<String>) -> Result<(), QueryError> {
        let Value::Param(name) = value else {
            return Ok(());
        };
        let expected = "non-empty text";
        let text = self.text_of(name, expected)?;
        if text.is_empty() {
            return Err(wrong_type(name, expected, text));
        }
        *value = Value::Literal(text.to_string());
        Ok(())
    }

    fn bound(&self, bound: &mut RangeBound) -> Result<(), QueryError> {
        let Value::Param(name) = &bound.value else {
            return Ok(());
        };
        let expected = "a number such as `5`, `(5`, `-inf` or `+inf`";
        let text = self.text_of(name, expected)?;
        let (exclusive, number) = match text.strip_prefix('(') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let NumberText::Valid(number) = parse_number(number) else {
            return Err(wrong_type(name, expected, text));
        };
        bound.value = Value::Literal(number);
        bound.inclusive &= !exclusive;
        Ok(())
    }

    fn distance(&self, value: &mut Value<f64>) -> Result<(), QueryError> {
        let Value::Param(name) = value else {
            return Ok(());
        };
        let expected = "a non-negative number";
        let text = self.text_of(name, expected)?;
        match parse_number(text) {
            NumberText::Valid(number) if number.is_finite() && number >= 0.0 => {
                *value = Value::Literal(number);
                Ok(())
            }
            _ => Err(wrong_type(name, expected, text)),
        }
    }

    fn count(
        &self,
        value: &mut Value<u64>,
        min: u64,
        limit: u64,
        what: &'static str,
    ) -> Result<(), QueryError> {
        let Value::Param(name) = value else {
            return Ok(());
        };
        let expected = if min == 0 {
            "a whole number"
        } else {
            "a whole number of at least 1"
        };
        let text = self.text_of(name, expected)?;
        match parse_count(text) {
            Some(count) if count > limit => Err(QueryError::LimitExceeded {
                what,
                limit,
                found: count,
            }),
            Some(count) if count >= min => {
                *value = Value::Literal(count);
                Ok(())
            }
            _ => Err(wrong_type(name, expected, text)),
        }
    }

    fn vector(&self, name: &str) -> Result<(), QueryError> {
        match self.lookup(name) {
            Some(Lookup::Vector(_)) => Ok(()),
            Some(Lookup::Text(text)) => Err(wrong_type(name, "a vector (`Vec<f32>`)", text)),
            None => Err(missing(name)),
        }
    }
}

enum Lookup<'a> {
    Text(&'a str),
    Vector(&'a [f32]),
}

fn missing(name: &str) -> QueryError {
    QueryError::MissingParam {
        name: name.to_string(),
    }
}

fn wrong_type(name: &str, expected: &str, text: &str) -> QueryError {
    QueryError::ParamType {
        name: name.to_string(),
        expected: expected.to_string(),
        found: format!("text {}", excerpt(text)),
    }
}
