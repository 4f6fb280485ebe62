//! The collection methods of JSON documents.

use std::path::PathBuf;

use serde_json::Value as Json;

use super::mapping::Mapping;
use crate::collection::{write, Collection};
use crate::model::codec::Op;
use crate::model::doc::{Doc, Value};
use crate::model::error::{Error, Result};
use crate::model::json_path::JsonPath;
use crate::model::json_schema::{parse_path, JSON_DOCUMENT_FIELD};
use crate::read::execute::Explain;
use crate::read::search::{Search, SearchResults};
use crate::write::store::now_ms;
use crate::write::tables::Tables;

impl Collection {
    fn mapping(&self) -> Result<Mapping> {
        Mapping::of(self.schema()).ok_or_else(|| Error::InvalidArgument {
            reason: format!(
                "collection `{}` holds plain documents (its schema has no JSONPaths); write \
                 them with upsert, or create a collection with json_tag, json_numeric, \
                 json_text or json_vector fields for JSON documents",
                self.name()
            ),
        })
    }

    /// Stores the JSON document `doc` under `key`, replacing any document there
    /// (RedisJSON's `JSON.SET key $ doc`). Each schema field takes its value from its
    /// JSONPath; a path that is missing or null leaves the field out, as RediSearch
    /// indexes such a document without it.
    ///
    /// ```
    /// use serde_json::json;
    /// use strata::{Database, Metric, Schema, VectorIndex};
    /// # fn main() -> strata::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = Database::open(dir.path().join("app.strata"))?;
    /// let products = db.create_collection("products", Schema::builder()
    ///     .json_tag("$.metadata.category", "category")
    ///     .json_tag("$.tags[*]", "tags")
    ///     .json_numeric("$.price", "price")
    ///     .json_vector("$.embedding", "embedding", 2, Metric::Cosine, VectorIndex::flat())
    ///     .build()?)?;
    /// let doc = json!({"name": "shoes", "metadata": {"category": "fashion"},
    ///                  "tags": ["red", "sport"], "price": 30, "embedding": [0.5, 1]});
    /// products.upsert_json("p:1", doc.clone())?;
    /// assert_eq!(products.get_json("p:1")?, Some(doc));
    /// let hits = products.query("@tags:{sport}").args(["RETURN", "1", "$.name"]).run()?;
    /// assert_eq!(hits[0].doc.get_json("$.name"), Some(json!("shoes")));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::JsonType`] naming the field and its path when a value has a type the
    /// field cannot index (a string for a NUMERIC field, a number for a TAG field, a
    /// vector with a non-number); RediSearch would leave the document out of the index,
    /// Strata refuses the write and changes nothing. [`Error::DimensionMismatch`] and
    /// the other errors of [`Collection::upsert`] for the values found.
    pub fn upsert_json(&self, key: impl Into<String>, doc: Json) -> Result<()> {
        let key = key.into();
        let row = self.mapping()?.to_doc(&doc)?;
        let record = self.validate_fields(&key, row, None)?;
        self.write_upsert(vec![(key, record)])
    }

    /// The JSON document stored under `key` (RedisJSON's `JSON.GET key`), or `None`.
    /// Vector components come back as the `f32`s stored, each as the shortest number
    /// that reads back as it.
    pub fn get_json(&self, key: &str) -> Result<Option<Json>> {
        self.check_not_dropped()?;
        let mapping = self.mapping()?;
        let tables = self.state.snapshot();
        let Some(doc) = tables.get(key, self.schema(), now_ms())? else {
            return Ok(None);
        };
        self.whole_document(&mapping, key, &doc).map(Some)
    }

