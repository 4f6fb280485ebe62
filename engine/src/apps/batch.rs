//! Batch and housekeeping calls on a collection: several keys in one call
//! (`MGET`/`DEL k1 k2` style), a TTL on a whole batch, counting the documents a filter
//! matches, and a cursor over keys (Redis's `SCAN ... MATCH prefix*`, with a filter).
//!
//! Reads work on one published version, so a batch read or a count sees every key as
//! of the same instant; `delete_many` is one WAL record, applied whole or not at all.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use roaring::RoaringBitmap;

use crate::collection::{deadline_after, write, Collection};
use crate::model::codec::Op;
use crate::model::doc::Doc;
use crate::model::error::{Error, Result};
use crate::model::validate::validate_key;
use crate::read::filter::{check_depth, compile, Compiled, Filter};
use crate::read::sources::{MemtableSource, SegmentSource};
use crate::write::store::now_ms;
use crate::write::tables::{Location, Tables};

/// Most keys one `get_many` or `delete_many` call takes. A `DEL` of 100,000 keys of the
/// longest size logs about 100 MiB, well under the WAL's record limit; larger sets go
/// in several calls.
///
/// ```
/// use strata::{Database, Error, Schema, MAX_BATCH_KEYS};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
/// let keys: Vec<String> = (0..=MAX_BATCH_KEYS).map(|i| format!("k{i}")).collect();
/// assert!(matches!(notes.delete_many(&keys), Err(Error::InvalidArgument { .. })));
/// for chunk in keys.chunks(MAX_BATCH_KEYS) {
///     notes.delete_many(chunk)?;
/// }
/// # Ok::<(), strata::Error>(())
/// ```
pub const MAX_BATCH_KEYS: usize = 100_000;

/// Most keys one [`KeyCursor::next_page`] returns.
///
/// ```
/// use strata::{Database, Error, Filter, Schema, MAX_PAGE_KEYS};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
/// let mut cursor = notes.scan("", &Filter::all())?;
/// assert!(matches!(cursor.next_page(MAX_PAGE_KEYS + 1), Err(Error::InvalidArgument { .. })));
/// # Ok::<(), strata::Error>(())
/// ```
pub const MAX_PAGE_KEYS: usize = 100_000;

