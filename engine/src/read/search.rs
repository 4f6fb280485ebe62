//! Search requests — the typed builder and the query-string builder — and results.
//! Both produce the same `strata_query::Query` and run through one executor.

use strata_query::{
    Filter as Ast, Page, ParamValue, Params, Query, QueryOptions, ReturnField, SortBy, SortOrder,
    Value, VectorClause,
};

use crate::model::doc::Doc;
use crate::model::error::{Error, Result};
use crate::read::filter::Filter;

/// Name of the vector parameter the typed builder uses.
const BUILDER_VECTOR: &str = "vector";

/// A search built in Rust: the same query a RediSearch string would give.
///
/// ```
/// use strata::{Filter, Search};
/// let request = Search::knn("embedding", &[0.1, 0.2, 0.3], 10)
///     .filter(Filter::tag("category", ["AI"]).and(Filter::range("price", 0.0..=100.0)))
///     .ef_runtime(64)
///     .return_fields(["title"]);
/// assert_eq!(
///     request.to_query_string(),
///     "(@category:{AI} @price:[0 100])=>[KNN 10 @embedding $vector EF_RUNTIME 64]"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Search {
    pub(crate) query: Query,
    pub(crate) params: Params,
}

impl Search {
    /// The `k` documents whose `field` vectors are nearest to `vector`, nearest first
    /// (`*=>[KNN k @field $vector]`, with `LIMIT 0 k`).
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// assert_eq!(keys(items.search(&Search::knn("v", &[0.9, 0.0], 2))?), ["b", "a"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn knn(field: &str, vector: &[f32], k: usize) -> Search {
        Search {
            query: Query {
                filter: Ast::All,
                vector: Some(VectorClause::new(k as u64, field, BUILDER_VECTOR)),
                options: QueryOptions {
                    limit: Some(Page {
                        offset: 0,
                        count: k as u64,
                    }),
                    ..QueryOptions::default()
                },
            },
            params: Params::new().with_vector(BUILDER_VECTOR, vector.to_vec()),
        }
    }

    /// The documents matching `filter`, without a vector clause: ranked by BM25 when
    /// the filter has text predicates, else in storage order (`LIMIT 0 10` unless
    /// [`Search::limit`] says otherwise, as in RediSearch).
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::matching(Filter::text("body", "oauth").and(Filter::tag("tenant", ["acme"])))
    ///     .with_scores();
    /// assert_eq!(request.to_query_string(), "@body:oauth @tenant:{acme}");
    /// ```
    pub fn matching(filter: Filter) -> Search {
        Search {
            query: Query {
                filter: filter.0,
                vector: None,
                options: QueryOptions::default(),
            },
            params: Params::new(),
        }
    }

    /// `WITHSCORES`: each hit's [`Hit::score`] is set (BM25 for text-ranked queries).
    pub fn with_scores(mut self) -> Search {
        self.query.options.with_scores = true;
        self
    }

    /// Every document whose `field` vector lies within `radius` of `vector`, nearest
    /// first (`@field:[VECTOR_RANGE radius $vector]`). Returns at most 10 unless
    /// [`Search::limit`] says otherwise, as in RediSearch.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// // L2 distances are squared: within 1.5 of the origin means a and b.
    /// assert_eq!(keys(items.search(&Search::range("v", &[0.0, 0.0], 1.5))?), ["a", "b"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn range(field: &str, vector: &[f32], radius: f64) -> Search {
        Search {
            query: Query {
                filter: Ast::VectorRange {
                    field: field.to_string(),
                    radius: Value::Literal(radius),
                    vector_param: BUILDER_VECTOR.to_string(),
                    yield_distance_as: None,
                    epsilon: None,
                },
                vector: None,
                options: QueryOptions::default(),
            },
            params: Params::new().with_vector(BUILDER_VECTOR, vector.to_vec()),
        }
    }

    /// `$EPSILON` of a [`Search::range`] on an HNSW field: how far past the radius the
    /// graph walk explores, relative to it (RediSearch's default is 0.01). Larger
    /// finds more of the rows inside the radius at the cost of a longer walk; FLAT
    /// fields and small segments are measured exactly and ignore it. Without a
    /// VECTOR_RANGE clause it does nothing.
    ///
    /// ```
    /// use strata::Search;
    /// let request = Search::range("embedding", &[0.1, 0.2], 0.3).epsilon(0.05);
    /// assert_eq!(
    ///     request.to_query_string(),
    ///     "@embedding:[VECTOR_RANGE 0.3 $vector]=>{$EPSILON: 0.05}"
    /// );
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Search {
        fn set(filter: &mut Ast, epsilon: f64) -> bool {
            match filter {
                Ast::VectorRange { epsilon: slot, .. } => {
                    *slot = Some(Value::Literal(epsilon));
                    true
                }
                Ast::And(children) => children.iter_mut().any(|child| set(child, epsilon)),
                _ => false,
            }
        }
        set(&mut self.query.filter, epsilon);
        self
    }

    /// Only documents matching `filter` (a pre-filter: k nearest among the matches).
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// let request = Search::knn("v", &[0.0, 0.0], 2).filter(Filter::tag("kind", ["y"]));
    /// assert_eq!(keys(items.search(&request)?), ["c"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn filter(mut self, filter: Filter) -> Search {
        self.query.filter = match std::mem::replace(&mut self.query.filter, Ast::All) {
            Ast::All => filter.0,
            range @ Ast::VectorRange { .. } => Ast::And(vec![range, filter.0]),
            other => Ast::And(vec![other, filter.0]),
        };
        self
    }

    /// `EF_RUNTIME`: the HNSW search breadth (ignored by FLAT, which is exact).
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let request = Search::knn("v", &[0.0, 0.0], 1).ef_runtime(100);
    /// assert_eq!(request.to_query_string(), "*=>[KNN 1 @v $vector EF_RUNTIME 100]");
    /// assert_eq!(items.search(&request)?[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn ef_runtime(mut self, ef: usize) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.ef_runtime = Some(Value::Literal(ef as u64));
        }
        self
    }

    /// `NPROBE`: the IVF-PQ coarse lists scanned per segment (ignored by FLAT and
    /// HNSW). More lists find more of the true neighbours and cost more. Without it a
    /// segment probes 32 lists, and up to 128 under a filter that matches 30% of its
    /// rows or fewer (a filter's nearest matches lie in more lists); a given value is
    /// used as is.
    ///
    /// ```
    /// use strata::Search;
    /// let request = Search::knn("v", &[0.0, 0.0], 10).nprobe(64);
    /// assert_eq!(request.to_query_string(), "*=>[KNN 10 @v $vector NPROBE 64]");
    /// ```
    pub fn nprobe(mut self, nprobe: usize) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.nprobe = Some(Value::Literal(nprobe as u64));
        }
        self
    }

    /// `REFINE`: IVF-PQ re-ranks `refine * k` candidates per segment with exact
    /// distances (ignored by FLAT and HNSW).
    ///
    /// ```
    /// use strata::Search;
    /// let request = Search::knn("v", &[0.0, 0.0], 10).refine(4);
    /// assert_eq!(request.to_query_string(), "*=>[KNN 10 @v $vector REFINE 4]");
    /// ```
    pub fn refine(mut self, refine: usize) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.refine = Some(Value::Literal(refine as u64));
        }
        self
    }

    /// RediSearch's `HYBRID_POLICY`: `true` for `ADHOC_BF` (exact search over the
    /// filter's matches), `false` for `BATCHES` (the HNSW graph, filtered while it is
    /// walked). Without it the planner chooses per segment.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let request = Search::knn("v", &[0.0, 0.0], 1).brute_force(true);
    /// assert_eq!(request.to_query_string(), "*=>[KNN 1 @v $vector HYBRID_POLICY ADHOC_BF]");
    /// assert_eq!(items.search(&request)?[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn brute_force(mut self, exact: bool) -> Search {
        if let Some(clause) = &mut self.query.vector {
            clause.hybrid_policy = Some(if exact {
                strata_query::HybridPolicy::AdhocBruteForce
            } else {
                strata_query::HybridPolicy::Batches
            });
        }
        self
    }

    /// Returns only these fields with each hit, like `RETURN`. Vector fields are
    /// returned only when named. An empty list is `NOCONTENT`.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let hit = &items.search(&Search::knn("v", &[0.0, 0.0], 1).return_fields(["price"]))?[0];
    /// assert_eq!(hit.doc, Doc::new().numeric("price", 3.0));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn return_fields<I, S>(mut self, fields: I) -> Search
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields: Vec<ReturnField> = fields
            .into_iter()
            .map(|name| ReturnField {
                name: name.into(),
                alias: None,
            })
            .collect();
        if fields.is_empty() {
            return self.no_content();
        }
        self.query.options.return_fields = Some(fields);
        self
    }

    /// Returns keys and distances only, like `NOCONTENT`.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let hit = &items.search(&Search::knn("v", &[0.0, 0.0], 1).no_content())?[0];
    /// assert_eq!((hit.key.as_str(), hit.doc.is_empty()), ("a", true));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn no_content(mut self) -> Search {
        self.query.options.no_content = true;
        self
    }

    /// Skips `offset` results and returns at most `count`, like `LIMIT offset count`.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// assert_eq!(keys(items.search(&Search::knn("v", &[0.0, 0.0], 3).limit(1, 2))?), ["b", "c"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn limit(mut self, offset: usize, count: usize) -> Search {
        self.query.options.limit = Some(Page {
            offset: offset as u64,
            count: count as u64,
        });
        self
    }

    /// Orders results by a field, like `SORTBY field ASC|DESC`.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
    ///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
    /// items.upsert_many([
    ///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
    ///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
    ///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
    /// ])?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// assert_eq!(keys(items.search(&Search::knn("v", &[0.0, 0.0], 3).sort_by("price", false))?), ["b", "c", "a"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn sort_by(mut self, field: &str, descending: bool) -> Search {
        let order = if descending {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        };
        self.query.options.sort_by = Some(SortBy {
            field: field.to_string(),
            order,
        });
        self
    }

    /// The query in the RediSearch dialect (the vector is the parameter `$vector`).
    ///
    /// ```
    /// use strata::{Filter, Search};
    /// let request = Search::knn("v", &[0.0, 1.0], 5).filter(Filter::range("price", ..10.0));
    /// assert_eq!(request.to_query_string(), "@price:[-inf (10]=>[KNN 5 @v $vector]");
    /// ```
    pub fn to_query_string(&self) -> String {
        self.query.to_string()
    }
}

