//! Redis hash keys on Strata collections.
//!
//! Every index made by `FT.CREATE` is a collection (the index's documents) whose
//! schema is the index's fields. A hash key is stored field by field:
//!
//! - each field an index declares goes into that index's collection, for every index
//!   whose prefix matches the key (so one hash under two indexes is a document in
//!   both, each holding its own fields);
//! - every other field, and any value a collection would not give back byte for byte
//!   (a NUMERIC written as `1e2`), goes into the `_rest` collection, as is; a key no
//!   index watches lives there whole.
//!
//! A JSON document (`JSON.SET`) goes whole into the collection of every `ON JSON`
//! index whose prefix matches its key, or into `_rest` when none does; a list goes
//! into `_rest` (`json.rs`, `list.rs`). Each index watches keys of its own type only,
//! as in Redis, and a command on a key of another type gets `WRONGTYPE`.
//!
//! Reading a hash joins the two. The catalog of indexes (their `FT.CREATE`
//! arguments) is the `_meta` collection, so it survives restarts with the data.
//! Writes of hashes are serialised by one lock, since `HSET` merges into what is
//! stored.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value as Json};
use strata::{Collection, Database, Doc, FieldKind, KeyTtl, Schema};

use crate::ftcreate::{self, IndexDef};
pub use crate::values::value_bytes;
use crate::values::{convert, decode_rest, decode_rest_value, encode_rest, RestValue};

mod json;
mod list;

pub use json::SetCondition;

/// Redis's reply to a command on a key holding another type of value.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A key's value, of whichever type.
pub enum KeyValue {
    Hash(Hash),
    Json(Json),
    List(Vec<Vec<u8>>),
}

impl KeyValue {
    /// Whether there is nothing to write (a hash or list without items).
    pub fn is_empty(&self) -> bool {
        match self {
            KeyValue::Hash(h) => h.is_empty(),
            KeyValue::Json(_) => false,
            KeyValue::List(l) => l.is_empty(),
        }
    }
}

/// The type of value under a key, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Hash,
    Json,
    List,
}

impl KeyKind {
    /// The name `TYPE` replies with.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Hash => "hash",
            KeyKind::Json => "ReJSON-RL",
            KeyKind::List => "list",
        }
    }
}

/// The catalog of indexes made through the server.
pub const META: &str = "_meta";
/// Hash fields no index's collection holds exactly.
pub const REST: &str = "_rest";

/// Collections the server keeps for itself, never listed or searched as indexes.
pub fn is_internal(name: &str) -> bool {
    name == META || name == REST || name == crate::import::IMPORTS
}

/// A hash: fields and values in order, as bytes.
pub type Hash = Vec<(Vec<u8>, Vec<u8>)>;

/// A failure to report to the client as an error reply (without a code: the caller
/// adds `ERR` unless the message starts with one).
pub type Failure = String;

fn fail(error: strata::Error) -> Failure {
    error.to_string()
}

/// An index as the server sees it.
#[derive(Debug)]
pub struct Index {
    pub name: String,
    pub collection: Collection,
    /// `None` for a collection made outside the server (through the Rust API or
    /// `strata import`): searchable by its name, but it watches no hash keys.
    pub def: Option<IndexDef>,
}

impl Index {
    /// Whether the key is under the index's prefixes (whatever its type).
    fn watches(&self, key: &str) -> bool {
        self.def.as_ref().is_some_and(|d| d.watches(key))
    }

    /// Whether the index is `ON JSON`.
    pub fn is_json(&self) -> bool {
        self.def.as_ref().is_some_and(|d| d.on_json)
    }

    /// Whether the index takes `key` when it holds a value of `kind`.
    fn takes(&self, key: &str, kind: KeyKind) -> bool {
        self.watches(key)
            && match kind {
                KeyKind::Hash => !self.is_json(),
                KeyKind::Json => self.is_json(),
                KeyKind::List => false,
            }
    }

    /// The attribute (schema field) a hash field feeds, with its kind.
    fn attribute_of(&self, hash_field: &str) -> Option<(&str, FieldKind)> {
        let def = self.def.as_ref()?;
        def.fields
            .iter()
            .find(|f| f.hash_name == hash_field)
            .map(|f| (f.attribute.as_str(), f.kind))
    }
}

/// Which indexes a key belongs to, during a change of indexes.
type WatchersOf<'a> = &'a dyn Fn(&str) -> Vec<Arc<Index>>;

