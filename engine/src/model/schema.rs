//! Collection schemas, as RediSearch's `FT.CREATE ... SCHEMA` declares them.

use crate::model::error::{Error, Result};
pub use crate::model::field_options::{TagOptions, TextLanguage, TextOptions};
/// How distances are measured, as Redis's `DISTANCE_METRIC`.
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, Search, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder()
///     .vector("v", 2, Metric::L2, VectorIndex::flat()).build()?)?;
/// items.upsert("a", Doc::new().vector("v", vec![3.0, 4.0]))?;
/// // L2 is the squared Euclidean distance, as in Redis.
/// assert_eq!(items.search(&Search::knn("v", &[0.0, 0.0], 1))?[0].distance, 25.0);
/// # Ok::<(), strata::Error>(())
/// ```
pub use strata_index::Metric;

/// Largest vector dimension a field may declare (as RediSearch's limit).
///
/// ```
/// use strata::{Error, Metric, Schema, VectorIndex, MAX_DIMENSION};
/// let too_wide = Schema::builder().vector("v", MAX_DIMENSION + 1, Metric::L2, VectorIndex::flat()).build();
/// assert!(matches!(too_wide, Err(Error::InvalidSchema { .. })));
/// ```
pub const MAX_DIMENSION: usize = 32_768;
/// Most fields a schema may declare.
pub const MAX_FIELDS: usize = 1_024;
/// Longest field or collection name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Fewest rows with a vector a segment needs for its IVF-PQ index to be trained;
/// smaller segments are searched exactly. At 4,096 rows each of the 256 codewords of
/// a sub-quantiser gets 16 training rows (fewer, and k-means fits the sample rather
/// than the data), while an exact scan of 4,096 rows costs only a few times the fixed
/// work of an IVF-PQ query (`(256 + NLIST) * dim` for its table and list ranking),
/// and gives the exact answer.
///
/// ```
/// use strata::IVF_PQ_MIN_ROWS;
/// // Segments smaller than this are searched exactly, even on an IVF_PQ field.
/// assert_eq!(IVF_PQ_MIN_ROWS, 4_096);
/// ```
pub const IVF_PQ_MIN_ROWS: usize = 4_096;

/// The index that serves a vector field.
///
/// ```
/// use strata::VectorIndex;
/// assert_eq!(VectorIndex::hnsw(16, 200), VectorIndex::Hnsw { m: 16, ef_construction: 200 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorIndex {
    /// Exact search over every vector.
    Flat,
    /// Hierarchical navigable small-world graph, with Redis's `M` and `EF_CONSTRUCTION`.
    Hnsw { m: usize, ef_construction: usize },
    /// Inverted file with product quantisation: `NLIST` coarse lists (`lists`) and
    /// `M` one-byte codes per vector (`subquantizers`, dividing the dimension).
    IvfPq { lists: usize, subquantizers: usize },
}

impl VectorIndex {
    /// Exact search (RediSearch `FLAT`).
    ///
    /// ```
    /// use strata::VectorIndex;
    /// assert_eq!(VectorIndex::flat(), VectorIndex::Flat);
    /// ```
    pub fn flat() -> VectorIndex {
        VectorIndex::Flat
    }

