//! Child process for the crash and lock tests.
//!
//! `crash_writer DB DURABILITY write` opens DB and follows the shared write schedule
//! forever, printing `ack <end>` after each acknowledged step, until it is killed.
//! `crash_writer DB DURABILITY write-json` upserts JSON document `i` (from
//! `strata_tests::json`) into the collection `json` and, when `i % 3 == 2`, sets
//! `$.price` to `i` and `$.tags` to `["eco"]` in document `i - 1`, printing `ack <i + 1>`
//! after each step, until it is killed. Its memtable flushes every 16 rows.
//! `crash_writer DB DURABILITY hold` opens DB, prints `ready`, and waits to be killed.
//! `crash_writer DB DURABILITY torture SEED MEMTABLE_ROWS` opens DB with the torture
//! options, reads the state of the `docs` collection as its starting model, then runs
//! phase SEED of the torture workload (`strata_tests::torture`) forever, printing
//! `ack <index>` after each acknowledged step. A wrong return value or an engine error
//! ends it with a message on stderr, which the parent reports.

use std::io::Write;

use strata::{Database, Durability, Metric, Options};
use strata_tests::torture::{self, Model};
use strata_tests::{
    doc_for, full_schema, hnsw_schema, ivfpq_schema, key_for, schedule_step, IVFPQ_BATCH,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, durability, mode, rest @ ..] = args.as_slice() else {
        return Err("usage: crash_writer DB always|everysec|never write|hold|torture ..".into());
    };
    let durability = match durability.as_str() {
        "always" => Durability::Always,
        "everysec" => Durability::EverySec,
        "never" => Durability::Never,
        other => return Err(format!("unknown durability {other}").into()),
    };
    if mode == "torture" {
        let [seed, rows] = rest else {
            return Err("usage: crash_writer DB DURABILITY torture SEED MEMTABLE_ROWS".into());
        };
        return run_torture(path, durability, seed.parse()?, rows.parse()?);
    }
    if mode == "write-ivfpq" {
        return run_ivfpq(path, durability);
    }
    if mode == "write-json" {
        return run_json(path, durability);
    }
    // `write-hnsw`: the same schedule into an HNSW collection whose memtable flushes
    // every 16 rows and whose segments merge as soon as two share a tier, so kills land
    // while graphs are being built and published.
    let hnsw = mode == "write-hnsw";
    let options = if hnsw {
        Options {
            durability,
            memtable_rows_max: 16,
            background_interval: std::time::Duration::from_millis(2),
            compaction_trigger: 2,
            ..Options::default()
        }
    } else {
        Options {
            durability,
            ..Options::default()
        }
    };
    let db = Database::open_with(path, options)?;
    let stdout = std::io::stdout();
    if mode == "hold" {
        writeln!(stdout.lock(), "ready")?;
        loop {
            std::thread::park();
        }
    }
    let docs = match db.collection("docs") {
        Ok(docs) => docs,
        Err(_) if hnsw => db.create_collection("docs", hnsw_schema(Metric::L2))?,
        Err(_) => db.create_collection("docs", full_schema(Metric::L2))?,
    };
    for step in 0.. {
        let range = schedule_step(step);
        if range.end - range.start == 1 {
            docs.upsert(key_for(range.start), doc_for(range.start))?;
        } else {
            docs.upsert_many(range.clone().map(|index| (key_for(index), doc_for(index))))?;
        }
        writeln!(stdout.lock(), "ack {}", range.end)?;
    }
    Ok(())
}

/// `write-ivfpq`: batches of `IVFPQ_BATCH` documents into an IVF-PQ collection whose
/// memtable flushes past 4,200 rows (a segment large enough to train) and whose
/// segments merge as soon as two share a tier, so kills land while quantisers are
/// trained and segments published. Prints `ack <documents>` after each batch. The
/// flush runs inside the write that fills the memtable (no background threads), so a
/// kill after a batch lands after the flushes of every batch acknowledged before it,
/// and reopens meet trained indexes (the background flusher is killed mid-work by the
/// other crash tests).
fn run_ivfpq(path: &str, durability: Durability) -> Result<(), Box<dyn std::error::Error>> {
    let options = Options {
        durability,
        memtable_rows_max: 4_200,
        background_work: false,
        ..Options::default()
    };
    let db = Database::open_with(path, options)?;
    let docs = match db.collection("docs") {
        Ok(docs) => docs,
        Err(_) => db.create_collection("docs", ivfpq_schema(Metric::L2))?,
    };
    let stdout = std::io::stdout();
    let mut next = docs.len()? as u64;
    loop {
        let end = next + IVFPQ_BATCH;
        docs.upsert_many((next..end).map(|index| (key_for(index), doc_for(index))))?;
        writeln!(stdout.lock(), "ack {end}")?;
        next = end;
    }
}

fn run_torture(
    path: &str,
    durability: Durability,
    seed: u64,
    memtable_rows: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::open_with(path, torture::options(durability, memtable_rows))?;
    let docs = db.collection(torture::COLLECTION)?;
    // The parent checked this state against its model before starting us.
    let mut model = Model::read(&docs)?;
    let stdout = std::io::stdout();
    for index in 0.. {
        let step = torture::step(seed, index);
        match torture::execute_checked(&db, &docs, &mut model, &step) {
            Ok(()) => {}
            Err(Ok(error)) => return Err(format!("step {index} {step:?} failed: {error}").into()),
            Err(Err(message)) => return Err(format!("step {index}: {message}").into()),
        }
        // One write per line; a pipe takes it whole.
        writeln!(stdout.lock(), "ack {index}")?;
    }
    Ok(())
}

/// `write-json`: see the module's documentation.
fn run_json(path: &str, durability: Durability) -> Result<(), Box<dyn std::error::Error>> {
    use strata_tests::json::{json_doc, json_key, json_schema};
    let options = Options {
        durability,
        memtable_rows_max: 16,
        background_interval: std::time::Duration::from_millis(2),
        ..Options::default()
    };
    let db = Database::open_with(path, options)?;
    let docs = match db.collection("json") {
        Ok(docs) => docs,
        Err(_) => db.create_collection("json", json_schema(strata::VectorIndex::hnsw(8, 40)))?,
    };
    let stdout = std::io::stdout();
    for index in 0u64.. {
        docs.upsert_json(json_key(index), json_doc(index))?;
        if index % 3 == 2 {
            let previous = json_key(index - 1);
            docs.set_json(&previous, "$.price", serde_json::json!(index as f64))?;
            docs.set_json(&previous, "$.tags", serde_json::json!(["eco"]))?;
        }
        writeln!(stdout.lock(), "ack {}", index + 1)?;
    }
    Ok(())
}
