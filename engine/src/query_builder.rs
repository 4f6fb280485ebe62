//! The query-string builder: a RediSearch-dialect query with its parameters, bound to
//! the collection it runs on. It parses into the same `Search` the typed builder makes.
//! The hybrid builder does the same for FT.HYBRID's arguments.

use strata_query::{ParamValue, Params, Value};

use crate::collection::Collection;
use crate::model::error::Result;
use crate::read::execute::Explain;
use crate::read::hybrid::{self, HybridResults, HybridSearch};
use crate::read::search::{decode_blob, Hit, Param, ParamKind, Search, SearchResults};

/// A query in the RediSearch dialect, with its parameters; see [`Collection::query`].
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
/// let page = items
///     .query("@kind:{$kind}=>[KNN 2 @v $vec AS dist]")
///     .param("kind", "x")
///     .param("vec", vec![0.0f32, 0.0])
///     .args(["RETURN", "1", "dist", "SORTBY", "dist", "DESC"])
///     .run_with_total()?;
/// assert_eq!(page.hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), ["b", "a"]);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct QueryBuilder<'c> {
    collection: &'c Collection,
    text: String,
    args: Vec<String>,
    params: Params,
    /// Blob parameters, decoded in `search`, where a bad one can be reported.
    blobs: Vec<(String, Vec<u8>)>,
    ef_runtime: Option<usize>,
    nprobe: Option<usize>,
    refine: Option<usize>,
}

impl<'c> QueryBuilder<'c> {
    pub(crate) fn new(collection: &'c Collection, text: &str) -> QueryBuilder<'c> {
        QueryBuilder {
            collection,
            text: text.to_string(),
            args: Vec::new(),
            params: Params::new(),
            blobs: Vec::new(),
            ef_runtime: None,
            nprobe: None,
            refine: None,
        }
    }

    /// Binds `$name` to a value (a vector for KNN and VECTOR_RANGE, text or a number
    /// elsewhere), like `PARAMS`. A vector may be given as `f32`s or, as Redis clients
    /// send it, as little-endian FLOAT32 bytes (`&bytes[..]`); a blob whose length is
    /// not a multiple of 4 is refused when the query runs.
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
    /// let hits = items.query("*=>[KNN $k @v $vec]").param("k", 1i64).param("vec", vec![2.0f32, 0.0]).run()?;
    /// assert_eq!(hits[0].key, "c");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> QueryBuilder<'c> {
        self.blobs.retain(|(blob, _)| blob != name);
        match value.into().0 {
            ParamKind::Value(value) => {
                self.params.insert(name, value);
            }
            ParamKind::Blob(bytes) => self.blobs.push((name.to_string(), bytes)),
        }
        self
    }