impl Collection {
    /// The documents under `keys`, in the order of `keys` (`None` for a missing or
    /// expired key), all read from the same version of the collection: a concurrent
    /// writer's batch is either wholly visible or not at all. Redis's `MGET`.
    ///
    /// ```
    /// # use strata::{Database, Doc, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db")).unwrap();
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "first"))?;
    /// let docs = notes.get_many(&["a", "missing"])?;
    /// assert_eq!(docs[0].as_ref().and_then(|d| d.get_text("body")), Some("first"));
    /// assert!(docs[1].is_none());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty or over-long key, [`Error::InvalidArgument`]
    /// for more than [`MAX_BATCH_KEYS`] keys.
    pub fn get_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<Vec<Option<Doc>>> {
        self.check_not_dropped()?;
        check_batch(keys)?;
        let tables = self.state().snapshot();
        let now = now_ms();
        keys.iter()
            .map(|key| tables.get(key.as_ref(), self.schema(), now))
            .collect()
    }

    /// Removes the documents under `keys`, all or nothing: one WAL record, so a crash
    /// or a concurrent reader sees either none or all of them gone. Returns how many
    /// existed (missing, expired and repeated keys count once or not at all, as
    /// Redis's `DEL k1 k2 ...` counts). Deleting only missing keys writes nothing.
    ///
    /// ```
    /// # use strata::{Database, Doc, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db")).unwrap();
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// notes.upsert_many([("a", Doc::new().text("body", "x")), ("b", Doc::new().text("body", "y"))])?;
    /// assert_eq!(notes.delete_many(&["a", "b", "a", "missing"])?, 2);
    /// assert!(notes.is_empty()?);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty or over-long key and [`Error::InvalidArgument`]
    /// for more than [`MAX_BATCH_KEYS`] keys; either way nothing is deleted.
    pub fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<usize> {
        check_batch(keys)?;
        let mut deleted = 0;
        write(self.shared(), |catalog| {
            catalog.check_live(self.state())?;
            let tables = self.state().tables.lock();
            let now = now_ms();
            let mut seen = HashSet::with_capacity(keys.len());
            let mut live = Vec::new();
            for key in keys {
                let key = key.as_ref();
                if seen.insert(key) && tables.locate_live(key, now)?.is_some() {
                    live.push(key.to_string());
                }
            }
            if live.is_empty() {
                return Ok(None);
            }
            deleted = live.len();
            Ok(Some(Op::DeleteMany {
                collection: self.state().id,
                keys: live,
            }))
        })?;
        Ok(deleted)
    }

    /// Like [`Collection::upsert_many`] (all or nothing, one WAL record), with every
    /// document expiring `ttl` from now: Redis's `HSET` + `EXPIRE` per key in one
    /// `MULTI`.
    ///
    /// ```
    /// # use strata::{Database, Doc, KeyTtl, Schema};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db")).unwrap();
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// notes.upsert_many_with_ttl([("a", Doc::new().text("body", "x"))], Duration::from_secs(60))?;
    /// assert!(matches!(notes.ttl("a")?, KeyTtl::ExpiresIn(left) if left <= Duration::from_secs(60)));
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Collection::upsert_many`], and [`Error::InvalidArgument`] for a TTL past the
    /// clock's range; nothing is written.
    pub fn upsert_many_with_ttl<K: Into<String>>(
        &self,
        batch: impl IntoIterator<Item = (K, Doc)>,
        ttl: Duration,
    ) -> Result<()> {
        let deadline = deadline_after(ttl)?;
        let docs = batch
            .into_iter()
            .map(|(key, doc)| {
                let key = key.into();
                let record = self.validate(&key, doc, Some(deadline))?;
                Ok((key, record))
            })
            .collect::<Result<Vec<_>>>()?;
        if docs.is_empty() {
            return Ok(());
        }
        self.write_upsert(docs)
    }

    /// How many live documents match `filter` (`FT.SEARCH idx filter LIMIT 0 0`), from
    /// the filter indexes alone: no document is read.
    ///
    /// ```
    /// # use strata::{Database, Doc, Filter, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db")).unwrap();
    /// let items = db.create_collection("items", Schema::builder().tag("kind").numeric("price").build()?)?;
    /// items.upsert("a", Doc::new().tag("kind", "book").numeric("price", 10.0))?;
    /// items.upsert("b", Doc::new().tag("kind", "book").numeric("price", 30.0))?;
    /// assert_eq!(items.count(&Filter::tag("kind", ["book"]).and(Filter::range("price", ..20.0)))?, 1);
    /// assert_eq!(items.count(&Filter::all())?, 2);
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownField`] / [`Error::QueryFieldType`] for a filter that does not
    /// fit the schema, [`Error::QueryLimit`] for one nested too deep.
    pub fn count(&self, filter: &Filter) -> Result<usize> {
        self.check_not_dropped()?;
        let compiled = self.compile_filter(filter)?;
        let tables = self.state().snapshot();
        let matching = matching_rows(&tables, &compiled, now_ms())?;
        Ok(matching
            .iter()
            .map(|(_, rows)| rows.len() as usize)
            .sum::<usize>())
    }

    /// A cursor over the keys that start with `prefix` and whose documents match
    /// `filter` (Redis's `SCAN 0 MATCH prefix*`, narrowed by an FT filter).
    ///
    /// The cursor reads the version of the collection published when `scan` was
    /// called: it returns exactly the keys that were live and matching then, each
    /// once, whatever writers do meanwhile (stronger than `SCAN`, which may repeat a
    /// key or miss one written during the scan). Keys come in storage order, not
    /// sorted. It holds that version's memory (and its segments' maps) until it is
    /// dropped, so drain it rather than keep it for hours. Fetch documents with
    /// [`Collection::get_many`]; they are then read as they are now.
    ///
    /// ```
    /// # use strata::{Database, Doc, Filter, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db")).unwrap();
    /// let items = db.create_collection("items", Schema::builder().tag("kind").build()?)?;
    /// items.upsert_many([
    ///     ("user:1", Doc::new().tag("kind", "admin")),
    ///     ("user:2", Doc::new().tag("kind", "guest")),
    ///     ("order:1", Doc::new().tag("kind", "admin")),
    /// ])?;
    /// let mut cursor = items.scan("user:", &Filter::tag("kind", ["admin"]))?;
    /// assert_eq!(cursor.next_page(100)?, vec!["user:1".to_string()]);
    /// assert!(cursor.next_page(100)?.is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Collection::count`].
    pub fn scan(&self, prefix: &str, filter: &Filter) -> Result<KeyCursor> {
        self.check_not_dropped()?;
        let compiled = self.compile_filter(filter)?;
        let tables = self.state().snapshot();
        let sources = matching_rows(&tables, &compiled, now_ms())?
            .into_iter()
            .map(|(location, rows)| (location, rows.into_iter()))
            .collect();
        Ok(KeyCursor {
            tables,
            prefix: prefix.to_string(),
            sources,
        })
    }

    fn compile_filter(&self, filter: &Filter) -> Result<Compiled> {
        check_depth(&filter.0, self.limits().query().max_depth)?;
        compile(
            &filter.0,
            self.schema(),
            self.name(),
            &|name| {
                Err(Error::InvalidQuery {
                    pos: 0,
                    message: format!("parameter `${name}` has no value in a filter"),
                })
            },
            None,
        )
    }
}

