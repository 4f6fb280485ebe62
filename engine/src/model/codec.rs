//! The operations the engine logs in the WAL, and their byte encoding (FORMAT.md,
//! "WAL payloads").
//!
//! The encoding is little-endian, length-prefixed, and decoded by a bounds-checked
//! reader: a payload that passed the WAL's CRC but does not decode (a bug, or bytes
//! from another version) is an error, never a panic.

use crate::model::doc::Value;
use crate::model::schema::{
    Field, FieldKind, Metric, Schema, TagOptions, VectorIndex, VectorOptions,
};

/// A validated document as it is logged and kept: values by schema position, sorted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    pub values: Vec<(u16, Value)>,
    /// Expiry in milliseconds since the Unix epoch (wall clock).
    pub deadline: Option<u64>,
}

/// One logged operation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    CreateCollection {
        id: u64,
        name: String,
        schema: Schema,
    },
    DropCollection {
        id: u64,
    },
    /// Replaces each key's whole document; a batch is applied whole or not at all,
    /// because it is one WAL record.
    Upsert {
        collection: u64,
        docs: Vec<(String, Record)>,
    },
    Delete {
        collection: u64,
        key: String,
    },
    /// Sets (`Some`) or clears (`None`, PERSIST) a key's expiry.
    Expire {
        collection: u64,
        key: String,
        deadline: Option<u64>,
    },
}

impl Op {
    /// The collection a data operation writes; `None` for creates and drops, which
    /// change the catalog.
    pub fn data_collection(&self) -> Option<u64> {
        match self {
            Op::CreateCollection { .. } | Op::DropCollection { .. } => None,
            Op::Upsert { collection, .. }
            | Op::Delete { collection, .. }
            | Op::Expire { collection, .. } => Some(*collection),
        }
    }
}

const OP_CREATE_COLLECTION: u8 = 1;
const OP_DROP_COLLECTION: u8 = 2;
const OP_UPSERT: u8 = 3;
const OP_DELETE: u8 = 4;
const OP_EXPIRE: u8 = 5;

const VALUE_TEXT: u8 = 0;
const VALUE_TAG: u8 = 1;
const VALUE_NUMERIC: u8 = 2;
const VALUE_VECTOR: u8 = 3;

const KIND_TEXT: u8 = 0;
const KIND_TAG: u8 = 1;
const KIND_NUMERIC: u8 = 2;
const KIND_VECTOR: u8 = 3;

const METRIC_COSINE: u8 = 0;
const METRIC_L2: u8 = 1;
const METRIC_IP: u8 = 2;

const INDEX_FLAT: u8 = 0;
const INDEX_HNSW: u8 = 1;
const INDEX_IVF_PQ: u8 = 2;

/// Encodes `op` as a WAL payload.
pub(crate) fn encode(op: &Op) -> Vec<u8> {
    let mut out = Vec::new();
    match op {
        Op::CreateCollection { id, name, schema } => {
            out.push(OP_CREATE_COLLECTION);
            put_u64(&mut out, *id);
            put_str(&mut out, name);
            encode_schema(&mut out, schema);
        }
        Op::DropCollection { id } => {
            out.push(OP_DROP_COLLECTION);
            put_u64(&mut out, *id);
        }
        Op::Upsert { collection, docs } => {
            out.push(OP_UPSERT);
            put_u64(&mut out, *collection);
            put_u32(&mut out, docs.len() as u32);
            for (key, record) in docs {
                put_str(&mut out, key);
                encode_record(&mut out, record);
            }
        }
        Op::Delete { collection, key } => {
            out.push(OP_DELETE);
            put_u64(&mut out, *collection);
            put_str(&mut out, key);
        }
        Op::Expire {
            collection,
            key,
            deadline,
        } => {
            out.push(OP_EXPIRE);
            put_u64(&mut out, *collection);
            put_str(&mut out, key);
            put_deadline(&mut out, *deadline);
        }
    }
    out
}

