//! Query execution: one path for query strings and for the typed builder.
//!
//! ```text
//! strata_query::Query (bound) ─ prepare ─► Plan (fields resolved, vectors checked)
//! Plan ─ per source (memtable, each segment):
//!          live rows ─ filter → bitmap ─ planner: strategy ─ top-k / matches
//!      ─ merge (distances are comparable across sources) ─ sort ─ page ─ project
//! ```

use std::collections::HashMap;
use std::fmt;

use strata_index::ivfpq::IvfPqSearch;
use strata_query::{HybridPolicy, Page, Params, Query, SortOrder};

use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::model::options::Limits;
use crate::model::schema::{FieldKind, Schema, VectorIndex};
use crate::read::filter::{check_depth, compile, query_field_type, Compiled, RowSource};
use crate::read::planner::{
    choose_ivfpq, choose_strategy, default_nprobe, DEFAULT_EF_RUNTIME, DEFAULT_REFINE,
};
use crate::read::redis_score::Collection;
use crate::read::search::Hit;
use crate::read::sources::{MemtableSource, SegmentSource, Source};
use crate::read::text_score::{score_terms, ScoreTerm, Statistics};
use crate::write::tables::{segment_document, Location, Tables};

/// Results per query when the query string gives no LIMIT, as in RediSearch.
pub(crate) const DEFAULT_LIMIT: u64 = 10;

/// How one source answers a vector query. Chosen per source from the filter's
/// selectivity; the HNSW index adds graph traversal here.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, Strategy, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().tag("kind", "x").vector("v", vec![1.0, 0.0]))?;
/// items.upsert("b", Doc::new().tag("kind", "y").vector("v", vec![0.0, 1.0]))?;
/// let plan = items.explain(&Search::knn("v", &[1.0, 0.0], 1).filter(Filter::tag("kind", ["x"])))?;
/// // Two rows in the memtable: measured exactly.
/// assert_eq!(plan.sources[0].strategy, Strategy::ExactOverBitmap);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Compute the distance to every matching row (FLAT, or few matches).
    ExactOverBitmap,
    /// Walk the segment's HNSW graph, collecting only matching rows.
    GraphTraversal,
    /// Scan the codes of the nearest IVF-PQ lists for matching rows, then re-rank
    /// the best `REFINE * k` with exact distances.
    IvfPqScan,
    /// Return every matching row (no vector clause).
    FilterOnly,
}

/// What the planner decided for one source, as `explain` shows it.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, Strategy, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().tag("kind", "x").vector("v", vec![1.0, 0.0]))?;
/// items.upsert("b", Doc::new().tag("kind", "y").vector("v", vec![0.0, 1.0]))?;
/// let plan = items.explain(&Search::knn("v", &[1.0, 0.0], 1).filter(Filter::tag("kind", ["x"])))?;
/// let source = &plan.sources[0];
/// assert_eq!((source.source.as_str(), source.live_rows, source.matching_rows), ("memtable", 2, 1));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SourcePlan {
    /// `memtable`, or `segment <id>`.
    pub source: String,
    /// Live rows in the source.
    pub live_rows: u64,
    /// Live rows that match the filter.
    pub matching_rows: u64,
    /// The chosen strategy.
    pub strategy: Strategy,
    /// IVF-PQ scans: the lists probed (the query's `NPROBE`, or the default for the
    /// source's selectivity).
    pub nprobe: Option<usize>,
}

impl SourcePlan {
    /// Matching rows as a share of live rows (1 for an empty source).
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, Strategy, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert("a", Doc::new().tag("kind", "x").vector("v", vec![1.0, 0.0]))?;
    /// items.upsert("b", Doc::new().tag("kind", "y").vector("v", vec![0.0, 1.0]))?;
    /// let plan = items.explain(&Search::knn("v", &[1.0, 0.0], 1).filter(Filter::tag("kind", ["x"])))?;
    /// assert_eq!(plan.sources[0].selectivity(), 0.5);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn selectivity(&self) -> f64 {
        if self.live_rows == 0 {
            1.0
        } else {
            self.matching_rows as f64 / self.live_rows as f64
        }
    }
}