/// Keys of one collection version, page by page; see [`Collection::scan`]. Also an
/// iterator of keys.
///
/// ```
/// use strata::{Database, Doc, Filter, Schema};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let users = db.create_collection("users", Schema::builder().tag("plan").build()?)?;
/// users.upsert_many((0..250).map(|i| (format!("user:{i}"), Doc::new().tag("plan", "free"))))?;
/// // SCAN-style paging...
/// let mut cursor = users.scan("user:", &Filter::all())?;
/// let mut seen = 0;
/// loop {
///     let page = cursor.next_page(100)?;
///     if page.is_empty() {
///         break;
///     }
///     seen += page.len();
/// }
/// assert_eq!(seen, 250);
/// // ...or an iterator.
/// assert_eq!(users.scan("user:1", &Filter::tag("plan", ["free"]))?.count(), 111);
/// # Ok::<(), strata::Error>(())
/// ```
pub struct KeyCursor {
    tables: Arc<Tables>,
    prefix: String,
    /// Per source (segments first, then frozen memtables, then the active one), the
    /// matching rows not yet returned.
    sources: Vec<(Location, roaring::bitmap::IntoIter)>,
}

impl std::fmt::Debug for KeyCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCursor")
            .field("prefix", &self.prefix)
            .field("sources_left", &self.sources.len())
            .finish()
    }
}

impl KeyCursor {
    /// The next at most `count` keys; an empty page means the scan is over.
    ///
    /// ```
    /// use strata::{Database, Doc, Filter, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = Database::open(dir.path().join("db"))?;
    /// let users = db.create_collection("users", Schema::builder().tag("plan").build()?)?;
    /// users.upsert_many((0..250).map(|i| (format!("user:{i}"), Doc::new().tag("plan", "free"))))?;
    /// let mut cursor = users.scan("", &Filter::all())?;
    /// assert_eq!(cursor.next_page(200)?.len(), 200);
    /// assert_eq!(cursor.next_page(200)?.len(), 50);
    /// assert!(cursor.next_page(200)?.is_empty());
    /// # Ok::<(), strata::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a `count` of 0 or over [`MAX_PAGE_KEYS`];
    /// [`Error::Corrupt`] if a segment's key file is damaged.
    pub fn next_page(&mut self, count: usize) -> Result<Vec<String>> {
        if count == 0 || count > MAX_PAGE_KEYS {
            return Err(Error::InvalidArgument {
                reason: format!("a page of {count} keys; ask for 1..={MAX_PAGE_KEYS}"),
            });
        }
        let mut page = Vec::new();
        while page.len() < count {
            let Some(key) = self.next_key()? else { break };
            page.push(key);
        }
        Ok(page)
    }

    fn next_key(&mut self) -> Result<Option<String>> {
        while let Some((location, rows)) = self.sources.first_mut() {
            for row in rows.by_ref() {
                let key = self.tables.key(at(*location, row))?;
                if key.starts_with(&self.prefix) {
                    return Ok(Some(key));
                }
            }
            self.sources.remove(0);
        }
        Ok(None)
    }
}

impl Iterator for KeyCursor {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        self.next_key().transpose()
    }
}

fn at(location: Location, row: u32) -> Location {
    match location {
        Location::Segment(index, _) => Location::Segment(index, row),
        Location::Frozen(index, _) => Location::Frozen(index, row),
        Location::Memtable(_) => Location::Memtable(row),
    }
}

/// Per source of `tables`, the live rows `filter` matches at `now`.
fn matching_rows(
    tables: &Tables,
    filter: &Compiled,
    now: u64,
) -> Result<Vec<(Location, RoaringBitmap)>> {
    let mut out = Vec::new();
    let mut distances = Vec::new();
    for (index, slot) in tables.segments.iter().enumerate() {
        let source = SegmentSource { slot, now_ms: now };
        let live = crate::read::filter::RowSource::live(&source);
        let rows = filter.evaluate(&source, &live, &mut distances)?;
        out.push((Location::Segment(index, 0), rows));
    }
    for (index, memtable) in tables.frozen.iter().enumerate() {
        let source = MemtableSource {
            source: memtable,
            now_ms: now,
        };
        let live = crate::read::filter::RowSource::live(&source);
        let rows = filter.evaluate(&source, &live, &mut distances)?;
        out.push((Location::Frozen(index, 0), rows));
    }
    let source = MemtableSource {
        source: &tables.memtable,
        now_ms: now,
    };
    let live = crate::read::filter::RowSource::live(&source);
    let rows = filter.evaluate(&source, &live, &mut distances)?;
    out.push((Location::Memtable(0), rows));
    Ok(out)
}

fn check_batch<K: AsRef<str>>(keys: &[K]) -> Result<()> {
    if keys.len() > MAX_BATCH_KEYS {
        return Err(Error::InvalidArgument {
            reason: format!(
                "{} keys in one call; at most {MAX_BATCH_KEYS}, so split the batch",
                keys.len()
            ),
        });
    }
    keys.iter().try_for_each(|key| validate_key(key.as_ref()))
}