    /// Sets the value at `path` in the document under `key`, as RedisJSON's
    /// `JSON.SET key path value`: a path to one location adds or replaces that member
    /// of an existing object (or replaces an array element); a path with `*` or `..`
    /// replaces each location it matches. The document is re-read, changed and stored
    /// as one write under the write lock, so concurrent `set_json` calls on a key
    /// never lose each other's changes; its TTL is kept. A change that leaves the
    /// vectors as they were, of a document written since the last flush, keeps the
    /// document's HNSW graph node rather than inserting it again (the other fields'
    /// postings are rewritten, a few inserts). Returns false, writing
    /// nothing, when the path matches nothing (its parent does not exist), as
    /// `JSON.SET` replies nil.
    ///
    /// # Errors
    /// [`Error::InvalidJsonPath`] for a path that does not parse;
    /// [`Error::InvalidArgument`] for a key without a document and a path other than
    /// `$` (documents are created at the root), or an array index out of range; the
    /// errors of [`Collection::upsert_json`] when the changed document does not fit the
    /// schema. On any error nothing changes.
    pub fn set_json(&self, key: &str, path: &str, value: Json) -> Result<bool> {
        let parsed = parse_path(path)?;
        let mapping = self.mapping()?;
        write(self.shared(), |catalog| {
            catalog.check_live(&self.state)?;
            let tables = self.state.tables.lock();
            let now = now_ms();
            let (mut doc, deadline) = match tables.locate_live(key, now)? {
                None if parsed.is_root() => (Json::Null, None),
                None => {
                    return Err(Error::InvalidArgument {
                        reason: format!(
                            "key `{key}` holds no document; a new document is set at the \
                             root path `$` (or with upsert_json)"
                        ),
                    })
                }
                Some(location) => {
                    let Some(row) = tables.get(key, self.schema(), now)? else {
                        return Ok(None);
                    };
                    let doc = self.whole_document(&mapping, key, &row)?;
                    (doc, tables.deadline(location))
                }
            };
            let set = parsed
                .set(&mut doc, &value)
                .map_err(|reason| Error::InvalidArgument {
                    reason: format!("cannot set `{path}` in `{key}`: {reason}"),
                })?;
            if set == 0 {
                return Ok(None);
            }
            let record = self.validate_fields(key, mapping.to_doc(&doc)?, deadline)?;
            // Locate the key as an upsert does, so a damaged segment fails the write
            // before anything is logged.
            tables.locate(key)?;
            Ok(Some(Op::Upsert {
                collection: self.state.id,
                docs: vec![(key.to_string(), record)],
            }))
        })
    }

    /// The indexed fields of a stored row and `$` as the whole document.
    pub(crate) fn with_whole_json(&self, key: &str, doc: Doc) -> Result<Doc> {
        let mapping = self.mapping()?;
        let whole = self.whole_document(&mapping, key, &doc)?;
        let mut out = Doc::new();
        for (name, value) in doc.fields() {
            let value = if name == JSON_DOCUMENT_FIELD {
                Value::Json(whole.to_string())
            } else {
                value.clone()
            };
            out = out.with(name, value);
        }
        Ok(out)
    }

    /// The document of a row read with every field: `$` with its vectors put back.
    fn whole_document(&self, mapping: &Mapping, key: &str, row: &Doc) -> Result<Json> {
        let corrupt = |reason: String| Error::Corrupt {
            file: PathBuf::from(format!("collection `{}`", self.name())),
            offset: 0,
            reason: format!("the stored JSON document of key `{key}`: {reason}"),
        };
        let Some(Value::Json(body)) = row.get(JSON_DOCUMENT_FIELD) else {
            return Err(corrupt("it has no `$` field".to_string()));
        };
        let fields = self.schema().fields();
        mapping
            .materialise(body, |position| row.get_vector(&fields[position].name))
            .map_err(corrupt)
    }

