//! An LLM semantic cache with the semantics of RedisVL's `SemanticCache`: responses
//! stored under their prompt's embedding, looked up by the nearest stored prompts
//! within a distance threshold.
//!
//! Entries live in an ordinary collection (named after the cache), so they are as
//! durable as any document, and a TTL is Redis's key expiry. The fields are RedisVL's:
//! `prompt`, `response`, `prompt_vector` (COSINE), `inserted_at`, `updated_at`,
//! `metadata`, plus the filterable fields the cache was opened with.
//!
//! A lookup is one KNN graph search (HNSW by default) for the `num_results` nearest
//! entries among those the filter admits, cut at the threshold: the same answer as
//! RedisVL's `VECTOR_RANGE` query limited to `num_results`, without visiting every
//! entry within the radius.
//!
//! ```
//! use std::time::Duration;
//! use strata::cache::{CacheOptions, SemanticCache};
//! use strata::Database;
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path().join("db"))?;
//! let options = CacheOptions::new(2).distance_threshold(0.1).ttl(Duration::from_secs(3600));
//! let cache = SemanticCache::open(&db, "llmcache", options)?;
//! // Before calling the LLM, look the prompt's embedding up...
//! if cache.check(&[0.6, 0.8], None)?.is_empty() {
//!     // ...and on a miss store the answer it gave.
//!     cache.store("What is 2 + 2?", &[0.6, 0.8], "4", None)?;
//! }
//! assert_eq!(cache.check(&[0.6, 0.8], None)?[0].response, "4");
//! # Ok::<(), strata::Error>(())
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::collection::Collection;
use crate::database::Database;
use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::read::execute::Explain;
use crate::read::filter::Filter;
use crate::read::search::Search;

mod options;

pub use options::{CacheHit, CacheOptions, CheckOptions, StoreOptions};
use options::{INSERTED_AT, METADATA, PROMPT, RESPONSE, UPDATED_AT, VECTOR};

/// Keys deleted per WAL record by [`SemanticCache::clear`].
const CLEAR_PAGE: usize = 10_000;

/// A semantic cache of LLM responses (RedisVL's `SemanticCache`).
///
/// ```
/// use strata::cache::{CacheOptions, SemanticCache};
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"))?;
/// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(3))?;
/// cache.store("What is the capital of France?", &[1.0, 0.0, 0.0], "Paris", None)?;
///
/// // A paraphrase whose embedding is within the threshold hits...
/// let hits = cache.check(&[0.99, 0.05, 0.0], None)?;
/// assert_eq!(hits[0].response, "Paris");
/// // ...an unrelated prompt misses.
/// assert!(cache.check(&[0.0, 1.0, 0.0], None)?.is_empty());
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SemanticCache {
    name: String,
    entries: Collection,
    threshold: f32,
    ttl: Option<Duration>,
    ef_runtime: usize,
    filterable: Vec<String>,
}

