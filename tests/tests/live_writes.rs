//! The live write path: flushes run off the writers' path and per collection, frozen
//! memtables stay visible, and `info` shows where rows are.

use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Options, Schema, Search, SourceKind, VectorIndex};

fn schema() -> Schema {
    Schema::builder()
        .tag("group")
        .vector("v", 4, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap()
}

fn doc(i: u32) -> Doc {
    let x = i as f32;
    Doc::new()
        .tag("group", if i.is_multiple_of(2) { "even" } else { "odd" })
        .vector("v", vec![x, x * 0.5, 1.0, -x])
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn one_collections_flush_never_seals_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        Options {
            memtable_rows_max: 50,
            ..Options::default()
        },
    )
    .unwrap();
    let busy = db.create_collection("busy", schema()).unwrap();
    let quiet = db.create_collection("quiet", schema()).unwrap();
    quiet.upsert("q:1", doc(1)).unwrap();
    // Six flushes of the busy collection: each publication starts a WAL file, and
    // the quiet collection's row pins the first, so past 8 files the WAL bound would
    // rightly flush the quiet collection too (`a_quiet_collection_does_not_pin_the_wal_forever`). Stay below.
    for i in 0..300 {
        busy.upsert(format!("b:{i}"), doc(i)).unwrap();
    }
    wait_until("busy's flushes", || {
        let info = busy.info().unwrap();
        info.flushes >= 6 && info.pending_flushes == 0
    });
    // Each collection's memtable limit is its own: the quiet collection's one row is
    // still in its memtable, untouched by six flushes of the other.
    let info = quiet.info().unwrap();
    assert_eq!(info.sources.len(), 1, "{info:?}");
    assert_eq!(info.sources[0].kind, SourceKind::Memtable);
    assert_eq!(info.flushes, 0);
    let info = busy.info().unwrap();
    assert_eq!(info.rows, 300);
    assert!(info
        .sources
        .iter()
        .any(|source| matches!(source.kind, SourceKind::Segment(_))));
    drop((busy, quiet));
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.collection("busy").unwrap().len().unwrap(), 300);
    assert_eq!(db.collection("quiet").unwrap().len().unwrap(), 1);
}

fn wal_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("wal-") && name.ends_with(".log")
        })
        .count()
}

/// A collection with one unflushed row pins the WAL file holding it; without a bound,
/// every flush of a busy collection would add a WAL file that no trim can remove, and
/// a reopen would replay them all. Past 8 files the flusher flushes the pinning one.
#[test]
fn a_quiet_collection_does_not_pin_the_wal_forever() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        Options {
            memtable_rows_max: 50,
            ..Options::default()
        },
    )
    .unwrap();
    let busy = db.create_collection("busy", schema()).unwrap();
    let quiet = db.create_collection("quiet", schema()).unwrap();
    quiet.upsert("q:1", doc(1)).unwrap();
    for i in 0..3000 {
        busy.upsert(format!("b:{i}"), doc(i)).unwrap();
    }
    wait_until("the quiet collection's flush", || {
        quiet.info().unwrap().flushes >= 1
    });
    wait_until("busy's flushes", || {
        let info = busy.info().unwrap();
        info.flushes >= 59 && info.pending_flushes == 0
    });
    // Sixty flushes of the busy collection (a publication may carry several, and
    // each starts a WAL file), yet the WAL is trimmed once the quiet row is in a
    // segment: at most the bound plus the file a publication starts.
    assert!(
        wal_files(dir.path()) <= 9,
        "{} WAL files",
        wal_files(dir.path())
    );
    assert_eq!(quiet.get("q:1").unwrap(), Some(doc(1)));
    drop((busy, quiet));
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.collection("busy").unwrap().len().unwrap(), 3000);
    assert_eq!(
        db.collection("quiet").unwrap().get("q:1").unwrap(),
        Some(doc(1))
    );
}

#[test]
fn every_acknowledged_row_stays_visible_while_memtables_are_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        Options {
            memtable_rows_max: 64,
            background_interval: Duration::from_millis(1),
            compaction_trigger: 2,
            ..Options::default()
        },
    )
    .unwrap();
    let docs = db.create_collection("docs", schema()).unwrap();
    let reader_docs = docs.clone();
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let reader = std::thread::spawn(move || {
        // Whatever the writer acknowledged must be found, whether it sits in the
        // memtable, a frozen memtable, a segment being written or a merged one.
        let mut acknowledged = 0u32;
        let mut checks = 0u32;
        loop {
            while let Ok(n) = rx.try_recv() {
                if n == u32::MAX {
                    return checks;
                }
                acknowledged = n;
            }
            if acknowledged == 0 {
                std::thread::yield_now();
                continue;
            }
            let probe = (checks * 7919) % acknowledged;
            let got = reader_docs.get(&format!("k:{probe}")).unwrap();
            assert!(got.is_some(), "acknowledged row k:{probe} is missing");
            let len = reader_docs.len().unwrap() as u32;
            assert!(
                len >= acknowledged,
                "len {len} < {acknowledged} acknowledged"
            );
            let hits = reader_docs
                .search(&Search::knn(
                    "v",
                    &[probe as f32, probe as f32 * 0.5, 1.0, -(probe as f32)],
                    1,
                ))
                .unwrap();
            assert_eq!(hits[0].key, format!("k:{probe}"));
            checks += 1;
        }
    });
    for i in 0..2_000u32 {
        docs.upsert(format!("k:{i}"), doc(i)).unwrap();
        tx.send(i + 1).unwrap();
    }
    tx.send(u32::MAX).unwrap();
    let checks = reader.join().unwrap();
    assert!(checks > 0);
    assert!(docs.info().unwrap().flushes > 0);
    assert_eq!(docs.len().unwrap(), 2_000);
}

#[test]
fn deletes_and_ttl_changes_of_frozen_rows_survive_their_flush_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_rows_max: 20,
        background_work: false,
        ..Options::default()
    };
    {
        let db = Database::open_with(dir.path(), options.clone()).unwrap();
        let docs = db.create_collection("docs", schema()).unwrap();
        for i in 0..100 {
            docs.upsert(format!("k:{i}"), doc(i)).unwrap();
        }
        for i in (0..100).step_by(3) {
            assert!(docs.delete(&format!("k:{i}")).unwrap());
        }
        for i in (1..100).step_by(3) {
            docs.upsert(format!("k:{i}"), doc(i + 1000)).unwrap();
        }
        assert!(docs
            .expire(&format!("k:{}", 2), Duration::from_secs(3600))
            .unwrap());
        db.flush().unwrap();
        assert_eq!(docs.len().unwrap(), 66);
    }
    let db = Database::open_with(dir.path(), options).unwrap();
    let docs = db.collection("docs").unwrap();
    assert_eq!(docs.len().unwrap(), 66);
    for i in 0..100u32 {
        let got = docs.get(&format!("k:{i}")).unwrap();
        match i % 3 {
            0 => assert!(got.is_none(), "k:{i} was deleted"),
            1 => assert_eq!(
                got.unwrap().get_vector("v").unwrap()[0],
                (i + 1000) as f32,
                "k:{i} was replaced"
            ),
            _ => assert!(got.is_some()),
        }
    }
    assert!(matches!(
        docs.ttl("k:2").unwrap(),
        strata::KeyTtl::ExpiresIn(_)
    ));
}
