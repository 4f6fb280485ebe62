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

use roaring::RoaringBitmap;
use strata_index::{flat, Metric};
use strata_query::{HybridPolicy, Page, Params, Query, SortOrder};

use crate::doc::Value;
use crate::error::{Error, Result};
use crate::filter::{compile, Compiled, RowSource};
use crate::memtable::Memtable;
use crate::options::Limits;
use crate::schema::{FieldKind, Schema, VectorIndex};
use crate::search::Hit;
use crate::tables::{segment_document, Location, SegmentSlot, Tables};

/// Results per query when the query string gives no LIMIT, as in RediSearch.
pub(crate) const DEFAULT_LIMIT: u64 = 10;

/// How one source answers a vector query. Chosen per source from the filter's
/// selectivity; the HNSW index adds graph traversal here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Compute the distance to every matching row (FLAT, or few matches).
    ExactOverBitmap,
    /// Walk the segment's HNSW graph, collecting only matching rows.
    GraphTraversal,
    /// Return every matching row (no vector clause).
    FilterOnly,
}

/// What the planner decided for one source, as `explain` shows it.
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
}

impl SourcePlan {
    /// Matching rows as a share of live rows (1 for an empty source).
    pub fn selectivity(&self) -> f64 {
        if self.live_rows == 0 {
            1.0
        } else {
            self.matching_rows as f64 / self.live_rows as f64
        }
    }
}

/// The plan of a query: the query as Strata understood it, and each source's choice.
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
            writeln!(
                f,
                "  {:<24} live {:>9}  matching {:>9} ({:>6.2}%)  {:?}",
                source.source,
                source.live_rows,
                source.matching_rows,
                100.0 * source.selectivity(),
                source.strategy
            )?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Knn {
    position: u16,
    vector: Vec<f32>,
    k: usize,
    ef: usize,
    /// RediSearch's `HYBRID_POLICY`: `ADHOC_BF` forces exact search over the filter's
    /// matches, `BATCHES` forces the graph; unset, the planner decides.
    policy: Option<HybridPolicy>,
}

/// `EF_RUNTIME` when a query gives none, as in Redis.
pub(crate) const DEFAULT_EF_RUNTIME: usize = 10;

/// The planner's cost model, in units of one float scored by exact search. Exact
/// search over the filter's matches costs `matches * dim`. A filtered graph walk
/// visits about `ef / selectivity` nodes, and one visit (a neighbour list, its
/// distances, the heaps) costs about this many floats, almost whatever the dimension:
/// measured ~1.4 us per visit against ~0.4 ns per float scored, on 20k x 64 synthetic
/// rows and on real-pypi-50k (384-d) with `benches/src/bin/sweep.rs` and `ann`
/// (benches/README.md, "planner"). The walk pays when
/// `matches * dim >= GRAPH_VISIT_COST * ef * live / matches`.
pub(crate) const GRAPH_VISIT_COST: f64 = 3_500.0;