/// The plan of a query: the query as Strata understood it, and each source's choice.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, Strategy, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().tag("kind", "x").vector("v", vec![1.0, 0.0]))?;
/// items.upsert("b", Doc::new().tag("kind", "y").vector("v", vec![0.0, 1.0]))?;
/// let plan = items.explain(&Search::knn("v", &[1.0, 0.0], 1).filter(Filter::tag("kind", ["x"])))?;
/// assert_eq!(plan.query, "@kind:{x}=>[KNN 1 @v $vector]");
/// println!("{plan}"); // one line per source
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Explain {
    /// The query, printed back in the RediSearch dialect.
    pub query: String,
    /// One entry per source searched.
    pub sources: Vec<SourcePlan>,
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "query: {}", self.query)?;
        for source in &self.sources {
            write!(
                f,
                "  {:<24} live {:>9}  matching {:>9} ({:>6.2}%)  {:?}",
                source.source,
                source.live_rows,
                source.matching_rows,
                100.0 * source.selectivity(),
                source.strategy
            )?;
            if let Some(nprobe) = source.nprobe {
                write!(f, " NPROBE {nprobe}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Knn {
    pub position: u16,
    pub vector: Vec<f32>,
    pub k: usize,
    pub ef: usize,
    /// RediSearch's `HYBRID_POLICY`: `ADHOC_BF` forces exact search over the filter's
    /// matches, `BATCHES` forces the graph; unset, the planner decides.
    pub policy: Option<HybridPolicy>,
    /// IVF-PQ: lists probed and the re-rank factor as the query gave them (`NPROBE`
    /// unset: [`Knn::ivfpq`] picks it per source).
    pub nprobe: Option<usize>,
    pub refine: usize,
}

impl Knn {
    /// IVF-PQ's settings for a source where `matching` of its `live` rows pass the
    /// filter: the query's `NPROBE`, or the default for that selectivity.
    pub fn ivfpq(&self, matching: u64, live: u64) -> IvfPqSearch {
        IvfPqSearch {
            nprobe: self
                .nprobe
                .unwrap_or_else(|| default_nprobe(matching, live)),
            refine: self.refine,
        }
    }
}

/// A query checked against the schema, ready to run on any snapshot.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The bound query printed back, for `explain` only: printing costs a few
    /// microseconds, a noticeable share of a graph search.
    printed: Option<String>,
    filter: Compiled,
    knn: Option<Knn>,
    /// The terms that rank text matches (BM25), when the query ranks by text: it has
    /// positive text predicates and no KNN clause.
    scoring: Vec<ScoreTerm>,
    /// A RediSearch scorer (`SCORER` other than Strata's default) ranks the matches of
    /// a query without KNN instead.
    redis_scorer: Option<strata_query::Scorer>,
    /// `WITHSCORES`: each hit carries its score.
    with_scores: bool,
    /// `INKEYS`: only these documents can match.
    in_keys: Option<Vec<String>>,
    /// Field positions to read from storage; empty for NOCONTENT.
    projection: Vec<usize>,
    /// What each hit returns, in order.
    returns: Vec<Returned>,
    /// `HIGHLIGHT` and `SUMMARIZE`: how returned TEXT fields are rewritten.
    markings: Vec<crate::read::highlight::Marking>,
    sort: Option<(SortKey, bool)>,
    offset: usize,
    count: usize,
}

/// One entry of a hit's returned fields.
#[derive(Debug, Clone)]
enum Returned {
    /// A stored field, returned under `name` (its alias, or its own name).
    Field { position: usize, name: String },
    /// The KNN distance, under `name`.
    KnnScore { name: String },
    /// The VECTOR_RANGE distance, under `name`, for hits that have one.
    RangeScore { name: String },
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    KnnScore,
    RangeScore,
    Field(usize),
}

/// Resolves a query (parameters not yet bound) against `schema`.
pub(crate) fn prepare(
    query: &Query,
    params: &Params,
    schema: &Schema,
    collection: &str,
    limits: &Limits,
    explain: bool,
) -> Result<Plan> {
    let query_limits = limits.query();
    check_depth(&query.filter, query_limits.max_depth)?;
    let bound = query.bind(params, &query_limits).map_err(Error::from)?;
    let vector_of = |name: &str| -> Result<Vec<f32>> {
        params
            .vector(name)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| Error::InvalidQuery { pos: 0, message: format!("parameter `${name}` must be a vector; pass it with .param(\"{name}\", &vector)") })
    };
    let filter = compile(
        &bound.filter,
        schema,
        collection,
        &vector_of,
        bound.options.in_fields.as_deref(),
    )?;
    let unknown = |name: &str| Error::UnknownField {
        collection: collection.to_string(),
        field: name.to_string(),
    };

    // The names the distances are returned and sorted under: the KNN alias or
    // RediSearch's implicit `__<field>_score`; VECTOR_RANGE's `$YIELD_DISTANCE_AS`
    // (it has no implicit name).
    let range_score = yield_alias(&bound.filter);
    let mut knn_score = None;
    let knn = match &bound.vector {
        None => None,
        Some(clause) => {
            let (position, field) = schema
                .field(&clause.field)
                .ok_or_else(|| unknown(&clause.field))?;
            let FieldKind::Vector(options) = field.kind else {
                return Err(query_field_type(&clause.field, "VECTOR", field.kind.name()));
            };
            let k = literal_u64(&clause.k)? as usize;
            if k > limits.max_k {
                return Err(Error::InvalidArgument {
                    reason: format!("k is {k}; it must be 0..={}", limits.max_k),
                });
            }
            let ef = match &clause.ef_runtime {
                None => DEFAULT_EF_RUNTIME,
                Some(ef) => {
                    let ef = literal_u64(ef)?;
                    if ef == 0 || ef > limits.max_ef_runtime as u64 {
                        return Err(Error::InvalidArgument {
                            reason: format!(
                                "EF_RUNTIME is {ef}; it must be 1..={}",
                                limits.max_ef_runtime
                            ),
                        });
                    }
                    ef as usize
                }
            };
            let count = |value: &Option<strata_query::Value<u64>>, default: usize| {
                value
                    .as_ref()
                    .map_or(Ok(default as u64), literal_u64)
                    .map(|v| v as usize)
            };
            let nprobe = match &clause.nprobe {
                None => None,
                Some(value) => Some(literal_u64(value)? as usize),
            };
            let refine = count(&clause.refine, DEFAULT_REFINE)?;
            let vector = vector_of(&clause.vector_param)?;
            crate::model::validate::check_vector(&clause.field, &vector, options.dim)?;
            knn_score = Some(
                clause
                    .alias
                    .clone()
                    .unwrap_or_else(|| format!("__{}_score", clause.field)),
            );
            Some(Knn {
                position: position as u16,
                vector,
                k,
                ef,
                policy: clause.hybrid_policy,
                nprobe,
                refine,
            })
        }
    };

    let options = &bound.options;
    let redis_scorer = options
        .scorer
        .filter(|scorer| *scorer != strata_query::Scorer::Bm25StdTantivy && knn.is_none());
    let scoring = if knn.is_none() && redis_scorer.is_none() {
        let weight_of = |position: u16| match schema.fields().get(position as usize) {
            Some(crate::model::schema::Field {
                kind: FieldKind::Text(text),
                ..
            }) => text.weight,
            _ => 1.0,
        };
        score_terms(&filter.positive_text(), &weight_of)
    } else {
        Vec::new()
    };
    let score_named = |name: &str| -> Option<Returned> {
        if knn_score.as_deref() == Some(name) {
            Some(Returned::KnnScore {
                name: name.to_string(),
            })
        } else if range_score.as_deref() == Some(name) {
            Some(Returned::RangeScore {
                name: name.to_string(),
            })
        } else {
            None
        }
    };
    let returns = if options.no_content {
        Vec::new()
    } else {
        match &options.return_fields {
            None => {
                let mut returns: Vec<Returned> = schema
                    .fields()
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| !matches!(f.kind, FieldKind::Vector(_)))
                    .map(|(position, f)| Returned::Field {
                        position,
                        name: f.name.clone(),
                    })
                    .collect();
                returns.extend(knn_score.as_deref().and_then(score_named));
                returns.extend(range_score.as_deref().and_then(score_named));
                returns
            }
            Some(fields) => fields
                .iter()
                .map(|field| {
                    let name = field.alias.clone().unwrap_or_else(|| field.name.clone());
                    Ok(match score_named(&field.name) {
                        Some(Returned::KnnScore { .. }) => Returned::KnnScore { name },
                        Some(_) => Returned::RangeScore { name },
                        None => Returned::Field {
                            position: schema
                                .field(&field.name)
                                .ok_or_else(|| unknown(&field.name))?
                                .0,
                            name,
                        },
                    })
                })
                .collect::<Result<Vec<Returned>>>()?,
        }
    };
    let mut projection: Vec<usize> = Vec::new();
    for returned in &returns {
        if let Returned::Field { position, .. } = returned
            && !projection.contains(position)
        {
            projection.push(*position);
        }
    }
    let sort = match &options.sort_by {
        None => None,
        Some(sort) => {
            let key = if let Some(score) = score_named(&sort.field) {
                match score {
                    Returned::KnnScore { .. } => SortKey::KnnScore,
                    _ => SortKey::RangeScore,
                }
            } else {
                let (position, field) = schema
                    .field(&sort.field)
                    .ok_or_else(|| unknown(&sort.field))?;
                if matches!(field.kind, FieldKind::Vector(_)) {
                    return Err(Error::InvalidArgument {
                        reason: format!("cannot SORTBY the vector field `{}`", sort.field),
                    });
                }
                SortKey::Field(position)
            };
            Some((key, sort.order == SortOrder::Descending))
        }
    };
    let page = options.limit.unwrap_or(Page {
        offset: 0,
        count: DEFAULT_LIMIT,
    });
    let markings = crate::read::highlight::prepare(options, &filter, schema, collection)?;
    Ok(Plan {
        printed: explain.then(|| bound.to_string()),
        markings,
        filter,
        knn,
        scoring,
        redis_scorer,
        with_scores: options.with_scores,
        in_keys: options.in_keys.clone(),
        projection,
        returns,
        sort,
        offset: page.offset as usize,
        count: page.count as usize,
    })
}

