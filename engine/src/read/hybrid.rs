//! Hybrid search, as Redis 8.4's FT.HYBRID: a text query and a vector query run on
//! one version of the collection, each cut to `WINDOW` results, fused by reciprocal
//! rank (RRF) or a linear combination of scores (LINEAR).
//!
//! The two sides are ordinary searches through the one executor, so a hybrid query
//! sees exactly what FT.SEARCH would: the text side ranked by BM25, the vector side
//! nearest first under its own `FILTER`. Only the fusion is new, and it is a pure
//! function of the two ranked lists.

use std::collections::HashMap;

use strata_index::Metric;
use strata_query::{
    Combine, Filter as Ast, HybridQuery, HybridScorer, HybridSort, HybridVector, Load, Page,
    Params, Query, QueryOptions, ReturnField, SortOrder, VectorClause, VectorMethod,
};

use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};
use crate::read::filter::Filter;
use crate::read::search::{Hit, Search, SearchResults};

/// The score names a hit never loads as a field: RediSearch's reserved names.
const SCORE_KEY: &str = "__score";
const KEY_KEY: &str = "__key";
/// LIMIT without `LIMIT`, as FT.HYBRID.
const DEFAULT_PAGE: u64 = 10;

/// A hybrid search built in Rust: the same request FT.HYBRID's arguments give. Run it
/// with [`Collection::search_hybrid`](crate::Collection::search_hybrid).
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let notes = db.create_collection("notes", Schema::builder().text("body")
///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
/// notes.upsert_many([
///     ("a", Doc::new().text("body", "oauth refresh token").vector("v", vec![5.0, 5.0])),
///     ("b", Doc::new().text("body", "password reset").vector("v", vec![0.0, 0.0])),
///     ("c", Doc::new().text("body", "oauth scopes").vector("v", vec![1.0, 0.0])),
/// ])?;
/// let request = Search::hybrid(Filter::text("body", "oauth"), Search::knn("v", &[0.0, 0.0], 2))
///     .rrf(60.0, 20);
/// let page = notes.search_hybrid(&request)?;
/// // c is found by both sides (first by BM25, the shorter text; second by distance),
/// // so it comes first.
/// assert_eq!(page.hits[0].key, "c");
/// assert_eq!(page.hits[0].score, 1.0 / 61.0 + 1.0 / 62.0);
/// assert_eq!(page.total, 3);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct HybridSearch {
    text: Filter,
    vector: Search,
    scorer: HybridScorer,
    combine: Combine,
    text_alias: Option<String>,
    vector_alias: Option<String>,
    fused_alias: Option<String>,
    limit: Option<Page>,
    sort_by: Vec<HybridSort>,
    load: Load,
}

impl Search {
    /// A hybrid search: `text` ranked by BM25 and `vector` (a [`Search::knn`] or
    /// [`Search::range`], with its own [`Search::filter`]) fused by RRF with
    /// RediSearch's defaults (CONSTANT 60, WINDOW 20) unless [`HybridSearch::rrf`] or
    /// [`HybridSearch::linear`] says otherwise.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("oauth"), Search::knn("v", &[0.0, 1.0], 10))
    ///     .linear(0.5, 0.5, 40)
    ///     .limit(0, 5);
    /// # let _ = request;
    /// ```
    pub fn hybrid(text: Filter, vector: Search) -> HybridSearch {
        HybridSearch {
            text,
            vector,
            scorer: HybridScorer::Bm25,
            combine: Combine::default(),
            text_alias: None,
            vector_alias: None,
            fused_alias: None,
            limit: None,
            sort_by: Vec::new(),
            load: Load::None,
        }
    }
}

impl HybridSearch {
    /// `COMBINE RRF`: each side adds `1 / (constant + rank)`, ranks from 1, over its
    /// first `window` results.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).rrf(10.0, 30);
    /// # let _ = request;
    /// ```
    pub fn rrf(mut self, constant: f64, window: usize) -> HybridSearch {
        self.combine = Combine::Rrf {
            constant,
            window: window as u64,
        };
        self
    }