/// What is stored under one key.
struct Stored {
    hash: Hash,
    in_rest: bool,
    ttl: Option<Duration>,
}

/// The keyspace over one database.
#[derive(Debug)]
pub struct Keyspace {
    db: Database,
    meta: Collection,
    rest: Collection,
    indexes: RwLock<Vec<Arc<Index>>>,
    writes: Mutex<()>,
    /// Whether `_rest` may hold anything: set at open and by every write to it, so
    /// searches skip looking hits up there while it has never been used.
    rest_used: AtomicBool,
}

impl Keyspace {
    /// Opens the keyspace of `db`, creating the catalog and rest collections on first
    /// use and re-reading every index's definition.
    pub fn open(db: Database) -> Result<Keyspace, Failure> {
        let meta = open_or_create(
            &db,
            META,
            Schema::builder().text("def").numeric("seq").build(),
        )?;
        let rest = open_or_create(&db, REST, Schema::builder().text("h").build())?;
        let keyspace = Keyspace {
            db,
            meta,
            rest,
            indexes: RwLock::new(Vec::new()),
            writes: Mutex::new(()),
            rest_used: AtomicBool::new(false),
        };
        let used = !keyspace.rest.is_empty().map_err(fail)?;
        keyspace.rest_used.store(used, Ordering::Relaxed);
        let mut entries = Vec::new();
        for name in collection_keys(&keyspace.meta)? {
            let Some(doc) = keyspace.meta.get(&name).map_err(fail)? else {
                continue;
            };
            let def: Json = serde_json::from_str(doc.get_text("def").unwrap_or("null"))
                .map_err(|e| format!("the index catalog entry of `{name}` is damaged: {e}"))?;
            let seq = doc.get_numeric("seq").unwrap_or(0.0);
            entries.push((seq, name, def));
        }
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut indexes = Vec::new();
        for (_, name, def) in entries {
            let collection_name = def["collection"].as_str().unwrap_or_default().to_string();
            let args: Vec<String> = def["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let parsed = ftcreate::parse(&args).map_err(|e| {
                format!("the index catalog entry of `{name}` no longer parses: {e}")
            })?;
            let collection = match keyspace.db.collection(&collection_name) {
                Ok(c) => c,
                // The catalog entry is written before the collection is made, so a
                // crash between the two leaves an entry whose collection is missing.
                Err(strata::Error::CollectionNotFound { .. }) => keyspace
                    .db
                    .create_collection(&collection_name, parsed.schema()?)
                    .map_err(fail)?,
                Err(e) => return Err(fail(e)),
            };
            indexes.push(Arc::new(Index {
                name,
                collection,
                def: Some(parsed),
            }));
        }
        *keyspace.indexes.write() = indexes;
        Ok(keyspace)
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Indexes made through the server, in creation order.
    pub fn indexes(&self) -> Vec<Arc<Index>> {
        self.indexes.read().clone()
    }

    /// Every searchable name: the server's indexes, then collections made elsewhere.
    pub fn list(&self) -> Vec<String> {
        let indexes = self.indexes.read();
        let mut names: Vec<String> = indexes.iter().map(|i| i.name.clone()).collect();
        for collection in self.db.list_collections() {
            if !is_internal(&collection)
                && !indexes.iter().any(|i| i.collection.name() == collection)
                && !names.contains(&collection)
            {
                names.push(collection);
            }
        }
        names
    }

    /// The index (or plain collection) called `name`.
    pub fn index(&self, name: &str) -> Option<Arc<Index>> {
        if let Some(index) = self.indexes.read().iter().find(|i| i.name == name) {
            return Some(index.clone());
        }
        if is_internal(name)
            || self
                .indexes
                .read()
                .iter()
                .any(|i| i.collection.name() == name)
        {
            return None;
        }
        let collection = self.db.collection(name).ok()?;
        Some(Arc::new(Index {
            name: name.to_string(),
            collection,
            def: None,
        }))
    }

    /// The hash indexes watching `key`.
    fn watchers(&self, key: &str) -> Vec<Arc<Index>> {
        self.watchers_of(key, KeyKind::Hash)
    }

    fn watchers_of(&self, key: &str, kind: KeyKind) -> Vec<Arc<Index>> {
        self.indexes
            .read()
            .iter()
            .filter(|i| i.takes(key, kind))
            .cloned()
            .collect()
    }

