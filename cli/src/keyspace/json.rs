//! JSON documents on the keyspace (`JSON.SET`, `JSON.GET`, `JSON.DEL`): each one
//! whole in the collection of every `ON JSON` index watching its key, which maps its
//! paths to the index's fields, or in `_rest` when no JSON index watches it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use strata::{Doc, JsonPath};

use super::{fail, ttl_of, Failure, Index, KeyKind, Keyspace, WRONGTYPE};
use crate::values::{decode_rest_value, encode_json_rest, RestValue};

/// A JSON document as stored, with what a rewrite must keep.
pub(super) struct StoredJson {
    doc: Json,
    ttl: Option<Duration>,
    in_rest: bool,
}

/// When `JSON.SET` writes: always, only where the path has no value (`NX`), or only
/// where it has one (`XX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCondition {
    Always,
    Nx,
    Xx,
}

impl Keyspace {
    /// The JSON document under `key`; `WRONGTYPE` when it holds a hash or a list.
    pub fn json_get(&self, key: &str) -> Result<Option<Json>, Failure> {
        let watchers = self.watchers_of(key, KeyKind::Json);
        Ok(self.load_json(key, &watchers)?.map(|s| s.doc))
    }

    /// `JSON.SET key path value [NX|XX]`: a new document is set at the root; an
    /// existing one is re-read, changed and stored under the write lock, keeping its
    /// TTL. Returns false, changing nothing, when the condition fails or the path
    /// matches nothing. A document a watching index cannot take is refused whole.
    pub fn json_set(
        &self,
        key: &str,
        path: &JsonPath,
        value: Json,
        condition: SetCondition,
    ) -> Result<bool, Failure> {
        let _guard = self.writes.lock();
        let watchers = self.watchers_of(key, KeyKind::Json);
        let stored = match self.load_json(key, &watchers)? {
            None => {
                if !path.is_root() {
                    return Err("new objects must be created at the root".to_string());
                }
                if condition == SetCondition::Xx {
                    return Ok(false);
                }
                StoredJson {
                    doc: value,
                    ttl: None,
                    in_rest: false,
                }
            }
            Some(mut stored) => {
                let exists = !path.select(&stored.doc).is_empty();
                match condition {
                    SetCondition::Nx if exists => return Ok(false),
                    SetCondition::Xx if !exists => return Ok(false),
                    _ => {}
                }
                if path.set(&mut stored.doc, &value).map_err(fail)? == 0 {
                    return Ok(false);
                }
                stored
            }
        };
        self.save_json(key, &stored, &watchers)?;
        Ok(true)
    }

    /// `JSON.DEL key path`: the root deletes the key; another path removes what it
    /// selects. Returns how many values went.
    pub fn json_del(&self, key: &str, path: &JsonPath) -> Result<i64, Failure> {
        let _guard = self.writes.lock();
        let watchers = self.watchers_of(key, KeyKind::Json);
        let Some(mut stored) = self.load_json(key, &watchers)? else {
            return Ok(0);
        };
        if path.is_root() {
            return Ok(self.delete_locked(key)? as i64);
        }
        let removed = path.remove(&mut stored.doc);
        if removed > 0 {
            self.save_json(key, &stored, &watchers)?;
        }
        Ok(removed as i64)
    }

    /// The document under `key` as `watchers` (the JSON indexes that watch it) and
    /// `_rest` hold it.
    fn load_json(&self, key: &str, watchers: &[Arc<Index>]) -> Result<Option<StoredJson>, Failure> {
        for index in watchers {
            if let Some(doc) = index.collection.get_json(key).map_err(fail)? {
                return Ok(Some(StoredJson {
                    doc,
                    ttl: ttl_of(&index.collection, key)?,
                    in_rest: false,
                }));
            }
        }
        if let Some(row) = self.rest.get(key).map_err(fail)? {
            return match decode_rest_value(row.get_text("h").unwrap_or("[]"))? {
                RestValue::Json(doc) => Ok(Some(StoredJson {
                    doc,
                    ttl: ttl_of(&self.rest, key)?,
                    in_rest: true,
                })),
                _ => Err(WRONGTYPE.to_string()),
            };
        }
        self.check_not_indexed_as_other(key, KeyKind::Json)?;
        Ok(None)
    }

    /// Writes the document into each of `watchers` (or `_rest` when there are none),
    /// with its TTL: an upsert replaces a TTL, and JSON.SET keeps it.
    fn save_json(
        &self,
        key: &str,
        stored: &StoredJson,
        watchers: &[Arc<Index>],
    ) -> Result<(), Failure> {
        if watchers.is_empty() {
            self.rest_used.store(true, Ordering::Relaxed);
            self.rest
                .upsert(key, Doc::new().text("h", encode_json_rest(&stored.doc)))
                .map_err(fail)?;
            if let Some(ttl) = stored.ttl {
                self.rest.expire(key, ttl).map_err(fail)?;
            }
            return Ok(());
        }
        for index in watchers {
            index
                .collection
                .upsert_json(key, stored.doc.clone())
                .map_err(fail)?;
            if let Some(ttl) = stored.ttl {
                index.collection.expire(key, ttl).map_err(fail)?;
            }
        }
        if stored.in_rest {
            self.rest.delete(key).map_err(fail)?;
        }
        Ok(())
    }

    /// Re-stores JSON `keys`, read under the `old` indexes, under the JSON indexes
    /// `new` gives (a JSON index made or dropped).
    pub(super) fn rewrite_json(
        &self,
        keys: &[String],
        old: &[Arc<Index>],
        new: &dyn Fn(&str) -> Vec<Arc<Index>>,
    ) -> Result<(), Failure> {
        for key in keys {
            let watchers: Vec<Arc<Index>> = old
                .iter()
                .filter(|i| i.takes(key, KeyKind::Json))
                .cloned()
                .collect();
            if let Some(stored) = self.load_json(key, &watchers)? {
                self.save_json(key, &stored, &new(key))?;
            }
        }
        Ok(())
    }
}