    /// `COMBINE LINEAR`: `alpha · text score + beta · vector score` over each side's
    /// first `window` results, a side that did not return the document counting 0.
    /// The vector score is normalised to 0..1 from the distance (see the README's
    /// "Hybrid search"); the text score is BM25 unless
    /// [`normalized_text_scores`](HybridSearch::normalized_text_scores).
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).linear(0.3, 0.7, 20);
    /// # let _ = request;
    /// ```
    pub fn linear(mut self, alpha: f64, beta: f64, window: usize) -> HybridSearch {
        self.combine = Combine::Linear {
            alpha,
            beta,
            window: window as u64,
        };
        self
    }

    /// `SCORER BM25STD.NORM`: divides each text score by the text side's best, so both
    /// sides of a LINEAR fusion lie in 0..1.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5))
    ///     .normalized_text_scores()
    ///     .linear(0.5, 0.5, 20);
    /// # let _ = request;
    /// ```
    pub fn normalized_text_scores(mut self) -> HybridSearch {
        self.scorer = HybridScorer::Bm25Norm;
        self
    }

    /// `YIELD_SCORE_AS` for the text, vector and fused scores: each named score is
    /// also put in the hit's fields.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5))
    ///     .yield_scores(Some("text_score"), Some("vector_score"), Some("hybrid_score"));
    /// # let _ = request;
    /// ```
    pub fn yield_scores(
        mut self,
        text: Option<&str>,
        vector: Option<&str>,
        fused: Option<&str>,
    ) -> HybridSearch {
        self.text_alias = text.map(str::to_string);
        self.vector_alias = vector.map(str::to_string);
        self.fused_alias = fused.map(str::to_string);
        self
    }

    /// `LIMIT offset count` of the fused list (default `0 10`).
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).limit(10, 10);
    /// # let _ = request;
    /// ```
    pub fn limit(mut self, offset: usize, count: usize) -> HybridSearch {
        self.limit = Some(Page {
            offset: offset as u64,
            count: count as u64,
        });
        self
    }

    /// Adds a `SORTBY` key: a field, a yielded score's name, `__score` or `__key`.
    /// Without one, hits come best fused score first.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).sort_by("price", false);
    /// # let _ = request;
    /// ```
    pub fn sort_by(mut self, field: &str, descending: bool) -> HybridSearch {
        self.sort_by.push(HybridSort {
            field: field.to_string(),
            order: if descending {
                SortOrder::Descending
            } else {
                SortOrder::Ascending
            },
        });
        self
    }

    /// `LOAD`: the fields each hit carries (by default none, only the key and scores).
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).load(["title"]);
    /// # let _ = request;
    /// ```
    pub fn load<I, S>(mut self, fields: I) -> HybridSearch
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.load = Load::Fields(fields.into_iter().map(Into::into).collect());
        self
    }

    /// `LOAD *`: every non-vector field.
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::hybrid(Filter::any_text("x"), Search::knn("v", &[0.0], 5)).load_all();
    /// # let _ = request;
    /// ```
    pub fn load_all(mut self) -> HybridSearch {
        self.load = Load::All;
        self
    }

    /// The request as FT.HYBRID's parsed arguments, with its parameters.
    pub(crate) fn to_query(&self) -> Result<(HybridQuery, Params)> {
        let vector_query = &self.vector.query;
        let (vector, filter) = match &vector_query.vector {
            Some(clause) => (knn_side(clause)?, vector_query.filter.clone()),
            None => range_side(&vector_query.filter)?,
        };
        let window = self.combine.window();
        if window == 0 {
            return Err(Error::InvalidArgument {
                reason: "the hybrid WINDOW must be at least 1".to_string(),
            });
        }
        let query = HybridQuery {
            text: self.text.0.clone(),
            scorer: self.scorer,
            text_alias: self.text_alias.clone(),
            vector: HybridVector {
                filter,
                alias: self.vector_alias.clone(),
                ..vector
            },
            combine: self.combine,
            fused_alias: self.fused_alias.clone(),
            limit: self.limit,
            sort_by: self.sort_by.clone(),
            no_sort: false,
            load: self.load.clone(),
            params: Vec::new(),
        };
        Ok((query, self.vector.params.clone()))
    }
}