impl SemanticCache {
    /// Opens the cache called `name` in `db`, creating its collection on first use.
    ///
    /// ```
    /// use strata::Error;
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2))?;
    /// // The same options open the same cache again; others are refused.
    /// assert!(SemanticCache::open(&db, "llmcache", CacheOptions::new(2)).is_ok());
    /// assert!(matches!(SemanticCache::open(&db, "llmcache", CacheOptions::new(3)), Err(Error::InvalidSchema { .. })));
    /// # let _ = cache;
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a threshold outside 0..=2 or an `ef_runtime` of
    /// 0; [`Error::InvalidSchema`] when a collection of that name exists with another
    /// schema (other dimension, index or filterable fields: open it with the options
    /// it was created with, or drop it first), or a filterable field is reserved or
    /// not TAG/NUMERIC.
    pub fn open(db: &Database, name: &str, options: CacheOptions) -> Result<SemanticCache> {
        check_threshold(options.distance_threshold)?;
        if options.ef_runtime == 0 {
            return Err(Error::InvalidArgument {
                reason: "ef_runtime is 0; a lookup needs a breadth of at least 1".to_string(),
            });
        }
        let schema = options.schema()?;
        let entries = match db.collection(name) {
            Ok(existing) => existing,
            Err(Error::CollectionNotFound { .. }) => {
                match db.create_collection(name, schema.clone()) {
                    // Another thread created it first: use theirs, if it is the same.
                    Err(Error::CollectionExists { .. }) => db.collection(name)?,
                    other => other?,
                }
            }
            Err(other) => return Err(other),
        };
        if entries.schema() != &schema {
            return Err(Error::InvalidSchema {
                reason: format!(
                    "collection `{name}` exists with another schema than this cache's \
                     options give; open it with the options it was created with, or \
                     drop it first"
                ),
            });
        }
        Ok(SemanticCache {
            name: name.to_string(),
            entries,
            threshold: options.distance_threshold,
            ttl: options.ttl,
            ef_runtime: options.ef_runtime,
            filterable: options.filterable.into_iter().map(|(n, _)| n).collect(),
        })
    }

    /// The cache's name (and its collection's).
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// assert_eq!(SemanticCache::open(&db, "llmcache", CacheOptions::new(2))?.name(), "llmcache");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The collection holding the entries, for queries of your own.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2))?;
    /// cache.store("a", &[1.0, 0.0], "A", None)?;
    /// assert_eq!(cache.collection().len()?, 1);
    /// assert_eq!(db.collection("llmcache")?.len()?, 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn collection(&self) -> &Collection {
        &self.entries
    }

    /// The distance threshold lookups use.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// assert_eq!(SemanticCache::open(&db, "c", CacheOptions::new(2))?.distance_threshold(), 0.1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn distance_threshold(&self) -> f32 {
        self.threshold
    }

    /// Changes the threshold for this handle (RedisVL's `set_threshold`).
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let mut cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.set_threshold(0.05)?;
    /// assert!(cache.set_threshold(3.0).is_err());
    /// assert_eq!(cache.distance_threshold(), 0.05);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] outside 0..=2 (COSINE distances), leaving it as it was.
    pub fn set_threshold(&mut self, threshold: f32) -> Result<()> {
        check_threshold(threshold)?;
        self.threshold = threshold;
        Ok(())
    }

    /// The TTL of new entries and of entries refreshed by a hit.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// assert_eq!(SemanticCache::open(&db, "c", CacheOptions::new(2))?.ttl(), None);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Changes the TTL for this handle (RedisVL's `set_ttl`); existing entries keep
    /// theirs until stored again or hit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::KeyTtl;
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let mut cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.set_ttl(Some(Duration::from_secs(300)));
    /// let key = cache.store("a", &[1.0, 0.0], "A", None)?;
    /// assert!(matches!(cache.collection().ttl(&key)?, KeyTtl::ExpiresIn(_)));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn set_ttl(&mut self, ttl: Option<Duration>) {
        self.ttl = ttl;
    }

    /// The key an entry for `prompt` with these filter values is stored under: the
    /// cache name and a hash of both, so storing the same prompt again replaces it.
    ///
    /// ```
    /// use strata::Doc;
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2).tag("user"))?;
    /// assert_eq!(cache.key("hi", &Doc::new()), cache.store("hi", &[1.0, 0.0], "hello", None)?);
    /// assert_ne!(cache.key("hi", &Doc::new()), cache.key("hi", &Doc::new().tag("user", "bob")));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn key(&self, prompt: &str, filters: &Doc) -> String {
        let mut pairs: Vec<(&str, String)> = filters
            .fields()
            .map(|(name, value)| (name, value_text(value)))
            .collect();
        pairs.sort();
        let mut hash = Fnv::new();
        hash.write(prompt.as_bytes());
        for (name, value) in pairs {
            hash.write(&[0xff]);
            hash.write(name.as_bytes());
            hash.write(&[0xfe]);
            hash.write(value.as_bytes());
        }
        format!("{}:{:016x}", self.name, hash.0)
    }

    /// Stores `response` for `prompt` (embedded as `vector`), replacing an entry for
    /// the same prompt; returns its key. The entry expires after the cache's TTL.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// let key = cache.store("hi", &[1.0, 0.0], "hello", Some(r#"{"model":"m"}"#))?;
    /// assert!(key.starts_with("c:"));
    /// assert!(cache.store("bad", &[1.0], "x", None).is_err()); // wrong dimension
    /// assert_eq!(cache.len()?, 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] / [`Error::NonFinite`] for a bad vector; nothing is
    /// stored.
    pub fn store(
        &self,
        prompt: &str,
        vector: &[f32],
        response: &str,
        metadata: Option<&str>,
    ) -> Result<String> {
        self.store_with(
            prompt,
            vector,
            response,
            StoreOptions {
                metadata: metadata.map(str::to_string),
                ..StoreOptions::default()
            },
        )
    }

    /// [`SemanticCache::store`] with filter values and a TTL of its own.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, CheckOptions, SemanticCache, StoreOptions};
    /// use strata::{Database, Doc, Filter};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2).tag("user"))?;
    /// let alice = StoreOptions { filters: Doc::new().tag("user", "alice"), ..Default::default() };
    /// cache.store_with("my name?", &[1.0, 0.0], "Alice", alice)?;
    /// let for_bob = CheckOptions { filter: Some(Filter::tag("user", ["bob"])), ..Default::default() };
    /// assert!(cache.check_with(&[1.0, 0.0], for_bob)?.is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`SemanticCache::store`], and [`Error::UnknownField`] for a filter value of
    /// a field the cache was not opened with.
    pub fn store_with(
        &self,
        prompt: &str,
        vector: &[f32],
        response: &str,
        options: StoreOptions,
    ) -> Result<String> {
        for (name, _) in options.filters.fields() {
            if !self.filterable.iter().any(|field| field == name) {
                return Err(Error::UnknownField {
                    collection: self.name.clone(),
                    field: name.to_string(),
                });
            }
        }
        let key = self.key(prompt, &options.filters);
        let now = unix_seconds();
        let mut doc = Doc::new()
            .text(PROMPT, prompt)
            .text(RESPONSE, response)
            .numeric(INSERTED_AT, now)
            .numeric(UPDATED_AT, now)
            .vector(VECTOR, vector);
        if let Some(metadata) = options.metadata {
            doc = doc.text(METADATA, metadata);
        }
        for (name, value) in options.filters.fields() {
            doc = doc.with(name, value.clone());
        }
        match options.ttl.or(self.ttl) {
            Some(ttl) => self.entries.upsert_with_ttl(key.clone(), doc, ttl)?,
            None => self.entries.upsert(key.clone(), doc)?,
        }
        Ok(key)
    }

    /// The nearest entry within the threshold (at most one; none is a miss). A hit
    /// refreshes the entry's TTL, as RedisVL does.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.store("hi", &[1.0, 0.0], "hello", None)?;
    /// assert_eq!(cache.check(&[1.0, 0.01], None)?[0].response, "hello");
    /// assert!(cache.check(&[0.0, 1.0], None)?.is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] / [`Error::NonFinite`] for a bad vector,
    /// [`Error::UnknownField`] for a filter on a field the cache lacks.
    pub fn check(&self, vector: &[f32], filter: Option<Filter>) -> Result<Vec<CacheHit>> {
        self.check_with(
            vector,
            CheckOptions {
                filter,
                ..CheckOptions::default()
            },
        )
    }

    /// A lookup with RedisVL's `check` arguments: several results, another threshold,
    /// a filter.
    ///
    /// ```
    /// use strata::cache::CheckOptions;
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.store("hi", &[1.0, 0.0], "hello", None)?;
    /// let loose = CheckOptions { distance_threshold: Some(1.5), ..CheckOptions::default() };
    /// assert_eq!(cache.check_with(&[0.0, 1.0], loose)?.len(), 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`SemanticCache::check`], and [`Error::InvalidArgument`] for a
    /// `num_results` of 0 or over the collection's `max_k`, or a threshold outside
    /// 0..=2.
    pub fn check_with(&self, vector: &[f32], options: CheckOptions) -> Result<Vec<CacheHit>> {
        let threshold = options.distance_threshold.unwrap_or(self.threshold);
        check_threshold(threshold)?;
        if options.num_results == 0 {
            return Err(Error::InvalidArgument {
                reason: "num_results is 0; ask for at least 1".to_string(),
            });
        }
        let hits: Vec<CacheHit> = self
            .entries
            .search(&self.lookup(vector, &options))?
            .into_iter()
            .filter(|hit| hit.distance <= threshold)
            .map(|hit| self.cache_hit(hit.key, hit.distance, &hit.doc))
            .collect();
        if let Some(ttl) = self.ttl {
            for hit in &hits {
                // An entry that expired or was dropped since the search is no longer
                // there to refresh; the hit stands, as it would in Redis.
                self.entries.expire(&hit.key, ttl)?;
            }
        }
        Ok(hits)
    }

    /// How [`SemanticCache::check_with`] would search: per source, the strategy
    /// (`GraphTraversal` over an HNSW graph; small or freshly written sources are
    /// measured exactly).
    ///
    /// ```
    /// use strata::cache::CheckOptions;
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// let plan = cache.explain(&[1.0, 0.0], &CheckOptions::default())?;
    /// assert_eq!(plan.query, "*=>[KNN 1 @prompt_vector $vector EF_RUNTIME 64]");
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`SemanticCache::check_with`].
    pub fn explain(&self, vector: &[f32], options: &CheckOptions) -> Result<Explain> {
        self.entries.explain(&self.lookup(vector, options))
    }

    /// The KNN search a lookup runs; the threshold is applied to its answer.
    fn lookup(&self, vector: &[f32], options: &CheckOptions) -> Search {
        let mut search = Search::knn(VECTOR, vector, options.num_results)
            .ef_runtime(self.ef_runtime.max(options.num_results));
        if let Some(filter) = &options.filter {
            search = search.filter(filter.clone());
        }
        search
    }

    fn cache_hit(&self, key: String, distance: f32, doc: &Doc) -> CacheHit {
        let text = |field| doc.get_text(field).unwrap_or_default().to_string();
        let mut filters = Doc::new();
        for name in &self.filterable {
            if let Some(value) = doc.get(name) {
                filters = filters.with(name, value.clone());
            }
        }
        CacheHit {
            key,
            prompt: text(PROMPT),
            response: text(RESPONSE),
            distance,
            metadata: doc.get_text(METADATA).map(str::to_string),
            inserted_at: doc.get_numeric(INSERTED_AT).unwrap_or_default(),
            updated_at: doc.get_numeric(UPDATED_AT).unwrap_or_default(),
            filters,
        }
    }

    /// Removes the entries under `keys` (as [`CacheHit::key`] or
    /// [`SemanticCache::store`] returned them), all at once; returns how many there
    /// were. RedisVL's `drop(keys=...)`.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// let key = cache.store("hi", &[1.0, 0.0], "hello", None)?;
    /// assert_eq!(cache.drop(&[key])?, 1);
    /// assert!(cache.is_empty()?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Collection::delete_many`]; nothing is removed.
    pub fn drop<K: AsRef<str>>(&self, keys: &[K]) -> Result<usize> {
        self.entries.delete_many(keys)
    }

    /// Removes every entry and keeps the cache (RedisVL's `clear`); returns how many
    /// there were. Entries go in batches of 10,000, each all at once; an entry stored
    /// while `clear` runs may survive it.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.store("a", &[1.0, 0.0], "A", None)?;
    /// cache.store("b", &[0.0, 1.0], "B", None)?;
    /// assert_eq!(cache.clear()?, 2);
    /// assert!(cache.is_empty()?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// An I/O error of the deletes; the batches deleted before it stay deleted.
    pub fn clear(&self) -> Result<usize> {
        let mut cursor = self.entries.scan("", &Filter::all())?;
        let mut cleared = 0;
        loop {
            let page = cursor.next_page(CLEAR_PAGE)?;
            if page.is_empty() {
                return Ok(cleared);
            }
            cleared += self.entries.delete_many(&page)?;
        }
    }

    /// Number of live entries.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.store("a", &[1.0, 0.0], "A", None)?;
    /// cache.store("a", &[1.0, 0.0], "A again", None)?; // same prompt: replaced
    /// assert_eq!(cache.len()?, 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.entries.len()
    }

    /// Whether the cache holds no live entry.
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// assert!(SemanticCache::open(&db, "c", CacheOptions::new(2))?.is_empty()?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        self.entries.is_empty()
    }

    /// Drops the cache and its collection (RedisVL's `delete`).
    ///
    /// ```
    /// use strata::cache::{CacheOptions, SemanticCache};
    /// use strata::Database;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let cache = SemanticCache::open(&db, "c", CacheOptions::new(2))?;
    /// cache.delete(&db)?;
    /// assert!(db.list_collections().is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::CollectionNotFound`] if it was dropped already.
    pub fn delete(self, db: &Database) -> Result<()> {
        db.drop_collection(&self.name)
    }
}

fn check_threshold(threshold: f32) -> Result<()> {
    if !(0.0..=2.0).contains(&threshold) {
        return Err(Error::InvalidArgument {
            reason: format!(
                "a distance threshold of {threshold}; COSINE distances lie in 0..=2 \
                 (RedisVL's default is 0.1)"
            ),
        });
    }
    Ok(())
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Text(text) | Value::Tag(text) | Value::Json(text) => text.clone(),
        Value::Numeric(number) => number.to_string(),
        Value::Vector(vector) => format!("{vector:?}"),
    }
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// 64-bit FNV-1a: a hash that stays the same across builds and platforms, so a
/// prompt keeps its key after an upgrade (the standard library's hasher may change).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
