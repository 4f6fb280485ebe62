//! How a semantic cache is opened, stored to and looked up, and what a lookup
//! returns: the argument and result types of RedisVL's `SemanticCache`, and the
//! fields every entry has.

use std::time::Duration;

use crate::model::doc::Doc;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Metric, Schema, TagOptions, VectorIndex};
use crate::read::filter::Filter;

#[cfg(doc)]
use super::SemanticCache;

pub(super) const PROMPT: &str = "prompt";
pub(super) const RESPONSE: &str = "response";
pub(super) const VECTOR: &str = "prompt_vector";
pub(super) const INSERTED_AT: &str = "inserted_at";
pub(super) const UPDATED_AT: &str = "updated_at";
pub(super) const METADATA: &str = "metadata";
pub(super) const RESERVED: [&str; 6] =
    [PROMPT, RESPONSE, VECTOR, INSERTED_AT, UPDATED_AT, METADATA];

/// How a [`SemanticCache`] is opened: RedisVL's constructor arguments.
///
/// ```
/// use std::time::Duration;
/// use strata::cache::CacheOptions;
/// let options = CacheOptions::new(384)
///     .distance_threshold(0.1)
///     .ttl(Duration::from_secs(3600))
///     .tag("user")
///     .numeric("version");
/// assert_eq!(options.dim, 384);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CacheOptions {
    /// The embedding dimension.
    pub dim: usize,
    /// The largest COSINE distance (`1 - cosine similarity`, 0..=2) at which a stored
    /// prompt answers a lookup; RedisVL's default is 0.1.
    pub distance_threshold: f32,
    /// How long an entry lives after it is stored or last hit; `None` (the default)
    /// keeps entries until dropped.
    pub ttl: Option<Duration>,
    /// The index over the prompt vectors; default HNSW with Redis's M 16,
    /// EF_CONSTRUCTION 200.
    pub index: VectorIndex,
    /// The HNSW search breadth of a lookup (default 64).
    pub ef_runtime: usize,
    /// Fields entries can be filtered on (TAG or NUMERIC), RedisVL's
    /// `filterable_fields`.
    pub filterable: Vec<(String, FieldKind)>,
}

impl CacheOptions {
    /// Options for `dim`-dimensional embeddings, with RedisVL's defaults.
    ///
    /// ```
    /// use strata::cache::CacheOptions;
    /// let options = CacheOptions::new(768);
    /// assert_eq!((options.distance_threshold, options.ttl), (0.1, None));
    /// ```
    pub fn new(dim: usize) -> CacheOptions {
        CacheOptions {
            dim,
            distance_threshold: 0.1,
            ttl: None,
            index: VectorIndex::hnsw(16, 200),
            ef_runtime: 64,
            filterable: Vec::new(),
        }
    }

    /// Sets [`CacheOptions::distance_threshold`].
    ///
    /// ```
    /// use strata::cache::CacheOptions;
    /// assert_eq!(CacheOptions::new(8).distance_threshold(0.2).distance_threshold, 0.2);
    /// ```
    #[must_use]
    pub fn distance_threshold(mut self, threshold: f32) -> CacheOptions {
        self.distance_threshold = threshold;
        self
    }

    /// Sets [`CacheOptions::ttl`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata::cache::CacheOptions;
    /// assert_eq!(CacheOptions::new(8).ttl(Duration::from_secs(60)).ttl, Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> CacheOptions {
        self.ttl = Some(ttl);
        self
    }

    /// Sets [`CacheOptions::index`].
    ///
    /// ```
    /// use strata::cache::CacheOptions;
    /// use strata::VectorIndex;
    /// // An exact cache, for a few thousand entries.
    /// let options = CacheOptions::new(8).index(VectorIndex::flat());
    /// assert_eq!(options.index, VectorIndex::Flat);
    /// ```
    #[must_use]
    pub fn index(mut self, index: VectorIndex) -> CacheOptions {
        self.index = index;
        self
    }

    /// Adds a filterable TAG field.
    ///
    /// ```
    /// use strata::cache::CacheOptions;
    /// assert_eq!(CacheOptions::new(8).tag("user").filterable.len(), 1);
    /// ```
    #[must_use]
    pub fn tag(mut self, name: &str) -> CacheOptions {
        self.filterable
            .push((name.to_string(), FieldKind::Tag(TagOptions::default())));
        self
    }

    /// Adds a filterable NUMERIC field.
    ///
    /// ```
    /// use strata::cache::CacheOptions;
    /// assert_eq!(CacheOptions::new(8).numeric("version").filterable[0].0, "version");
    /// ```
    #[must_use]
    pub fn numeric(mut self, name: &str) -> CacheOptions {
        self.filterable.push((name.to_string(), FieldKind::Numeric));
        self
    }

    pub(super) fn schema(&self) -> Result<Schema> {
        let mut builder = Schema::builder()
            .text(PROMPT)
            .text(RESPONSE)
            .numeric(INSERTED_AT)
            .numeric(UPDATED_AT)
            .text(METADATA)
            .vector(VECTOR, self.dim, Metric::Cosine, self.index);
        for (name, kind) in &self.filterable {
            if RESERVED.contains(&name.as_str()) {
                return Err(Error::InvalidSchema {
                    reason: format!(
                        "`{name}` is a field of every cache entry; name the filterable \
                         field something else"
                    ),
                });
            }
            if !matches!(kind, FieldKind::Tag(_) | FieldKind::Numeric) {
                return Err(Error::InvalidSchema {
                    reason: format!(
                        "filterable field `{name}` is {}; a cache filters on TAG or \
                         NUMERIC fields",
                        kind.name()
                    ),
                });
            }
            builder = builder.field(name, *kind);
        }
        builder.build()
    }
}

