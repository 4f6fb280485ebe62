//! Filters: the typed builder, and the compiled form the executor evaluates.
//!
//! A filter from the RediSearch parser or from [`Filter`]'s builder methods is the same
//! `strata_query::Filter` AST; [`compile`] checks it against the schema once (field
//! kinds, tag normalisation, parameters already bound) and evaluates it per source to
//! a roaring bitmap of matching rows.

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_query::{Filter as Ast, RangeBound, TagPattern, TextTerm, Value as AstValue};

use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};

/// A filter on TAG, NUMERIC and TEXT fields, combinable with AND, OR and NOT. Builds
/// the same tree as the query string it mirrors.
///
/// ```
/// use strata::Filter;
/// // (@category:{AI|ML} @price:[0 (100] -@status:{draft})
/// let filter = Filter::tag("category", ["AI", "ML"])
///     .and(Filter::range("price", 0.0..100.0))
///     .and(Filter::tag("status", ["draft"]).not());
/// assert_eq!(filter.to_string(), "@category:{AI | ML} @price:[0 (100] -@status:{draft}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Filter(pub(crate) Ast);

impl Filter {
    /// Every document (`*`).
    ///
    /// ```
    /// use strata::Filter;
    /// assert_eq!(Filter::all().to_string(), "*");
    /// ```
    pub fn all() -> Filter {
        Filter(Ast::All)
    }

    /// Documents whose TAG `field` holds any of `values` (`@field:{a | b}`).
    ///
    /// ```
    /// use strata::Filter;
    /// assert_eq!(Filter::tag("kind", ["a", "b"]).to_string(), "@kind:{a | b}");
    /// ```
    pub fn tag<I, S>(field: &str, values: I) -> Filter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values
            .into_iter()
            .map(|v| AstValue::Literal(v.into()))
            .collect();
        Filter(Ast::Tag {
            field: field.to_string(),
            values,
        })
    }

    /// Documents whose NUMERIC `field` lies in `range` (`@field:[low high]`, with `(`
    /// for an excluded bound; an unbounded end is `-inf` / `+inf`). A document without
    /// the field never matches.
    ///
    /// ```
    /// use strata::Filter;
    /// assert_eq!(Filter::range("price", 10.0..).to_string(), "@price:[10 +inf]");
    /// assert_eq!(Filter::range("price", ..=5.0).to_string(), "@price:[-inf 5]");
    /// ```
    pub fn range(field: &str, range: impl std::ops::RangeBounds<f64>) -> Filter {
        let bound = |bound: Bound<&f64>, infinity: f64| match bound {
            Bound::Included(value) => RangeBound::inclusive(*value),
            Bound::Excluded(value) => RangeBound::exclusive(*value),
            Bound::Unbounded => RangeBound::inclusive(infinity),
        };
        Filter(Ast::Range {
            field: field.to_string(),
            low: bound(range.start_bound(), f64::NEG_INFINITY),
            high: bound(range.end_bound(), f64::INFINITY),
        })
    }

    /// Documents whose TEXT `field` holds `word` (`@field:word`): analysed as the
    /// field's documents are (lowercased, stemmed unless `NOSTEM`); a stop word
    /// matches nothing on its own and is left out of an `and`.
    pub fn text(field: &str, word: &str) -> Filter {
        Filter::text_term(
            Some(field),
            TextTerm::Word(AstValue::Literal(word.to_string())),
        )
    }

    /// Documents with `word` in any TEXT field (a bare word).
    pub fn any_text(word: &str) -> Filter {
        Filter::text_term(None, TextTerm::Word(AstValue::Literal(word.to_string())))
    }

    /// Documents whose TEXT `field` holds `words` adjacent and in order
    /// (`@field:"a b"`; stop words in between take no position).
    pub fn phrase<I, S>(field: &str, words: I) -> Filter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Filter::text_term(
            Some(field),
            TextTerm::Phrase(words.into_iter().map(Into::into).collect()),
        )
    }

    /// Documents whose TEXT `field` holds a word starting with `prefix` (`@field:pre*`,
    /// compared unstemmed).
    pub fn prefix(field: &str, prefix: &str) -> Filter {
        Filter::text_term(Some(field), TextTerm::Prefix(prefix.to_string()))
    }

    /// Documents whose TEXT `field` holds a word within `distance` (1 to 3) edits of
    /// `word` (`@field:%word%`).
    pub fn fuzzy(field: &str, word: &str, distance: u8) -> Filter {
        Filter::text_term(
            Some(field),
            TextTerm::Fuzzy {
                word: word.to_string(),
                distance,
            },
        )
    }

    fn text_term(field: Option<&str>, term: TextTerm) -> Filter {
        Filter(Ast::Text {
            field: field.map(str::to_string),
            term,
        })
    }

    /// Both filters (juxtaposition in the query language).
    ///
    /// ```
    /// use strata::Filter;
    /// let both = Filter::tag("kind", ["a"]).and(Filter::range("n", 0.0..=1.0));
    /// assert_eq!(both.to_string(), "@kind:{a} @n:[0 1]");
    /// ```
    #[must_use]
    pub fn and(mut self, other: Filter) -> Filter {
        // Flattened, so a long chain of `and`s stays one level deep.
        if let Ast::And(children) = &mut self.0 {
            children.push(other.0);
            return self;
        }
        Filter(Ast::And(vec![self.0, other.0]))
    }

    /// Either filter (`|`).
    ///
    /// ```
    /// use strata::Filter;
    /// let either = Filter::tag("kind", ["a"]).or(Filter::tag("kind", ["b"]));
    /// assert_eq!(either.to_string(), "@kind:{a} | @kind:{b}");
    /// ```
    #[must_use]
    pub fn or(mut self, other: Filter) -> Filter {
        if let Ast::Or(children) = &mut self.0 {
            children.push(other.0);
            return self;
        }
        Filter(Ast::Or(vec![self.0, other.0]))
    }

    /// Documents that do not match (`-`). Also `!filter`.
    #[must_use]
    #[expect(
        clippy::should_implement_trait,
        reason = "the builder reads .and().or().not(); `Not` is implemented too"
    )]
    ///
    /// ```
    /// use strata::Filter;
    /// assert_eq!(Filter::tag("kind", ["a"]).not().to_string(), "-@kind:{a}");
    /// assert_eq!(!!Filter::tag("kind", ["a"]), Filter::tag("kind", ["a"]));
    /// ```
    pub fn not(mut self) -> Filter {
        if let Ast::Not(inner) = &mut self.0 {
            return Filter(std::mem::replace(&mut **inner, Ast::All));
        }
        Filter(Ast::Not(Box::new(self.0)))
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        Filter::not(self)
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A filter checked against the schema, with tags normalised as the field indexes
/// store them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Compiled {
    All,
    Tag {
        position: u16,
        tags: Vec<String>,
    },
    /// A tag wildcard, its text normalised as the field's tags are.
    TagMatch {
        position: u16,
        pattern: TagPattern,
    },
    Range {
        position: u16,
        low: Bound<f64>,
        high: Bound<f64>,
    },
    VectorRange {
        position: u16,
        radius: f32,
        /// How far past the radius an HNSW range walk explores (`$EPSILON`).
        epsilon: f32,
        vector: Vec<f32>,
    },
    /// A text predicate: words, phrases, prefixes, fuzzy words in TEXT fields.
    Text(crate::read::text::TextPredicate),
    /// Only stop words: RediSearch drops them from the query, so this node is left out
    /// of the `And` or `Or` holding it (and a query of nothing else matches nothing).
    StopWords,
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
}