fn knn_side(clause: &VectorClause) -> Result<HybridVector> {
    let literal = |value: &strata_query::Value<u64>| {
        value
            .literal()
            .copied()
            .ok_or_else(|| Error::InvalidArgument {
                reason: "a hybrid search's KNN k and EF_RUNTIME must be numbers, not parameters"
                    .to_string(),
            })
    };
    Ok(HybridVector {
        field: clause.field.clone(),
        vector_param: clause.vector_param.clone(),
        method: VectorMethod::Knn {
            k: literal(&clause.k)?,
            ef_runtime: clause.ef_runtime.as_ref().map(literal).transpose()?,
        },
        filter: Ast::All,
        alias: None,
    })
}

/// The VECTOR_RANGE of a [`Search::range`], and the rest of its filter.
fn range_side(filter: &Ast) -> Result<(HybridVector, Ast)> {
    let wrong = || Error::InvalidArgument {
        reason: "the vector side of a hybrid search must be a Search::knn or a Search::range"
            .to_string(),
    };
    let side = |node: &Ast| match node {
        Ast::VectorRange {
            field,
            radius,
            vector_param,
            epsilon,
            ..
        } => Some(HybridVector {
            field: field.clone(),
            vector_param: vector_param.clone(),
            method: VectorMethod::Range {
                radius: radius.literal().copied()?,
                epsilon: match epsilon {
                    Some(value) => Some(value.literal().copied()?),
                    None => None,
                },
            },
            filter: Ast::All,
            alias: None,
        }),
        _ => None,
    };
    if let Some(vector) = side(filter) {
        return Ok((vector, Ast::All));
    }
    if let Ast::And(parts) = filter {
        for (at, part) in parts.iter().enumerate() {
            if let Some(vector) = side(part) {
                let mut rest: Vec<Ast> = parts.clone();
                rest.remove(at);
                let rest = match rest.len() {
                    0 => Ast::All,
                    1 => rest.remove(0),
                    _ => Ast::And(rest),
                };
                return Ok((vector, rest));
            }
        }
    }
    Err(wrong())
}

/// One side's view of a hit: its 1-based rank in that side's list and its score there
/// (BM25 for text, the normalised distance for vectors).
///
/// ```
/// use strata::HybridRank;
/// let rank = HybridRank { rank: 1, score: 0.5 };
/// assert_eq!(rank.rank, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HybridRank {
    /// Position in the side's list, 1 for the best.
    pub rank: usize,
    /// The side's score: BM25 (divided by the best with `BM25STD.NORM`) for text; for
    /// vectors `1 / (1 + d)` under L2, `(2 - d) / 2` under COSINE and IP.
    pub score: f64,
}

/// One fused result.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let notes = db.create_collection("notes", Schema::builder().text("body")
///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
/// notes.upsert("a", Doc::new().text("body", "oauth").vector("v", vec![3.0, 0.0]))?;
/// let page = notes.search_hybrid(&Search::hybrid(Filter::any_text("oauth"), Search::knn("v", &[0.0, 0.0], 1)))?;
/// let hit = &page.hits[0];
/// assert_eq!(hit.text.map(|t| t.rank), Some(1));
/// assert_eq!(hit.vector.map(|v| v.score), Some(1.0 / (1.0 + 9.0)));
/// assert_eq!(hit.distance, Some(9.0));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HybridHit {
    /// The document's key.
    pub key: String,
    /// The fused score (RRF or LINEAR); higher is better.
    pub score: f64,
    /// Rank and score on the text side; `None` if the text side did not return it.
    pub text: Option<HybridRank>,
    /// Rank and score on the vector side; `None` if the vector side did not return it.
    pub vector: Option<HybridRank>,
    /// The vector distance, when the vector side returned the document.
    pub distance: Option<f32>,
    /// The `LOAD`ed fields, then each `YIELD_SCORE_AS` score under its name.
    pub doc: Doc,
}

