//! `strata import`: vectors from `.fvecs` / `.bvecs` / `.npy`, documents from JSON
//! lines (fields plus a vector array), or both joined row by row, into a collection,
//! in batches of one `upsert_many` each. After each acknowledged batch the row count is
//! recorded in the `_imports` collection, so an interrupted import started again with
//! the same arguments continues from there (rows are keyed by position or by their key
//! field, so the batch in flight at the interruption is simply written again).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value as Json;
use strata::{Collection, Database, Doc, FieldKind, Metric, Schema, Value, VectorIndex};

use crate::ftcreate;

/// Where finished batches are recorded, per collection and source.
pub const IMPORTS: &str = "_imports";

/// What to import and how.
#[derive(Debug)]
pub struct Plan {
    pub collection: String,
    /// A vector file (`.fvecs`, `.bvecs`, `.npy`) or a JSON-lines file.
    pub source: PathBuf,
    /// JSON lines whose fields join the vector file's rows, one line per row.
    pub fields: Option<PathBuf>,
    /// The schema as FT.CREATE's SCHEMA part; inferred from the data when absent.
    pub schema: Option<String>,
    /// The vector field's name, for vector files and inferred schemas.
    pub vector_field: String,
    pub metric: Metric,
    pub index: VectorIndex,
    /// The JSON field that holds a row's key; rows without one are keyed
    /// `<collection>:<row>`.
    pub key_field: String,
    pub batch: usize,
    /// Stop after this many rows in all (to import a prefix, or to try resuming).
    pub max_rows: Option<u64>,
}

/// Rows from the source, one at a time.
trait Rows {
    /// The number of rows, when known up front (for the progress bar).
    fn len(&self) -> Option<u64>;
    /// Skips `n` rows (resuming).
    fn skip(&mut self, n: u64) -> Result<(), String>;
    fn next_row(&mut self) -> Result<Option<Row>, String>;
}

#[derive(Debug, Default)]
struct Row {
    key: Option<String>,
    vector: Option<Vec<f32>>,
    fields: serde_json::Map<String, Json>,
}

/// `.fvecs` (f32) and `.bvecs` (u8) rows: a little-endian u32 dimension, then the
/// components.
struct VecsFile {
    reader: BufReader<File>,
    dim: usize,
    width: usize,
    rows: u64,
}

impl VecsFile {
    fn open(path: &Path, width: usize) -> Result<VecsFile, String> {
        let mut file =
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let mut head = [0u8; 4];
        file.read_exact(&mut head)
            .map_err(|_| format!("{} is empty", path.display()))?;
        let dim = u32::from_le_bytes(head) as usize;
        if dim == 0 || dim > strata::MAX_DIMENSION {
            return Err(format!(
                "{} starts with dimension {dim}; not a .fvecs/.bvecs file",
                path.display()
            ));
        }
        let row_bytes = 4 + (dim * width) as u64;
        if size % row_bytes != 0 {
            return Err(format!(
                "{} is {size} bytes, not a whole number of {dim}-dimensional rows ({row_bytes} bytes each); the file is truncated or not this format",
                path.display()
            ));
        }
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        Ok(VecsFile {
            reader: BufReader::with_capacity(1 << 20, file),
            dim,
            width,
            rows: size / row_bytes,
        })
    }
}

impl Rows for VecsFile {
    fn len(&self) -> Option<u64> {
        Some(self.rows)
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        let row_bytes = 4 + (self.dim * self.width) as i64;
        self.reader
            .seek_relative(row_bytes * n as i64)
            .map_err(|e| e.to_string())
    }

    fn next_row(&mut self) -> Result<Option<Row>, String> {
        let mut head = [0u8; 4];
        match self.reader.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
        if u32::from_le_bytes(head) as usize != self.dim {
            return Err(format!(
                "a row has dimension {}, the first had {}",
                u32::from_le_bytes(head),
                self.dim
            ));
        }
        let mut body = vec![0u8; self.dim * self.width];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        let vector = if self.width == 4 {
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            body.iter().map(|&b| b as f32).collect()
        };
        Ok(Some(Row {
            vector: Some(vector),
            ..Row::default()
        }))
    }
}

/// A 2-D little-endian float32 or float64 `.npy` array, C order.
struct NpyFile {
    reader: BufReader<File>,
    dim: usize,
    width: usize,
    rows: u64,
}