/// A query checked against the schema, ready to run on any snapshot.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The bound query printed back, for `explain` only: printing costs a few
    /// microseconds, a noticeable share of a graph search.
    printed: Option<String>,
    filter: Compiled,
    knn: Option<Knn>,
    score_alias: Option<String>,
    /// Field positions to return; empty for NOCONTENT.
    projection: Vec<usize>,
    include_score: bool,
    sort: Option<(SortKey, bool)>,
    offset: usize,
    count: usize,
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    Score,
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
        query_limits.max_depth,
        &vector_of,
    )?;
    let unknown = |name: &str| Error::UnknownField {
        collection: collection.to_string(),
        field: name.to_string(),
    };

    let mut score_alias = yield_alias(&bound.filter);
    let knn = match &bound.vector {
        None => None,
        Some(clause) => {
            let (position, field) = schema
                .field(&clause.field)
                .ok_or_else(|| unknown(&clause.field))?;
            let FieldKind::Vector(options) = field.kind else {
                return Err(Error::FieldType {
                    field: clause.field.clone(),
                    expected: "VECTOR",
                    found: field.kind.name(),
                });
            };
            let k = literal_u64(&clause.k)? as usize;
            if k == 0 || k > limits.max_k {
                return Err(Error::InvalidArgument {
                    reason: format!("k is {k}; it must be 1..={}", limits.max_k),
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
            let vector = vector_of(&clause.vector_param)?;
            crate::collection::check_vector(&clause.field, &vector, options.dim)?;
            score_alias = clause.alias.clone().or(score_alias);
            Some(Knn {
                position: position as u16,
                vector,
                k,
                ef,
                policy: clause.hybrid_policy,
            })
        }
    };

    let options = &bound.options;
    let default_fields = || -> Vec<usize> {
        schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !matches!(f.kind, FieldKind::Vector(_)))
            .map(|(p, _)| p)
            .collect()
    };
    let (projection, include_score) = if options.no_content {
        (Vec::new(), false)
    } else {
        match &options.return_fields {
            None => (default_fields(), true),
            Some(fields) => {
                let mut positions = Vec::new();
                let mut include_score = false;
                for field in fields {
                    if score_alias.as_deref() == Some(field.name.as_str()) {
                        include_score = true;
                    } else {
                        positions.push(
                            schema
                                .field(&field.name)
                                .ok_or_else(|| unknown(&field.name))?
                                .0,
                        );
                    }
                }
                (positions, include_score)
            }
        }
    };
    let sort = match &options.sort_by {
        None => None,
        Some(sort) => {
            let key = if score_alias.as_deref() == Some(sort.field.as_str()) {
                SortKey::Score
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
    Ok(Plan {
        printed: explain.then(|| bound.to_string()),
        filter,
        knn,
        score_alias,
        projection,
        include_score,
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

struct MemtableSource<'a> {
    memtable: &'a Memtable,
    now_ms: u64,
}

struct SegmentSource<'a> {
    slot: &'a SegmentSlot,
    now_ms: u64,
}

/// A source's vector column: row-major data, dimension, metric, rows that have one.
type Column<'a> = (&'a [f32], usize, Metric, &'a RoaringBitmap);

trait Source: RowSource {
    fn column(&self, position: u16, schema: &Schema) -> Option<Column<'_>>;
    /// Graph search among `filter`'s rows, when the source has a graph for the field.
    fn graph_search(
        &self,
        _: &Knn,
        _: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        Ok(None)
    }
    fn has_graph(&self, _: u16) -> bool {
        false
    }
}

fn distances_in(
    column: Option<Column<'_>>,
    vector: &[f32],
    rows: &RoaringBitmap,
) -> Vec<(u32, f32)> {
    let Some((data, dim, metric, present)) = column else {
        return Vec::new();
    };
    (rows & present)
        .iter()
        .filter_map(|row| {
            Some((
                row,
                metric.distance(
                    vector,
                    data.get(row as usize * dim..(row as usize + 1) * dim)?,
                ),
            ))
        })
        .collect()
}

impl RowSource for MemtableSource<'_> {
    fn row_count(&self) -> u64 {
        u64::MAX
    }
    fn live(&self) -> RoaringBitmap {
        self.memtable.live(self.now_ms)
    }
    fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap> {
        Ok(self.memtable.tag_rows(position, tag))
    }
    fn numeric_rows(
        &self,
        position: u16,
        low: std::ops::Bound<f64>,
        high: std::ops::Bound<f64>,
    ) -> Result<RoaringBitmap> {
        Ok(self.memtable.numeric_rows(position, low, high))
    }
    fn distances(&self, position: u16, vector: &[f32], rows: &RoaringBitmap) -> Vec<(u32, f32)> {
        distances_in(self.memtable.column(position), vector, rows)
    }
}

impl Source for MemtableSource<'_> {
    fn column(&self, position: u16, _: &Schema) -> Option<Column<'_>> {
        self.memtable.column(position)
    }
}

impl RowSource for SegmentSource<'_> {
    fn row_count(&self) -> u64 {
        self.slot.segment.row_count() as u64
    }
    fn live(&self) -> RoaringBitmap {
        let mut live = RoaringBitmap::new();
        live.insert_range(0..self.slot.segment.row_count());
        live - self.slot.overlay.dead_rows(&self.slot.segment, self.now_ms)
    }
    fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap> {
        self.slot.segment.tag_rows(position, tag)
    }
    fn numeric_rows(
        &self,
        position: u16,
        low: std::ops::Bound<f64>,
        high: std::ops::Bound<f64>,
    ) -> Result<RoaringBitmap> {
        self.slot.segment.numeric_rows(position, low, high)
    }
    fn distances(&self, position: u16, vector: &[f32], rows: &RoaringBitmap) -> Vec<(u32, f32)> {
        let metric = self.slot.segment.metric(position);
        let column = metric.and_then(|metric| {
            let (data, dim) = self.slot.segment.vectors(position)?;
            Some((data, dim, metric, self.slot.segment.present(position)?))
        });
        distances_in(column, vector, rows)
    }
    fn range_by_graph(
        &self,
        position: u16,
        vector: &[f32],
        radius: f32,
        epsilon: f32,
        rows: &RoaringBitmap,
    ) -> Result<Option<Vec<(u32, f32)>>> {
        self.slot
            .segment
            .range_graph(position, vector, radius, epsilon, rows)
    }
}

impl Source for SegmentSource<'_> {
    fn column(&self, position: u16, _: &Schema) -> Option<Column<'_>> {
        let segment = &self.slot.segment;
        let (data, dim) = segment.vectors(position)?;
        Some((
            data,
            dim,
            segment.metric(position)?,
            segment.present(position)?,
        ))
    }
    fn graph_search(
        &self,
        knn: &Knn,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        self.slot
            .segment
            .search_graph(knn.position, &knn.vector, knn.k, knn.ef, filter)
    }
    fn has_graph(&self, position: u16) -> bool {
        self.slot.segment.has_graph(position)
    }
}

