//! Writing a segment: from the rows of a memtable, or the surviving rows of merged
//! segments, to sealed files in a new segment directory.

use std::path::Path;

use roaring::RoaringBitmap;
use strata_index::hnsw::{GraphRef, HnswGraph, HnswIndex, HnswParams};
use strata_index::numeric::NumericIndex;
use strata_index::tags::{split_tags, TagIndex};
use strata_storage::blocks::BlockedWriter;
use strata_storage::FileSystem;

use super::format::{align_up, FileKind};
use super::{FileRecord, Segment};
use crate::model::doc::Value;
use crate::model::error::{Error, Result};
use crate::model::options::HnswCompression;
use crate::model::schema::{FieldKind, Schema, VectorIndex};
use crate::model::stored::{StoredRow, StoredValue};

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
    /// Insertion order: larger for a later write of the document.
    pub order: u64,
}

/// What was written, for the manifest.
#[derive(Debug)]
pub(crate) struct WrittenSegment {
    pub row_count: u64,
    pub files: Vec<FileRecord>,
}

/// Where a segment's graphs start from, instead of being built from nothing: a merge
/// starts from an input segment's graphs, a flush from its memtable's live graphs.
/// `map` sends the seed's node ids to the new segment's rows (`None`: dropped).
pub(crate) struct GraphSeed<'a> {
    pub graphs: SeedGraphs<'a>,
    pub map: &'a [Option<u32>],
}