    /// A search over JSON documents: `RETURN $.path` expressions are evaluated on each
    /// hit's document, `RETURN $` (and a search without `RETURN`) gives the whole
    /// document, as RediSearch does.
    pub(crate) fn run_json(
        &self,
        request: &Search,
        explain: bool,
    ) -> Result<(SearchResults, Explain)> {
        let mapping = self.mapping()?;
        let options = &request.query.options;
        let tables = self.state.snapshot();
        let now = now_ms();
        if options.no_content {
            return self.run_on(&tables, now, request, explain);
        }
        let dialect_3 = options.dialect.is_some_and(|d| d >= 3);
        // Each RETURN entry in order: its output name, and its path if it is a `$.path`
        // expression (evaluated here) rather than a field (answered by the engine).
        let mut returns: Option<Vec<(String, Option<JsonPath>)>> = None;
        // Only `$` and path expressions read the whole document (a second lookup per
        // hit, in the same version); a RETURN of aliases alone is answered as it comes.
        let mut needs_document = options.return_fields.is_none();
        let mut plain = request.clone();
        if let Some(fields) = &options.return_fields {
            let mut kept = Vec::new();
            let mut entries = Vec::new();
            for field in fields {
                let name = field.alias.clone().unwrap_or_else(|| field.name.clone());
                needs_document |= field.name.starts_with('$');
                if field.name.starts_with('$') && field.name != JSON_DOCUMENT_FIELD {
                    entries.push((name, Some(parse_path(&field.name)?)));
                } else {
                    entries.push((name, None));
                    kept.push(field.clone());
                }
            }
            if kept.is_empty() {
                // Only paths: the engine returns `$`, which the paths are read from.
                kept.push(strata_query::ReturnField {
                    name: JSON_DOCUMENT_FIELD.to_string(),
                    alias: None,
                });
            }
            plain.query.options.return_fields = Some(kept);
            returns = Some(entries);
        }
        let (mut results, explain) = self.run_on(&tables, now, &plain, explain)?;
        for hit in &mut results.hits {
            let whole = if needs_document {
                self.hit_document(&mapping, &tables, now, &hit.key)?
            } else {
                None
            };
            hit.doc = match &returns {
                None => {
                    // As RediSearch: the document and the score fields.
                    let mut doc = Doc::new();
                    for (name, value) in hit.doc.fields() {
                        if name == JSON_DOCUMENT_FIELD {
                            if let Some(whole) = &whole {
                                doc = doc.with(name, Value::Json(whole.to_string()));
                            }
                        } else if self.schema().field(name).is_none() {
                            doc = doc.with(name, value.clone());
                        }
                    }
                    doc
                }
                Some(entries) => {
                    let mut doc = Doc::new();
                    for (name, path) in entries {
                        let value = match (path, &whole) {
                            (Some(path), Some(whole)) => path_value(path, whole, dialect_3),
                            (Some(_), None) => None,
                            (None, _) => match hit.doc.get(name) {
                                Some(Value::Json(_)) if whole.is_some() => {
                                    whole.as_ref().map(|w| Value::Json(w.to_string()))
                                }
                                other => other.cloned(),
                            },
                        };
                        if let Some(value) = value {
                            doc = doc.with(name, value);
                        }
                    }
                    doc
                }
            };
        }
        Ok((results, explain))
    }

    /// The whole document of a hit, read from the version the search ran on at the
    /// time it ran, so the row the search found is the row read.
    fn hit_document(
        &self,
        mapping: &Mapping,
        tables: &Tables,
        now: u64,
        key: &str,
    ) -> Result<Option<Json>> {
        match tables.get(key, self.schema(), now)? {
            Some(row) => self.whole_document(mapping, key, &row).map(Some),
            None => Ok(None),
        }
    }
}

/// A `RETURN $.path` value, as JSON text: under DIALECT 2 the first match, under
/// DIALECT 3 every match as an array, as RediSearch replies them (it sends a string
/// match bare, where this gives it quoted, as JSON). `None` when nothing matches, as
/// RediSearch leaves it out.
fn path_value(path: &JsonPath, doc: &Json, dialect_3: bool) -> Option<Value> {
    let matches = path.select(doc);
    if dialect_3 {
        let all: Vec<Json> = matches.into_iter().cloned().collect();
        return (!all.is_empty()).then(|| Value::Json(Json::Array(all).to_string()));
    }
    matches.first().map(|first| Value::Json(first.to_string()))
}