/// Decodes a WAL payload; the error says what was malformed.
pub(crate) fn decode(payload: &[u8]) -> Result<Op, String> {
    let mut reader = Reader {
        bytes: payload,
        position: 0,
    };
    let op = match reader.u8()? {
        OP_CREATE_COLLECTION => Op::CreateCollection {
            id: reader.u64()?,
            name: reader.string()?,
            schema: decode_schema(&mut reader)?,
        },
        OP_DROP_COLLECTION => Op::DropCollection { id: reader.u64()? },
        OP_UPSERT => {
            let collection = reader.u64()?;
            let count = reader.u32()? as usize;
            // Each document takes at least 6 bytes, so a count beyond that is a lie
            // that must not size an allocation.
            let mut docs = Vec::with_capacity(count.min(reader.remaining() / 6));
            for _ in 0..count {
                let key = reader.string()?;
                docs.push((key, decode_record(&mut reader)?));
            }
            Op::Upsert { collection, docs }
        }
        OP_DELETE => Op::Delete {
            collection: reader.u64()?,
            key: reader.string()?,
        },
        OP_EXPIRE => Op::Expire {
            collection: reader.u64()?,
            key: reader.string()?,
            deadline: read_deadline(&mut reader)?,
        },
        other => return Err(format!("unknown operation code {other}")),
    };
    if reader.remaining() != 0 {
        return Err(format!(
            "{} trailing bytes after the operation",
            reader.remaining()
        ));
    }
    Ok(op)
}

pub(crate) fn encode_schema(out: &mut Vec<u8>, schema: &Schema) {
    put_u32(out, schema.fields().len() as u32);
    for field in schema.fields() {
        put_str(out, &field.name);
        match field.kind {
            FieldKind::Text => out.push(KIND_TEXT),
            FieldKind::Tag(tag) => {
                out.push(KIND_TAG);
                put_u32(out, tag.separator as u32);
                out.push(tag.case_sensitive as u8);
            }
            FieldKind::Numeric => out.push(KIND_NUMERIC),
            FieldKind::Vector(vector) => {
                out.push(KIND_VECTOR);
                put_u32(out, vector.dim as u32);
                out.push(match vector.metric {
                    Metric::Cosine => METRIC_COSINE,
                    Metric::L2 => METRIC_L2,
                    Metric::InnerProduct => METRIC_IP,
                });
                match vector.index {
                    VectorIndex::Flat => out.push(INDEX_FLAT),
                    VectorIndex::Hnsw { m, ef_construction } => {
                        out.push(INDEX_HNSW);
                        put_u32(out, m as u32);
                        put_u32(out, ef_construction as u32);
                    }
                    VectorIndex::IvfPq {
                        lists,
                        subquantizers,
                    } => {
                        out.push(INDEX_IVF_PQ);
                        put_u32(out, lists as u32);
                        put_u32(out, subquantizers as u32);
                    }
                }
            }
        }
    }
}

pub(crate) fn decode_schema(reader: &mut Reader) -> Result<Schema, String> {
    let count = reader.u32()? as usize;
    let mut fields = Vec::with_capacity(count.min(reader.remaining()));
    for _ in 0..count {
        let name = reader.string()?;
        let kind = match reader.u8()? {
            KIND_TEXT => FieldKind::Text,
            KIND_TAG => {
                let separator = char::from_u32(reader.u32()?).ok_or("invalid tag separator")?;
                FieldKind::Tag(TagOptions {
                    separator,
                    case_sensitive: reader.u8()? != 0,
                })
            }
            KIND_NUMERIC => FieldKind::Numeric,
            KIND_VECTOR => {
                let dim = reader.u32()? as usize;
                let metric = match reader.u8()? {
                    METRIC_COSINE => Metric::Cosine,
                    METRIC_L2 => Metric::L2,
                    METRIC_IP => Metric::InnerProduct,
                    other => return Err(format!("unknown metric code {other}")),
                };
                let index = match reader.u8()? {
                    INDEX_FLAT => VectorIndex::Flat,
                    INDEX_HNSW => VectorIndex::Hnsw {
                        m: reader.u32()? as usize,
                        ef_construction: reader.u32()? as usize,
                    },
                    INDEX_IVF_PQ => VectorIndex::IvfPq {
                        lists: reader.u32()? as usize,
                        subquantizers: reader.u32()? as usize,
                    },
                    other => return Err(format!("unknown vector index code {other}")),
                };
                FieldKind::Vector(VectorOptions { dim, metric, index })
            }
            other => return Err(format!("unknown field kind code {other}")),
        };
        fields.push(Field { name, kind });
    }
    Schema::from_fields(fields).map_err(|e| format!("logged schema is invalid: {e}"))
}

