//! Writing a segment: from the rows of a memtable, or the surviving rows of merged
//! segments, to sealed files in a new segment directory.

use std::path::Path;

use roaring::RoaringBitmap;
use strata_index::hnsw::{HnswGraph, HnswParams};
use strata_index::numeric::NumericIndex;
use strata_index::tags::{split_tags, TagIndex};
use strata_storage::sealed::SealedWriter;
use strata_storage::FileSystem;

use super::format::{align_up, FileKind};
use super::FileRecord;
use crate::doc::Value;
use crate::error::{Error, Result};
use crate::schema::{FieldKind, Schema, VectorIndex};
use crate::stored::{StoredRow, StoredValue};

/// One row to write.
#[derive(Debug)]
pub(crate) struct SegmentRow<'a> {
    pub key: &'a str,
    /// Non-vector values by schema position, ascending.
    pub values: Vec<(u16, StoredValue)>,
    /// One entry per vector field of the schema, in schema order.
    pub vectors: Vec<Option<&'a [f32]>>,
    /// Expiry, in milliseconds since the Unix epoch.
    pub deadline: Option<u64>,
}

/// What was written, for the manifest.
#[derive(Debug)]
pub(crate) struct WrittenSegment {
    pub row_count: u64,
    pub files: Vec<FileRecord>,
}

/// Writes `rows` as segment files into `dir` (which must not exist yet), fsyncs them
/// and the directory. The caller publishes the segment through the manifest.
pub(crate) fn write_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    schema: &Schema,
    rows: &[SegmentRow],
) -> Result<WrittenSegment> {
    fs.create_dir_all(dir)
        .map_err(|e| io_error("create the segment directory", dir, e))?;
    let vector_fields: Vec<(u16, usize)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(position, field)| match field.kind {
            FieldKind::Vector(vector) => Some((position as u16, vector.dim)),
            _ => None,
        })
        .collect();
    let mut files = vec![
        write_file(fs, dir, FileKind::Keys, &encode_keys(rows))?,
        write_file(fs, dir, FileKind::Docs, &encode_docs(rows)?)?,
        write_file(fs, dir, FileKind::Rows, &encode_rows(rows, &vector_fields))?,
        write_file(
            fs,
            dir,
            FileKind::KeyFilter,
            &super::filter::encode(rows.iter().map(|row| row.key.as_bytes()), rows.len()),
        )?,
    ];
    for (position, field) in schema.fields().iter().enumerate() {
        let position = position as u16;
        match field.kind {
            FieldKind::Tag(options) => {
                let mut index = TagIndex::new();
                for (row_id, row) in rows.iter().enumerate() {
                    for (_, value) in row.values.iter().filter(|(field, _)| *field == position) {
                        if let StoredValue::Tag(raw) = value {
                            let tags = split_tags(raw, options.separator, options.case_sensitive);
                            index.insert(row_id as u32, tags.iter().map(String::as_str));
                        }
                    }
                }
                files.push(write_file(
                    fs,
                    dir,
                    FileKind::Tags(position),
                    &index.write_body(),
                )?);
            }
            FieldKind::Numeric => {
                let mut index = NumericIndex::new();
                for (row_id, row) in rows.iter().enumerate() {
                    for (_, value) in row.values.iter().filter(|(field, _)| *field == position) {
                        if let StoredValue::Numeric(number) = value {
                            index.insert(row_id as u32, *number);
                        }
                    }
                }
                files.push(write_file(
                    fs,
                    dir,
                    FileKind::Numeric(position),
                    &index.write_body(),
                )?);
            }
            FieldKind::Text | FieldKind::Vector(_) => {}
        }
    }
    for (index, (position, dim)) in vector_fields.iter().enumerate() {
        let kind = FileKind::Vectors(*position);
        let path = dir.join(kind.file_name());
        let mut writer = SealedWriter::create(fs, &path, kind.code(), kind.version())?;
        let zeros = vec![0u8; dim * 4];
        let mut buffer = Vec::with_capacity(dim * 4);
        for row in rows {
            match row.vectors.get(index).copied().flatten() {
                Some(vector) => {
                    buffer.clear();
                    buffer.extend(vector.iter().flat_map(|c| c.to_le_bytes()));
                    writer.write(&buffer)?;
                }
                None => writer.write(&zeros)?,
            }
        }
        let body_len = writer.body_len();
        let body_crc = writer.finish()?;
        files.push(FileRecord {
            name: kind.file_name(),
            body_len,
            body_crc,
        });
        if let Some(graph) = build_graph(schema, *position, index, rows)? {
            files.push(write_file(fs, dir, FileKind::Graph(*position), &graph)?);
        }
        files.extend(super::ivfpq::write(
            fs, dir, schema, *position, index, rows,
        )?);
    }
    fs.sync_dir(dir).map_err(|e| io_error("fsync", dir, e))?;
    if let Some(parent) = dir.parent() {
        fs.sync_dir(parent)
            .map_err(|e| io_error("fsync", parent, e))?;
    }
    Ok(WrittenSegment {
        row_count: rows.len() as u64,
        files,
    })
}

