//! Collection handles: the document operations and search.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::database::DatabaseInner;
use crate::model::codec::{Op, Record};
use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::model::options::Limits;
use crate::model::schema::Schema;
use crate::model::validate::{check_value, validate_key};
use crate::query_builder::QueryBuilder;
use crate::read::execute::{execute, prepare, Explain};
use crate::read::search::{Hit, Search, SearchResults};
use crate::write::store::{now_ms, Catalog, CollectionState, Shared};
use crate::write::tables::Tables;

/// A handle to one collection. Cheap to clone; `Send + Sync`.
///
/// ```
/// use strata::Doc;
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = strata::Database::open(dir.path().join("db"))?;
/// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
/// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
/// let handle = db.collection("docs")?; // another handle to the same collection
/// handle.upsert("a", Doc::new().tag("kind", "x"))?;
/// assert_eq!(docs.len()?, 1);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Collection {
    database: Arc<DatabaseInner>,
    pub(crate) state: Arc<CollectionState>,
}

/// The expiry of a key, as Redis's `TTL` reports it.
///
/// ```
/// use std::time::Duration;
/// use strata::{Doc, KeyTtl};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = strata::Database::open(dir.path().join("db"))?;
/// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
/// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
/// docs.upsert("a", Doc::new())?;
/// assert_eq!(docs.ttl("a")?, KeyTtl::Persistent);
/// assert_eq!(docs.ttl("missing")?, KeyTtl::Missing);
/// docs.expire("a", Duration::from_secs(60))?;
/// assert!(matches!(docs.ttl("a")?, KeyTtl::ExpiresIn(left) if left <= Duration::from_secs(60)));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTtl {
    /// No such key (or it has expired): Redis's `-2`.
    Missing,
    /// The key never expires: Redis's `-1`.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

impl Collection {
    pub(crate) fn new(database: Arc<DatabaseInner>, state: Arc<CollectionState>) -> Collection {
        Collection { database, state }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.database.shared
    }

    pub(crate) fn state(&self) -> &Arc<CollectionState> {
        &self.state
    }