    /// The type of value under `key`, `None` when there is none.
    pub fn kind(&self, key: &str) -> Result<Option<KeyKind>, Failure> {
        if let Some(doc) = self.rest.get(key).map_err(fail)? {
            return Ok(Some(
                match decode_rest_value(doc.get_text("h").unwrap_or("[]"))? {
                    RestValue::Hash(_) => KeyKind::Hash,
                    RestValue::Json(_) => KeyKind::Json,
                    RestValue::List(_) => KeyKind::List,
                },
            ));
        }
        for index in self.indexes.read().iter().filter(|i| i.watches(key)) {
            if index.collection.get(key).map_err(fail)?.is_some() {
                return Ok(Some(if index.is_json() {
                    KeyKind::Json
                } else {
                    KeyKind::Hash
                }));
            }
        }
        Ok(None)
    }

    /// `WRONGTYPE` when an index of another type than `kind` holds `key`.
    fn check_not_indexed_as_other(&self, key: &str, kind: KeyKind) -> Result<(), Failure> {
        for index in self.indexes.read().iter() {
            if index.watches(key)
                && !index.takes(key, kind)
                && index.collection.get(key).map_err(fail)?.is_some()
            {
                return Err(WRONGTYPE.to_string());
            }
        }
        Ok(())
    }

    /// Every collection that may hold part of `key`.
    fn holders(&self, key: &str) -> Vec<Collection> {
        let mut holders: Vec<Collection> = self
            .indexes
            .read()
            .iter()
            .filter(|i| i.watches(key))
            .map(|i| i.collection.clone())
            .collect();
        holders.push(self.rest.clone());
        holders
    }

    fn load(&self, key: &str, watchers: &[Arc<Index>]) -> Result<Option<Stored>, Failure> {
        self.check_not_indexed_as_other(key, KeyKind::Hash)?;
        let mut hash: Hash = Vec::new();
        let mut found = false;
        let mut ttl = None;
        for index in watchers {
            let Some(doc) = index.collection.get(key).map_err(fail)? else {
                continue;
            };
            if !found {
                ttl = ttl_of(&index.collection, key)?;
            }
            found = true;
            let def = index.def.as_ref().expect("watchers are server indexes");
            for field in &def.fields {
                if let Some(value) = doc.get(&field.attribute) {
                    set_field(&mut hash, field.hash_name.as_bytes(), value_bytes(value));
                }
            }
        }
        let mut in_rest = false;
        if let Some(doc) = self.rest.get(key).map_err(fail)? {
            if !found {
                ttl = ttl_of(&self.rest, key)?;
            }
            found = true;
            in_rest = true;
            for (name, value) in decode_rest(doc.get_text("h").unwrap_or("[]"))? {
                set_field(&mut hash, &name, value);
            }
        }
        Ok(found.then_some(Stored { hash, in_rest, ttl }))
    }

    /// Whether any hash has fields outside every index's collection (search replies
    /// then look each hit up there).
    pub fn has_rest(&self) -> bool {
        self.rest_used.load(Ordering::Relaxed)
    }

    /// The fields of `key` kept in `_rest`.
    pub fn rest_fields(&self, key: &str) -> Option<Hash> {
        let doc = self.rest.get(key).ok()??;
        decode_rest(doc.get_text("h")?).ok()
    }

    /// Whatever value is under `key`.
    pub fn value(&self, key: &str) -> Result<Option<KeyValue>, Failure> {
        Ok(match self.kind(key)? {
            None => None,
            Some(KeyKind::Hash) => self.get(key)?.map(KeyValue::Hash),
            Some(KeyKind::Json) => self.json_get(key)?.map(KeyValue::Json),
            Some(KeyKind::List) => Some(KeyValue::List(self.list_range(key, 0, -1)?)),
        })
    }