/// The fused page and how many documents the fusion produced (the union of the two
/// windows), as FT.HYBRID's `total_results`.
///
/// ```
/// use strata::HybridResults;
/// let empty = HybridResults::default();
/// assert_eq!((empty.total, empty.hits.len()), (0, 0));
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct HybridResults {
    /// Documents in the fused list before `LIMIT` cut the page.
    pub total: usize,
    /// The page.
    pub hits: Vec<HybridHit>,
}

/// The text search and the vector search a hybrid query runs, and the vector field's
/// metric for normalising distances.
pub(crate) fn plan(
    query: &HybridQuery,
    params: &Params,
    schema: &Schema,
    collection: &str,
) -> Result<(Search, Search, Metric)> {
    let field = &query.vector.field;
    let metric = match schema.field(field) {
        Some((_, found)) => match found.kind {
            FieldKind::Vector(options) => options.metric,
            other => {
                return Err(Error::InvalidArgument {
                    reason: format!("VSIM needs a VECTOR field; `{field}` is {}", other.name()),
                })
            }
        },
        None => {
            return Err(Error::UnknownField {
                collection: collection.to_string(),
                field: field.clone(),
            })
        }
    };
    let window = query.combine.window();
    let (return_fields, no_content) = projection(query, schema)?;
    let mut options = QueryOptions {
        return_fields,
        no_content,
        params: query.params.clone(),
        ..QueryOptions::default()
    };
    let text = Search {
        query: Query {
            filter: query.text.clone(),
            vector: None,
            options: QueryOptions {
                with_scores: true,
                limit: Some(Page {
                    offset: 0,
                    count: window,
                }),
                ..options.clone()
            },
        },
        params: params.clone(),
    };
    let side = &query.vector;
    let vector = match side.method {
        VectorMethod::Knn { k, ef_runtime } => {
            // RediSearch clamps K to the window: the fusion never looks further.
            let k = k.min(window);
            let mut clause = VectorClause::new(k, side.field.clone(), side.vector_param.clone());
            clause.ef_runtime = ef_runtime.map(strata_query::Value::Literal);
            options.limit = Some(Page {
                offset: 0,
                count: k,
            });
            Query {
                filter: side.filter.clone(),
                vector: Some(clause),
                options,
            }
        }
        VectorMethod::Range { radius, epsilon } => {
            let range = Ast::VectorRange {
                field: side.field.clone(),
                radius: strata_query::Value::Literal(radius),
                vector_param: side.vector_param.clone(),
                yield_distance_as: None,
                epsilon: epsilon.map(strata_query::Value::Literal),
            };
            options.limit = Some(Page {
                offset: 0,
                count: window,
            });
            Query {
                filter: match &side.filter {
                    Ast::All => range,
                    other => Ast::And(vec![range, other.clone()]),
                },
                vector: None,
                options,
            }
        }
    };
    Ok((
        text,
        Search {
            query: vector,
            params: params.clone(),
        },
        metric,
    ))
}

/// The fields the two sides return: those `LOAD`ed and those `SORTBY` needs.
fn projection(query: &HybridQuery, schema: &Schema) -> Result<(Option<Vec<ReturnField>>, bool)> {
    let mut names: Vec<String> = match &query.load {
        Load::All => return Ok((None, false)),
        Load::None => Vec::new(),
        Load::Fields(fields) => fields.clone(),
    };
    for key in &query.sort_by {
        if !is_score_name(query, &key.field) && !names.contains(&key.field) {
            names.push(key.field.clone());
        }
    }
    for name in &names {
        match schema.field(name) {
            Some((_, field)) if matches!(field.kind, FieldKind::Vector(_)) => {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "a hybrid search cannot LOAD or SORTBY the vector field `{name}`"
                    ),
                })
            }
            Some(_) => {}
            None => {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "`{name}` is neither a field of the schema nor a YIELD_SCORE_AS name, \
                         __score or __key"
                    ),
                })
            }
        }
    }
    if names.is_empty() {
        return Ok((None, true));
    }
    Ok((
        Some(
            names
                .into_iter()
                .map(|name| ReturnField { name, alias: None })
                .collect(),
        ),
        false,
    ))
}