impl NpyFile {
    fn open(path: &Path) -> Result<NpyFile, String> {
        let bad = |why: &str| {
            format!(
                "{} is not a .npy array this import reads: {why}",
                path.display()
            )
        };
        let mut file =
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let mut magic = [0u8; 8];
        file.read_exact(&mut magic).map_err(|_| bad("too short"))?;
        if &magic[..6] != b"\x93NUMPY" {
            return Err(bad("no NUMPY magic"));
        }
        let header_len = if magic[6] == 1 {
            let mut n = [0u8; 2];
            file.read_exact(&mut n).map_err(|_| bad("too short"))?;
            u16::from_le_bytes(n) as usize
        } else {
            let mut n = [0u8; 4];
            file.read_exact(&mut n).map_err(|_| bad("too short"))?;
            u32::from_le_bytes(n) as usize
        };
        if header_len > 1 << 20 {
            return Err(bad("header over 1 MiB"));
        }
        let mut header = vec![0u8; header_len];
        file.read_exact(&mut header)
            .map_err(|_| bad("header cut short"))?;
        let header = String::from_utf8_lossy(&header);
        let width = if header.contains("'<f4'") {
            4
        } else if header.contains("'<f8'") {
            8
        } else {
            return Err(bad(
                "dtype must be little-endian float32 or float64 ('<f4' or '<f8')",
            ));
        };
        if header.contains("'fortran_order': True") {
            return Err(bad("Fortran order; save it with np.ascontiguousarray"));
        }
        let shape = header
            .split("'shape':")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .map(|s| s.trim().trim_start_matches('('))
            .ok_or_else(|| bad("no shape"))?;
        let dims: Vec<u64> = shape
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| bad("shape is not numbers")))
            .collect::<Result<_, _>>()?;
        let [rows, dim] = dims[..] else {
            return Err(bad("the array must be 2-D (rows, dimension)"));
        };
        if dim == 0 || dim as usize > strata::MAX_DIMENSION {
            return Err(bad("dimension out of range"));
        }
        Ok(NpyFile {
            reader: BufReader::with_capacity(1 << 20, file),
            dim: dim as usize,
            width,
            rows,
        })
    }
}

impl Rows for NpyFile {
    fn len(&self) -> Option<u64> {
        Some(self.rows)
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        self.reader
            .seek_relative((self.dim * self.width) as i64 * n as i64)
            .map_err(|e| e.to_string())
    }

    fn next_row(&mut self) -> Result<Option<Row>, String> {
        let mut body = vec![0u8; self.dim * self.width];
        match self.reader.read_exact(&mut body) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
        let vector = if self.width == 4 {
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            body.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()
        };
        Ok(Some(Row {
            vector: Some(vector),
            ..Row::default()
        }))
    }
}

/// JSON lines: one object per line.
struct JsonLines {
    lines: std::io::Lines<BufReader<File>>,
    path: PathBuf,
    line: u64,
    key_field: String,
    vector_field: String,
}

impl JsonLines {
    fn open(path: &Path, key_field: &str, vector_field: &str) -> Result<JsonLines, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(JsonLines {
            lines: BufReader::with_capacity(1 << 20, file).lines(),
            path: path.to_path_buf(),
            line: 0,
            key_field: key_field.to_string(),
            vector_field: vector_field.to_string(),
        })
    }
}