fn yield_alias(filter: &strata_query::Filter) -> Option<String> {
    match filter {
        strata_query::Filter::VectorRange {
            yield_distance_as, ..
        } => yield_distance_as.clone(),
        strata_query::Filter::And(children) | strata_query::Filter::Or(children) => {
            children.iter().find_map(yield_alias)
        }
        _ => None,
    }
}

fn literal_u64(value: &strata_query::Value<u64>) -> Result<u64> {
    value.literal().copied().ok_or_else(|| Error::InvalidQuery {
        pos: 0,
        message: "a parameter was left unbound".to_string(),
    })
}

/// One matching row on its way to the page.
#[derive(Clone, Copy, Debug)]
struct Found {
    /// The KNN distance; else the VECTOR_RANGE distance, `INFINITY` for a row that
    /// matched only another branch of the filter; 0 without either clause.
    distance: f32,
    /// The VECTOR_RANGE distance, when the row is within the radius.
    range: Option<f32>,
    /// The text score when the query ranks by text, else 0.
    score: f64,
    location: Location,
}

/// Where a row stands in insertion order: its recorded order (each write of a
/// document takes a larger one), then its position for rows of segments written
/// before orders were recorded (order 0; older than every recorded one). RediSearch
/// breaks sort ties by its document ids, which a write of a hash renews.
fn arrival(tables: &Tables, location: Location) -> Result<(u64, usize, u32)> {
    Ok(match location {
        Location::Segment(index, row) => {
            let order = match tables.segments.get(index) {
                Some(slot) => slot.segment.order(row)?,
                None => None,
            };
            (order.unwrap_or(0), index, row)
        }
        Location::Frozen(index, slot) => (
            tables.frozen[index].order(slot),
            tables.segments.len(),
            slot,
        ),
        Location::Memtable(slot) => (tables.memtable.order(slot), tables.segments.len(), slot),
    })
}

