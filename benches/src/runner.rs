//! The Strata side of `ann`: the schema, ingest, the measured open and the query runs,
//! all through the public `strata` API.
//!
//! A *run* is one setting of query-time parameters, optionally under a filter. FLAT has
//! one run with no parameters; approximate indexes will list one run per `ef` (or
//! `nprobe`) value, and filtered runs repeat the settings per filter. Executing a run
//! only needs [`search_request`] to express its settings, so adding a parameter or
//! filtered search is a change there and in [`plan_runs`].

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use strata::{Collection, Doc, Metric, Schema, Search};

use crate::args::{BuildParams, IndexKind, Policy};
use crate::fvecs::Matrix;
use crate::meta::{FilterSpec, Meta};
use crate::metrics::Latency;
use crate::{BenchError, Result};

/// The collection the bench creates.
pub const COLLECTION: &str = "ann";
/// Its vector field.
pub const VECTOR_FIELD: &str = "embedding";
/// Its row fields, when `--meta` is given: names as in `meta.jsonl`.
pub const TEXT_FIELD: &str = "text";
pub const TOPIC_FIELD: &str = "topic";
pub const YEAR_FIELD: &str = "year";
pub const POPULARITY_FIELD: &str = "popularity";

/// The collection's schema.
pub fn schema(dim: usize, metric: Metric, index: IndexKind, with_meta: bool) -> Result<Schema> {
    schema_with(dim, metric, index, &BuildParams::default(), with_meta)
}

/// [`schema`] with the index's build parameters.
pub fn schema_with(
    dim: usize,
    metric: Metric,
    index: IndexKind,
    build: &BuildParams,
    with_meta: bool,
) -> Result<Schema> {
    let mut builder = Schema::builder();
    if with_meta {
        builder = builder
            .text(TEXT_FIELD)
            .tag(TOPIC_FIELD)
            .numeric(YEAR_FIELD)
            .numeric(POPULARITY_FIELD);
    }
    Ok(builder
        .vector(VECTOR_FIELD, dim, metric, index.declaration(dim, build))
        .build()?)
}

/// The document of base row `row`: its vector and, if given, its fields. A field the
/// row lacks (the README's row without a year) is left out, as Redis would.
pub fn document(vector: &[f32], meta: Option<&Meta>) -> Doc {
    let mut doc = Doc::new().vector(VECTOR_FIELD, vector);
    if let Some(meta) = meta {
        if let Some(text) = &meta.text {
            doc = doc.text(TEXT_FIELD, text.as_str());
        }
        if !meta.topics.is_empty() {
            doc = doc.tag(TOPIC_FIELD, meta.topics.join(","));
        }
        if let Some(year) = meta.year {
            doc = doc.numeric(YEAR_FIELD, year);
        }
        if let Some(popularity) = meta.popularity {
            doc = doc.numeric(POPULARITY_FIELD, popularity);
        }
    }
    doc
}

/// Upserts every base row, `batch` rows per `upsert_many` (or one `upsert` per row
/// when `batch` is 1: the single-document call, one WAL record each), keyed by row
/// number so that hits map back to ground-truth ids. Returns the time spent inside the
/// engine's calls (building the documents is the caller's cost, not the engine's).
pub fn ingest(
    collection: &Collection,
    base: &Matrix<f32>,
    meta: Option<&[Meta]>,
    batch: usize,
) -> Result<Duration> {
    let mut spent = Duration::ZERO;
    let mut start = 0;
    while start < base.len() {
        let end = (start + batch).min(base.len());
        let docs: Vec<(String, Doc)> = (start..end)
            .map(|row| {
                let fields = meta.and_then(|meta| meta.get(row));
                (row.to_string(), document(base.row(row), fields))
            })
            .collect();
        let clock = Instant::now();
        if batch == 1 {
            for (key, doc) in docs {
                collection.upsert(key, doc)?;
            }
        } else {
            collection.upsert_many(docs)?;
        }
        spent += clock.elapsed();
        start = end;
    }
    Ok(spent)
}

/// A search as the bench issues it: typed for unfiltered runs, and for filtered runs
/// the filter's own RediSearch string, as a user porting from Redis would send it.
#[derive(Debug)]
pub enum Request<'a> {
    Typed(Box<Search>),
    Text {
        query: String,
        vector: &'a [f32],
        k: usize,
    },
}

impl Request<'_> {
    /// Runs the request on `collection`.
    pub fn run(&self, collection: &Collection) -> Result<Vec<strata::Hit>> {
        Ok(match self {
            Request::Typed(search) => collection.search(search)?,
            Request::Text { query, vector, k } => collection
                .query(query)
                .param("vec", *vector)
                .args([
                    "LIMIT".to_string(),
                    "0".to_string(),
                    k.to_string(),
                    "NOCONTENT".to_string(),
                ])
                .run()?,
        })
    }
}