pub(crate) enum SeedGraphs<'a> {
    /// The graph files of a sealed segment.
    Segment(&'a Segment),
    /// One entry per schema field: a memtable's graphs, node ids = slots.
    Memtable(&'a [Option<HnswGraph>]),
}

/// Writes `rows` as segment files into `dir` (which must not exist yet), fsyncs them
/// and the directory; the caller publishes the segment through the manifest. Each
/// HNSW graph starts from `seed`'s graph for the same field when it has one (a merge,
/// a flush), instead of being built from nothing.
pub(crate) fn write_segment_seeded(
    fs: &dyn FileSystem,
    dir: &Path,
    schema: &Schema,
    rows: &[SegmentRow],
    seed: Option<&GraphSeed>,
    compression: HnswCompression,
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
        write_file(
            fs,
            dir,
            FileKind::Order,
            &rows
                .iter()
                .flat_map(|row| row.order.to_le_bytes())
                .collect::<Vec<u8>>(),
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
            FieldKind::Text(options) => {
                let analyzer = crate::text::Analyzer::new(&options);
                let texts = rows.iter().map(|row| {
                    row.values.iter().find_map(|(field, value)| match value {
                        StoredValue::Text(text) if *field == position => Some(text.as_str()),
                        _ => None,
                    })
                });
                files.push(write_file(
                    fs,
                    dir,
                    FileKind::Text(position),
                    &crate::text::file::encode(&analyzer, texts),
                )?);
            }
            FieldKind::Vector(_) | FieldKind::Json => {}
        }
    }
    for (index, (position, dim)) in vector_fields.iter().enumerate() {
        let kind = FileKind::Vectors(*position);
        let path = dir.join(kind.file_name());
        let mut writer = BlockedWriter::create(fs, &path, kind.code(), kind.version())?;
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
        let (body_len, body_crc) = writer.finish()?;
        files.push(FileRecord {
            name: kind.file_name(),
            body_len,
            body_crc,
        });
        if let Some(graph) = build_graph(schema, (*position, index), rows, seed, compression)? {
            files.push(write_file(fs, dir, FileKind::Graph(*position), &graph)?);
        }
        files.extend(super::ivfpq::write(
            fs,
            dir,
            schema,
            (*position, index),
            rows,
            seed,
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
/// some row has a vector. Node ids are row ids; rows without a vector are not in the
/// graph (their lists are empty), so they cost the segment nothing but a few bytes.
/// With a `seed` whose segment has a graph for the field, the graph is that one with
/// its rows renumbered, dropped rows removed and the other rows inserted.
fn build_graph(
    schema: &Schema,
    (position, index): (u16, usize),
    rows: &[SegmentRow],
    seed: Option<&GraphSeed>,
    compression: HnswCompression,
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
    let dim = options.dim;
    let mut vectors = Vec::with_capacity(rows.len() * dim);
    let mut present = RoaringBitmap::new();
    for (row_id, row) in rows.iter().enumerate() {
        match row.vectors.get(index).copied().flatten() {
            Some(vector) if vector.len() == dim => {
                vectors.extend_from_slice(vector);
                present.insert(row_id as u32);
            }
            Some(vector) => {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "a vector of {} floats in a field of dimension {dim}",
                        vector.len()
                    ),
                })
            }
            None => vectors.resize(vectors.len() + dim, 0.0),
        }
    }
    if present.is_empty() {
        return Ok(None);
    }
    let partial = present.len() < rows.len() as u64;
    let present = partial.then_some(&present);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let params = HnswParams::new(m, ef_construction);
    let view;
    let seed_graph: Option<(GraphRef, &[Option<u32>])> = match seed {
        Some(GraphSeed {
            graphs: SeedGraphs::Segment(segment),
            map,
        }) => match segment.graph(position)? {
            Some(found) => {
                view = found;
                Some((view.graph_ref(), map))
            }
            None => None,
        },
        Some(GraphSeed {
            graphs: SeedGraphs::Memtable(graphs),
            map,
        }) => graphs
            .get(position as usize)
            .and_then(Option::as_ref)
            .map(|graph| (graph.graph_ref(), *map)),
        None => None,
    };
    let from_memtable = matches!(
        seed,
        Some(GraphSeed {
            graphs: SeedGraphs::Memtable(_),
            ..
        })
    );
    let mut graph = match seed_graph {
        // The schema fixes the metric, dimension and M, so a seed that differs is not
        // this field's graph: build afresh rather than fail the merge.
        Some((seed, map))
            if seed.metric() == options.metric && seed.dim() == dim && seed.params().m == m =>
        {
            HnswGraph::merged(seed, map, &vectors, present, &params, threads)
        }
        _ => HnswGraph::build_present(&vectors, dim, options.metric, &params, threads, present),
    }
    .map_err(|e| Error::InvalidArgument {
        reason: format!("cannot build the HNSW graph: {e}"),
    })
    .map(|mut graph| {
        // A memtable's graph grew one row at a time; before it serves as a segment's,
        // every row is made to find itself, as after a full build.
        if from_memtable {
            graph.repair(&vectors, present);
        }
        graph
    })?;
    match compression {
        // Codes are trained on this segment's rows: a merged graph's seed carries
        // the codes of another row set, so they are made afresh for every file.
        HnswCompression::Sq8 => {
            graph
                .encode_sq8(&vectors, present)
                .map_err(|e| Error::InvalidArgument {
                    reason: format!("cannot encode the HNSW graph's rows: {e}"),
                })?
        }
        HnswCompression::Float32 => graph.drop_codes(),
    }
    Ok(Some(graph.to_bytes()))
}

pub(crate) fn write_file(
    fs: &dyn FileSystem,
    dir: &Path,
    kind: FileKind,
    body: &[u8],
) -> Result<FileRecord> {
    let path = dir.join(kind.file_name());
    let (body_len, body_crc) = if kind.is_blocked() {
        strata_storage::blocks::write_blocked(fs, &path, kind.code(), kind.version(), body)?
    } else {
        let crc =
            strata_storage::sealed::write_sealed(fs, &path, kind.code(), kind.version(), body)?;
        (body.len() as u64, crc)
    };
    Ok(FileRecord {
        name: kind.file_name(),
        body_len,
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
        // The docs file stores strings; the schema says which one is JSON text.
        Value::Text(text) | Value::Json(text) => Some(StoredValue::Text(text.clone())),
        Value::Tag(text) => Some(StoredValue::Tag(text.clone())),
        Value::Numeric(number) => Some(StoredValue::Numeric(*number)),
        Value::Vector(_) => None,
    }
}
