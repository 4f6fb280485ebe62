//! Recommendations from a user's recent activity, the Redis pattern made one type:
//! `LPUSH session:<user> item`, `LTRIM session:<user> 0 N-1`, `EXPIRE session:<user>
//! ttl` on each view; to recommend, average the vectors of the viewed items and run a
//! KNN that leaves out what the user has seen.
//!
//! Sessions are documents of their own collection (key = user, the item list in a
//! TEXT field), so they survive a restart and expire as Redis keys do. A `record` reads
//! the list, pushes, trims and writes it back under a lock striped by collection and
//! user, shared by every `Sessions` handle of the process (a database is open in one
//! process at a time), so two threads recording for one user at once lose nothing.
//!
//! ```
//! use strata::recommend::{SessionOptions, Sessions};
//! use strata::{Database, Doc, Metric, Schema, VectorIndex};
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path().join("db"))?;
//! let items = db.create_collection("items", Schema::builder()
//!     .vector("v", 2, Metric::Cosine, VectorIndex::hnsw(16, 200)).build()?)?;
//! items.upsert_many([
//!     ("a", Doc::new().vector("v", vec![1.0, 0.0])),
//!     ("b", Doc::new().vector("v", vec![0.7, 0.7])),
//!     ("c", Doc::new().vector("v", vec![0.0, 1.0])),
//! ])?;
//! let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
//! sessions.record("u1", "a")?; // on each page view
//! let next = sessions.recommend("u1", 1, None)?;
//! assert_eq!(next[0].key, "b");
//! # Ok::<(), strata::Error>(())
//! ```

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use crate::collection::Collection;
use crate::database::Database;
use crate::model::doc::Doc;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};
use crate::model::validate::validate_key;
use crate::read::filter::Filter;
use crate::read::search::{Hit, Search};

const ITEMS: &str = "items";

/// Lock stripes for `record`'s read-modify-write; a stripe is held for one session
/// read and one upsert.
const STRIPES: usize = 64;
static LOCKS: [Mutex<()>; STRIPES] = [const { Mutex::new(()) }; STRIPES];

/// How sessions are kept.
///
/// ```
/// use std::time::Duration;
/// use strata::recommend::SessionOptions;
/// let options = SessionOptions { max_items: 10, ttl: Some(Duration::from_secs(1800)) };
/// assert_eq!(SessionOptions::default(), SessionOptions { max_items: 20, ttl: Some(Duration::from_secs(3600)) });
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Items kept per session, newest first (`LTRIM 0 N-1`); default 20.
    pub max_items: usize,
    /// A session expires this long after its last `record` (`EXPIRE`); default one
    /// hour, `None` keeps sessions until forgotten.
    pub ttl: Option<Duration>,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            max_items: 20,
            ttl: Some(Duration::from_secs(3600)),
        }
    }
}

/// Users' recent items and recommendations from them.
///
/// ```
/// use strata::recommend::{SessionOptions, Sessions};
/// use strata::{Database, Doc, Metric, Schema, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"))?;
/// let products = db.create_collection("products", Schema::builder()
///     .vector("embedding", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
/// products.upsert_many([
///     ("shoe:1", Doc::new().vector("embedding", vec![1.0, 0.0])),
///     ("shoe:2", Doc::new().vector("embedding", vec![0.9, 0.1])),
///     ("boat:1", Doc::new().vector("embedding", vec![0.0, 1.0])),
/// ])?;
/// let sessions = Sessions::open(&db, "sessions", &products, "embedding", SessionOptions::default())?;
/// sessions.record("alice", "shoe:1")?;
/// assert_eq!(sessions.recent("alice")?, ["shoe:1"]);
/// let hits = sessions.recommend("alice", 1, None)?;
/// assert_eq!(hits[0].key, "shoe:2"); // nearest to what she viewed, not seen yet
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sessions {
    sessions: Collection,
    items: Collection,
    field: String,
    options: SessionOptions,
}