fn is_score_name(query: &HybridQuery, name: &str) -> bool {
    name == SCORE_KEY
        || name == KEY_KEY
        || [&query.text_alias, &query.vector.alias, &query.fused_alias]
            .iter()
            .any(|alias| alias.as_deref() == Some(name))
}

/// The vector side's score: the distance mapped to 0..1, 1 for an exact match, as
/// RediSearch's normaliser (L2 distances are squared, as Strata and Redis report them).
pub(crate) fn vector_score(metric: Metric, distance: f32) -> f64 {
    let distance = f64::from(distance);
    match metric {
        Metric::L2 => 1.0 / (1.0 + distance),
        // Cosine and IP distances are `1 - similarity`; `(1 + similarity) / 2`.
        Metric::Cosine | Metric::InnerProduct => (2.0 - distance) / 2.0,
    }
}

struct Fused {
    key: String,
    text: Option<HybridRank>,
    vector: Option<HybridRank>,
    distance: Option<f32>,
    doc: Doc,
    score: f64,
}

/// Fuses the two sides' results (each already cut to the window, best first).
pub(crate) fn fuse(
    query: &HybridQuery,
    metric: Metric,
    text: SearchResults,
    vector: SearchResults,
    schema: &Schema,
) -> HybridResults {
    let best_text = text
        .hits
        .iter()
        .filter_map(|hit| hit.score)
        .fold(0.0f64, f64::max);
    let mut fused: Vec<Fused> = Vec::with_capacity(text.hits.len() + vector.hits.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut entry = |hit: Hit, fused: &mut Vec<Fused>| -> usize {
        *at.entry(hit.key.clone()).or_insert_with(|| {
            fused.push(Fused {
                key: hit.key,
                text: None,
                vector: None,
                distance: None,
                doc: loaded(hit.doc, schema),
                score: 0.0,
            });
            fused.len() - 1
        })
    };
    for (rank, hit) in text.hits.into_iter().enumerate() {
        let mut score = hit.score.unwrap_or(0.0);
        if query.scorer == HybridScorer::Bm25Norm && best_text > 0.0 {
            score /= best_text;
        }
        let slot = entry(hit, &mut fused);
        fused[slot].text = Some(HybridRank {
            rank: rank + 1,
            score,
        });
    }
    for (rank, hit) in vector.hits.into_iter().enumerate() {
        let distance = hit.distance;
        let slot = entry(hit, &mut fused);
        fused[slot].vector = Some(HybridRank {
            rank: rank + 1,
            score: vector_score(metric, distance),
        });
        fused[slot].distance = Some(distance);
    }
    for item in &mut fused {
        item.score = combined(query.combine, item.text, item.vector);
    }
    sort(query, &mut fused);
    let total = fused.len();
    let page = query.limit.unwrap_or(Page {
        offset: 0,
        count: DEFAULT_PAGE,
    });
    let hits = fused
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.count).unwrap_or(usize::MAX))
        .map(|item| finish(query, item))
        .collect();
    HybridResults { total, hits }
}

/// The fused score of one document from its two sides.
pub(crate) fn combined(
    combine: Combine,
    text: Option<HybridRank>,
    vector: Option<HybridRank>,
) -> f64 {
    let sides = [text, vector];
    match combine {
        Combine::Rrf { constant, .. } => sides
            .iter()
            .flatten()
            .map(|side| 1.0 / (constant + side.rank as f64))
            .sum(),
        Combine::Linear { alpha, beta, .. } => {
            alpha * text.map_or(0.0, |side| side.score)
                + beta * vector.map_or(0.0, |side| side.score)
        }
    }
}

/// Keeps only schema fields: the sides' implicit distance fields are not loaded.
fn loaded(doc: Doc, schema: &Schema) -> Doc {
    let mut out = Doc::new();
    for (name, value) in doc.fields() {
        if schema
            .field(name)
            .is_some_and(|(_, field)| !matches!(field.kind, FieldKind::Vector(_)))
        {
            out = out.with(name, value.clone());
        }
    }
    out
}

