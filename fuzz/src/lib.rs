//! The harness the database fuzz targets share: a small template database built once
//! with the real engine, a fresh copy of it per input with one file replaced (re-sealed
//! with a valid footer, and the manifest's record of it patched, so that the bytes reach
//! the decoder instead of stopping at a checksum), and a run of every read and
//! maintenance call over the result. Whatever the bytes, nothing may panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use strata::{Database, Doc, Durability, FieldKind, Metric, Options, Schema, Search, VectorIndex};
use strata_storage::blocks::{write_blocked, BlockedFile};
use strata_storage::sealed::{write_sealed, FOOTER_LEN};

/// One sealed file of the template: where it is, its footer's kind and version, and
/// its body (for a block-checked file, its data: [`seal`] writes the block table).
#[derive(Debug, Clone)]
pub struct SealedBody {
    pub relative: PathBuf,
    pub kind: u32,
    pub version: u32,
    pub blocked: bool,
    pub body: Vec<u8>,
}

/// The template database: one collection, two segments (the first with a state file
/// of deletions and deadlines), and WAL records after the last flush that reach into
/// the segments (so replay reads their keys).
#[derive(Debug)]
pub struct Template {
    _root: tempfile::TempDir,
    pub dir: PathBuf,
    pub manifest: SealedBody,
    /// The first segment's files: keys, docs, rows, vectors-3, vectors-4, state-N.
    pub segment_files: Vec<SealedBody>,
}

/// A scratch directory on tmpfs where there is one (every input writes files).
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
}

fn options() -> Options {
    Options {
        durability: Durability::Never,
        background_work: false,
        ..Options::default()
    }
}

fn doc(index: u64) -> Doc {
    let x = index as f32;
    let mut doc = Doc::new()
        .text("title", format!("title {index}"))
        .tag("tags", if index % 2 == 0 { "a,b" } else { "c" })
        .numeric("rank", index as f64 * 1.5)
        .vector("embedding", vec![x, 1.0 - x, x * 0.5, -x]);
    if index % 3 != 0 {
        doc = doc.vector("small", vec![1.0, x]);
    }
    doc
}

fn read_sealed(dir: &Path, relative: &Path) -> SealedBody {
    let bytes = std::fs::read(dir.join(relative)).unwrap();
    let footer = &bytes[bytes.len() - FOOTER_LEN..];
    let kind = u32::from_le_bytes(footer[8..12].try_into().unwrap());
    let version = u32::from_le_bytes(footer[12..16].try_into().unwrap());
    // The template's files are intact: a block table parses exactly when there is one.
    let blocked = BlockedFile::open(
        &strata_storage::StdFileSystem,
        &dir.join(relative),
        kind,
        version,
    )
    .ok();
    SealedBody {
        relative: relative.to_path_buf(),
        kind,
        version,
        blocked: blocked.is_some(),
        body: match &blocked {
            Some(file) => file.all().unwrap().to_vec(),
            None => bytes[..bytes.len() - FOOTER_LEN].to_vec(),
        },
    }
}

/// The template, built on first use.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = scratch();
        let dir = root.path().join("db");
        let db = Database::open_with(&dir, options()).unwrap();
        let schema = Schema::builder()
            .text("title")
            .tag("tags")
            .numeric("rank")
            .vector("embedding", 4, Metric::L2, VectorIndex::flat())
            .vector("small", 2, Metric::Cosine, VectorIndex::flat())
            .build()
            .unwrap();
        let docs = db.create_collection("docs", schema).unwrap();
        let hour = Duration::from_secs(3600);
        for index in 0..10 {
            if index % 4 == 0 {
                docs.upsert_with_ttl(format!("doc:{index}"), doc(index), hour)
                    .unwrap();
            } else {
                docs.upsert(format!("doc:{index}"), doc(index)).unwrap();
            }
        }
        db.flush().unwrap();
        for index in 10..14 {
            docs.upsert(format!("doc:{index}"), doc(index)).unwrap();
        }
        docs.delete("doc:1").unwrap();
        docs.expire("doc:2", hour).unwrap();
        docs.persist("doc:4").unwrap();
        db.flush().unwrap();
        docs.upsert("doc:3", doc(30)).unwrap();
        docs.delete("doc:5").unwrap();
        docs.delete("doc:11").unwrap();
        docs.expire("doc:6", hour).unwrap();
        drop(docs);
        drop(db);

        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        segments.sort();
        let first = segments[0].strip_prefix(&dir).unwrap().to_path_buf();
        let mut names: Vec<String> = std::fs::read_dir(&segments[0])
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let segment_files = names
            .iter()
            .map(|name| read_sealed(&dir, &first.join(name)))
            .collect();
        Template {
            manifest: read_sealed(&dir, Path::new("MANIFEST")),
            segment_files,
            dir,
            _root: root,
        }
    })
}