/// What a filter needs from a row source (the memtable or a segment).
pub(crate) trait RowSource {
    /// Rows the source holds, live or not.
    fn row_count(&self) -> u64;
    /// Rows that are live now: not deleted, not expired.
    fn live(&self) -> RoaringBitmap;
    /// Rows whose TAG field at `position` holds `tag` (normalised).
    fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap>;
    /// Rows whose TAG field at `position` holds a tag `matches` accepts.
    fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap>;
    /// Rows whose NUMERIC field at `position` lies in the range.
    fn numeric_rows(
        &self,
        position: u16,
        low: Bound<f64>,
        high: Bound<f64>,
    ) -> Result<RoaringBitmap>;
    /// Rows holding the (analysed) `term` in the TEXT field at `position`, ascending,
    /// with its positions.
    fn text_postings(&self, position: u16, term: &str) -> Result<Vec<crate::text::Posting>>;
    /// Rows holding the raw (unstemmed, lowercased) `word` in the TEXT field at
    /// `position`, ascending, with its positions.
    fn text_raw_postings(&self, position: u16, word: &str) -> Result<Vec<crate::text::Posting>>;
    /// Rows holding a raw (unstemmed, lowercased) word, or with `stems` also an
    /// indexed term, that `matches` accepts, in the TEXT field at `position`.
    fn text_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap>;
    /// The number of indexed words in `row`'s text in the field at `position`.
    fn text_length(&self, position: u16, row: u32) -> Result<u32>;
    /// [`RowSource::text_length`] of each of `rows`, in order (one lookup of the
    /// index for all of them).
    fn text_lengths(&self, position: u16, rows: &[u32]) -> Result<Vec<u32>> {
        rows.iter()
            .map(|row| self.text_length(position, *row))
            .collect()
    }
    /// The sum of [`RowSource::text_length`] over `rows`.
    fn text_total_length(&self, position: u16, rows: &RoaringBitmap) -> Result<u64>;
    /// Distance from `vector` to each of `rows` that has a vector at `position`.
    fn distances(
        &self,
        position: u16,
        vector: &[f32],
        rows: &RoaringBitmap,
    ) -> Result<Vec<(u32, f32)>>;
    /// The rows of `rows` within `radius` of `vector` and their distances, found by
    /// walking an HNSW graph of the field (see `strata_index::hnsw::GraphRef::
    /// range_search`), or `None` when the source answers a range exactly instead.
    fn range_by_graph(
        &self,
        _position: u16,
        _vector: &[f32],
        _radius: f32,
        _epsilon: f32,
        _rows: &RoaringBitmap,
    ) -> Result<Option<Vec<(u32, f32)>>> {
        Ok(None)
    }
}