/// A parameter value for [`QueryBuilder::param`](crate::QueryBuilder::param): a vector (as `f32`s, or as the
/// little-endian FLOAT32 bytes Redis clients send: `np.float32(v).tobytes()`), text
/// or a number.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert_many([
///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
/// ])?;
/// let blob: Vec<u8> = [0.9f32, 0.0].iter().flat_map(|x| x.to_le_bytes()).collect();
/// let by_bytes = items.query("*=>[KNN 1 @v $q]").param("q", &blob[..]).run()?;
/// let by_floats = items.query("*=>[KNN 1 @v $q]").param("q", vec![0.9f32, 0.0]).run()?;
/// assert_eq!(by_bytes, by_floats);
/// let cheap = items.query("@price:[-inf $max]").param("max", 1.5).run()?;
/// assert_eq!(cheap[0].key, "b");
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Param(pub(crate) ParamKind);

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ParamKind {
    Value(ParamValue),
    /// A vector as bytes, decoded (and its length checked) when the query is built.
    Blob(Vec<u8>),
}

impl Param {
    /// A vector parameter from the little-endian FLOAT32 bytes a Redis client sends
    /// (`np.float32(v).tobytes()`, redis-py's `array_to_buffer`), checked now rather
    /// than when the query runs. `From<&[u8]>` takes the same bytes unchecked.
    ///
    /// ```
    /// use strata::Param;
    /// let blob: Vec<u8> = [1.0f32, -2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
    /// assert_eq!(Param::from_f32_le_bytes(&blob)?, Param::from(vec![1.0f32, -2.5]));
    /// assert!(matches!(Param::from_f32_le_bytes(&blob[..5]), Err(strata::Error::InvalidArgument { .. })));
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the length is 0 or not a multiple of 4.
    pub fn from_f32_le_bytes(bytes: &[u8]) -> Result<Param> {
        if bytes.is_empty() {
            return Err(Error::InvalidArgument {
                reason: "an empty FLOAT32 blob; a vector has at least one dimension".to_string(),
            });
        }
        Ok(Param(ParamKind::Value(ParamValue::Vector(decode_blob(
            "blob", bytes,
        )?))))
    }
}

