//! Collection handles: the document operations and search.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::{Op, Record};
use crate::database::DatabaseInner;
use crate::doc::{Doc, Value};
use crate::error::{Error, Result};
use crate::execute::{execute, prepare, Explain};
use crate::options::Limits;
use crate::schema::{FieldKind, Schema};
use crate::search::{Hit, QueryBuilder, Search, SearchResults};
use crate::store::{now_ms, CollectionState, Shared};

/// Longest document key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A handle to one collection. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Collection {
    database: Arc<DatabaseInner>,
    state: Arc<CollectionState>,
}

/// The expiry of a key, as Redis's `TTL` reports it.
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

    fn shared(&self) -> &Shared {
        &self.database.shared
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The collection's schema.
    pub fn schema(&self) -> &Schema {
        &self.state.schema
    }

    /// Stores `doc` under `key`, replacing any document there (like `DEL` + `HSET`).
    /// Acknowledged, under the database's durability, when it returns `Ok`.
    pub fn upsert(&self, key: impl Into<String>, doc: Doc) -> Result<()> {
        let key = key.into();
        let record = self.validate(&key, doc, None)?;
        self.write_upsert(vec![(key, record)])
    }

    /// Like [`Collection::upsert`], with the document expiring after `ttl` (Redis's
    /// `SET ... EX`). Deadlines are wall-clock times.
    pub fn upsert_with_ttl(&self, key: impl Into<String>, doc: Doc, ttl: Duration) -> Result<()> {
        let key = key.into();
        let record = self.validate(&key, doc, Some(deadline_after(ttl)?))?;
        self.write_upsert(vec![(key, record)])
    }

    /// Stores every document of `batch`, all or nothing, as one WAL record with one
    /// fsync. If any document is invalid, none is written. Later entries win when a key
    /// repeats.
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

    fn write_upsert(&self, docs: Vec<(String, Record)>) -> Result<()> {
        self.shared().write(|catalog| {
            catalog.check_live(&self.state)?;
            Ok(Some(Op::Upsert {
                collection: self.state.id,
                docs,
            }))
        })?;
        Ok(())
    }

    /// The document stored under `key`, or `None`.
    pub fn get(&self, key: &str) -> Result<Option<Doc>> {
        self.check_not_dropped()?;
        self.state
            .tables
            .read()
            .get(key, &self.state.schema, now_ms())
    }

    /// Removes the document under `key`; returns whether there was one. Deleting a
    /// missing key writes nothing.
    pub fn delete(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        self.shared().write(|catalog| {
            catalog.check_live(&self.state)?;
            if self
                .state
                .tables
                .read()
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
    pub fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.set_deadline(key, Some(deadline_after(ttl)?))
    }

    /// Makes `key` expire at `when` (Redis's `EXPIREAT`); a time in the past expires
    /// it at once. Returns false if there is no such key.
    pub fn expire_at(&self, key: &str, when: SystemTime) -> Result<bool> {
        let millis = when
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.set_deadline(key, Some(millis))
    }

    /// Removes the expiry of `key` (Redis's `PERSIST`). Returns false if there is no
    /// such key or it had no expiry.
    pub fn persist(&self, key: &str) -> Result<bool> {
        self.set_deadline(key, None)
    }

    /// The remaining time to live of `key` (Redis's `TTL`, to the millisecond).
    pub fn ttl(&self, key: &str) -> Result<KeyTtl> {
        self.check_not_dropped()?;
        let now = now_ms();
        let tables = self.state.tables.read();
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
        self.shared().write(|catalog| {
            catalog.check_live(&self.state)?;
            let tables = self.state.tables.read();
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
    pub fn len(&self) -> Result<usize> {
        self.check_not_dropped()?;
        Ok(self.state.tables.read().len(now_ms()))
    }

    /// Whether the collection holds no documents.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Runs a search built with [`Search`]. Results are nearest first for vector
    /// queries; documents without the searched vector field are never returned.
    pub fn search(&self, request: &Search) -> Result<Vec<Hit>> {
        Ok(self.run(request, false)?.0.hits)
    }

    /// Runs a search and returns its page with the total number of matching documents,
    /// as FT.SEARCH reports it (`LIMIT 0 0` counts without returning any hit).
    pub fn search_page(&self, request: &Search) -> Result<SearchResults> {
        Ok(self.run(request, false)?.0)
    }

    /// A query in the RediSearch dialect, e.g.
    /// `(@category:{AI} @price:[0 100])=>[KNN 10 @embedding $vec AS score]`; bind
    /// parameters with [`QueryBuilder::param`] and run it with [`QueryBuilder::run`].
    pub fn query<'c>(&'c self, query: &str) -> QueryBuilder<'c> {
        QueryBuilder::new(self, query)
    }

    /// How `request` would run: per source, live and matching rows and the strategy
    /// the planner chose.
    pub fn explain(&self, request: &Search) -> Result<Explain> {
        Ok(self.run(request, true)?.1)
    }

    fn run(&self, request: &Search, explain: bool) -> Result<(SearchResults, Explain)> {
        self.check_not_dropped()?;
        let plan = prepare(
            &request.query,
            &request.params,
            &self.state.schema,
            &self.state.name,
            self.limits(),
            explain,
        )?;
        let tables = self.state.tables.read();
        let (hits, total, explain) = execute(&tables, &self.state.schema, &plan, now_ms())?;
        Ok((SearchResults { total, hits }, explain))
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.shared().options.limits
    }

    fn check_not_dropped(&self) -> Result<()> {
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
    fn validate(&self, key: &str, doc: Doc, deadline: Option<u64>) -> Result<Record> {
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
            check_value(&field.name, field.kind, &value)?;
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
fn deadline_after(ttl: Duration) -> Result<u64> {
    let millis = u64::try_from(ttl.as_millis())
        .ok()
        .and_then(|ttl| now_ms().checked_add(ttl));
    millis.ok_or_else(|| Error::InvalidArgument {
        reason: format!("a TTL of {ttl:?} overflows the clock"),
    })
}

fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey {
            reason: "a key must not be empty".to_string(),
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey {
            reason: format!(
                "the key is {} bytes; keys are at most {MAX_KEY_BYTES} bytes",
                key.len()
            ),
        });
    }
    Ok(())
}

pub(crate) fn check_vector(field: &str, vector: &[f32], dim: usize) -> Result<()> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch {
            field: field.to_string(),
            expected: dim,
            found: vector.len(),
        });
    }
    if let Some((index, value)) = vector.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            field: field.to_string(),
            index,
            value: *value as f64,
        });
    }
    Ok(())
}