/// RediSearch's default `$EPSILON` for a VECTOR_RANGE on an HNSW field.
pub(crate) const DEFAULT_EPSILON: f64 = 0.01;

/// Checks `ast` (parameters bound, depth checked by [`check_depth`]) against `schema`.
/// `vector_of` resolves the vector parameter of a VECTOR_RANGE clause.
/// `in_fields` (`INFIELDS`) restricts every text predicate to those fields.
pub(crate) fn compile(
    ast: &Ast,
    schema: &Schema,
    collection: &str,
    vector_of: &dyn Fn(&str) -> Result<Vec<f32>>,
    in_fields: Option<&[String]>,
) -> Result<Compiled> {
    if let Some(fields) = in_fields {
        for name in fields {
            let (_, field) = schema.field(name).ok_or_else(|| Error::UnknownField {
                collection: collection.to_string(),
                field: name.to_string(),
            })?;
            if !matches!(field.kind, FieldKind::Text(_)) {
                return Err(query_field_type(name, "TEXT", field.kind.name()));
            }
        }
    }
    let context = Context {
        schema,
        collection,
        vector_of,
        in_fields,
    };
    Ok(match compile_node(ast, &context, false)? {
        Compiled::StopWords => Compiled::Or(Vec::new()),
        compiled => compiled,
    })
}

/// Refuses a tree nested deeper than `max_depth`, without recursion and before
/// anything else walks it: binding, compiling and evaluating recurse per level, and a
/// tree built in code may be a million levels deep. Stops at the first node past the
/// limit, so like the parser it reports `max_depth + 1`.
pub(crate) fn check_depth(ast: &Ast, max_depth: usize) -> Result<()> {
    let mut pending = vec![(ast, 1usize)];
    while let Some((node, level)) = pending.pop() {
        if level > max_depth {
            return Err(Error::QueryLimit {
                what: "filter nesting depth",
                limit: max_depth as u64,
                found: level as u64,
            });
        }
        match node {
            Ast::And(children) | Ast::Or(children) => {
                pending.extend(children.iter().map(|c| (c, level + 1)))
            }
            Ast::Not(inner) => pending.push((inner, level + 1)),
            _ => {}
        }
    }
    Ok(())
}

fn field_of<'s>(
    schema: &'s Schema,
    collection: &str,
    name: &str,
    expected: &'static str,
) -> Result<(u16, &'s FieldKind)> {
    let (position, field) = schema.field(name).ok_or_else(|| Error::UnknownField {
        collection: collection.to_string(),
        field: name.to_string(),
    })?;
    if field.kind.name() != expected {
        return Err(query_field_type(name, expected, field.kind.name()));
    }
    Ok((position as u16, &field.kind))
}

/// The error for a predicate that queries `field` as `used` when it is `declared`,
/// with the syntax that does query a field of its kind.
pub(crate) fn query_field_type(field: &str, used: &'static str, declared: &'static str) -> Error {
    let hint = match declared {
        "TAG" => "match a TAG field with @field:{a | b}",
        "NUMERIC" => "match a NUMERIC field with @field:[low high]",
        "VECTOR" => {
            "search a VECTOR field with =>[KNN k @field $vec] or @field:[VECTOR_RANGE r $vec]"
        }
        "TEXT" => {
            "match a TEXT field with @field:word, @field:(a b), @field:\"a phrase\" or @field:pre*"
        }
        _ => "check the field's kind in the schema",
    };
    Error::QueryFieldType {
        field: field.to_string(),
        used,
        declared,
        hint,
    }
}

