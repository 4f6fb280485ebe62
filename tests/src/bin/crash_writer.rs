//! Child process for the crash and lock tests.
//!
//! `crash_writer DB DURABILITY write` opens DB and follows the shared write schedule
//! forever, printing `ack <end>` after each acknowledged step, until it is killed.
//! `crash_writer DB DURABILITY hold` opens DB, prints `ready`, and waits to be killed.

use std::io::Write;

use strata::{Database, Durability, Metric, Options};
use strata_tests::{doc_for, full_schema, key_for, schedule_step};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, durability, mode] = args.as_slice() else {
        return Err("usage: crash_writer DB always|everysec|never write|hold".into());
    };
    let durability = match durability.as_str() {
        "always" => Durability::Always,
        "everysec" => Durability::EverySec,
        "never" => Durability::Never,
        other => return Err(format!("unknown durability {other}").into()),
    };
    let db = Database::open_with(
        path,
        Options {
            durability,
            ..Options::default()
        },
    )?;
    let stdout = std::io::stdout();
    if mode == "hold" {
        writeln!(stdout.lock(), "ready")?;
        loop {
            std::thread::park();
        }
    }
    let docs = match db.collection("docs") {
        Ok(docs) => docs,
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