    /// HNSW with `M` and `EF_CONSTRUCTION` (Redis defaults: 16 and 200).
    ///
    /// ```
    /// use strata::{Metric, Schema, VectorIndex};
    /// let schema = Schema::builder().vector("v", 384, Metric::Cosine, VectorIndex::hnsw(16, 200)).build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn hnsw(m: usize, ef_construction: usize) -> VectorIndex {
        VectorIndex::Hnsw { m, ef_construction }
    }

    /// IVF-PQ (`ALGORITHM IVF_PQ`) with `NLIST` coarse lists and `M` sub-quantisers
    /// (8-bit codes, so `M` bytes per vector; `M` must divide the dimension).
    /// Segments of at least [`crate::IVF_PQ_MIN_ROWS`] rows are trained at flush or
    /// merge; smaller ones, and the memtable, are searched exactly.
    ///
    /// ```
    /// use strata::{Metric, Schema, VectorIndex};
    /// // 384 dimensions in 48 sub-quantisers of 8: 48 bytes per vector.
    /// let schema = Schema::builder().vector("v", 384, Metric::L2, VectorIndex::ivf_pq(256, 48)).build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn ivf_pq(lists: usize, subquantizers: usize) -> VectorIndex {
        VectorIndex::IvfPq {
            lists,
            subquantizers,
        }
    }

    fn check_supported(self, dim: usize) -> Result<()> {
        use strata_index::hnsw::HnswParams;
        use strata_index::ivfpq::{IvfPqError, IvfPqParams};
        match self {
            VectorIndex::Flat => Ok(()),
            VectorIndex::Hnsw { m, ef_construction } => {
                if !(2..=HnswParams::MAX_M).contains(&m) {
                    return Err(Error::InvalidSchema {
                        reason: format!("HNSW M is {m}; it must be 2..={}", HnswParams::MAX_M),
                    });
                }
                if !(1..=HnswParams::MAX_EF_CONSTRUCTION).contains(&ef_construction) {
                    return Err(Error::InvalidSchema {
                        reason: format!(
                            "HNSW EF_CONSTRUCTION is {ef_construction}; it must be 1..={}",
                            HnswParams::MAX_EF_CONSTRUCTION
                        ),
                    });
                }
                Ok(())
            }
            VectorIndex::IvfPq {
                lists,
                subquantizers,
            } => IvfPqParams::new(lists, subquantizers)
                .validate(dim)
                .map_err(|e| Error::InvalidSchema {
                    reason: match e {
                        IvfPqError::InvalidParams(why) => format!(
                            "IVF_PQ {why} (NLIST is the number of coarse lists, M the bytes \
                             per code)"
                        ),
                        other => other.to_string(),
                    },
                }),
        }
    }
}

/// A VECTOR field: FLOAT32 components, a dimension, a metric and an index.
///
/// ```
/// use strata::{FieldKind, Metric, Schema, VectorIndex};
/// let schema = Schema::builder().vector("v", 3, Metric::InnerProduct, VectorIndex::flat()).build()?;
/// let FieldKind::Vector(options) = schema.fields()[0].kind else { unreachable!() };
/// assert_eq!((options.dim, options.metric), (3, Metric::InnerProduct));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorOptions {
    pub dim: usize,
    pub metric: Metric,
    pub index: VectorIndex,
}

/// What a field holds.
///
/// ```
/// use strata::{FieldKind, Schema};
/// let schema = Schema::builder().field("price", FieldKind::Numeric).build()?;
/// assert_eq!(schema.fields()[0].kind, FieldKind::Numeric);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, analysed and indexed for full-text search.
    Text(TextOptions),
    /// One or more tags, split on a separator.
    Tag(TagOptions),
    /// A 64-bit float.
    Numeric,
    /// A FLOAT32 vector.
    Vector(VectorOptions),
    /// The JSON document itself: the field `$` that a schema of JSONPath fields ends
    /// with (added by [`SchemaBuilder::build`]), stored and returned, never indexed.
    Json,
}

impl FieldKind {
    /// The RediSearch name of the kind, for messages.
    ///
    /// ```
    /// use strata::FieldKind;
    /// assert_eq!(FieldKind::Numeric.name(), "NUMERIC");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text(_) => "TEXT",
            FieldKind::Tag(_) => "TAG",
            FieldKind::Numeric => "NUMERIC",
            FieldKind::Vector(_) => "VECTOR",
            FieldKind::Json => "JSON",
        }
    }
}

/// One declared field.
///
/// ```
/// use strata::{FieldKind, Schema, TextOptions};
/// let schema = Schema::builder().text("title").build()?;
/// assert_eq!((schema.fields()[0].name.as_str(), schema.fields()[0].kind), ("title", FieldKind::Text(TextOptions::default())));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The name queries use (for a JSON field, its `AS` alias).
    pub name: String,
    pub kind: FieldKind,
    /// For a field of a JSON document, the JSONPath its value comes from
    /// (`$.metadata.category`); `None` for the fields of a plain document.
    pub path: Option<String>,
}