fn literal<T: Clone>(value: &AstValue<T>) -> Result<T> {
    match value {
        AstValue::Literal(value) => Ok(value.clone()),
        AstValue::Param(name) => Err(Error::InvalidQuery {
            pos: 0,
            message: format!("parameter `${name}` has no value; pass it with .param()"),
        }),
    }
}

/// `negated`: the node sits under an odd number of `-`, where RediSearch matches a
/// word as written rather than by its stem.
/// What compiling every node needs.
#[derive(Clone, Copy)]
struct Context<'a> {
    schema: &'a Schema,
    collection: &'a str,
    vector_of: &'a dyn Fn(&str) -> Result<Vec<f32>>,
    in_fields: Option<&'a [String]>,
}

fn compile_node(ast: &Ast, context: &Context<'_>, negated: bool) -> Result<Compiled> {
    let Context {
        schema,
        collection,
        vector_of,
        in_fields,
    } = *context;
    let children = |nodes: &[Ast]| -> Result<Vec<Compiled>> {
        nodes
            .iter()
            .map(|node| compile_node(node, context, negated))
            .collect()
    };
    Ok(match ast {
        Ast::All => Compiled::All,
        Ast::Tag { field, values } => {
            let (position, kind) = field_of(schema, collection, field, "TAG")?;
            let FieldKind::Tag(options) = kind else {
                unreachable!("checked by field_of")
            };
            let mut tags = Vec::new();
            for value in values {
                for tag in strata_index::tags::split_tags(
                    &literal(value)?,
                    options.separator,
                    options.case_sensitive,
                ) {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
            Compiled::Tag { position, tags }
        }
        Ast::TagMatch { field, pattern } => {
            let (position, kind) = field_of(schema, collection, field, "TAG")?;
            let FieldKind::Tag(options) = kind else {
                unreachable!("checked by field_of")
            };
            let fold = |text: &str| {
                if options.case_sensitive {
                    text.to_string()
                } else {
                    text.to_lowercase()
                }
            };
            let pattern = match pattern {
                TagPattern::Prefix(text) => TagPattern::Prefix(fold(text)),
                TagPattern::Suffix(text) => TagPattern::Suffix(fold(text)),
                TagPattern::Infix(text) => TagPattern::Infix(fold(text)),
            };
            Compiled::TagMatch { position, pattern }
        }
        Ast::Range { field, low, high } => {
            let (position, _) = field_of(schema, collection, field, "NUMERIC")?;
            let bound = |bound: &RangeBound| -> Result<Bound<f64>> {
                let value = literal(&bound.value)?;
                if value.is_nan() {
                    return Err(Error::InvalidQuery {
                        pos: 0,
                        message: format!("a bound of @{field} is NaN"),
                    });
                }
                Ok(if value.is_infinite() {
                    Bound::Unbounded
                } else if bound.inclusive {
                    Bound::Included(value)
                } else {
                    Bound::Excluded(value)
                })
            };
            // `-inf` as an upper bound or `+inf` as a lower one matches nothing.
            let (low_value, high_value) = (literal(&low.value)?, literal(&high.value)?);
            if low_value == f64::INFINITY || high_value == f64::NEG_INFINITY {
                return Ok(Compiled::Or(Vec::new()));
            }
            Compiled::Range {
                position,
                low: bound(low)?,
                high: bound(high)?,
            }
        }
        Ast::Text { field, term } => {
            match crate::read::text::compile(
                schema,
                collection,
                field.as_deref(),
                term,
                negated,
                in_fields,
            )? {
                crate::read::text::Compiled::Predicate(predicate) => Compiled::Text(predicate),
                crate::read::text::Compiled::StopWords => Compiled::StopWords,
            }
        }
        Ast::VectorRange {
            field,
            radius,
            vector_param,
            epsilon,
            ..
        } => {
            let (position, kind) = field_of(schema, collection, field, "VECTOR")?;
            let FieldKind::Vector(options) = kind else {
                unreachable!("checked by field_of")
            };
            let vector = vector_of(vector_param)?;
            crate::model::validate::check_vector(field, &vector, options.dim)?;
            let radius = literal(radius)?;
            if !radius.is_finite() || radius < 0.0 {
                return Err(Error::InvalidQuery {
                    pos: 0,
                    message: format!("VECTOR_RANGE radius {radius} must be a finite number >= 0"),
                });
            }
            let epsilon = match epsilon {
                Some(epsilon) => literal(epsilon)?,
                None => DEFAULT_EPSILON,
            };
            if !epsilon.is_finite() || epsilon < 0.0 {
                return Err(Error::InvalidQuery {
                    pos: 0,
                    message: format!(
                        "VECTOR_RANGE $EPSILON {epsilon} must be a finite number >= 0"
                    ),
                });
            }
            Compiled::VectorRange {
                position,
                radius: radius as f32,
                epsilon: epsilon as f32,
                vector,
            }
        }
        Ast::And(nodes) | Ast::Or(nodes) => {
            let kept: Vec<Compiled> = children(nodes)?
                .into_iter()
                .filter(|child| *child != Compiled::StopWords)
                .collect();
            if kept.is_empty() {
                Compiled::StopWords
            } else if matches!(ast, Ast::And(_)) {
                Compiled::And(kept)
            } else {
                Compiled::Or(kept)
            }
        }
        Ast::Not(inner) => match compile_node(inner, context, !negated)? {
            Compiled::StopWords => Compiled::StopWords,
            inner => Compiled::Not(Box::new(inner)),
        },
    })
}

impl Compiled {
    /// Rows of `source` that match, among `universe` (the live rows). Distances found
    /// by a VECTOR_RANGE clause are added to `distances`.
    pub fn evaluate(
        &self,
        source: &dyn RowSource,
        universe: &RoaringBitmap,
        distances: &mut Vec<(u32, f32)>,
    ) -> Result<RoaringBitmap> {
        Ok(match self {
            Compiled::All => universe.clone(),
            Compiled::Tag { position, tags } => {
                let mut rows = RoaringBitmap::new();
                for tag in tags {
                    rows |= source.tag_rows(*position, tag)?;
                }
                rows & universe
            }
            Compiled::TagMatch { position, pattern } => {
                let matches = |tag: &str| match pattern {
                    TagPattern::Prefix(text) => tag.starts_with(text.as_str()),
                    TagPattern::Suffix(text) => tag.ends_with(text.as_str()),
                    TagPattern::Infix(text) => tag.contains(text.as_str()),
                };
                source.tag_rows_matching(*position, &matches)? & universe
            }
            Compiled::Range {
                position,
                low,
                high,
            } => source.numeric_rows(*position, *low, *high)? & universe,
            Compiled::Text(predicate) => predicate.evaluate(source, universe)?,
            Compiled::StopWords => RoaringBitmap::new(),
            Compiled::VectorRange {
                position,
                radius,
                epsilon,
                vector,
            } => {
                let found =
                    match source.range_by_graph(*position, vector, *radius, *epsilon, universe)? {
                        Some(found) => found,
                        None => source.distances(*position, vector, universe)?,
                    };
                let mut rows = RoaringBitmap::new();
                for (row, distance) in found {
                    // The graph's answer is inside `universe` already; this keeps a
                    // damaged graph from adding rows the filter did not admit.
                    if distance <= *radius && universe.contains(row) {
                        rows.insert(row);
                        distances.push((row, distance));
                    }
                }
                rows
            }
            Compiled::And(children) => {
                let mut rows = universe.clone();
                for child in children {
                    if rows.is_empty() {
                        break;
                    }
                    rows &= child.evaluate(source, &rows, distances)?;
                }
                rows
            }
            Compiled::Or(children) => {
                let mut rows = RoaringBitmap::new();
                for child in children {
                    rows |= child.evaluate(source, universe, distances)?;
                }
                rows
            }
            Compiled::Not(inner) => universe - inner.evaluate(source, universe, &mut Vec::new())?,
        })
    }

    /// The text predicates that are not under a negation: what ranks the matches.
    pub fn positive_text(&self) -> Vec<&crate::read::text::TextPredicate> {
        let mut found = Vec::new();
        let mut pending = vec![self];
        while let Some(node) = pending.pop() {
            match node {
                Compiled::Text(predicate) => found.push(predicate),
                Compiled::And(children) | Compiled::Or(children) => pending.extend(children),
                _ => {}
            }
        }
        found
    }

    /// The VECTOR_RANGE clause's field, if the filter has one.
    pub fn vector_range_field(&self) -> Option<u16> {
        match self {
            Compiled::VectorRange { position, .. } => Some(*position),
            Compiled::And(children) | Compiled::Or(children) => {
                children.iter().find_map(Compiled::vector_range_field)
            }
            _ => None,
        }
    }
}