/// One query (row `query` of the query file) as a search request under `run`'s
/// settings. Keys only: the bench maps keys back to ids and needs no fields.
pub fn search_request<'a>(
    run: &RunSpec,
    filters: &[FilterSpec],
    vector: &'a [f32],
    k: usize,
) -> Result<Request<'a>> {
    let (mut ef, mut nprobe, mut refine, mut policy) = (None, None, None, None);
    for (name, value) in &run.params {
        if name == "policy" {
            policy = match value.as_str() {
                Some("batches") => Some(Policy::Batches),
                Some("adhoc_bf") => Some(Policy::AdhocBruteForce),
                _ => return Err(BenchError::new(format!("unknown policy {value}"))),
            };
            continue;
        }
        match (name.as_str(), value.as_u64()) {
            ("ef", Some(value)) => ef = Some(value as usize),
            // 0: left out of the query, so the engine's default applies.
            ("nprobe", Some(value)) => nprobe = (value > 0).then_some(value as usize),
            ("refine", Some(value)) => refine = (value > 0).then_some(value as usize),
            _ => {
                return Err(BenchError::new(format!(
                    "query parameter `{name}` is not supported by this build of strata"
                )))
            }
        }
    }
    if let Some(filter) = run.filter {
        let filter = filters
            .get(filter)
            .ok_or_else(|| BenchError::new("a run names a filter that was not read"))?;
        let mut settings = String::new();
        for (word, value) in [("EF_RUNTIME", ef), ("NPROBE", nprobe), ("REFINE", refine)] {
            if let Some(value) = value {
                settings.push_str(&format!(" {word} {value}"));
            }
        }
        if let Some(policy) = policy {
            settings.push_str(&format!(" HYBRID_POLICY {}", policy.word()));
        }
        return Ok(Request::Text {
            query: format!(
                "({})=>[KNN {k} @{VECTOR_FIELD} $vec{settings}]",
                filter.filter
            ),
            vector,
            k,
        });
    }
    let mut search = Search::knn(VECTOR_FIELD, vector, k).no_content();
    if let Some(ef) = ef {
        search = search.ef_runtime(ef);
    }
    if let Some(nprobe) = nprobe {
        search = search.nprobe(nprobe);
    }
    if let Some(refine) = refine {
        search = search.refine(refine);
    }
    if let Some(policy) = policy {
        search = search.brute_force(policy == Policy::AdhocBruteForce);
    }
    Ok(Request::Typed(Box::new(search)))
}

/// A run to measure: query-time parameters and an optional filter (an index into the
/// filters read from `--filters`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub params: Map<String, Value>,
    pub filter: Option<usize>,
}

/// The query-time settings to sweep: HNSW's `EF_RUNTIME`, IVF-PQ's `NPROBE` and
/// `REFINE` (one run per pair).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub efs: Vec<usize>,
    pub nprobes: Vec<usize>,
    pub refines: Vec<usize>,
    /// `HYBRID_POLICY` for every run, recorded in its parameters.
    pub policy: Option<Policy>,
}

/// The runs for an index: each parameter setting unfiltered, then under each filter.
pub fn plan_runs(index: IndexKind, filters: &[FilterSpec], sweep: &Sweep) -> Vec<RunSpec> {
    let settings: Vec<Map<String, Value>> = match index {
        IndexKind::Hnsw => sweep
            .efs
            .iter()
            .map(|ef| Map::from_iter([("ef".to_string(), Value::from(*ef))]))
            .collect(),
        IndexKind::IvfPq => sweep
            .nprobes
            .iter()
            .flat_map(|nprobe| {
                sweep.refines.iter().map(move |refine| {
                    Map::from_iter([
                        ("nprobe".to_string(), Value::from(*nprobe)),
                        ("refine".to_string(), Value::from(*refine)),
                    ])
                })
            })
            .collect(),
        IndexKind::Flat => vec![Map::new()],
    };
    let settings: Vec<Map<String, Value>> = settings
        .into_iter()
        .map(|mut params| {
            if let Some(policy) = sweep.policy {
                let name = match policy {
                    Policy::Batches => "batches",
                    Policy::AdhocBruteForce => "adhoc_bf",
                };
                params.insert("policy".to_string(), Value::from(name));
            }
            params
        })
        .collect();
    let mut runs: Vec<RunSpec> = settings
        .iter()
        .map(|params| RunSpec {
            params: params.clone(),
            filter: None,
        })
        .collect();
    for filter in 0..filters.len() {
        runs.extend(settings.iter().map(|params| RunSpec {
            params: params.clone(),
            filter: Some(filter),
        }));
    }
    runs
}

/// The ids a run returned per query, and its latency.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub returned: Vec<Vec<u32>>,
    pub latency: Latency,
}