impl Rows for JsonLines {
    fn len(&self) -> Option<u64> {
        None
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        for _ in 0..n {
            if self.next_row()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    fn next_row(&mut self) -> Result<Option<Row>, String> {
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            self.line += 1;
            let line = line.map_err(|e| format!("{}: {e}", self.path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("{} line {}", self.path.display(), self.line);
            let Json::Object(mut fields) =
                serde_json::from_str(&line).map_err(|e| format!("{}: {e}", at()))?
            else {
                return Err(format!("{}: not a JSON object", at()));
            };
            let key = match fields.remove(&self.key_field) {
                Some(Json::String(s)) => Some(s),
                Some(Json::Number(n)) => Some(n.to_string()),
                Some(Json::Null) | None => None,
                Some(_) => {
                    return Err(format!(
                        "{}: the key field `{}` is not a string or number",
                        at(),
                        self.key_field
                    ))
                }
            };
            let vector = match fields.get(&self.vector_field) {
                Some(Json::Array(items)) if items.iter().all(Json::is_number) => {
                    let v = items
                        .iter()
                        .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                        .collect();
                    fields.remove(&self.vector_field);
                    Some(v)
                }
                _ => None,
            };
            return Ok(Some(Row {
                key,
                vector,
                fields,
            }));
        }
    }
}

/// A vector file joined with a JSON-lines file of the same rows.
struct Joined {
    vectors: Box<dyn Rows>,
    fields: JsonLines,
}

impl Rows for Joined {
    fn len(&self) -> Option<u64> {
        self.vectors.len()
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        self.vectors.skip(n)?;
        self.fields.skip(n)
    }

    fn next_row(&mut self) -> Result<Option<Row>, String> {
        match (self.vectors.next_row()?, self.fields.next_row()?) {
            (None, None) => Ok(None),
            (Some(v), Some(mut f)) => {
                f.vector = v.vector;
                Ok(Some(f))
            }
            _ => Err(format!(
                "the vector file and {} have different numbers of rows",
                self.fields.path.display()
            )),
        }
    }
}

fn open_rows(plan: &Plan) -> Result<Box<dyn Rows>, String> {
    let ext = plan
        .source
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let vectors: Box<dyn Rows> = match ext.as_str() {
        "fvecs" => Box::new(VecsFile::open(&plan.source, 4)?),
        "bvecs" => Box::new(VecsFile::open(&plan.source, 1)?),
        "npy" => Box::new(NpyFile::open(&plan.source)?),
        "jsonl" | "json" | "ndjson" => {
            if plan.fields.is_some() {
                return Err(
                    "--fields joins a vector file; the source is already JSON lines".into(),
                );
            }
            return Ok(Box::new(JsonLines::open(
                &plan.source,
                &plan.key_field,
                &plan.vector_field,
            )?));
        }
        _ => {
            return Err(format!(
            "{}: the file name must end in .fvecs, .bvecs, .npy or .jsonl, which says its format",
            plan.source.display()
        ))
        }
    };
    Ok(match &plan.fields {
        Some(path) => Box::new(Joined {
            vectors,
            fields: JsonLines::open(path, &plan.key_field, &plan.vector_field)?,
        }),
        None => vectors,
    })
}

/// The schema the rows suggest: numbers NUMERIC, strings TEXT, arrays of strings and
/// booleans TAG, the vector VECTOR with the plan's metric and index.
fn infer(plan: &Plan, sample: &[Row]) -> Result<Schema, String> {
    let mut builder = Schema::builder();
    let mut seen: Vec<String> = Vec::new();
    for row in sample {
        for (name, value) in &row.fields {
            if seen.contains(name) {
                continue;
            }
            let kind = match value {
                Json::Number(_) => FieldKind::Numeric,
                Json::String(_) => FieldKind::Text(Default::default()),
                Json::Bool(_) => FieldKind::Tag(Default::default()),
                Json::Array(items) if items.iter().all(Json::is_string) => FieldKind::Tag(Default::default()),
                Json::Null => continue,
                _ => return Err(format!("field `{name}` holds {value}, which no field kind takes; leave it out or give --schema")),
            };
            seen.push(name.clone());
            builder = builder.field(name, kind);
        }
    }
    if let Some(dim) = sample.iter().find_map(|r| r.vector.as_ref().map(Vec::len)) {
        builder = builder.vector(&plan.vector_field, dim, plan.metric, plan.index);
    }
    builder.build().map_err(|e| e.to_string())
}

/// A schema as FT.CREATE's SCHEMA part, for printing.
pub fn describe(schema: &Schema) -> String {
    let mut out = Vec::new();
    for field in schema.fields() {
        out.push(field.name.clone());
        match field.kind {
            FieldKind::Vector(o) => {
                let (algorithm, extra) = match o.index {
                    VectorIndex::Flat => ("FLAT", String::new()),
                    VectorIndex::Hnsw { m, ef_construction } => {
                        ("HNSW", format!(" M {m} EF_CONSTRUCTION {ef_construction}"))
                    }
                    VectorIndex::IvfPq {
                        lists,
                        subquantizers,
                    } => ("IVF_PQ", format!(" NLIST {lists} M {subquantizers}")),
                };
                let n = 6 + if extra.is_empty() { 0 } else { 4 };
                out.push(format!(
                    "VECTOR {algorithm} {n} TYPE FLOAT32 DIM {} DISTANCE_METRIC {}{extra}",
                    o.dim,
                    ftcreate::metric_name(o.metric)
                ));
            }
            kind => out.push(kind.name().to_string()),
        }
    }
    out.join(" ")
}

fn to_doc(schema: &Schema, plan: &Plan, row: Row, at: u64) -> Result<Doc, String> {
    let mut doc = Doc::new();
    for (name, value) in row.fields {
        let Some((_, field)) = schema.field(&name) else {
            return Err(format!("row {at}: field `{name}` is not in the schema; add it with --schema or drop it from the data"));
        };
        let value = match (field.kind, value) {
            (_, Json::Null) => continue,
            (FieldKind::Numeric, Json::Number(n)) => Value::Numeric(n.as_f64().unwrap_or(f64::NAN)),
            (FieldKind::Numeric, Json::String(s)) => Value::Numeric(
                s.trim()
                    .parse()
                    .map_err(|_| format!("row {at}: field `{name}` is `{s}`, not a number"))?,
            ),
            (FieldKind::Text(_), Json::String(s)) => Value::Text(s),
            (FieldKind::Text(_), other) => Value::Text(other.to_string()),
            (FieldKind::Tag(o), Json::Array(items)) => Value::Tag(
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(&o.separator.to_string()),
            ),
            (FieldKind::Tag(_), Json::String(s)) => Value::Tag(s),
            (FieldKind::Tag(_), other) => Value::Tag(other.to_string()),
            (FieldKind::Vector(_), Json::Array(items)) => Value::Vector(
                items
                    .iter()
                    .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                    .collect(),
            ),
            (kind, other) => {
                return Err(format!(
                    "row {at}: field `{name}` is {other}, which a {} field does not take",
                    kind.name()
                ))
            }
        };
        doc = doc.with(&name, value);
    }
    if let Some(vector) = row.vector {
        doc = doc.vector(&plan.vector_field, vector);
    }
    Ok(doc)
}

fn progress_key(plan: &Plan) -> String {
    let source = std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone());
    let mut key = format!("{}|{}", plan.collection, source.display());
    if let Some(fields) = &plan.fields {
        key.push('|');
        key.push_str(
            &std::fs::canonicalize(fields)
                .unwrap_or_else(|_| fields.clone())
                .display()
                .to_string(),
        );
    }
    key
}

/// The collection recording finished batches of imports and exports (made on first use).
pub fn progress_collection(db: &Database) -> Result<Collection, String> {
    match db.collection(IMPORTS) {
        Ok(c) => Ok(c),
        Err(strata::Error::CollectionNotFound { .. }) => db
            .create_collection(
                IMPORTS,
                Schema::builder()
                    .numeric("rows")
                    .text("cursor")
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the import; returns rows written by this run.
pub fn run(db: &Database, plan: &Plan) -> Result<u64, String> {
    let mut rows = open_rows(plan)?;
    let imports = progress_collection(db)?;
    let key = progress_key(plan);
    let done = imports
        .get(&key)
        .map_err(|e| e.to_string())?
        .and_then(|d| d.get_numeric("rows"))
        .unwrap_or(0.0) as u64;
    let collection = existing_or_new(db, plan, &mut rows, done)?;
    if done > 0 {
        eprintln!("resuming: {done} rows were imported by an earlier run");
        rows.skip(done)?;
    }
    let total = rows.len().map(|n| plan.max_rows.map_or(n, |m| m.min(n)));
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(done);
    let started = Instant::now();
    let mut at = done;
    let mut written = 0u64;
    let mut batch = Vec::with_capacity(plan.batch);
    loop {
        let row = if plan.max_rows.is_some_and(|m| at + batch.len() as u64 >= m) {
            None
        } else {
            rows.next_row()?
        };
        let end = row.is_none();
        if let Some(row) = row {
            let n = at + batch.len() as u64;
            let key = row
                .key
                .clone()
                .unwrap_or_else(|| format!("{}:{n}", plan.collection));
            batch.push((key, to_doc(collection.schema(), plan, row, n)?));
        }
        if batch.len() >= plan.batch || (end && !batch.is_empty()) {
            let n = batch.len() as u64;
            collection
                .upsert_many(std::mem::take(&mut batch))
                .map_err(|e| format!("rows {at}..{}: {e}", at + n))?;
            at += n;
            written += n;
            imports
                .upsert(&key, Doc::new().numeric("rows", at as f64))
                .map_err(|e| e.to_string())?;
            bar.set_position(at);
        }
        if end {
            break;
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "imported {written} rows into `{}` in {seconds:.1} s ({:.0} rows/s); {at} rows in all",
        plan.collection,
        written as f64 / seconds.max(1e-9)
    );
    Ok(written)
}

fn existing_or_new(
    db: &Database,
    plan: &Plan,
    rows: &mut Box<dyn Rows>,
    done: u64,
) -> Result<Collection, String> {
    match db.collection(&plan.collection) {
        Ok(c) => return Ok(c),
        Err(strata::Error::CollectionNotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    if done > 0 {
        return Err(format!("collection `{}` is gone but an earlier import of this file was recorded; drop the record by importing into a new collection name", plan.collection));
    }
    let schema = match &plan.schema {
        Some(text) => {
            let words = crate::resp::split_words(text).ok_or("--schema has an unbalanced quote")?;
            let mut args = vec!["SCHEMA".to_string()];
            for word in words {
                args.push(String::from_utf8(word).map_err(|_| "--schema must be UTF-8 text")?);
            }
            ftcreate::parse(&args).and_then(|d| d.schema())?
        }
        None => {
            // The first rows decide; they are read again from the start afterwards.
            let mut sample = Vec::new();
            while sample.len() < 100 {
                match rows.next_row()? {
                    Some(row) => sample.push(row),
                    None => break,
                }
            }
            if sample.is_empty() {
                return Err(format!("{} has no rows", plan.source.display()));
            }
            let schema = infer(plan, &sample)?;
            *rows = open_rows(plan)?;
            eprintln!(
                "schema (inferred; pass --schema to choose): {}",
                describe(&schema)
            );
            schema
        }
    };
    db.create_collection(&plan.collection, schema)
        .map_err(|e| e.to_string())
}