/// What [`SemanticCache::store_with`] stores beside the prompt and response.
///
/// ```
/// use std::time::Duration;
/// use strata::cache::StoreOptions;
/// use strata::Doc;
/// use strata::cache::{CacheOptions, SemanticCache};
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2).tag("model"))?;
/// let options = StoreOptions {
///     metadata: Some(r#"{"tokens": 12}"#.to_string()),
///     filters: Doc::new().tag("model", "small"),
///     ttl: Some(Duration::from_secs(600)),
/// };
/// cache.store_with("hi", &[1.0, 0.0], "hello", options)?;
/// assert_eq!(cache.check(&[1.0, 0.0], None)?[0].metadata.as_deref(), Some(r#"{"tokens": 12}"#));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreOptions {
    /// Free-form metadata, returned with hits (RedisVL serialises a dict to JSON here).
    pub metadata: Option<String>,
    /// Values of the cache's filterable fields (TAG or NUMERIC, as declared).
    pub filters: Doc,
    /// This entry's TTL instead of the cache's.
    pub ttl: Option<Duration>,
}

/// How [`SemanticCache::check_with`] looks up.
///
/// ```
/// use strata::cache::CheckOptions;
/// use strata::cache::{CacheOptions, SemanticCache};
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2))?;
/// cache.store("a", &[1.0, 0.0], "A", None)?;
/// cache.store("b", &[0.9, 0.1], "B", None)?;
/// let both = CheckOptions { num_results: 2, distance_threshold: Some(0.2), filter: None };
/// assert_eq!(cache.check_with(&[1.0, 0.0], both)?.len(), 2);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CheckOptions {
    /// Most hits to return, nearest first (default 1, as RedisVL).
    pub num_results: usize,
    /// A threshold for this lookup instead of the cache's.
    pub distance_threshold: Option<f32>,
    /// Only entries matching this filter on the filterable fields.
    pub filter: Option<Filter>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            num_results: 1,
            distance_threshold: None,
            filter: None,
        }
    }
}

/// A cached entry close enough to a lookup: RedisVL's `CacheHit`.
///
/// ```
/// use strata::cache::{CacheOptions, SemanticCache};
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2))?;
/// let key = cache.store("capital of France?", &[1.0, 0.0], "Paris", None)?;
/// let hit = &cache.check(&[1.0, 0.0], None)?[0];
/// assert_eq!((hit.key.as_str(), hit.prompt.as_str(), hit.response.as_str()), (key.as_str(), "capital of France?", "Paris"));
/// assert!(hit.distance.abs() < 1e-6 && hit.inserted_at > 0.0);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CacheHit {
    /// The entry's key (pass it to [`SemanticCache::drop`]).
    pub key: String,
    /// The stored prompt.
    pub prompt: String,
    /// The stored response.
    pub response: String,
    /// COSINE distance from the lookup vector to the stored prompt's.
    pub distance: f32,
    /// The metadata stored with it.
    pub metadata: Option<String>,
    /// When it was stored, in seconds since the Unix epoch.
    pub inserted_at: f64,
    /// When it was last stored, in seconds since the Unix epoch.
    pub updated_at: f64,
    /// Its values of the filterable fields.
    pub filters: Doc,
}