/// Runs `plan` over a collection's tables: the page of hits, the total number of
/// matches (what FT.SEARCH reports beside the page), and the plan per source.
pub(crate) fn execute(
    tables: &Tables,
    schema: &Schema,
    plan: &Plan,
    now_ms: u64,
) -> Result<(Vec<Hit>, usize, Explain)> {
    let memtables: Vec<MemtableSource> = tables
        .frozen
        .iter()
        .chain(std::iter::once(&tables.memtable))
        .map(|source| MemtableSource { source, now_ms })
        .collect();
    let segments: Vec<SegmentSource> = tables
        .segments
        .iter()
        .map(|slot| SegmentSource { slot, now_ms })
        .collect();
    let mut sources: Vec<(&dyn Source, Location, String)> = segments
        .iter()
        .enumerate()
        .map(|(index, source)| {
            (
                source as &dyn Source,
                Location::Segment(index, 0),
                format!("segment {}", source.slot.segment.id),
            )
        })
        .collect();
    for (index, source) in memtables.iter().enumerate() {
        let (location, name) = if index < tables.frozen.len() {
            (
                Location::Frozen(index, 0),
                format!("frozen memtable {index}"),
            )
        } else {
            (Location::Memtable(0), "memtable".to_string())
        };
        sources.push((source as &dyn Source, location, name));
    }

    let vector_index =
        plan.knn.as_ref().and_then(
            |knn| match schema.fields().get(knn.position as usize)?.kind {
                FieldKind::Vector(options) => Some(options.index),
                _ => None,
            },
        );
    let mut found: Vec<Found> = Vec::new();
    let mut explain = Explain {
        query: plan.printed.clone().unwrap_or_default(),
        sources: Vec::new(),
    };
    let lives: Vec<roaring::RoaringBitmap> =
        sources.iter().map(|(source, ..)| source.live()).collect();
    // BM25 statistics are the whole version's, over live rows, gathered before any
    // source is scored.
    let statistics = if plan.scoring.is_empty() {
        None
    } else {
        let mut statistics = Statistics::new(&plan.scoring);
        for ((source, ..), live) in sources.iter().zip(&lives) {
            statistics.add(*source, live, &plan.scoring)?;
        }
        Some(statistics)
    };
    let redis = match plan.redis_scorer {
        Some(scorer) => {
            let counted = sources
                .iter()
                .zip(&lives)
                .map(|((source, ..), live)| (*source as &dyn RowSource, live.clone()))
                .collect();
            let collection = Collection::new(schema, counted)?;
            let projection = collection.projection();
            Some((scorer, collection, projection))
        }
        None => None,
    };
    for ((source, location, name), live) in sources.into_iter().zip(lives) {
        let at = |row: u32| match location {
            Location::Segment(index, _) => Location::Segment(index, row),
            Location::Frozen(index, _) => Location::Frozen(index, row),
            Location::Memtable(_) => Location::Memtable(row),
        };
        let mut range_distances = Vec::new();
        let mut matching = plan.filter.evaluate(source, &live, &mut range_distances)?;
        if let Some(keys) = &plan.in_keys {
            // Before any vector search, so INKEYS pre-filters a KNN clause too.
            matching &= source.rows_of_keys(keys)?;
        }
        let ranges: HashMap<u32, f32> = range_distances.into_iter().collect();
        let mut nprobe = None;
        let strategy = match (&plan.knn, vector_index) {
            (Some(knn), Some(index)) => {
                let ivfpq = knn.ivfpq(matching.len(), live.len());
                let strategy = match index {
                    VectorIndex::IvfPq { subquantizers, .. } => choose_ivfpq(
                        knn,
                        ivfpq,
                        source.ivfpq_lists(knn.position),
                        subquantizers,
                        matching.len() < source.row_count(),
                        matching.len(),
                        live.len(),
                    ),
                    _ => choose_strategy(
                        index,
                        knn.vector.len(),
                        source.has_graph(knn.position),
                        knn.policy,
                        knn.ef.max(knn.k),
                        matching.len(),
                        live.len(),
                    ),
                };
                let neighbors = match strategy {
                    Strategy::IvfPqScan => {
                        nprobe = Some(ivfpq.nprobe);
                        // Dead and non-matching rows are skipped before their codes
                        // are scored.
                        let filter = (matching.len() < source.row_count()).then_some(&matching);
                        source.ivfpq_search(knn, ivfpq, filter)?.unwrap_or_default()
                    }
                    Strategy::GraphTraversal => {
                        // Rows that are dead or do not match are walked through but never
                        // returned; rows without a vector are not in the graph, and the
                        // filter keeps the walk's exhaustive fallback off them too.
                        let with_vector;
                        let filter = match source.present(knn.position) {
                            Some(present) if present.len() < source.row_count() => {
                                with_vector = &matching & present.as_ref();
                                Some(&with_vector)
                            }
                            _ => (matching.len() < source.row_count()).then_some(&matching),
                        };
                        source.graph_search(knn, filter)?.unwrap_or_default()
                    }
                    _ => match source.present(knn.position) {
                        Some(present) => {
                            let candidates = &matching & present.as_ref();
                            source.exact(knn.position, &knn.vector, &candidates, knn.k)?
                        }
                        None => Vec::new(),
                    },
                };
                found.extend(neighbors.into_iter().map(|neighbor| Found {
                    distance: neighbor.distance,
                    range: ranges.get(&neighbor.id).copied(),
                    score: 0.0,
                    location: at(neighbor.id),
                }));
                strategy
            }
            _ => {
                let unmeasured = if plan.range_measured() {
                    f32::INFINITY
                } else {
                    0.0
                };
                let mut scores: HashMap<u32, f64> = match &statistics {
                    Some(statistics) => statistics
                        .score(source, &matching, &plan.scoring)?
                        .into_iter()
                        .map(|(row, score)| (row, f64::from(score)))
                        .collect(),
                    None => HashMap::new(),
                };
                if let Some((scorer, collection, projection)) = &redis {
                    let leaves = collection.leaves(&plan.filter, source, &live)?;
                    for row in &matching {
                        let doc = tables.document(at(row), schema, Some(projection))?;
                        let score = collection.score(*scorer, &plan.filter, &leaves, row, &doc)?;
                        scores.insert(row, score);
                    }
                }
                found.extend(matching.iter().map(|row| {
                    let range = ranges.get(&row).copied();
                    Found {
                        distance: range.unwrap_or(unmeasured),
                        range,
                        score: scores.get(&row).copied().unwrap_or(0.0),
                        location: at(row),
                    }
                }));
                Strategy::FilterOnly
            }
        };
        explain.sources.push(SourcePlan {
            source: name,
            live_rows: live.len(),
            matching_rows: matching.len(),
            strategy,
            nprobe,
        });
    }

    let by_distance = plan.knn.is_some() || plan.range_measured();
    if by_distance {
        // Ties keep insertion order; each row's is read once, not per comparison.
        let mut keyed = found
            .iter()
            .map(|entry| Ok((arrival(tables, entry.location)?, *entry)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|(a_order, a), (b_order, b)| {
            a.distance
                .total_cmp(&b.distance)
                .then_with(|| a_order.cmp(b_order))
        });
        for (slot, (_, entry)) in found.iter_mut().zip(keyed) {
            *slot = entry;
        }
    }
    if let Some(knn) = &plan.knn {
        found.truncate(knn.k);
    }
    if (statistics.is_some() || redis.is_some()) && !by_distance {
        // Best score first; ties in insertion order.
        let mut keyed = found
            .iter()
            .map(|entry| Ok((arrival(tables, entry.location)?, *entry)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|(a_order, a), (b_order, b)| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a_order.cmp(b_order))
        });
        for (slot, (_, entry)) in found.iter_mut().zip(keyed) {
            *slot = entry;
        }
    }
    if let Some((key, descending)) = plan.sort {
        sort_found(&mut found, key, descending, tables, schema)?;
    }
    let total = found.len();
    let hits = found
        .into_iter()
        .skip(plan.offset)
        .take(plan.count)
        .map(|found| {
            let stored = tables.document(found.location, schema, Some(&plan.projection))?;
            let mut doc = Doc::new();
            for returned in &plan.returns {
                match returned {
                    Returned::Field { position, name } => {
                        if let Some(value) = stored.get(&schema.fields()[*position].name) {
                            let marked = match value {
                                Value::Text(text) => plan
                                    .markings
                                    .iter()
                                    .find(|m| m.position == *position)
                                    .and_then(|m| m.apply(text))
                                    .map(Value::Text),
                                _ => None,
                            };
                            doc = doc.with(name, marked.unwrap_or_else(|| value.clone()));
                        }
                    }
                    Returned::KnnScore { name } => {
                        doc = doc.numeric(name, f64::from(found.distance));
                    }
                    Returned::RangeScore { name } => {
                        if let Some(range) = found.range {
                            doc = doc.numeric(name, f64::from(range));
                        }
                    }
                }
            }
            // Redis's WITHSCORES: the text score when the query ranks by text, 0 for a
            // KNN query, 1 for a query without text.
            let score = plan.with_scores.then(|| {
                if !plan.scoring.is_empty() || plan.redis_scorer.is_some() {
                    found.score
                } else if plan.knn.is_some() {
                    0.0
                } else {
                    1.0
                }
            });
            Ok(Hit {
                key: tables.key(found.location)?,
                distance: found.distance,
                score,
                doc,
            })
        })
        .collect::<Result<Vec<Hit>>>()?;
    Ok((hits, total, explain))
}

