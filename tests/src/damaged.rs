//! The database the damage tests share (`tests/damage.rs`, `tests/lazy_damage.rs`): a
//! pristine database with its exact model after each write, and the checks that every
//! answer and write against a damaged copy is right or fails naming the damaged file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strata::{
    Database, Doc, Durability, Error, Filter, HnswCompression, Metric, Options, Schema, Search,
    VectorIndex,
};

use crate::{oracle_distance, random_vectors, scratch_dir};

pub const FOOTER_LEN: usize = 32;
/// Vector fields by schema position: (name, dimension, metric).
pub const VECTOR_FIELDS: [(&str, usize, Metric); 2] = [
    ("embedding", 8, Metric::L2),
    ("small", 3, Metric::InnerProduct),
];

pub type Model = BTreeMap<String, Doc>;

pub fn schema() -> Schema {
    Schema::builder()
        .text("title")
        .tag("tags")
        .numeric("rank")
        .vector("embedding", 8, Metric::L2, VectorIndex::flat())
        .vector("small", 3, Metric::InnerProduct, VectorIndex::flat())
        .build()
        .unwrap()
}

pub fn key(index: u64) -> String {
    format!("doc:{index}")
}

/// Document `index` in its `version`-th form; odd indexes lack the `small` vector.
pub fn doc(index: u64, version: u64) -> Doc {
    let seed = index * 100 + version;
    let mut doc = Doc::new()
        .text("title", format!("document {index} version {version}"))
        .tag("tags", if index.is_multiple_of(3) { "a,b" } else { "c" })
        .numeric("rank", seed as f64)
        .vector("embedding", random_vectors(seed, 1, 8).remove(0));
    if index.is_multiple_of(2) {
        doc = doc.vector("small", random_vectors(seed + 7, 1, 3).remove(0));
    }
    doc
}

pub fn options() -> Options {
    Options {
        durability: Durability::Always,
        memtable_rows_max: 8,
        background_work: false,
        // Graphs with 8-bit codes (file version 2), so the damage lands in codes too.
        hnsw_compression: HnswCompression::Sq8,
        ..Options::default()
    }
}

/// The pristine database, the model after its last flush and after each later write
/// (which live only in the WAL), and its segment directories, oldest first.
#[derive(Debug)]
pub struct Pristine {
    pub _root: tempfile::TempDir,
    pub dir: PathBuf,
    pub snapshots: Vec<Model>,
    pub segments: Vec<PathBuf>,
}

impl Pristine {
    pub fn final_model(&self) -> &Model {
        self.snapshots.last().unwrap()
    }
}