/// The planner: how a source answers a vector query given how many rows match.
fn choose_strategy(
    index: VectorIndex,
    dim: usize,
    has_graph: bool,
    policy: Option<HybridPolicy>,
    ef: usize,
    matching: u64,
    live: u64,
) -> Strategy {
    let matching = matching as f64;
    let exact_cost = matching * dim as f64;
    let graph_cost = GRAPH_VISIT_COST * ef as f64 * live as f64 / matching.max(1.0);
    match (index, policy) {
        (VectorIndex::Hnsw { .. }, Some(HybridPolicy::Batches)) if has_graph => {
            Strategy::GraphTraversal
        }
        (VectorIndex::Hnsw { .. }, None) if has_graph && exact_cost >= graph_cost => {
            Strategy::GraphTraversal
        }
        _ => Strategy::ExactOverBitmap,
    }
}

/// Runs `plan` over a collection's tables.
pub(crate) fn execute(
    tables: &Tables,
    schema: &Schema,
    plan: &Plan,
    now_ms: u64,
) -> Result<(Vec<Hit>, Explain)> {
    let memtable = MemtableSource {
        memtable: &tables.memtable,
        now_ms,
    };
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
    sources.push((&memtable, Location::Memtable(0), "memtable".to_string()));

    let vector_index =
        plan.knn.as_ref().and_then(
            |knn| match schema.fields().get(knn.position as usize)?.kind {
                FieldKind::Vector(options) => Some(options.index),
                _ => None,
            },
        );
    let mut found: Vec<(f32, Location)> = Vec::new();
    let mut explain = Explain {
        query: plan.printed.clone().unwrap_or_default(),
        sources: Vec::new(),
    };
    for (source, location, name) in sources {
        let at = |row: u32| match location {
            Location::Segment(index, _) => Location::Segment(index, row),
            Location::Memtable(_) => Location::Memtable(row),
        };
        let live = source.live();
        let mut range_distances = Vec::new();
        let matching = plan.filter.evaluate(source, &live, &mut range_distances)?;
        let strategy = match (&plan.knn, vector_index) {
            (Some(knn), Some(index)) => {
                let strategy = choose_strategy(
                    index,
                    knn.vector.len(),
                    source.has_graph(knn.position),
                    knn.policy,
                    knn.ef.max(knn.k),
                    matching.len(),
                    live.len(),
                );
                let neighbors = match strategy {
                    Strategy::GraphTraversal => {
                        // Every row is in the graph; rows that are dead or do not match
                        // are walked through but never returned.
                        let filter = (matching.len() < source.row_count()).then_some(&matching);
                        source.graph_search(knn, filter)?.unwrap_or_default()
                    }
                    _ => match source.column(knn.position, schema) {
                        Some((data, dim, metric, present)) => {
                            let candidates = &matching & present;
                            flat::search(metric, &knn.vector, data, dim, candidates.iter(), knn.k)
                        }
                        None => Vec::new(),
                    },
                };
                found.extend(
                    neighbors
                        .into_iter()
                        .map(|neighbor| (neighbor.distance, at(neighbor.id))),
                );
                strategy
            }
            _ => {
                let distances: HashMap<u32, f32> = range_distances.into_iter().collect();
                found.extend(
                    matching
                        .iter()
                        .map(|row| (distances.get(&row).copied().unwrap_or(0.0), at(row))),
                );
                Strategy::FilterOnly
            }
        };
        explain.sources.push(SourcePlan {
            source: name,
            live_rows: live.len(),
            matching_rows: matching.len(),
            strategy,
        });
    }

    let by_distance = plan.knn.is_some() || plan.filter.vector_range_field().is_some();
    if by_distance {
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    if let Some(knn) = &plan.knn {
        found.truncate(knn.k);
    }
    if let Some((key, descending)) = plan.sort {
        sort_found(&mut found, key, descending, tables, schema)?;
    }
    let hits = found
        .into_iter()
        .skip(plan.offset)
        .take(plan.count)
        .map(|(distance, location)| {
            let mut doc = tables.document(location, schema, Some(&plan.projection))?;
            if plan.include_score && by_distance {
                if let Some(alias) = &plan.score_alias {
                    doc = doc.numeric(alias, distance as f64);
                }
            }
            Ok(Hit {
                key: tables.key(location)?,
                distance,
                doc,
            })
        })
        .collect::<Result<Vec<Hit>>>()?;
    Ok((hits, explain))
}

fn sort_found(
    found: &mut [(f32, Location)],
    key: SortKey,
    descending: bool,
    tables: &Tables,
    schema: &Schema,
) -> Result<()> {
    let SortKey::Field(position) = key else {
        found.sort_by(|a, b| {
            if descending {
                b.0.total_cmp(&a.0)
            } else {
                a.0.total_cmp(&b.0)
            }
        });
        return Ok(());
    };
    let name = &schema.fields()[position].name;
    let mut keyed = Vec::with_capacity(found.len());
    for (distance, location) in found.iter() {
        let doc = match location {
            Location::Memtable(_) => tables.document(*location, schema, Some(&[position]))?,
            Location::Segment(index, row) => segment_document(
                &tables.segments[*index].segment,
                *row,
                schema,
                Some(&[position]),
            )?,
        };
        keyed.push((doc.get(name).cloned(), *distance, *location));
    }
    // Documents without the field sort last either way, as in RediSearch.
    keyed.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) => {
            let order = compare_values(x, y);
            if descending {
                order.reverse()
            } else {
                order
            }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    for (slot, (_, distance, location)) in found.iter_mut().zip(keyed) {
        *slot = (distance, location);
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