    /// Overrides `EF_RUNTIME` of the KNN clause.
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
    /// let hits = items.query("*=>[KNN 1 @v $vec]").param("vec", vec![0.0f32, 0.0]).ef_runtime(50).run()?;
    /// assert_eq!(hits[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn ef_runtime(mut self, ef: usize) -> QueryBuilder<'c> {
        self.ef_runtime = Some(ef);
        self
    }

    /// Overrides `NPROBE` of the KNN clause (IVF-PQ lists scanned per segment).
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
    /// // Ignored by HNSW fields; an IVF_PQ field scans this many lists.
    /// let hits = items.query("*=>[KNN 1 @v $vec]").param("vec", vec![0.0f32, 0.0]).nprobe(8).run()?;
    /// assert_eq!(hits[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn nprobe(mut self, nprobe: usize) -> QueryBuilder<'c> {
        self.nprobe = Some(nprobe);
        self
    }

    /// Overrides `REFINE` of the KNN clause (IVF-PQ candidates re-ranked, times k).
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
    /// let hits = items.query("*=>[KNN 1 @v $vec]").param("vec", vec![0.0f32, 0.0]).refine(2).run()?;
    /// assert_eq!(hits[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn refine(mut self, refine: usize) -> QueryBuilder<'c> {
        self.refine = Some(refine);
        self
    }

    /// FT.SEARCH options after the query string, as separate arguments: `RETURN`,
    /// `SORTBY`, `LIMIT`, `NOCONTENT`, `WITHSCORES`, `INKEYS`, `INFIELDS`, `HIGHLIGHT`,
    /// `SUMMARIZE`, `PARAMS`, `DIALECT`.
    ///
    /// `HIGHLIGHT` and `SUMMARIZE` rewrite the returned TEXT fields around the words
    /// the query matched, as RediSearch does:
    ///
    /// ```
    /// use strata::{Database, Doc, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "Rotate the OAuth refresh tokens daily"))?;
    /// let hits = notes.query("@body:token").args(["HIGHLIGHT", "TAGS", "[", "]"]).run()?;
    /// assert_eq!(hits[0].doc.get_text("body"), Some("Rotate the OAuth refresh [tokens] daily"));
    /// let hits = notes.query("@body:token").args(["SUMMARIZE", "LEN", "6"]).run()?;
    /// assert_eq!(hits[0].doc.get_text("body"), Some("OAuth refresh tokens ... "));
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
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
    /// let hits = items.query("@kind:{x}").args(["SORTBY", "price", "LIMIT", "0", "1"]).run()?;
    /// assert_eq!(hits[0].key, "b");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn args<I, S>(mut self, args: I) -> QueryBuilder<'c>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn search(&self) -> Result<Search> {
        let limits = self.collection.limits().query();
        let mut query = strata_query::parse_search(&self.text, &self.args, &limits)?;
        if let Some(clause) = &mut query.vector {
            let literal = |value: Option<usize>| value.map(|v| Value::Literal(v as u64));
            clause.ef_runtime = literal(self.ef_runtime).or(clause.ef_runtime.take());
            clause.nprobe = literal(self.nprobe).or(clause.nprobe.take());
            clause.refine = literal(self.refine).or(clause.refine.take());
        }
        let mut params = self.params.clone();
        for (name, blob) in &self.blobs {
            params.insert(name, ParamValue::Vector(decode_blob(name, blob)?));
        }
        Ok(Search { query, params })
    }

    /// Runs the query. Without `LIMIT`, at most 10 results come back, as in RediSearch.
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
    /// let hits = items.query("@price:[2 +inf]").args(["SORTBY", "price"]).run()?;
    /// assert_eq!(hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), ["c", "a"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn run(self) -> Result<Vec<Hit>> {
        self.collection.search(&self.search()?)
    }

    /// Runs the query and returns the page with the total number of matching
    /// documents, as FT.SEARCH does: `LIMIT 0 0` returns only the total. For KNN the
    /// total is the number of neighbours found (at most k).
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
    /// let counted = items.query("@kind:{x}").args(["LIMIT", "0", "0"]).run_with_total()?;
    /// assert_eq!((counted.total, counted.hits.len()), (2, 0));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn run_with_total(self) -> Result<SearchResults> {
        self.collection.search_page(&self.search()?)
    }

    /// How the query would run: per source, live and matching rows and the strategy.
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
    /// let plan = items.query("@kind:{x}=>[KNN 1 @v $vec]").param("vec", vec![0.0f32, 0.0]).explain()?;
    /// assert_eq!(plan.sources[0].matching_rows, 2);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn explain(self) -> Result<Explain> {
        self.collection.explain(&self.search()?)
    }
}

/// FT.HYBRID's arguments after the index name, with parameters; see
/// [`Collection::hybrid`].
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let notes = db.create_collection("notes", Schema::builder().text("body")
///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
/// notes.upsert_many([
///     ("a", Doc::new().text("body", "oauth refresh token").vector("v", vec![5.0, 5.0])),
///     ("b", Doc::new().text("body", "password reset").vector("v", vec![0.0, 0.0])),
/// ])?;
/// let page = notes
///     .hybrid("SEARCH '@body:(oauth)' VSIM @v $q KNN 2 K 10 COMBINE RRF 2 CONSTANT 60 LOAD 1 body")
///     .param("q", vec![0.0f32, 0.0])
///     .run()?;
/// assert_eq!(page.total, 2);
/// // Each side ranked its own document first: a tie, broken by key.
/// assert_eq!(page.hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(page.hits[0].doc.get_text("body"), Some("oauth refresh token"));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct HybridBuilder<'c> {
    collection: &'c Collection,
    args: std::result::Result<Vec<String>, strata_query::QueryError>,
    params: Params,
    blobs: Vec<(String, Vec<u8>)>,
}