impl Plan {
    /// Whether a VECTOR_RANGE clause measures distances, which then order the hits.
    fn range_measured(&self) -> bool {
        self.filter.vector_range_field().is_some()
    }
}

/// SORTBY, as RediSearch orders: rows without the key last in either direction, ties
/// by insertion order (ascending for ASC, descending for DESC).
fn sort_found(
    found: &mut [Found],
    key: SortKey,
    descending: bool,
    tables: &Tables,
    schema: &Schema,
) -> Result<()> {
    let mut keyed = Vec::with_capacity(found.len());
    for entry in found.iter() {
        let value = match key {
            SortKey::KnnScore => Some(Value::Numeric(f64::from(entry.distance))),
            SortKey::RangeScore => entry.range.map(|range| Value::Numeric(f64::from(range))),
            SortKey::Field(position) => {
                let name = &schema.fields()[position].name;
                let doc = match entry.location {
                    Location::Memtable(_) | Location::Frozen(..) => {
                        tables.document(entry.location, schema, Some(&[position]))?
                    }
                    Location::Segment(index, row) => segment_document(
                        &tables.segments[index].segment,
                        row,
                        schema,
                        Some(&[position]),
                    )?,
                };
                doc.get(name).cloned()
            }
        };
        keyed.push((value, arrival(tables, entry.location)?, *entry));
    }
    keyed.sort_by(|a, b| {
        let order = match (&a.0, &b.0) {
            (Some(x), Some(y)) => compare_values(x, y),
            (Some(_), None) => return std::cmp::Ordering::Less,
            (None, Some(_)) => return std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        let order = order.then_with(|| a.1.cmp(&b.1));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    for (slot, (_, _, entry)) in found.iter_mut().zip(keyed) {
        *slot = entry;
    }
    Ok(())
}

fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Numeric(x), Value::Numeric(y)) => x.total_cmp(y),
        (Value::Text(x) | Value::Tag(x), Value::Text(y) | Value::Tag(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}