    /// The hash under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Hash>, Failure> {
        Ok(self.load(key, &self.watchers(key))?.map(|s| s.hash))
    }

    /// Merges fields into hashes (`HSET`), one entry per command, all or nothing:
    /// returns, per entry, how many fields were new. Documents going to the same
    /// collection are written with one `upsert_many`.
    pub fn hset_many(&self, entries: &[(String, Hash)]) -> Result<Vec<i64>, Failure> {
        let _guard = self.writes.lock();
        let mut states: HashMap<&str, Option<Stored>> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        let mut added = Vec::with_capacity(entries.len());
        for (key, fields) in entries {
            if !states.contains_key(key.as_str()) {
                let watchers = self.watchers(key);
                states.insert(key, self.load(key, &watchers)?);
                order.push(key);
            }
            let state = states.get_mut(key.as_str()).expect("just inserted");
            let stored = state.get_or_insert_with(|| Stored {
                hash: Vec::new(),
                in_rest: false,
                ttl: None,
            });
            let mut new = 0;
            for (name, value) in fields {
                if set_field(&mut stored.hash, name, value.clone()) {
                    new += 1;
                }
            }
            added.push(new);
        }
        let items: Vec<(&str, &Stored)> = order
            .iter()
            .map(|k| (*k, states[k].as_ref().expect("every entry set fields")))
            .collect();
        self.save(&items, None)?;
        Ok(added)
    }

    /// Writes whole hashes under the current watchers (or `watchers_of` for a change
    /// of indexes). Everything is converted before anything is written, so a value an
    /// index cannot take changes nothing.
    fn save(
        &self,
        items: &[(&str, &Stored)],
        watchers_of: Option<WatchersOf<'_>>,
    ) -> Result<(), Failure> {
        let mut per_collection: Vec<(Collection, Vec<(String, Doc)>)> = Vec::new();
        let mut rest_docs = Vec::new();
        let mut rest_deletes = Vec::new();
        let mut expiries = Vec::new();
        for (key, stored) in items {
            let watchers = match watchers_of {
                Some(f) => f(key),
                None => self.watchers(key),
            };
            let mut exact = vec![false; stored.hash.len()];
            for index in &watchers {
                let mut doc = Doc::new();
                for (i, (name, value)) in stored.hash.iter().enumerate() {
                    let Ok(name) = std::str::from_utf8(name) else {
                        continue;
                    };
                    let Some((attribute, kind)) = index.attribute_of(name) else {
                        continue;
                    };
                    let converted = convert(key, name, kind, value)?;
                    exact[i] |= value_bytes(&converted) == *value;
                    doc = doc.with(attribute, converted);
                }
                match per_collection
                    .iter_mut()
                    .find(|(c, _)| c.name() == index.collection.name())
                {
                    Some((_, docs)) => docs.push((key.to_string(), doc)),
                    None => per_collection
                        .push((index.collection.clone(), vec![(key.to_string(), doc)])),
                }
            }
            let rest: Hash = stored
                .hash
                .iter()
                .zip(&exact)
                .filter(|(_, exact)| !**exact)
                .map(|(field, _)| field.clone())
                .collect();
            if !rest.is_empty() || watchers.is_empty() {
                rest_docs.push((key.to_string(), Doc::new().text("h", encode_rest(&rest))));
            } else if stored.in_rest {
                rest_deletes.push(key.to_string());
            }
            if let Some(ttl) = stored.ttl {
                expiries.push((key.to_string(), ttl));
            }
        }
        for (collection, docs) in per_collection {
            collection.upsert_many(docs).map_err(fail)?;
        }
        if !rest_docs.is_empty() {
            self.rest_used.store(true, Ordering::Relaxed);
            self.rest.upsert_many(rest_docs).map_err(fail)?;
        }
        for key in rest_deletes {
            self.rest.delete(&key).map_err(fail)?;
        }
        // An upsert replaces a document and its TTL, as DEL + HSET would; HSET in
        // Redis keeps the key's TTL, so it is put back.
        for (key, ttl) in expiries {
            for holder in self.holders(&key) {
                holder.expire(&key, ttl).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Removes fields (`HDEL`); returns how many there were. A hash left empty is
    /// deleted, as in Redis.
    pub fn hdel(&self, key: &str, fields: &[Vec<u8>]) -> Result<i64, Failure> {
        let _guard = self.writes.lock();
        let Some(mut stored) = self.load(key, &self.watchers(key))? else {
            return Ok(0);
        };
        let before = stored.hash.len();
        stored.hash.retain(|(name, _)| !fields.contains(name));
        let removed = (before - stored.hash.len()) as i64;
        if removed == 0 {
            return Ok(0);
        }
        if stored.hash.is_empty() {
            self.delete_locked(key)?;
        } else {
            self.save(&[(key, &stored)], None)?;
        }
        Ok(removed)
    }

    /// Deletes a key (`DEL`); returns whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool, Failure> {
        let _guard = self.writes.lock();
        self.delete_locked(key)
    }

    fn delete_locked(&self, key: &str) -> Result<bool, Failure> {
        let mut existed = false;
        for holder in self.holders(key) {
            existed |= holder.delete(key).map_err(fail)?;
        }
        Ok(existed)
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, Failure> {
        for holder in self.holders(key) {
            if holder.get(key).map_err(fail)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The key's TTL: `None` if the key is missing, `Some(None)` if it never expires.
    pub fn ttl(&self, key: &str) -> Result<Option<Option<Duration>>, Failure> {
        for holder in self.holders(key) {
            match holder.ttl(key).map_err(fail)? {
                KeyTtl::Missing => continue,
                KeyTtl::Persistent => return Ok(Some(None)),
                KeyTtl::ExpiresIn(left) => return Ok(Some(Some(left))),
            }
        }
        Ok(None)
    }

    /// Sets (`Some`) or removes (`None`) the key's TTL on every part of it; returns
    /// whether the key existed. A TTL of zero deletes the key, as in Redis.
    pub fn set_ttl(&self, key: &str, ttl: Option<Duration>) -> Result<bool, Failure> {
        let _guard = self.writes.lock();
        if ttl == Some(Duration::ZERO) {
            return self.delete_locked(key);
        }
        let mut changed = false;
        for holder in self.holders(key) {
            changed |= match ttl {
                Some(ttl) => holder.expire(key, ttl).map_err(fail)?,
                None => holder.persist(key).map_err(fail)?,
            };
        }
        Ok(changed)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Result<Vec<String>, Failure> {
        let mut keys = BTreeSet::new();
        for index in self.indexes() {
            keys.extend(collection_keys(&index.collection)?);
        }
        keys.extend(collection_keys(&self.rest)?);
        Ok(keys.into_iter().collect())
    }

    /// `FT.CREATE`: records the definition, makes the collection, and (unless
    /// `SKIPINITIALSCAN`) indexes the hashes already under its prefixes.
    pub fn create_index(&self, name: &str, args: &[String]) -> Result<(), Failure> {
        let def = ftcreate::parse(args)?;
        let schema = def.schema()?;
        let _guard = self.writes.lock();
        if self.index(name).is_some() {
            return Err("Index already exists".to_string());
        }
        let collection_name = self.free_collection_name(name);
        let seq = self.indexes.read().len() as f64;
        let entry = json!({"collection": collection_name, "args": args});
        self.meta
            .upsert(
                name,
                Doc::new()
                    .text("def", entry.to_string())
                    .numeric("seq", seq),
            )
            .map_err(fail)?;
        let collection = match self.db.create_collection(&collection_name, schema) {
            Ok(c) => c,
            Err(e) => {
                let _ = self.meta.delete(name);
                return Err(fail(e));
            }
        };
        let index = Arc::new(Index {
            name: name.to_string(),
            collection,
            def: Some(def.clone()),
        });
        let old: Vec<Arc<Index>> = self.indexes();
        if !def.skip_initial_scan {
            let kind = if def.on_json {
                KeyKind::Json
            } else {
                KeyKind::Hash
            };
            let mut keys = Vec::new();
            for key in self.keys_locked()? {
                if def.watches(&key) && self.kind(&key)? == Some(kind) {
                    keys.push(key);
                }
            }
            let new = |key: &str| {
                let mut w = old
                    .iter()
                    .filter(|i| i.takes(key, kind))
                    .cloned()
                    .collect::<Vec<_>>();
                w.push(index.clone());
                w
            };
            let written = if def.on_json {
                self.rewrite_json(&keys, &old, &new)
            } else {
                self.rewrite(&keys, &old, &new)
            };
            if let Err(e) = written {
                // Nothing points at the new collection yet: take it and its entry away.
                let _ = self.db.drop_collection(index.collection.name());
                let _ = self.meta.delete(name);
                return Err(e);
            }
        }
        self.indexes.write().push(index);
        Ok(())
    }

    fn keys_locked(&self) -> Result<Vec<String>, Failure> {
        self.keys()
    }

    /// Re-stores `keys`, read under `old` indexes, under the watchers `new` gives.
    fn rewrite(
        &self,
        keys: &[String],
        old: &[Arc<Index>],
        new: &dyn Fn(&str) -> Vec<Arc<Index>>,
    ) -> Result<(), Failure> {
        for chunk in keys.chunks(1000) {
            let mut loaded = Vec::new();
            for key in chunk {
                let watchers: Vec<Arc<Index>> = old
                    .iter()
                    .filter(|i| i.takes(key, KeyKind::Hash))
                    .cloned()
                    .collect();
                if let Some(stored) = self.load(key, &watchers)? {
                    loaded.push((key.as_str(), stored));
                }
            }
            let items: Vec<(&str, &Stored)> = loaded.iter().map(|(k, s)| (*k, s)).collect();
            self.save(&items, Some(new))?;
        }
        Ok(())
    }

    /// `FT.DROPINDEX`: with `delete_documents` the index's hashes go too (`DD`);
    /// otherwise they stay, their fields moved to other indexes or `_rest`.
    pub fn drop_index(&self, name: &str, delete_documents: bool) -> Result<(), Failure> {
        let _guard = self.writes.lock();
        let Some(index) = self.index(name) else {
            return Err("Unknown Index name".to_string());
        };
        let Some(def) = &index.def else {
            if !delete_documents {
                return Err(format!(
                    "collection `{name}` was not made by FT.CREATE and its documents live only in it; drop it with FT.DROPINDEX {name} DD"
                ));
            }
            return self.db.drop_collection(name).map_err(fail);
        };
        let keys = collection_keys(&index.collection)?;
        let old = self.indexes();
        if delete_documents {
            for key in &keys {
                self.delete_locked(key)?;
            }
        } else {
            let remaining: Vec<Arc<Index>> =
                old.iter().filter(|i| i.name != name).cloned().collect();
            let keys: Vec<String> = keys.into_iter().filter(|k| def.watches(k)).collect();
            let kind = if def.on_json {
                KeyKind::Json
            } else {
                KeyKind::Hash
            };
            let new = |key: &str| {
                remaining
                    .iter()
                    .filter(|i| i.takes(key, kind))
                    .cloned()
                    .collect()
            };
            if def.on_json {
                self.rewrite_json(&keys, &old, &new)?;
            } else {
                self.rewrite(&keys, &old, &new)?;
            }
        }
        self.meta.delete(name).map_err(fail)?;
        self.db
            .drop_collection(index.collection.name())
            .map_err(fail)?;
        self.indexes.write().retain(|i| i.name != name);
        Ok(())
    }

    fn free_collection_name(&self, index: &str) -> String {
        let mut base: String = index
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        if base.is_empty() || base.starts_with('-') {
            base.insert(0, 'i');
        }
        let taken = self.db.list_collections();
        let mut candidate = base.clone();
        let mut n = 2;
        while is_internal(&candidate) || taken.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        candidate
    }
}

fn open_or_create(
    db: &Database,
    name: &str,
    schema: strata::Result<Schema>,
) -> Result<Collection, Failure> {
    match db.collection(name) {
        Ok(c) => Ok(c),
        Err(strata::Error::CollectionNotFound { .. }) => db
            .create_collection(name, schema.map_err(fail)?)
            .map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

fn ttl_of(collection: &Collection, key: &str) -> Result<Option<Duration>, Failure> {
    Ok(match collection.ttl(key).map_err(fail)? {
        KeyTtl::ExpiresIn(left) => Some(left.max(Duration::from_millis(1))),
        _ => None,
    })
}

/// Largest page when listing a collection's keys; the query layer bounds LIMIT.
const KEY_PAGE: usize = 10_000;

/// Every live key of a collection, paging through a match-all query.
pub fn collection_keys(collection: &Collection) -> Result<Vec<String>, Failure> {
    let mut keys = Vec::new();
    let mut offset = 0;
    loop {
        let page = collection
            .query("*")
            .args([
                "NOCONTENT",
                "LIMIT",
                &offset.to_string(),
                &KEY_PAGE.to_string(),
            ])
            .run_with_total()
            .map_err(fail)?;
        let n = page.hits.len();
        keys.extend(page.hits.into_iter().map(|h| h.key));
        if n < KEY_PAGE {
            return Ok(keys);
        }
        offset += n;
    }
}

/// Sets a field, keeping the position of an existing one; true when it is new.
fn set_field(hash: &mut Hash, name: &[u8], value: Vec<u8>) -> bool {
    match hash.iter_mut().find(|(n, _)| n == name) {
        Some((_, old)) => {
            *old = value;
            false
        }
        None => {
            hash.push((name.to_vec(), value));
            true
        }
    }
}