fn put_deadline(out: &mut Vec<u8>, deadline: Option<u64>) {
    out.push(deadline.is_some() as u8);
    put_u64(out, deadline.unwrap_or(0));
}

fn read_deadline(reader: &mut Reader) -> Result<Option<u64>, String> {
    let has = reader.u8()?;
    let deadline = reader.u64()?;
    match has {
        0 => Ok(None),
        1 => Ok(Some(deadline)),
        other => Err(format!("bad deadline flag {other}")),
    }
}

fn encode_record(out: &mut Vec<u8>, record: &Record) {
    put_deadline(out, record.deadline);
    put_u16(out, record.values.len() as u16);
    for (field, value) in &record.values {
        put_u16(out, *field);
        match value {
            Value::Text(text) => {
                out.push(VALUE_TEXT);
                put_str(out, text);
            }
            Value::Tag(text) => {
                out.push(VALUE_TAG);
                put_str(out, text);
            }
            Value::Numeric(number) => {
                out.push(VALUE_NUMERIC);
                out.extend_from_slice(&number.to_le_bytes());
            }
            Value::Vector(vector) => {
                out.push(VALUE_VECTOR);
                put_u32(out, vector.len() as u32);
                out.reserve(vector.len() * 4);
                for component in vector {
                    out.extend_from_slice(&component.to_le_bytes());
                }
            }
        }
    }
}

fn decode_record(reader: &mut Reader) -> Result<Record, String> {
    let deadline = read_deadline(reader)?;
    let count = reader.u16()? as usize;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let field = reader.u16()?;
        let value = match reader.u8()? {
            VALUE_TEXT => Value::Text(reader.string()?),
            VALUE_TAG => Value::Tag(reader.string()?),
            VALUE_NUMERIC => Value::Numeric(f64::from_le_bytes(reader.array()?)),
            VALUE_VECTOR => {
                let dim = reader.u32()? as usize;
                let bytes = reader.take(dim.checked_mul(4).ok_or("vector length overflows")?)?;
                Value::Vector(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            other => return Err(format!("unknown value code {other}")),
        };
        values.push((field, value));
    }
    Ok(Record { values, deadline })
}

pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, position: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.remaining() {
            return Err(format!(
                "needs {len} bytes at offset {}, only {} remain",
                self.position,
                self.remaining()
            ));
        }
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "string is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_schema() -> Schema {
        Schema::builder()
            .text("content")
            .tag_with(
                "tags",
                TagOptions {
                    separator: ';',
                    case_sensitive: true,
                },
            )
            .numeric("price")
            .vector("embedding", 3, Metric::Cosine, VectorIndex::flat())
            .build()
            .unwrap()
    }

    #[test]
    fn every_operation_round_trips() {
        let record = Record {
            values: vec![
                (0, Value::Text("héllo".into())),
                (1, Value::Tag("a;b".into())),
                (2, Value::Numeric(-1.5)),
                (3, Value::Vector(vec![0.25, -0.5, 1.0])),
            ],
            deadline: Some(1_700_000_000_000),
        };
        let ops = [
            Op::CreateCollection {
                id: 7,
                name: "docs".into(),
                schema: sample_schema(),
            },
            Op::DropCollection { id: 7 },
            Op::Upsert {
                collection: 7,
                docs: vec![("k1".into(), record.clone()), ("k2".into(), record)],
            },
            Op::Delete {
                collection: 7,
                key: "k1".into(),
            },
            Op::Expire {
                collection: 7,
                key: "k2".into(),
                deadline: Some(5),
            },
            Op::Expire {
                collection: 7,
                key: "k2".into(),
                deadline: None,
            },
        ];
        for op in ops {
            assert_eq!(decode(&encode(&op)).unwrap(), op);
        }
    }

    #[test]
    fn truncated_payloads_are_errors() {
        let op = Op::CreateCollection {
            id: 1,
            name: "docs".into(),
            schema: sample_schema(),
        };
        let bytes = encode(&op);
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn huge_counts_do_not_allocate(count in 1u32..u32::MAX) {
            let mut bytes = vec![OP_UPSERT];
            bytes.extend_from_slice(&1u64.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            prop_assert!(decode(&bytes).is_err());
        }
    }
}