/// SORTBY keys in order, then the fused score (best first), then the key: so equal
/// scores come in key order, whatever order the sides found them in.
fn sort(query: &HybridQuery, fused: &mut [Fused]) {
    fused.sort_by(|a, b| {
        for key in &query.sort_by {
            let order = match (
                sort_value(query, a, &key.field),
                sort_value(query, b, &key.field),
            ) {
                (Some(x), Some(y)) => {
                    let order = compare(&x, &y);
                    if key.order == SortOrder::Descending {
                        order.reverse()
                    } else {
                        order
                    }
                }
                // Missing values last in either direction, as FT.SEARCH's SORTBY.
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            if order.is_ne() {
                return order;
            }
        }
        b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key))
    });
}

fn sort_value(query: &HybridQuery, item: &Fused, name: &str) -> Option<Value> {
    if name == SCORE_KEY || query.fused_alias.as_deref() == Some(name) {
        return Some(Value::Numeric(item.score));
    }
    if name == KEY_KEY {
        return Some(Value::Text(item.key.clone()));
    }
    if query.text_alias.as_deref() == Some(name) {
        return item.text.map(|side| Value::Numeric(side.score));
    }
    if query.vector.alias.as_deref() == Some(name) {
        return item.vector.map(|side| Value::Numeric(side.score));
    }
    item.doc.get(name).cloned()
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Numeric(x), Value::Numeric(y)) => x.total_cmp(y),
        (Value::Text(x) | Value::Tag(x), Value::Text(y) | Value::Tag(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

fn finish(query: &HybridQuery, item: Fused) -> HybridHit {
    let mut doc = Doc::new();
    let keep: Option<&[String]> = match &query.load {
        Load::All => None,
        Load::None => Some(&[]),
        Load::Fields(fields) => Some(fields),
    };
    match keep {
        None => doc = item.doc,
        Some(fields) => {
            for name in fields {
                if let Some(value) = item.doc.get(name) {
                    doc = doc.with(name, value.clone());
                }
            }
        }
    }
    if let (Some(alias), Some(text)) = (&query.text_alias, item.text) {
        doc = doc.numeric(alias, text.score);
    }
    if let (Some(alias), Some(vector)) = (&query.vector.alias, item.vector) {
        doc = doc.numeric(alias, vector.score);
    }
    if let Some(alias) = &query.fused_alias {
        doc = doc.numeric(alias, item.score);
    }
    HybridHit {
        key: item.key,
        score: item.score,
        text: item.text,
        vector: item.vector,
        distance: item.distance,
        doc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_query::{DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_RRF_CONSTANT, DEFAULT_WINDOW};

    fn rank(rank: usize, score: f64) -> Option<HybridRank> {
        Some(HybridRank { rank, score })
    }

    #[test]
    fn rrf_adds_one_over_constant_plus_rank_per_side() {
        let rrf = Combine::Rrf {
            constant: DEFAULT_RRF_CONSTANT,
            window: DEFAULT_WINDOW,
        };
        assert_eq!(
            combined(rrf, rank(1, 9.0), rank(3, 0.1)),
            1.0 / 61.0 + 1.0 / 63.0
        );
        assert_eq!(combined(rrf, None, rank(2, 0.1)), 1.0 / 62.0);
        assert_eq!(combined(rrf, None, None), 0.0);
    }

    #[test]
    fn linear_weights_scores_and_counts_a_missing_side_as_zero() {
        let linear = Combine::Linear {
            alpha: DEFAULT_ALPHA,
            beta: DEFAULT_BETA,
            window: DEFAULT_WINDOW,
        };
        assert_eq!(
            combined(linear, rank(1, 2.0), rank(1, 0.5)),
            0.3 * 2.0 + 0.7 * 0.5
        );
        assert_eq!(combined(linear, rank(4, 2.0), None), 0.3 * 2.0);
    }

    #[test]
    fn vector_scores_map_an_exact_match_to_one() {
        assert_eq!(vector_score(Metric::L2, 0.0), 1.0);
        assert_eq!(vector_score(Metric::L2, 3.0), 0.25);
        assert_eq!(vector_score(Metric::Cosine, 0.0), 1.0);
        assert_eq!(vector_score(Metric::Cosine, 2.0), 0.0);
        assert_eq!(vector_score(Metric::InnerProduct, 1.0), 0.5);
    }
}