/// Turns fuzz input into a body: the bytes themselves when the first byte is even,
/// otherwise edits of `template` (so that most inputs stay close to valid): each 4-byte
/// chunk is `op, offset (u16), value` with op 0 set, 1 xor, 2 cut at the offset,
/// 3 insert.
pub fn mutate(template: &[u8], data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return template.to_vec();
    };
    if mode % 2 == 0 {
        return rest.to_vec();
    }
    let mut body = template.to_vec();
    for edit in rest.chunks_exact(4) {
        let offset = u16::from_le_bytes([edit[1], edit[2]]) as usize;
        let value = edit[3];
        match edit[0] % 4 {
            0 | 1 if body.is_empty() => {}
            0 => {
                let at = offset % body.len();
                body[at] = value;
            }
            1 => {
                let at = offset % body.len();
                body[at] ^= value;
            }
            2 => body.truncate(offset % (body.len() + 1)),
            _ => {
                let at = offset % (body.len() + 1);
                body.insert(at, value);
            }
        }
    }
    body
}

/// A fresh copy of the template in a new scratch directory.
pub fn instance() -> (tempfile::TempDir, PathBuf) {
    let root = scratch();
    let dir = root.path().join("db");
    copy_dir(&template().dir, &dir);
    (root, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            // Not fs::copy: its copy_file_range can fail with EINTR when libFuzzer's
            // timer signal lands; read and write retry it.
            std::fs::write(target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// Writes `body` as `file` in `dir`, sealed with a valid footer (and a valid block
/// table for a block-checked file); returns the sealed body's length and checksum, as
/// the manifest records them.
pub fn seal(dir: &Path, file: &SealedBody, body: &[u8]) -> (u64, u32) {
    let (fs, path) = (&strata_storage::StdFileSystem, dir.join(&file.relative));
    if file.blocked {
        write_blocked(fs, &path, file.kind, file.version, body).unwrap()
    } else {
        let crc = write_sealed(fs, &path, file.kind, file.version, body).unwrap();
        (body.len() as u64, crc)
    }
}

/// The manifest body with the record of the first segment's file `name` set to
/// `body_len` and `body_crc`. A file record is `u32 name length ‖ name ‖ u64 body_len
/// ‖ u32 body_crc`; the state file's checksum is the `u32` before the file count that
/// precedes the segment's first record (`keys`). The template's schema has no field
/// named like a segment file, so the first match is the first segment's.
pub fn patch_manifest(manifest: &[u8], name: &str, body_len: u64, body_crc: u32) -> Vec<u8> {
    let mut out = manifest.to_vec();
    let record = |name: &str| {
        let mut needle = (name.len() as u32).to_le_bytes().to_vec();
        needle.extend_from_slice(name.as_bytes());
        let at = out
            .windows(needle.len())
            .position(|window| window == needle)
            .expect("the template manifest names the file");
        at + needle.len()
    };
    if name.starts_with("state-") {
        let keys = record("keys") - 8;
        out[keys - 8..keys - 4].copy_from_slice(&body_crc.to_le_bytes());
    } else {
        let at = record(name);
        out[at..at + 8].copy_from_slice(&body_len.to_le_bytes());
        out[at + 8..at + 12].copy_from_slice(&body_crc.to_le_bytes());
    }
    out
}

/// Opens the database in `dir` and runs every read and maintenance call; results are
/// ignored, panics are the finding.
pub fn exercise(dir: &Path) {
    let Ok(db) = Database::open_with(dir, options()) else {
        return;
    };
    read_everything(&db);
    let _ = db.verify();
    if db.compact().is_ok() {
        read_everything(&db);
        let _ = db.verify();
    }
}

fn read_everything(db: &Database) {
    for name in db.list_collections() {
        let Ok(collection) = db.collection(&name) else {
            continue;
        };
        let _ = collection.len();
        for index in 0..16 {
            let key = format!("doc:{index}");
            let _ = collection.get(&key);
            let _ = collection.ttl(&key);
        }
        for field in collection.schema().fields() {
            if let FieldKind::Text(_) = field.kind {
                // Every kind of text lookup: terms, raw words, positions, lengths.
                let name = &field.name;
                for query in [
                    format!("@{name}:title"),
                    format!("@{name}:ti*"),
                    format!("@{name}:%%titel%%"),
                    format!("@{name}:\"title 3\""),
                    format!("-@{name}:title"),
                ] {
                    let _ = collection.query(&query).args(["WITHSCORES"]).run();
                }
            }
            if let FieldKind::Vector(vector) = field.kind {
                let query: Vec<f32> = (0..vector.dim.min(4096)).map(|i| 0.5 - i as f32).collect();
                for k in [1, 5, 100] {
                    let _ = collection.search(&Search::knn(&field.name, &query, k));
                }
            }
        }
    }
}