/// Runs the queries `query_ids` one at a time on this thread, timing each search call
/// (request construction included: callers pay for it too).
pub fn execute(
    collection: &Collection,
    queries: &Matrix<f32>,
    query_ids: &[usize],
    k: usize,
    run: &RunSpec,
    filters: &[FilterSpec],
) -> Result<RunOutcome> {
    let mut returned = Vec::with_capacity(query_ids.len());
    let mut samples = Vec::with_capacity(query_ids.len());
    // Build one request first, so that an unsupported run fails before it is timed.
    if let Some(&first) = query_ids.first() {
        search_request(run, filters, queries.row(first), k)?.run(collection)?;
    }
    let loop_clock = Instant::now();
    for &query in query_ids {
        let clock = Instant::now();
        let hits = search_request(run, filters, queries.row(query), k)?.run(collection)?;
        samples.push(clock.elapsed());
        returned.push(hit_ids(&hits)?);
    }
    let total = loop_clock.elapsed();
    Ok(RunOutcome {
        returned,
        latency: Latency::from_samples(&samples, total),
    })
}

/// Base row ids of hits, from their keys.
pub fn hit_ids(hits: &[strata::Hit]) -> Result<Vec<u32>> {
    hits.iter()
        .map(|hit| {
            hit.key.parse::<u32>().map_err(|_| {
                BenchError::new(format!(
                    "the collection returned key {:?}, not a row number: \
                     was the database filled by another tool?",
                    hit.key
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::Database;

    fn tiny_base() -> Matrix<f32> {
        Matrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8, -1.0, 0.0, 0.8, 0.6]).unwrap()
    }

    #[test]
    fn ingest_and_flat_run_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("db")).unwrap();
        let schema = schema(2, Metric::Cosine, IndexKind::Flat, true).unwrap();
        let collection = db.create_collection(COLLECTION, schema).unwrap();
        let meta = vec![Meta::default(); 5];
        ingest(&collection, &tiny_base(), Some(&meta), 2).unwrap();
        assert_eq!(collection.len().unwrap(), 5);

        let queries = Matrix::new(2, vec![0.9, 0.5, -1.0, 0.1]).unwrap();
        let runs = plan_runs(IndexKind::Flat, &[], &Sweep::default());
        assert_eq!(runs.len(), 1);
        let outcome = execute(&collection, &queries, &[0, 1], 2, &runs[0], &[]).unwrap();
        assert_eq!(outcome.returned, vec![vec![4, 2], vec![3, 1]]);
        assert!(outcome.latency.qps > 0.0);
    }

    #[test]
    fn filtered_runs_use_the_filter_string() {
        schema(8, Metric::L2, IndexKind::IvfPq, false).unwrap();
        let filter = FilterSpec {
            name: "sel".into(),
            filter: "@topic:{ai}".into(),
            selectivity: None,
            query_ids: vec![0],
            gt: vec![vec![]],
        };
        let runs = plan_runs(
            IndexKind::Flat,
            std::slice::from_ref(&filter),
            &Sweep::default(),
        );
        assert_eq!(runs.len(), 2);
        match search_request(&runs[1], &[filter], &[1.0, 0.0], 10).unwrap() {
            Request::Text { query, .. } => {
                assert_eq!(query, "(@topic:{ai})=>[KNN 10 @embedding $vec]")
            }
            other => panic!("expected the filter's query string, got {other:?}"),
        }
    }

    #[test]
    fn default_settings_are_left_out_and_the_policy_is_sent() {
        let filter = FilterSpec {
            name: "sel".into(),
            filter: "@topic:{ai}".into(),
            selectivity: None,
            query_ids: vec![0],
            gt: vec![vec![]],
        };
        let sweep = Sweep {
            nprobes: vec![0, 16],
            refines: vec![0],
            policy: Some(Policy::Batches),
            ..Sweep::default()
        };
        let runs = plan_runs(IndexKind::IvfPq, std::slice::from_ref(&filter), &sweep);
        let queries: Vec<String> = runs[2..]
            .iter()
            .map(
                |run| match search_request(run, std::slice::from_ref(&filter), &[1.0], 10) {
                    Ok(Request::Text { query, .. }) => query,
                    other => panic!("expected a query string, got {other:?}"),
                },
            )
            .collect();
        assert_eq!(
            queries,
            [
                "(@topic:{ai})=>[KNN 10 @embedding $vec HYBRID_POLICY BATCHES]",
                "(@topic:{ai})=>[KNN 10 @embedding $vec NPROBE 16 HYBRID_POLICY BATCHES]",
            ]
        );
    }

    #[test]
    fn foreign_keys_are_an_error() {
        let hit = strata::Hit {
            key: "doc:1".into(),
            distance: 0.0,
            score: None,
            doc: Doc::new(),
        };
        assert!(hit_ids(&[hit]).is_err());
    }
}