/// The fields of a collection. Built with [`Schema::builder`]; immutable afterwards.
///
/// ```
/// use strata::{Metric, Schema, VectorIndex};
/// // FT.CREATE idx SCHEMA title TEXT kind TAG price NUMERIC v VECTOR HNSW 6 TYPE FLOAT32 DIM 3 DISTANCE_METRIC COSINE
/// let schema = Schema::builder()
///     .text("title")
///     .tag("kind")
///     .numeric("price")
///     .vector("v", 3, Metric::Cosine, VectorIndex::hnsw(16, 200))
///     .build()?;
/// assert_eq!(schema.fields().len(), 4);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    fields: Vec<Field>,
}

impl Schema {
    /// Starts a schema.
    ///
    /// ```
    /// use strata::Schema;
    /// let schema = Schema::builder().text("body").build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder { fields: Vec::new() }
    }

    /// The fields, in declaration order.
    ///
    /// ```
    /// use strata::Schema;
    /// let schema = Schema::builder().text("a").numeric("b").build()?;
    /// assert_eq!(schema.fields().iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Position and declaration of the field called `name`.
    ///
    /// ```
    /// use strata::{FieldKind, Schema};
    /// let schema = Schema::builder().text("a").numeric("b").build()?;
    /// assert_eq!(schema.field("b").map(|(position, f)| (position, f.kind)), Some((1, FieldKind::Numeric)));
    /// assert!(schema.field("c").is_none());
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
    }

    /// Whether documents are JSON (`FT.CREATE ... ON JSON`): the fields come from
    /// JSONPaths and the last field, `$`, holds the document.
    pub fn is_json(&self) -> bool {
        self.fields
            .last()
            .is_some_and(|field| field.kind == FieldKind::Json)
    }

    /// Validates a schema decoded from disk or assembled by the builder.
    pub(crate) fn from_fields(fields: Vec<Field>) -> Result<Schema> {
        if fields.is_empty() {
            return Err(Error::InvalidSchema {
                reason: "a schema needs at least one field".to_string(),
            });
        }
        if fields.len() > MAX_FIELDS {
            return Err(Error::InvalidSchema {
                reason: format!("{} fields, over the limit of {MAX_FIELDS}", fields.len()),
            });
        }
        crate::model::json_schema::check_schema(&fields)?;
        for (index, field) in fields.iter().enumerate() {
            if field.kind != FieldKind::Json {
                validate_name("field", &field.name)?;
            }
            if fields[..index]
                .iter()
                .any(|earlier| earlier.name == field.name)
            {
                return Err(Error::DuplicateField {
                    field: field.name.clone(),
                });
            }
            match field.kind {
                FieldKind::Vector(vector) => {
                    if vector.dim == 0 || vector.dim > MAX_DIMENSION {
                        return Err(Error::InvalidSchema {
                            reason: format!(
                                "vector field `{}` has dimension {}; it must be 1..={MAX_DIMENSION}",
                                field.name, vector.dim
                            ),
                        });
                    }
                    vector.index.check_supported(vector.dim)?;
                }
                FieldKind::Tag(tag) => {
                    let json_default = field.path.is_some()
                        && tag.separator == crate::model::json_schema::JSON_TAG_SEPARATOR;
                    if !json_default
                        && (tag.separator.is_whitespace()
                            || tag.separator.is_control()
                            || tag.separator.len_utf8() != 1)
                    {
                        return Err(Error::InvalidSchema {
                            reason: format!(
                                "tag field `{}` has separator {:?}; use a printable ASCII character",
                                field.name, tag.separator
                            ),
                        });
                    }
                }
                FieldKind::Text(text) => {
                    if !(text.weight.is_finite() && text.weight > 0.0) {
                        return Err(Error::InvalidSchema {
                            reason: format!(
                                "text field `{}` has WEIGHT {}; use a finite number above 0",
                                field.name, text.weight
                            ),
                        });
                    }
                }
                FieldKind::Numeric | FieldKind::Json => {}
            }
        }
        Ok(Schema { fields })
    }
}

/// Declares the fields of a schema, in order, then [`SchemaBuilder::build`] checks them.
///
/// ```
/// use strata::{Error, Schema};
/// // Duplicate names are refused when the schema is built.
/// assert!(matches!(Schema::builder().text("a").numeric("a").build(), Err(Error::DuplicateField { .. })));
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct SchemaBuilder {
    fields: Vec<Field>,
}