pub fn build() -> Pristine {
    let root = scratch_dir();
    let dir = root.path().join("db");
    let db = Database::open_with(&dir, options()).unwrap();
    let docs = db.create_collection("docs", schema()).unwrap();
    let mut model = Model::new();
    let hour = Duration::from_secs(3600);
    // Three segments of eight rows each (a flush every eight), some with deadlines.
    for index in 0..24u64 {
        if index.is_multiple_of(5) {
            docs.upsert_with_ttl(key(index), doc(index, 0), hour)
                .unwrap();
        } else {
            docs.upsert(key(index), doc(index, 0)).unwrap();
        }
        model.insert(key(index), doc(index, 0));
    }
    // Deletions and deadline changes of sealed rows: state files at the next flush.
    for index in [1, 9, 17] {
        assert!(docs.delete(&key(index)).unwrap());
        model.remove(&key(index));
    }
    assert!(docs.expire(&key(2), hour).unwrap());
    assert!(docs.expire(&key(10), hour).unwrap());
    assert!(docs.persist(&key(5)).unwrap());
    assert!(docs.expire(&key(6), Duration::ZERO).unwrap());
    model.remove(&key(6));
    docs.upsert(key(3), doc(3, 1)).unwrap();
    model.insert(key(3), doc(3, 1));
    db.flush().unwrap();

    // Writes after the last flush live in the WAL only, and reach into the segments.
    let mut snapshots = vec![model.clone()];
    for index in 100..103 {
        docs.upsert(key(index), doc(index, 0)).unwrap();
        model.insert(key(index), doc(index, 0));
        snapshots.push(model.clone());
    }
    docs.upsert(key(4), doc(4, 1)).unwrap();
    model.insert(key(4), doc(4, 1));
    snapshots.push(model.clone());
    assert!(docs.delete(&key(12)).unwrap());
    model.remove(&key(12));
    snapshots.push(model.clone());
    assert!(docs.expire(&key(18), hour).unwrap());
    snapshots.push(model.clone());
    drop(docs);
    drop(db);

    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    segments.sort();
    assert_eq!(segments.len(), 4, "three segments of rows and one flushed");
    Pristine {
        _root: root,
        dir,
        snapshots,
        segments,
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Whether `error` is a data error naming one of `blame`.
pub fn blames(error: &Error, dir: &Path, blame: &[PathBuf]) -> bool {
    let file = match error {
        Error::Corrupt { file, .. } | Error::UnsupportedVersion { file, .. } => file,
        _ => return false,
    };
    blame.iter().any(|b| dir.join(b) == *file)
}

/// Every answer a reader can get: the model's, or `Corrupt` naming a blamed file. Damage
/// may make a read fail, never make it wrong (a missed key, a duplicate row, a wrong
/// count or neighbour).
pub fn answers_or_blames(
    db: &Database,
    model: &Model,
    all_keys: &[String],
    ok: &dyn Fn(&Error) -> bool,
) -> Result<(), String> {
    let docs = db.collection("docs").map_err(|e| e.to_string())?;
    let check = |what: String, result: Result<bool, Error>| match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{what}: wrong answer")),
        Err(error) if ok(&error) => Ok(()),
        Err(error) => Err(format!("{what}: unexpected error {error:?}")),
    };
    check(
        format!("len (expected {})", model.len()),
        docs.len().map(|len| len == model.len()),
    )?;
    for key in all_keys {
        check(
            format!("get {key}"),
            docs.get(key).map(|got| got.as_ref() == model.get(key)),
        )?;
    }
    for (field, dim, metric) in VECTOR_FIELDS {
        for query in random_vectors(dim as u64, 2, dim) {
            let mut truth: Vec<(f64, &String)> = model
                .iter()
                .filter_map(|(key, doc)| {
                    Some((oracle_distance(metric, &query, doc.get_vector(field)?), key))
                })
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            truth.truncate(6);
            let hits = docs.search(&Search::knn(field, &query, 6).no_content());
            check(
                format!("search {field}"),
                hits.map(|hits| {
                    hits.len() == truth.len()
                        && hits.iter().zip(&truth).all(|(hit, (distance, key))| {
                            hit.key == **key && (hit.distance as f64 - distance).abs() < 1e-4
                        })
                }),
            )?;
        }
    }
    // The text indexes: every live title holds "document" and its own index number.
    for word in ["document", "3", "version"] {
        let query = format!("@title:{word}");
        let expected: std::collections::BTreeSet<&String> = model
            .iter()
            .filter(|(_, doc)| {
                doc.get_text("title")
                    .is_some_and(|title| title.split(' ').any(|w| w == word))
            })
            .map(|(key, _)| key)
            .collect();
        // The total counts every match; the page (at most 10,000) holds only matches.
        check(
            query.clone(),
            docs.query(&query)
                .args(["NOCONTENT", "LIMIT", "0", "10000"])
                .run_with_total()
                .map(|found| {
                    found.total == expected.len()
                        && found.hits.len() == expected.len().min(10_000)
                        && found.hits.iter().all(|hit| expected.contains(&hit.key))
                }),
        )?;
    }
    // The TAG and NUMERIC indexes: every row a filter admits, nearest first.
    let query = random_vectors(99, 1, 8).remove(0);
    type Admits<'a> = &'a dyn Fn(&Doc) -> bool;
    let filters: [(&str, Filter, Admits); 2] = [
        ("tag a", Filter::tag("tags", ["a"]), &|doc: &Doc| {
            doc.get_tag("tags")
                .is_some_and(|tags| tags.split(',').any(|t| t == "a"))
        }),
        (
            "rank < 1000",
            Filter::range("rank", ..1000.0),
            &|doc: &Doc| doc.get_numeric("rank").is_some_and(|rank| rank < 1000.0),
        ),
    ];
    for (name, filter, admits) in filters {
        let mut truth: Vec<(f64, &String)> = model
            .iter()
            .filter(|(_, doc)| admits(doc))
            .map(|(key, doc)| {
                let vector = doc.get_vector("embedding").expect("every doc has one");
                (oracle_distance(Metric::L2, &query, vector), key)
            })
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        truth.truncate(100);
        let hits = docs.search(
            &Search::knn("embedding", &query, 100)
                .filter(filter)
                .no_content(),
        );
        check(
            format!("search filtered by {name}"),
            hits.map(|hits| {
                hits.len() == truth.len()
                    && hits
                        .iter()
                        .zip(&truth)
                        .all(|(hit, (_, key))| hit.key == **key)
            }),
        )?;
    }
    Ok(())
}

/// Writes against a damaged database: each answers correctly or fails with `Corrupt`
/// naming a blamed file, and what a flush makes durable is still right after a reopen
/// (damage must not become durable as duplicate or missing rows).
pub fn writes_answer_or_blame(
    dir: &Path,
    mut model: Model,
    all_keys: &[String],
    ok: &dyn Fn(&Error) -> bool,
) -> Result<(), String> {
    {
        let db = match Database::open_with(dir, options()) {
            Err(error) if ok(&error) => return Ok(()),
            Err(error) => return Err(format!("open: unexpected error {error:?}")),
            Ok(db) => db,
        };
        let docs = db.collection("docs").map_err(|e| e.to_string())?;
        // Live in a segment, replaced through the WAL, already deleted.
        for index in [0, 4, 12] {
            let existed = model.contains_key(&key(index));
            match docs.delete(&key(index)) {
                Ok(said) if said == existed => {
                    model.remove(&key(index));
                }
                Ok(said) => {
                    return Err(format!("delete {}: {said}, expected {existed}", key(index)))
                }
                Err(error) if ok(&error) => {}
                Err(error) => return Err(format!("delete {}: unexpected {error:?}", key(index))),
            }
        }
        for index in [3, 4, 7, 20, 200] {
            match docs.upsert(key(index), doc(index, 9)) {
                Ok(()) => {
                    model.insert(key(index), doc(index, 9));
                }
                Err(error) if ok(&error) => {}
                Err(error) => return Err(format!("upsert {}: unexpected {error:?}", key(index))),
            }
        }
        answers_or_blames(&db, &model, all_keys, ok).map_err(|e| format!("after writes: {e}"))?;
        match db.flush() {
            Ok(()) => {}
            Err(error) if ok(&error) => {}
            Err(error) => return Err(format!("flush: unexpected {error:?}")),
        }
    }
    let db = match Database::open_with(dir, options()) {
        Err(error) if ok(&error) => return Ok(()),
        Err(error) => return Err(format!("reopen: unexpected error {error:?}")),
        Ok(db) => db,
    };
    answers_or_blames(&db, &model, all_keys, ok).map_err(|e| format!("after reopen: {e}"))
}