/// The HNSW graph of the vector field at `position`, when the field asks for one and
/// every row has a vector (node ids are row ids; a segment with vector-less rows is
/// searched exactly instead).
fn build_graph(
    schema: &Schema,
    position: u16,
    index: usize,
    rows: &[SegmentRow],
) -> Result<Option<Vec<u8>>> {
    let Some(FieldKind::Vector(options)) = schema
        .fields()
        .get(position as usize)
        .map(|field| field.kind)
    else {
        return Ok(None);
    };
    let VectorIndex::Hnsw { m, ef_construction } = options.index else {
        return Ok(None);
    };
    let mut vectors = Vec::with_capacity(rows.len() * options.dim);
    for row in rows {
        match row.vectors.get(index).copied().flatten() {
            Some(vector) => vectors.extend_from_slice(vector),
            None => return Ok(None),
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let graph = HnswGraph::build(
        &vectors,
        options.dim,
        options.metric,
        &HnswParams::new(m, ef_construction),
        threads,
    )
    .map_err(|e| Error::InvalidArgument {
        reason: format!("cannot build the HNSW graph: {e}"),
    })?;
    Ok(Some(graph.to_bytes()))
}

pub(crate) fn write_file(
    fs: &dyn FileSystem,
    dir: &Path,
    kind: FileKind,
    body: &[u8],
) -> Result<FileRecord> {
    let path = dir.join(kind.file_name());
    let body_crc =
        strata_storage::sealed::write_sealed(fs, &path, kind.code(), kind.version(), body)?;
    Ok(FileRecord {
        name: kind.file_name(),
        body_len: body.len() as u64,
        body_crc,
    })
}

fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// `u64 n ‖ (n+1) × u64 key offsets ‖ n × u32 rows sorted by key ‖ pad to 8 ‖ key bytes`
fn encode_keys(rows: &[SegmentRow]) -> Vec<u8> {
    let count = rows.len();
    let mut sorted: Vec<u32> = (0..count as u32).collect();
    sorted.sort_by(|a, b| {
        rows[*a as usize]
            .key
            .as_bytes()
            .cmp(rows[*b as usize].key.as_bytes())
    });
    let mut out = Vec::new();
    out.extend_from_slice(&(count as u64).to_le_bytes());
    let mut offset = 0u64;
    out.extend_from_slice(&offset.to_le_bytes());
    for row in rows {
        offset += row.key.len() as u64;
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for row in &sorted {
        out.extend_from_slice(&row.to_le_bytes());
    }
    out.resize(align_up(out.len(), 8), 0);
    for row in rows {
        out.extend_from_slice(row.key.as_bytes());
    }
    out
}

/// `u64 n ‖ n × (u64 start, u64 len) ‖ pad to 16 ‖ archives, each 16-aligned`
///
/// Each row records its exact length: rkyv finds an archive's root at its end, so the
/// padding before the next archive must not be part of it.
fn encode_docs(rows: &[SegmentRow]) -> Result<Vec<u8>> {
    let mut archives = Vec::new();
    let mut extents = Vec::with_capacity(rows.len());
    for row in rows {
        archives.resize(align_up(archives.len(), 16), 0);
        let stored = StoredRow {
            values: row.values.clone(),
        };
        let bytes =
            rkyv::to_bytes::<rkyv::rancor::Error>(&stored).map_err(|e| Error::InvalidArgument {
                reason: format!("cannot archive a document: {e}"),
            })?;
        extents.push((archives.len() as u64, bytes.len() as u64));
        archives.extend_from_slice(&bytes);
    }
    let mut out = Vec::with_capacity(16 + extents.len() * 16 + archives.len());
    out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for (start, len) in extents {
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.resize(align_up(out.len(), 16), 0);
    out.extend_from_slice(&archives);
    Ok(out)
}

/// `u64 n ‖ u32 vector fields ‖ per field: u16 position, u16 0, u32 len, roaring
/// presence ‖ pad to 8 ‖ u64 ttl count ‖ per TTL row: u64 deadline, u32 row, u32 0`
fn encode_rows(rows: &[SegmentRow], vector_fields: &[(u16, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    out.extend_from_slice(&(vector_fields.len() as u32).to_le_bytes());
    for (index, (position, _)) in vector_fields.iter().enumerate() {
        let mut present = RoaringBitmap::new();
        for (row_id, row) in rows.iter().enumerate() {
            if row.vectors.get(index).copied().flatten().is_some() {
                present.insert(row_id as u32);
            }
        }
        present.optimize();
        let mut bytes = Vec::with_capacity(present.serialized_size());
        present
            .serialize_into(&mut bytes)
            .expect("writing to a Vec cannot fail");
        out.extend_from_slice(&position.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out.resize(align_up(out.len(), 8), 0);
    let deadlines: Vec<(u64, u32)> = rows
        .iter()
        .enumerate()
        .filter_map(|(row_id, row)| row.deadline.map(|deadline| (deadline, row_id as u32)))
        .collect();
    out.extend_from_slice(&(deadlines.len() as u64).to_le_bytes());
    for (deadline, row) in deadlines {
        out.extend_from_slice(&deadline.to_le_bytes());
        out.extend_from_slice(&row.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// The stored (non-vector) form of a value; vectors go to their own files.
pub(crate) fn stored_value(value: &Value) -> Option<StoredValue> {
    match value {
        Value::Text(text) => Some(StoredValue::Text(text.clone())),
        Value::Tag(text) => Some(StoredValue::Tag(text.clone())),
        Value::Numeric(number) => Some(StoredValue::Numeric(*number)),
        Value::Vector(_) => None,
    }
}
