//! Filters: the typed builder, and the compiled form the executor evaluates.
//!
//! A filter from the RediSearch parser or from [`Filter`]'s builder methods is the same
//! `strata_query::Filter` AST; [`compile`] checks it against the schema once (field
//! kinds, tag normalisation, parameters already bound) and evaluates it per source to
//! a roaring bitmap of matching rows.

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_query::{Filter as Ast, RangeBound, TagPattern, Value as AstValue};

use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};

/// A filter on TAG and NUMERIC fields, combinable with AND, OR and NOT. Builds the
/// same tree as the query string it mirrors.
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
    pub fn all() -> Filter {
        Filter(Ast::All)
    }

    /// Documents whose TAG `field` holds any of `values` (`@field:{a | b}`).
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

    /// Both filters (juxtaposition in the query language).
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
pub(crate) fn compile(
    ast: &Ast,
    schema: &Schema,
    collection: &str,
    vector_of: &dyn Fn(&str) -> Result<Vec<f32>>,
) -> Result<Compiled> {
    compile_node(ast, schema, collection, vector_of)
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
        "VECTOR" => "search a VECTOR field with =>[KNN k @field $vec] or @field:[VECTOR_RANGE r $vec]",
        _ => "TEXT fields are stored and returned, not searched (full-text search is not supported yet)",
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

fn compile_node(
    ast: &Ast,
    schema: &Schema,
    collection: &str,
    vector_of: &dyn Fn(&str) -> Result<Vec<f32>>,
) -> Result<Compiled> {
    let children = |nodes: &[Ast]| -> Result<Vec<Compiled>> {
        nodes
            .iter()
            .map(|node| compile_node(node, schema, collection, vector_of))
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
        Ast::Text { .. } => {
            return Err(Error::Unsupported {
                feature: "full-text predicates (@field:word, bare words)".to_string(),
            })
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
        Ast::And(nodes) => Compiled::And(children(nodes)?),
        Ast::Or(nodes) => Compiled::Or(children(nodes)?),
        Ast::Not(inner) => Compiled::Not(Box::new(compile_node(
            inner, schema, collection, vector_of,
        )?)),
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