impl From<&[u8]> for Param {
    fn from(blob: &[u8]) -> Param {
        Param(ParamKind::Blob(blob.to_vec()))
    }
}

impl From<Vec<u8>> for Param {
    fn from(blob: Vec<u8>) -> Param {
        Param(ParamKind::Blob(blob))
    }
}

impl From<&Vec<u8>> for Param {
    fn from(blob: &Vec<u8>) -> Param {
        Param(ParamKind::Blob(blob.clone()))
    }
}

/// A FLOAT32 blob as a vector: 4 little-endian bytes per component, as Redis reads
/// `$BLOB` parameters.
pub(crate) fn decode_blob(name: &str, blob: &[u8]) -> Result<Vec<f32>> {
    if !blob.len().is_multiple_of(4) {
        return Err(Error::InvalidArgument {
            reason: format!(
                "parameter `${name}` is a {}-byte blob; a FLOAT32 vector blob holds 4 \
                 little-endian bytes per dimension (np.float32(vector).tobytes())",
                blob.len()
            ),
        });
    }
    Ok(blob
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

impl From<&[f32]> for Param {
    fn from(vector: &[f32]) -> Param {
        Param(ParamKind::Value(ParamValue::Vector(vector.to_vec())))
    }
}

impl From<&Vec<f32>> for Param {
    fn from(vector: &Vec<f32>) -> Param {
        Param(ParamKind::Value(ParamValue::Vector(vector.clone())))
    }
}

impl From<Vec<f32>> for Param {
    fn from(vector: Vec<f32>) -> Param {
        Param(ParamKind::Value(ParamValue::Vector(vector)))
    }
}

impl From<&str> for Param {
    fn from(text: &str) -> Param {
        Param(ParamKind::Value(ParamValue::Text(text.to_string())))
    }
}

impl From<String> for Param {
    fn from(text: String) -> Param {
        Param(ParamKind::Value(ParamValue::Text(text)))
    }
}

impl From<f64> for Param {
    fn from(number: f64) -> Param {
        Param(ParamKind::Value(ParamValue::Text(number.to_string())))
    }
}

impl From<i64> for Param {
    fn from(number: i64) -> Param {
        Param(ParamKind::Value(ParamValue::Text(number.to_string())))
    }
}

/// A page of search results and how many documents matched in all, like FT.SEARCH's
/// reply. Dereferences to the page's hits.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert_many([
///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
/// ])?;
/// let page = items.search_page(&Search::knn("v", &[0.0, 0.0], 3).limit(0, 1))?;
/// assert_eq!(page.total, 3);
/// assert_eq!(page[0].key, "a"); // derefs to the hits
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SearchResults {
    /// Documents that matched, before `LIMIT` cut the page (for KNN, at most k).
    pub total: usize,
    /// The page, in result order.
    pub hits: Vec<Hit>,
}

impl std::ops::Deref for SearchResults {
    type Target = [Hit];

    fn deref(&self) -> &[Hit] {
        &self.hits
    }
}

impl IntoIterator for SearchResults {
    type Item = Hit;
    type IntoIter = std::vec::IntoIter<Hit>;

    fn into_iter(self) -> Self::IntoIter {
        self.hits.into_iter()
    }
}

impl<'a> IntoIterator for &'a SearchResults {
    type Item = &'a Hit;
    type IntoIter = std::slice::Iter<'a, Hit>;

    fn into_iter(self) -> Self::IntoIter {
        self.hits.iter()
    }
}

/// One search result.
///
/// ```
/// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price")
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert_many([
///     ("a", Doc::new().tag("kind", "x").numeric("price", 3.0).vector("v", vec![0.0, 0.0])),
///     ("b", Doc::new().tag("kind", "x").numeric("price", 1.0).vector("v", vec![1.0, 0.0])),
///     ("c", Doc::new().tag("kind", "y").numeric("price", 2.0).vector("v", vec![2.0, 0.0])),
/// ])?;
/// let hit = &items.query("*=>[KNN 1 @v $vec AS d]").param("vec", vec![1.0f32, 0.0]).run()?[0];
/// assert_eq!((hit.key.as_str(), hit.distance), ("b", 0.0));
/// assert_eq!(hit.doc.get_numeric("d"), Some(0.0));
/// assert_eq!(hit.doc.get_tag("kind"), Some("x"));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The document's key.
    pub key: String,
    /// Distance to the query under the field's metric (smaller is nearer): COSINE is
    /// `1 - cosine similarity`, IP is `1 - dot product`, L2 is the *squared* Euclidean
    /// distance, as in Redis. 0 for queries without a vector clause; `INFINITY` for a
    /// hit that only a branch of the filter other than its VECTOR_RANGE matched.
    pub distance: f32,
    /// With `WITHSCORES`: the score of the query's `SCORER` (by default BM25 for a query
    /// ranked by text, 1 for one without text), 0 for a KNN query; `None` without it.
    pub score: Option<f64>,
    /// The returned fields: by default every non-vector field, plus the KNN distance
    /// (under its alias, or RediSearch's implicit `__<field>_score`) and the
    /// VECTOR_RANGE distance under its `$YIELD_DISTANCE_AS` name. With `RETURN`, the
    /// fields named, in that order, each under its `AS` alias.
    pub doc: Doc,
}