    /// The collection's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// assert_eq!(docs.name(), "docs");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The collection's schema.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// assert_eq!(docs.schema().fields().len(), 3);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn schema(&self) -> &Schema {
        &self.state.schema
    }

    /// Stores `doc` under `key`, replacing any document there (like `DEL` + `HSET`).
    /// Acknowledged, under the database's durability, when it returns `Ok`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] on a collection of JSON documents, which takes
    /// [`Collection::upsert_json`].
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("doc:1", Doc::new().tag("kind", "book").numeric("price", 9.5).vector("v", vec![1.0, 0.0]))?;
    /// assert_eq!(docs.get("doc:1")?.and_then(|d| d.get_numeric("price")), Some(9.5));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn upsert(&self, key: impl Into<String>, doc: Doc) -> Result<()> {
        let key = key.into();
        let record = self.validate(&key, doc, None)?;
        self.write_upsert(vec![(key, record)])
    }

    /// Like [`Collection::upsert`], with the document expiring after `ttl` (Redis's
    /// `SET ... EX`). Deadlines are wall-clock times.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{Doc, KeyTtl};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert_with_ttl("session", Doc::new().tag("kind", "tmp"), Duration::from_secs(30))?;
    /// assert!(matches!(docs.ttl("session")?, KeyTtl::ExpiresIn(_)));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn upsert_with_ttl(&self, key: impl Into<String>, doc: Doc, ttl: Duration) -> Result<()> {
        let key = key.into();
        let record = self.validate(&key, doc, Some(deadline_after(ttl)?))?;
        self.write_upsert(vec![(key, record)])
    }

    /// Stores every document of `batch`, all or nothing, as one WAL record with one
    /// fsync. If any document is invalid, none is written. Later entries win when a key
    /// repeats.
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert_many([("a", Doc::new().numeric("price", 1.0)), ("b", Doc::new().numeric("price", 2.0))])?;
    /// // One invalid document refuses the whole batch.
    /// let bad = Doc::new().vector("v", vec![1.0, 2.0, 3.0]);
    /// assert!(docs.upsert_many([("c", Doc::new()), ("d", bad)]).is_err());
    /// assert_eq!(docs.len()?, 2);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn upsert_many<K: Into<String>>(
        &self,
        batch: impl IntoIterator<Item = (K, Doc)>,
    ) -> Result<()> {
        let docs = batch
            .into_iter()
            .map(|(key, doc)| {
                let key = key.into();
                let record = self.validate(&key, doc, None)?;
                Ok((key, record))
            })
            .collect::<Result<Vec<_>>>()?;
        if docs.is_empty() {
            return Ok(());
        }
        self.write_upsert(docs)
    }

    pub(crate) fn write_upsert(&self, docs: Vec<(String, Record)>) -> Result<()> {
        write(self.shared(), |catalog| {
            catalog.check_live(&self.state)?;
            // Applying the upsert locates each key's older row, reading segment keys.
            // Do it now, before the WAL append: a damaged segment then fails the write
            // with nothing logged. Met during the apply, the damage used to fail a
            // write that was already in the log, which a reopen then replayed.
            let tables = self.state.tables.lock();
            for (key, _) in &docs {
                tables.locate(key)?;
            }
            Ok(Some(Op::Upsert {
                collection: self.state.id,
                docs,
            }))
        })?;
        Ok(())
    }

    /// The document stored under `key`, or `None`. For a JSON document, its indexed
    /// fields and `$`, the whole document ([`Collection::get_json`] returns only that).
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().tag("kind", "book"))?;
    /// assert_eq!(docs.get("a")?, Some(Doc::new().tag("kind", "book")));
    /// assert_eq!(docs.get("missing")?, None);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn get(&self, key: &str) -> Result<Option<Doc>> {
        self.check_not_dropped()?;
        let doc = self
            .state
            .snapshot()
            .get(key, &self.state.schema, now_ms())?;
        match doc {
            Some(doc) if self.state.schema.is_json() => self.with_whole_json(key, doc).map(Some),
            doc => Ok(doc),
        }
    }

    /// Removes the document under `key`; returns whether there was one. Deleting a
    /// missing key writes nothing.
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new())?;
    /// assert!(docs.delete("a")?);
    /// assert!(!docs.delete("a")?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn delete(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        write(self.shared(), |catalog| {
            catalog.check_live(&self.state)?;
            if self
                .state
                .tables
                .lock()
                .locate_live(key, now_ms())?
                .is_none()
            {
                return Ok(None);
            }
            Ok(Some(Op::Delete {
                collection: self.state.id,
                key: key.to_string(),
            }))
        })
    }

    /// Makes `key` expire after `ttl` (Redis's `EXPIRE`). Returns false, writing
    /// nothing, if there is no such key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new())?;
    /// assert!(docs.expire("a", Duration::from_secs(10))?);
    /// assert!(!docs.expire("missing", Duration::from_secs(10))?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.set_deadline(key, Some(deadline_after(ttl)?))
    }

    /// Makes `key` expire at `when` (Redis's `EXPIREAT`); a time in the past expires
    /// it at once. Returns false if there is no such key.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new())?;
    /// docs.expire_at("a", SystemTime::now() - Duration::from_secs(1))?; // in the past: gone
    /// assert_eq!(docs.get("a")?, None);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`], changing nothing, when `when` is later than
    /// deadlines can be stored (`u64::MAX` milliseconds after the Unix epoch).
    pub fn expire_at(&self, key: &str, when: SystemTime) -> Result<bool> {
        self.set_deadline(key, Some(deadline_at(when)?))
    }

    /// Removes the expiry of `key` (Redis's `PERSIST`). Returns false if there is no
    /// such key or it had no expiry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{Doc, KeyTtl};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert_with_ttl("a", Doc::new(), Duration::from_secs(10))?;
    /// assert!(docs.persist("a")?);
    /// assert_eq!(docs.ttl("a")?, KeyTtl::Persistent);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn persist(&self, key: &str) -> Result<bool> {
        self.set_deadline(key, None)
    }

    /// The remaining time to live of `key` (Redis's `TTL`, to the millisecond).
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::{Doc, KeyTtl};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert_with_ttl("a", Doc::new(), Duration::from_secs(10))?;
    /// assert!(matches!(docs.ttl("a")?, KeyTtl::ExpiresIn(left) if left <= Duration::from_secs(10)));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn ttl(&self, key: &str) -> Result<KeyTtl> {
        self.check_not_dropped()?;
        let now = now_ms();
        let tables = self.state.snapshot();
        Ok(match tables.locate_live(key, now)? {
            None => KeyTtl::Missing,
            Some(location) => match tables.deadline(location) {
                None => KeyTtl::Persistent,
                Some(deadline) => {
                    KeyTtl::ExpiresIn(Duration::from_millis(deadline.saturating_sub(now)))
                }
            },
        })
    }

    fn set_deadline(&self, key: &str, deadline: Option<u64>) -> Result<bool> {
        validate_key(key)?;
        write(self.shared(), |catalog| {
            catalog.check_live(&self.state)?;
            let tables = self.state.tables.lock();
            let Some(location) = tables.locate_live(key, now_ms())? else {
                return Ok(None);
            };
            if deadline.is_none() && tables.deadline(location).is_none() {
                return Ok(None);
            }
            Ok(Some(Op::Expire {
                collection: self.state.id,
                key: key.to_string(),
                deadline,
            }))
        })
    }

    /// Number of documents.
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert_many([("a", Doc::new()), ("b", Doc::new())])?;
    /// assert_eq!(docs.len()?, 2);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.check_not_dropped()?;
        Ok(self.state.snapshot().len(now_ms()))
    }

    /// Rows, sources (memtable, frozen memtables, segments) with their rows and bytes,
    /// index sizes, pending flushes and write stalls: what Redis's `FT.INFO` reports.
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
    /// let info = docs.info()?;
    /// assert_eq!(info.rows, 1);
    /// assert_eq!(info.indexes[0].kind, "FLAT");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn info(&self) -> Result<crate::info::CollectionInfo> {
        self.check_not_dropped()?;
        Ok(crate::info::collection_info(&self.state))
    }

    /// Whether the collection holds no documents.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// assert!(docs.is_empty()?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Runs a search built with [`Search`]. Results are nearest first for vector
    /// queries; documents without the searched vector field are never returned.
    ///
    /// ```
    /// use strata::{Doc, Search};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
    /// docs.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
    /// let hits = docs.search(&Search::knn("v", &[0.9, 0.1], 1))?;
    /// assert_eq!(hits[0].key, "a");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn search(&self, request: &Search) -> Result<Vec<Hit>> {
        Ok(self.run(request, false)?.0.hits)
    }

    /// Runs a search and returns its page with the total number of matching documents,
    /// as FT.SEARCH reports it (`LIMIT 0 0` counts without returning any hit).
    ///
    /// ```
    /// use strata::{Doc, Search};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// for i in 0..5 {
    ///     docs.upsert(format!("k{i}"), Doc::new().vector("v", vec![1.0, i as f32]))?;
    /// }
    /// let page = docs.search_page(&Search::knn("v", &[1.0, 0.0], 5).limit(0, 2))?;
    /// assert_eq!((page.len(), page.total), (2, 5));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn search_page(&self, request: &Search) -> Result<SearchResults> {
        Ok(self.run(request, false)?.0)
    }

    /// Runs a batch of searches on all cores and returns their results in the order of
    /// `requests`: each thread answers a contiguous chunk of the batch exactly as
    /// [`Collection::search`] would, one request at a time. A single request stays on
    /// the calling thread. Fails with the error of the first failing request (in batch
    /// order); the other results are then dropped.
    ///
    /// ```
    /// use strata::{Doc, Search};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
    /// docs.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
    /// let answers = docs.search_many(&[Search::knn("v", &[1.0, 0.0], 1), Search::knn("v", &[0.0, 1.0], 1)])?;
    /// assert_eq!((answers[0][0].key.as_str(), answers[1][0].key.as_str()), ("a", "b"));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn search_many(&self, requests: &[Search]) -> Result<Vec<Vec<Hit>>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(requests.len());
        if threads <= 1 {
            return requests
                .iter()
                .map(|request| self.search(request))
                .collect();
        }
        let chunk = requests.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = requests
                .chunks(chunk)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|request| self.search(request))
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut results = Vec::with_capacity(requests.len());
            for worker in workers {
                match worker.join() {
                    Ok(chunk) => results.extend(chunk?),
                    // `search` does not panic on any input; if it ever did, the caller
                    // gets the panic, as it would from `search` on its own thread.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Ok(results)
        })
    }

    /// A query in the RediSearch dialect, e.g.
    /// `(@category:{AI} @price:[0 100])=>[KNN 10 @embedding $vec AS score]`; bind
    /// parameters with [`QueryBuilder::param`] and run it with [`QueryBuilder::run`].
    ///
    /// ```
    /// use strata::Doc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().tag("kind", "book").numeric("price", 5.0).vector("v", vec![1.0, 0.0]))?;
    /// let hits = docs
    ///     .query("(@kind:{book} @price:[0 10])=>[KNN 3 @v $vec AS score]")
    ///     .param("vec", vec![1.0f32, 0.0])
    ///     .run()?;
    /// assert!(hits[0].doc.get_numeric("score").is_some_and(|d| d.abs() < 1e-6));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn query<'c>(&'c self, query: &str) -> QueryBuilder<'c> {
        QueryBuilder::new(self, query)
    }

    /// How `request` would run: per source, live and matching rows and the strategy
    /// the planner chose.
    ///
    /// ```
    /// use strata::{Doc, Filter, Search};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// # let docs = db.create_collection("docs", strata::Schema::builder().tag("kind").numeric("price")
    /// #     .vector("v", 2, strata::Metric::Cosine, strata::VectorIndex::flat()).build()?)?;
    /// docs.upsert("a", Doc::new().tag("kind", "book").vector("v", vec![1.0, 0.0]))?;
    /// let plan = docs.explain(&Search::knn("v", &[1.0, 0.0], 1).filter(Filter::tag("kind", ["book"])))?;
    /// assert_eq!(plan.sources.last().map(|s| s.matching_rows), Some(1));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn explain(&self, request: &Search) -> Result<Explain> {
        Ok(self.run(request, true)?.1)
    }

    fn run(&self, request: &Search, explain: bool) -> Result<(SearchResults, Explain)> {
        if self.state.schema.is_json() {
            return self.run_json(request, explain);
        }
        let tables = self.state.snapshot();
        self.run_on(&tables, now_ms(), request, explain)
    }

    /// Runs a hybrid query's two sides on one version of the collection, so a write
    /// landing between them cannot make the sides disagree. (A JSON collection runs
    /// each side on the version current when it starts.)
    pub(crate) fn run_pair(
        &self,
        first: &Search,
        second: &Search,
    ) -> Result<(SearchResults, SearchResults)> {
        if self.state.schema.is_json() {
            return Ok((self.run(first, false)?.0, self.run(second, false)?.0));
        }
        let tables = self.state.snapshot();
        let now = now_ms();
        Ok((
            self.run_on(&tables, now, first, false)?.0,
            self.run_on(&tables, now, second, false)?.0,
        ))
    }

    /// Runs `request` on one version of the collection, at `now`.
    pub(crate) fn run_on(
        &self,
        tables: &Tables,
        now: u64,
        request: &Search,
        explain: bool,
    ) -> Result<(SearchResults, Explain)> {
        self.check_not_dropped()?;
        let plan = prepare(
            &request.query,
            &request.params,
            &self.state.schema,
            &self.state.name,
            self.limits(),
            explain,
        )?;
        let (hits, total, explain) = execute(tables, &self.state.schema, &plan, now)?;
        Ok((SearchResults { total, hits }, explain))
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.shared().options.limits
    }

    pub(crate) fn check_not_dropped(&self) -> Result<()> {
        if self
            .state
            .dropped
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(Error::CollectionNotFound {
                name: self.state.name.clone(),
            });
        }
        Ok(())
    }

    fn unknown_field(&self, field: &str) -> Error {
        Error::UnknownField {
            collection: self.state.name.clone(),
            field: field.to_string(),
        }
    }

    /// Checks `doc` against the schema and limits and turns it into a record.
    pub(crate) fn validate(&self, key: &str, doc: Doc, deadline: Option<u64>) -> Result<Record> {
        if self.state.schema.is_json() {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "collection `{}` holds JSON documents (its fields come from JSONPaths); \
                     write them with upsert_json or set_json",
                    self.state.name
                ),
            });
        }
        self.validate_fields(key, doc, deadline)
    }

    /// Checks the fields of `doc` (of any collection) against the schema and limits
    /// and turns it into a record.
    pub(crate) fn validate_fields(
        &self,
        key: &str,
        doc: Doc,
        deadline: Option<u64>,
    ) -> Result<Record> {
        validate_key(key)?;
        let schema = &self.state.schema;
        let mut values: Vec<(u16, Value)> = Vec::with_capacity(doc.len());
        let mut size = key.len();
        for (name, value) in doc.into_fields() {
            let Some((position, field)) = schema.field(&name) else {
                return Err(self.unknown_field(&name));
            };
            if values
                .iter()
                .any(|(existing, _)| *existing as usize == position)
            {
                return Err(Error::DuplicateField { field: name });
            }
            check_value(&field.name, field.kind, &value, false)?;
            size += value.stored_bytes();
            values.push((position as u16, value));
        }
        let limit = self.shared().options.limits.max_document_bytes;
        if size > limit {
            return Err(Error::TooLarge {
                what: format!("the document `{}`", truncate_for_message(key)),
                size,
                limit,
            });
        }
        values.sort_by_key(|(position, _)| *position);
        Ok(Record { values, deadline })
    }
}