fn check_value(field: &str, kind: FieldKind, value: &Value) -> Result<()> {
    let mismatch = || Error::FieldType {
        field: field.to_string(),
        expected: kind.name(),
        found: value.kind_name(),
    };
    match (kind, value) {
        (FieldKind::Text, Value::Text(_)) | (FieldKind::Tag(_), Value::Tag(_)) => Ok(()),
        (FieldKind::Numeric, Value::Numeric(number)) => {
            if number.is_nan() {
                return Err(Error::NonFinite {
                    field: field.to_string(),
                    index: 0,
                    value: *number,
                });
            }
            Ok(())
        }
        (FieldKind::Vector(vector), Value::Vector(components)) => {
            check_vector(field, components, vector.dim)
        }
        _ => Err(mismatch()),
    }
}

/// Checks a record read back from the WAL against its schema; the error describes the
/// mismatch (which means the log was not written by these rules).
pub(crate) fn check_logged_record(
    schema: &Schema,
    record: &Record,
) -> std::result::Result<(), String> {
    let mut previous: Option<u16> = None;
    for (position, value) in &record.values {
        if previous.is_some_and(|p| p >= *position) {
            return Err("record fields out of order".to_string());
        }
        previous = Some(*position);
        let field = schema
            .fields()
            .get(*position as usize)
            .ok_or_else(|| format!("field position {position} outside the schema"))?;
        check_value(&field.name, field.kind, value).map_err(|e| e.to_string())?;
    }
    Ok(())
}