impl<'c> HybridBuilder<'c> {
    pub(crate) fn new(
        collection: &'c Collection,
        args: std::result::Result<Vec<String>, strata_query::QueryError>,
    ) -> HybridBuilder<'c> {
        HybridBuilder {
            collection,
            args,
            params: Params::new(),
            blobs: Vec::new(),
        }
    }

    /// Binds `$name`, as [`QueryBuilder::param`] does: the query vector (as `f32`s or
    /// little-endian FLOAT32 bytes) or a value the `SEARCH` or `FILTER` query uses.
    ///
    /// ```
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body").tag("team")
    ///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "oauth").tag("team", "red").vector("v", vec![1.0, 0.0]))?;
    /// let blob: Vec<u8> = [1.0f32, 0.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    /// let page = notes
    ///     .hybrid("SEARCH oauth VSIM @v $q FILTER @team:{$team}")
    ///     .param("q", &blob[..])
    ///     .param("team", "red")
    ///     .run()?;
    /// assert_eq!(page.hits[0].vector.map(|v| v.rank), Some(1));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> HybridBuilder<'c> {
        self.blobs.retain(|(blob, _)| blob != name);
        match value.into().0 {
            ParamKind::Value(value) => {
                self.params.insert(name, value);
            }
            ParamKind::Blob(bytes) => self.blobs.push((name.to_string(), bytes)),
        }
        self
    }

    /// Runs the hybrid query: the page of fused hits and the size of the fused list.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`](crate::Error::InvalidQuery) for a malformed argument
    /// (the message names the argument and what was expected), those of
    /// [`Collection::search`] for either side, and
    /// [`Error::UnknownField`](crate::Error::UnknownField) or
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a `VSIM`,
    /// `LOAD` or `SORTBY` field the schema does not have.
    ///
    /// ```
    /// use strata::{Database, Doc, Error, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body")
    ///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
    /// let wrong = notes.hybrid("SEARCH oauth VSIM @v $q COMBINE RRF 2 WINDOW 0")
    ///     .param("q", vec![0.0f32, 0.0])
    ///     .run();
    /// assert!(matches!(wrong, Err(Error::InvalidQuery { .. })));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn run(self) -> Result<HybridResults> {
        let args = self.args.clone()?;
        let limits = self.collection.limits().query();
        let query = strata_query::parse_hybrid(&args, &limits)?;
        let mut params = self.params.clone();
        for (name, blob) in &self.blobs {
            params.insert(name, ParamValue::Vector(decode_blob(name, blob)?));
        }
        self.collection.run_hybrid(&query, &params)
    }
}

impl Collection {
    /// A hybrid query in FT.HYBRID's argument syntax (what follows the index name),
    /// split into arguments as `redis-cli` splits a line, e.g.
    /// `SEARCH '@body:(oauth)' VSIM @v $q KNN 2 K 10 COMBINE RRF 2 CONSTANT 60`.
    /// Bind `$q` with [`HybridBuilder::param`] and run it with [`HybridBuilder::run`].
    ///
    /// ```
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body")
    ///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "oauth").vector("v", vec![1.0, 0.0]))?;
    /// let page = notes
    ///     .hybrid("SEARCH oauth VSIM @v $q COMBINE LINEAR 4 ALPHA 1 BETA 0 YIELD_SCORE_AS s")
    ///     .param("q", vec![0.0f32, 0.0])
    ///     .run()?;
    /// assert_eq!(page.hits[0].doc.get_numeric("s"), page.hits[0].text.map(|t| t.score));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn hybrid<'c>(&'c self, arguments: &str) -> HybridBuilder<'c> {
        HybridBuilder::new(self, strata_query::split_arguments(arguments))
    }

    /// A hybrid query from FT.HYBRID's arguments already split (as a RESP server
    /// receives them).
    ///
    /// ```
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body")
    ///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "oauth token").vector("v", vec![1.0, 0.0]))?;
    /// let page = notes
    ///     .hybrid_args(["SEARCH", "oauth token", "VSIM", "@v", "$q"])
    ///     .param("q", vec![0.0f32, 0.0])
    ///     .run()?;
    /// assert_eq!(page.hits[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn hybrid_args<'c, I, S>(&'c self, arguments: I) -> HybridBuilder<'c>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        HybridBuilder::new(self, Ok(arguments.into_iter().map(Into::into).collect()))
    }

    /// Runs a hybrid search built with [`Search::hybrid`].
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body")
    ///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "oauth").vector("v", vec![1.0, 0.0]))?;
    /// let page = notes.search_hybrid(
    ///     &Search::hybrid(Filter::text("body", "oauth"), Search::knn("v", &[0.0, 0.0], 5)).load(["body"]),
    /// )?;
    /// assert_eq!(page.hits[0].doc.get_text("body"), Some("oauth"));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn search_hybrid(&self, request: &HybridSearch) -> Result<HybridResults> {
        let (query, params) = request.to_query()?;
        let limits = self.limits().query();
        if query.combine.window() > limits.max_limit {
            return Err(strata_query::QueryError::LimitExceeded {
                what: "hybrid WINDOW",
                limit: limits.max_limit,
                found: query.combine.window(),
            }
            .into());
        }
        self.run_hybrid(&query, &params)
    }

    pub(crate) fn run_hybrid(
        &self,
        query: &strata_query::HybridQuery,
        params: &Params,
    ) -> Result<HybridResults> {
        let schema = self.schema();
        let (text, vector, metric) = hybrid::plan(query, params, schema, self.name())?;
        let (text, vector) = self.run_pair(&text, &vector)?;
        Ok(hybrid::fuse(query, metric, text, vector, schema))
    }
}