impl SchemaBuilder {
    /// A TEXT field: English stemming, Redis's default stop words, weight 1.
    ///
    /// ```
    /// use strata::{FieldKind, Schema, TextOptions};
    /// let schema = Schema::builder().text("body").build()?;
    /// assert_eq!(schema.fields()[0].kind, FieldKind::Text(TextOptions::default()));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn text(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Text(TextOptions::default()))
    }

    /// A TEXT field with its own options (`NOSTEM`, `WEIGHT`, `LANGUAGE`).
    pub fn text_with(self, name: &str, options: TextOptions) -> SchemaBuilder {
        self.field(name, FieldKind::Text(options))
    }

    /// A TAG field with separator `,`, case-insensitive.
    ///
    /// ```
    /// use strata::{FieldKind, Schema, TagOptions};
    /// assert_eq!(Schema::builder().tag("kind").build()?.fields()[0].kind, FieldKind::Tag(TagOptions::default()));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn tag(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Tag(TagOptions::default()))
    }

    /// A TAG field with its own separator and case sensitivity.
    ///
    /// ```
    /// use strata::{Schema, TagOptions};
    /// let options = TagOptions { separator: '|', ..TagOptions::default() };
    /// let schema = Schema::builder().tag_with("kind", options).build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn tag_with(self, name: &str, options: TagOptions) -> SchemaBuilder {
        self.field(name, FieldKind::Tag(options))
    }

    /// A NUMERIC field.
    ///
    /// ```
    /// use strata::{FieldKind, Schema};
    /// assert_eq!(Schema::builder().numeric("price").build()?.fields()[0].kind, FieldKind::Numeric);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn numeric(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Numeric)
    }

    /// A FLOAT32 VECTOR field of `dim` components.
    ///
    /// ```
    /// use strata::{Metric, Schema, VectorIndex};
    /// let schema = Schema::builder().vector("embedding", 384, Metric::Cosine, VectorIndex::flat()).build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn vector(
        self,
        name: &str,
        dim: usize,
        metric: Metric,
        index: VectorIndex,
    ) -> SchemaBuilder {
        self.field(
            name,
            FieldKind::Vector(VectorOptions { dim, metric, index }),
        )
    }

    /// A field of any kind.
    ///
    /// ```
    /// use strata::{FieldKind, Schema};
    /// let schema = Schema::builder().field("n", FieldKind::Numeric).build()?;
    /// # let _ = schema;
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn field(mut self, name: &str, kind: FieldKind) -> SchemaBuilder {
        self.fields.push(Field {
            name: name.to_string(),
            kind,
            path: None,
        });
        self
    }

    /// A field of JSON documents: its value comes from `path` and queries call it
    /// `name` (RediSearch's `FT.CREATE ... ON JSON SCHEMA <path> AS <name> <kind>`).
    /// A schema's fields are all JSON fields or none.
    pub fn json_field(mut self, path: &str, name: &str, kind: FieldKind) -> SchemaBuilder {
        self.fields.push(Field {
            name: name.to_string(),
            kind,
            path: Some(path.to_string()),
        });
        self
    }

    /// A TAG field of JSON documents, from a string, a boolean, or an array of them
    /// (`$.tags[*]` or `$.tags`: multi-valued). As in RediSearch, strings are not split
    /// on a separator; case-insensitive.
    pub fn json_tag(self, path: &str, name: &str) -> SchemaBuilder {
        let options = TagOptions {
            separator: crate::model::json_schema::JSON_TAG_SEPARATOR,
            case_sensitive: false,
        };
        self.json_field(path, name, FieldKind::Tag(options))
    }

    /// A NUMERIC field of JSON documents, from a number.
    pub fn json_numeric(self, path: &str, name: &str) -> SchemaBuilder {
        self.json_field(path, name, FieldKind::Numeric)
    }

    /// A TEXT field of JSON documents, from a string or an array of strings.
    pub fn json_text(self, path: &str, name: &str) -> SchemaBuilder {
        self.json_field(path, name, FieldKind::Text(TextOptions::default()))
    }

    /// A FLOAT32 VECTOR field of JSON documents, from an array of numbers at a path
    /// that names one location (no `*` or `..`). The vector is stored once, in the
    /// vector column, and put back into the document when it is read.
    pub fn json_vector(
        self,
        path: &str,
        name: &str,
        dim: usize,
        metric: Metric,
        index: VectorIndex,
    ) -> SchemaBuilder {
        self.json_field(
            path,
            name,
            FieldKind::Vector(VectorOptions { dim, metric, index }),
        )
    }

    /// Checks the declarations: names, duplicates, dimensions, supported indexes,
    /// JSONPaths. A schema of JSON fields gains a last field `$` ([`FieldKind::Json`]),
    /// which holds the document.
    ///
    /// ```
    /// use strata::{Error, Metric, Schema, VectorIndex};
    /// assert!(Schema::builder().text("a").build().is_ok());
    /// let zero = Schema::builder().vector("v", 0, Metric::L2, VectorIndex::flat()).build();
    /// assert!(matches!(zero, Err(Error::InvalidSchema { .. })));
    /// ```
    pub fn build(mut self) -> Result<Schema> {
        if self.fields.iter().any(|field| field.path.is_some()) {
            self.fields.push(Field {
                name: crate::model::json_schema::JSON_DOCUMENT_FIELD.to_string(),
                kind: FieldKind::Json,
                path: None,
            });
        }
        Schema::from_fields(self.fields)
    }
}

