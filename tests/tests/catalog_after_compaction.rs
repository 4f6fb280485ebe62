//! Regression: a compaction publishes a manifest while collections created or dropped
//! since the last flush are still only in the WAL. Reopening must replay those
//! operations exactly once: the manifest may not already hold them.

use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Options, Schema, Search, VectorIndex};

fn schema() -> Schema {
    Schema::builder()
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap()
}

fn options() -> Options {
    Options {
        background_work: false,
        ..Options::default()
    }
}

/// Background compaction merges any two segments of a tier quickly.
fn compacting() -> Options {
    Options {
        background_interval: Duration::from_millis(5),
        compaction_trigger: 2,
        ..Options::default()
    }
}

#[test]
fn collections_created_and_dropped_after_a_flush_survive_a_compaction_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open_with(dir.path(), compacting()).unwrap();
        let a = db.create_collection("a", schema()).unwrap();
        let doomed = db.create_collection("doomed", schema()).unwrap();
        doomed
            .upsert("x", Doc::new().vector("v", vec![0.0, 0.0]))
            .unwrap();
        for flush in 0..2 {
            a.upsert(
                format!("k{flush}"),
                Doc::new().vector("v", vec![flush as f32, 0.0]),
            )
            .unwrap();
            db.flush().unwrap();
        }
        // After the last flush: a new collection, a dropped one, writes to both.
        let b = db.create_collection("b", schema()).unwrap();
        b.upsert("y", Doc::new().vector("v", vec![1.0, 1.0]))
            .unwrap();
        db.drop_collection("doomed").unwrap();
        // The background thread merges `a`'s two segments, publishing a manifest while
        // `b` and the drop exist only in the WAL.
        let segments = || {
            a.explain(&Search::knn("v", &[0.0, 0.0], 1))
                .unwrap()
                .sources
                .len()
                - 1
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while segments() != 1 {
            assert!(
                Instant::now() < deadline,
                "background compaction never merged `a`"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let db = Database::open_with(dir.path(), options()).expect("reopen replays the WAL tail once");
    assert_eq!(
        db.list_collections(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(db.collection("a").unwrap().len().unwrap(), 2);
    assert!(db.collection("b").unwrap().get("y").unwrap().is_some());
}