impl Sessions {
    /// Opens (creating on first use) the session collection `name`, recommending
    /// documents of `items` by their VECTOR field `field`.
    ///
    /// ```
    /// use strata::recommend::{SessionOptions, Sessions};
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
    /// items.upsert_many([
    ///     ("i1", Doc::new().tag("kind", "a").vector("v", vec![1.0, 0.0])),
    ///     ("i2", Doc::new().tag("kind", "b").vector("v", vec![0.9, 0.1])),
    ///     ("i3", Doc::new().tag("kind", "a").vector("v", vec![0.8, 0.3])),
    ///     ("i4", Doc::new().tag("kind", "a").vector("v", vec![0.0, 1.0])),
    /// ])?;
    /// let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
    /// // The items' field must be a vector.
    /// assert!(Sessions::open(&db, "other", &items, "kind", SessionOptions::default()).is_err());
    /// # let _ = sessions;
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownField`] / [`Error::QueryFieldType`] when `items` has no VECTOR
    /// field `field`; [`Error::InvalidArgument`] for `max_items` of 0;
    /// [`Error::InvalidSchema`] when a collection `name` exists that is not a session
    /// collection.
    pub fn open(
        db: &Database,
        name: &str,
        items: &Collection,
        field: &str,
        options: SessionOptions,
    ) -> Result<Sessions> {
        match items.schema().field(field) {
            None => {
                return Err(Error::UnknownField {
                    collection: items.name().to_string(),
                    field: field.to_string(),
                })
            }
            Some((_, declared)) if !matches!(declared.kind, FieldKind::Vector(_)) => {
                return Err(crate::read::filter::query_field_type(
                    field,
                    "VECTOR",
                    declared.kind.name(),
                ))
            }
            Some(_) => {}
        }
        if options.max_items == 0 {
            return Err(Error::InvalidArgument {
                reason: "max_items is 0; a session keeps at least one item".to_string(),
            });
        }
        let schema = Schema::builder().text(ITEMS).build()?;
        let sessions = match db.collection(name) {
            Ok(existing) => existing,
            Err(Error::CollectionNotFound { .. }) => {
                match db.create_collection(name, schema.clone()) {
                    Err(Error::CollectionExists { .. }) => db.collection(name)?,
                    other => other?,
                }
            }
            Err(other) => return Err(other),
        };
        if sessions.schema() != &schema {
            return Err(Error::InvalidSchema {
                reason: format!(
                    "collection `{name}` exists and is not a session collection (one TEXT \
                     field `{ITEMS}`); pick another name"
                ),
            });
        }
        Ok(Sessions {
            sessions,
            items: items.clone(),
            field: field.to_string(),
            options,
        })
    }

    /// Records that `user` viewed `item`: pushes it to the front of the user's
    /// session, keeps the newest `max_items` and restarts the session's TTL. A repeat
    /// view is pushed again, as `LPUSH` does. Durable when it returns.
    ///
    /// ```
    /// use strata::recommend::{SessionOptions, Sessions};
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
    /// items.upsert_many([
    ///     ("i1", Doc::new().tag("kind", "a").vector("v", vec![1.0, 0.0])),
    ///     ("i2", Doc::new().tag("kind", "b").vector("v", vec![0.9, 0.1])),
    ///     ("i3", Doc::new().tag("kind", "a").vector("v", vec![0.8, 0.3])),
    ///     ("i4", Doc::new().tag("kind", "a").vector("v", vec![0.0, 1.0])),
    /// ])?;
    /// let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
    /// sessions.record("alice", "i1")?;
    /// sessions.record("alice", "i3")?;
    /// assert_eq!(sessions.recent("alice")?, ["i3", "i1"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty or over-long user or item; nothing changes.
    pub fn record(&self, user: &str, item: &str) -> Result<()> {
        validate_key(user)?;
        validate_key(item)?;
        let _guard = LOCKS[self.stripe(user)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut recent = self.read(user)?;
        recent.insert(0, item.to_string());
        recent.truncate(self.options.max_items);
        let doc = Doc::new().text(ITEMS, encode(&recent));
        match self.options.ttl {
            Some(ttl) => self.sessions.upsert_with_ttl(user, doc, ttl),
            None => self.sessions.upsert(user, doc),
        }
    }

    /// The items `user` viewed, newest first (`LRANGE session 0 -1`); empty for a user
    /// without a live session.
    ///
    /// ```
    /// use strata::recommend::{SessionOptions, Sessions};
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
    /// items.upsert_many([
    ///     ("i1", Doc::new().tag("kind", "a").vector("v", vec![1.0, 0.0])),
    ///     ("i2", Doc::new().tag("kind", "b").vector("v", vec![0.9, 0.1])),
    ///     ("i3", Doc::new().tag("kind", "a").vector("v", vec![0.8, 0.3])),
    ///     ("i4", Doc::new().tag("kind", "a").vector("v", vec![0.0, 1.0])),
    /// ])?;
    /// let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
    /// assert!(sessions.recent("nobody")?.is_empty());
    /// sessions.record("bob", "i4")?;
    /// assert_eq!(sessions.recent("bob")?, ["i4"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty or over-long user.
    pub fn recent(&self, user: &str) -> Result<Vec<String>> {
        validate_key(user)?;
        self.read(user)
    }

    /// Ends `user`'s session (`DEL`); returns whether there was one.
    ///
    /// ```
    /// use strata::recommend::{SessionOptions, Sessions};
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
    /// items.upsert_many([
    ///     ("i1", Doc::new().tag("kind", "a").vector("v", vec![1.0, 0.0])),
    ///     ("i2", Doc::new().tag("kind", "b").vector("v", vec![0.9, 0.1])),
    ///     ("i3", Doc::new().tag("kind", "a").vector("v", vec![0.8, 0.3])),
    ///     ("i4", Doc::new().tag("kind", "a").vector("v", vec![0.0, 1.0])),
    /// ])?;
    /// let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
    /// sessions.record("bob", "i4")?;
    /// assert!(sessions.forget("bob")?);
    /// assert!(sessions.recent("bob")?.is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty or over-long user.
    pub fn forget(&self, user: &str) -> Result<bool> {
        self.sessions.delete(user)
    }

    /// The `k` items nearest to the mean vector of `user`'s recent items, among those
    /// `filter` admits, leaving out the items in the session; nearest first. Items of
    /// the session that no longer exist (or lack the vector) are left out of the mean.
    /// Empty when the user has no session or none of its items has a vector.
    ///
    /// ```
    /// use strata::Filter;
    /// use strata::recommend::{SessionOptions, Sessions};
    /// use strata::{Database, Doc, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let items = db.create_collection("items", Schema::builder().tag("kind")
    ///     .vector("v", 2, Metric::Cosine, VectorIndex::flat()).build()?)?;
    /// items.upsert_many([
    ///     ("i1", Doc::new().tag("kind", "a").vector("v", vec![1.0, 0.0])),
    ///     ("i2", Doc::new().tag("kind", "b").vector("v", vec![0.9, 0.1])),
    ///     ("i3", Doc::new().tag("kind", "a").vector("v", vec![0.8, 0.3])),
    ///     ("i4", Doc::new().tag("kind", "a").vector("v", vec![0.0, 1.0])),
    /// ])?;
    /// let sessions = Sessions::open(&db, "sessions", &items, "v", SessionOptions::default())?;
    /// sessions.record("alice", "i1")?;
    /// let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    /// assert_eq!(keys(sessions.recommend("alice", 2, None)?), ["i2", "i3"]);
    /// assert_eq!(keys(sessions.recommend("alice", 2, Some(Filter::tag("kind", ["a"])))?), ["i3", "i4"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a bad user; the search's errors for a bad filter or
    /// a `k` (plus the session's length) over the collection's `max_k`.
    pub fn recommend(&self, user: &str, k: usize, filter: Option<Filter>) -> Result<Vec<Hit>> {
        let recent = self.recent(user)?;
        let seen: HashSet<&str> = recent.iter().map(String::as_str).collect();
        let mut mean: Vec<f64> = Vec::new();
        let mut count = 0usize;
        for doc in self.items.get_many(&recent)?.into_iter().flatten() {
            let Some(vector) = doc.get_vector(&self.field) else {
                continue;
            };
            if mean.is_empty() {
                mean = vec![0.0; vector.len()];
            }
            for (sum, value) in mean.iter_mut().zip(vector) {
                *sum += f64::from(*value);
            }
            count += 1;
        }
        if count == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let query: Vec<f32> = mean.iter().map(|sum| (sum / count as f64) as f32).collect();
        // The seen items may be the nearest; ask for enough to still have k after
        // leaving them out.
        let wanted = k + seen.len();
        let mut search = Search::knn(&self.field, &query, wanted).ef_runtime(wanted.max(64));
        if let Some(filter) = filter {
            search = search.filter(filter);
        }
        let mut hits = self.items.search(&search)?;
        hits.retain(|hit| !seen.contains(hit.key.as_str()));
        hits.truncate(k);
        Ok(hits)
    }

    fn stripe(&self, user: &str) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.sessions.name().hash(&mut hasher);
        user.hash(&mut hasher);
        (hasher.finish() % STRIPES as u64) as usize
    }

    fn read(&self, user: &str) -> Result<Vec<String>> {
        let Some(doc) = self.sessions.get(user)? else {
            return Ok(Vec::new());
        };
        let text = doc.get_text(ITEMS).unwrap_or_default();
        decode(text).ok_or_else(|| Error::InvalidArgument {
            reason: format!(
                "the session of `{user}` in collection `{}` holds a value Sessions did \
                 not write; forget() it, or keep other data out of that collection",
                self.sessions.name()
            ),
        })
    }
}

/// The list as `<len>:<item>` netstrings: items may hold any character.
fn encode(items: &[String]) -> String {
    let mut out = String::new();
    for item in items {
        out.push_str(&item.len().to_string());
        out.push(':');
        out.push_str(item);
    }
    out
}

fn decode(mut text: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    while !text.is_empty() {
        let (len, rest) = text.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let item = rest.get(..len)?;
        items.push(item.to_string());
        text = &rest[len..];
    }
    Some(items)
}
