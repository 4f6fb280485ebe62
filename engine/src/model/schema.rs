//! Collection schemas, as RediSearch's `FT.CREATE ... SCHEMA` declares them.

use crate::model::error::{Error, Result};
pub use strata_index::Metric;

/// Largest vector dimension a field may declare (as RediSearch's limit).
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
pub const IVF_PQ_MIN_ROWS: usize = 4_096;

/// The index that serves a vector field.
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
    pub fn flat() -> VectorIndex {
        VectorIndex::Flat
    }

    /// HNSW with `M` and `EF_CONSTRUCTION` (Redis defaults: 16 and 200).
    pub fn hnsw(m: usize, ef_construction: usize) -> VectorIndex {
        VectorIndex::Hnsw { m, ef_construction }
    }

    /// IVF-PQ (`ALGORITHM IVF_PQ`) with `NLIST` coarse lists and `M` sub-quantisers
    /// (8-bit codes, so `M` bytes per vector; `M` must divide the dimension).
    /// Segments of at least [`crate::IVF_PQ_MIN_ROWS`] rows are trained at flush or
    /// merge; smaller ones, and the memtable, are searched exactly.
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

/// Options of a TAG field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagOptions {
    /// Splits a stored value into tags; default `,`.
    pub separator: char,
    /// Whether `AI` and `ai` are different tags; default false (Redis's default).
    pub case_sensitive: bool,
}

impl Default for TagOptions {
    fn default() -> TagOptions {
        TagOptions {
            separator: ',',
            case_sensitive: false,
        }
    }
}

/// A VECTOR field: FLOAT32 components, a dimension, a metric and an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorOptions {
    pub dim: usize,
    pub metric: Metric,
    pub index: VectorIndex,
}

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text (stored; full-text indexing comes with the full-text index).
    Text,
    /// One or more tags, split on a separator.
    Tag(TagOptions),
    /// A 64-bit float.
    Numeric,
    /// A FLOAT32 vector.
    Vector(VectorOptions),
}

impl FieldKind {
    /// The RediSearch name of the kind, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text => "TEXT",
            FieldKind::Tag(_) => "TAG",
            FieldKind::Numeric => "NUMERIC",
            FieldKind::Vector(_) => "VECTOR",
        }
    }
}

/// One declared field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
}

/// The fields of a collection. Built with [`Schema::builder`]; immutable afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    fields: Vec<Field>,
}

impl Schema {
    /// Starts a schema.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder { fields: Vec::new() }
    }

    /// The fields, in declaration order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Position and declaration of the field called `name`.
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, field)| field.name == name)
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
        for (index, field) in fields.iter().enumerate() {
            validate_name("field", &field.name)?;
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
                    if tag.separator.is_whitespace()
                        || tag.separator.is_control()
                        || tag.separator.len_utf8() != 1
                    {
                        return Err(Error::InvalidSchema {
                            reason: format!(
                                "tag field `{}` has separator {:?}; use a printable ASCII character",
                                field.name, tag.separator
                            ),
                        });
                    }
                }
                FieldKind::Text | FieldKind::Numeric => {}
            }
        }
        Ok(Schema { fields })
    }
}

/// Declares the fields of a schema, in order, then [`SchemaBuilder::build`] checks them.
#[derive(Clone, Debug)]
#[must_use]
pub struct SchemaBuilder {
    fields: Vec<Field>,
}

impl SchemaBuilder {
    /// A TEXT field.
    pub fn text(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Text)
    }

    /// A TAG field with separator `,`, case-insensitive.
    pub fn tag(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Tag(TagOptions::default()))
    }

    /// A TAG field with its own separator and case sensitivity.
    pub fn tag_with(self, name: &str, options: TagOptions) -> SchemaBuilder {
        self.field(name, FieldKind::Tag(options))
    }

    /// A NUMERIC field.
    pub fn numeric(self, name: &str) -> SchemaBuilder {
        self.field(name, FieldKind::Numeric)
    }

    /// A FLOAT32 VECTOR field of `dim` components.
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
    pub fn field(mut self, name: &str, kind: FieldKind) -> SchemaBuilder {
        self.fields.push(Field {
            name: name.to_string(),
            kind,
        });
        self
    }

    /// Checks the declarations: names, duplicates, dimensions, supported indexes.
    pub fn build(self) -> Result<Schema> {
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