fn truncate_for_message(key: &str) -> &str {
    match key.char_indices().nth(64) {
        Some((end, _)) => &key[..end],
        None => key,
    }
}

/// The wall-clock deadline `ttl` from now, in ms since the Unix epoch.
pub(crate) fn deadline_after(ttl: Duration) -> Result<u64> {
    let millis = u64::try_from(ttl.as_millis())
        .ok()
        .and_then(|ttl| now_ms().checked_add(ttl));
    millis.ok_or_else(|| Error::InvalidArgument {
        reason: format!("a TTL of {ttl:?} overflows the clock"),
    })
}

/// `when` in ms since the Unix epoch; a time before the epoch is 0 (already past).
/// Checked, not cast: a far-future `when` used to wrap into the past and delete the key.
fn deadline_at(when: SystemTime) -> Result<u64> {
    let Ok(since_epoch) = when.duration_since(UNIX_EPOCH) else {
        return Ok(0);
    };
    u64::try_from(since_epoch.as_millis()).map_err(|_| Error::InvalidArgument {
        reason: format!(
            "the deadline {since_epoch:?} after the Unix epoch is past the latest one \
             Strata stores (u64::MAX ms); use persist() for a key that never expires"
        ),
    })
}

/// Runs a write through the write path, then the flush it hands back when no flusher
/// thread runs (the write path never calls into maintenance itself).
pub(crate) fn write(
    shared: &Shared,
    build: impl FnOnce(&Catalog) -> Result<Option<Op>>,
) -> Result<bool> {
    let written = shared.write(build)?;
    if let Some(state) = written.flush_inline {
        // The write is acknowledged already: a failed flush (a full disk) leaves the
        // memtable frozen and searchable, and the next flush tries again.
        let _ = crate::maintenance::flush::flush_collection(shared, &state);
    }
    Ok(written.logged)
}