/// Checks a collection or field name.
///
/// Names are 1 to 128 bytes of ASCII letters, digits, `_` and `-`, starting with a
/// letter, digit or `_`. A collection name becomes part of file paths, so nothing that
/// could climb out of the database directory (`/`, `\`, `..`, a leading `.`) passes.
pub(crate) fn validate_name(kind: &'static str, name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidName {
            kind,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return invalid("it is longer than 128 bytes");
    }
    if name.starts_with('-') {
        return invalid("it must start with a letter, digit or `_`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return invalid("only ASCII letters, digits, `_` and `-` are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        for name in [
            "",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-flag",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(
                    validate_name("collection", name),
                    Err(Error::InvalidName { .. })
                ),
                "{name:?} accepted"
            );
        }
        for name in ["docs", "my_docs-2", "_x", "9lives"] {
            validate_name("collection", name).unwrap();
        }
    }

    #[test]
    fn bad_schemas_are_refused_with_a_reason() {
        let flat = VectorIndex::flat();
        assert!(matches!(
            Schema::builder().build(),
            Err(Error::InvalidSchema { .. })
        ));
        assert!(matches!(
            Schema::builder().text("a").tag("a").build(),
            Err(Error::DuplicateField { field }) if field == "a"
        ));
        for dim in [0, MAX_DIMENSION + 1] {
            assert!(matches!(
                Schema::builder().vector("v", dim, Metric::L2, flat).build(),
                Err(Error::InvalidSchema { .. })
            ));
        }
        Schema::builder()
            .vector("v", MAX_DIMENSION, Metric::L2, flat)
            .build()
            .unwrap();
        Schema::builder()
            .vector("v", 4, Metric::L2, VectorIndex::hnsw(16, 200))
            .build()
            .unwrap();
        for (m, ef_construction) in [(1, 200), (16, 0)] {
            assert!(matches!(
                Schema::builder()
                    .vector("v", 4, Metric::L2, VectorIndex::hnsw(m, ef_construction))
                    .build(),
                Err(Error::InvalidSchema { .. })
            ));
        }
        Schema::builder()
            .vector("v", 4, Metric::L2, VectorIndex::ivf_pq(16, 4))
            .build()
            .unwrap();
        for (lists, m) in [(0, 4), (16, 0), (16, 7), (1 << 17, 4)] {
            assert!(matches!(
                Schema::builder()
                    .vector("v", 12, Metric::L2, VectorIndex::ivf_pq(lists, m))
                    .build(),
                Err(Error::InvalidSchema { .. })
            ));
        }
        // M = 5 does not divide 12: the message says so.
        let error = Schema::builder()
            .vector("v", 12, Metric::L2, VectorIndex::ivf_pq(16, 5))
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("divide"), "{error}");
        let spaced = TagOptions {
            separator: ' ',
            case_sensitive: false,
        };
        assert!(matches!(
            Schema::builder().tag_with("t", spaced).build(),
            Err(Error::InvalidSchema { .. })
        ));
    }
}
