//! Damage to the lazily read segment files (keys, docs, vectors, key filter, tags,
//! numeric, hnsw) met after a clean open: every read and write either answers right or
//! fails with `Corrupt` naming the file, block by block (FORMAT.md, "Block-checked
//! files"). `damage.rs` runs the same checks over its table of damage to every file.

use strata::{Database, Doc, Error, Metric, Options, Schema, Search, VectorIndex};
use strata_tests::damaged::{
    answers_or_blames, blames, build, copy_dir, doc, key, options, schema, writes_answer_or_blame,
    Model, FOOTER_LEN,
};
use strata_tests::{random_vectors, scratch_dir};

#[test]
fn a_damaged_key_filter_never_hides_a_live_key() {
    // Zeroing one byte of a key filter used to let replay take a key for absent: the
    // WAL's upsert of doc:4 then left its segment row live beside the new one (two live
    // rows, a wrong len), `get` and `delete` missed keys, and a flush made it durable.
    let pristine = build();
    let all_keys: Vec<String> = (0..24).chain(100..103).chain([200]).map(key).collect();
    let mut failures = Vec::new();
    let mut cases = 0;
    for segment in &pristine.segments {
        let relative = segment
            .strip_prefix(&pristine.dir)
            .unwrap()
            .join("keyfilter");
        let len = std::fs::metadata(pristine.dir.join(&relative))
            .unwrap()
            .len() as usize;
        for at in 0..len - FOOTER_LEN {
            let root = scratch_dir();
            let dir = root.path().join("db");
            copy_dir(&pristine.dir, &dir);
            let path = dir.join(&relative);
            let mut bytes = std::fs::read(&path).unwrap();
            if bytes[at] == 0 {
                continue;
            }
            bytes[at] = 0;
            std::fs::write(&path, bytes).unwrap();
            cases += 1;
            let blamed = |error: &Error| blames(error, &dir, std::slice::from_ref(&relative));
            let outcome = match Database::open_with(&dir, options()) {
                Err(error) if blamed(&error) => Ok(()),
                Err(error) => Err(format!("open: unexpected error {error:?}")),
                Ok(db) => answers_or_blames(&db, pristine.final_model(), &all_keys, &blamed),
            }
            .and_then(|()| {
                writes_answer_or_blame(&dir, pristine.final_model().clone(), &all_keys, &blamed)
            });
            if let Err(why) = outcome {
                failures.push(format!("{}: zero byte {at}: {why}", relative.display()));
            }
        }
    }
    assert!(cases > 0);
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn damage_in_one_block_of_a_large_segment_fails_only_the_reads_that_touch_it() {
    // The files of `build()` fit in one 64 KiB block each, so any damage fails every
    // read of the file. Here each file spans many blocks: a flip in one must fail the
    // reads that touch it (naming the file), answer every other read right, and never
    // make a write act on it.
    const ROWS: u64 = 60_000;
    let root = scratch_dir();
    let pristine = root.path().join("db");
    let options = Options {
        memtable_rows_max: 100_000,
        ..options()
    };
    let mut model = Model::new();
    {
        let db = Database::open_with(&pristine, options.clone()).unwrap();
        let docs = db.create_collection("docs", schema()).unwrap();
        for start in (0..ROWS).step_by(1_000) {
            let batch: Vec<(String, Doc)> = (start..start + 1_000)
                .map(|i| (key(i), doc(i, 0)))
                .collect();
            docs.upsert_many(batch.iter().cloned()).unwrap();
            model.extend(batch);
        }
        db.flush().unwrap();
        // A WAL tail that replay locates in the segment.
        docs.upsert(key(5), doc(5, 1)).unwrap();
        model.insert(key(5), doc(5, 1));
        assert!(docs.delete(&key(7)).unwrap());
        model.remove(&key(7));
    }
    let segment = std::fs::read_dir(pristine.join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .next()
        .unwrap();
    let sample: Vec<String> = (0..ROWS).step_by(97).chain([5, 7, 200]).map(key).collect();
    for (name, granular) in [
        ("keys", false),
        ("docs", true),
        ("vectors-3", true),
        ("vectors-4", true),
        ("keyfilter", true),
        ("tags-1", false),
        ("numeric-2", false),
        ("text-0", false),
    ] {
        let relative = segment.strip_prefix(&pristine).unwrap().join(name);
        let bytes = std::fs::read(pristine.join(&relative)).unwrap();
        // The data ends where the block table does: before `count` u32s and the
        // 12-byte trailer whose second word is `count`.
        let trailer = bytes.len() - FOOTER_LEN - 12;
        let count = u32::from_le_bytes(bytes[trailer + 4..trailer + 8].try_into().unwrap());
        let data_len = trailer - 4 * count as usize;
        if granular {
            assert!(count >= 2, "{name}: {count} blocks");
        }
        // Past the first block (which holds the headers) when there is more than one.
        let at = match count {
            1 => data_len / 2,
            _ => 65_536 + (data_len - 65_536).min(65_536) / 2,
        };
        let work = scratch_dir();
        let dir = work.path().join("db");
        copy_dir(&pristine, &dir);
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        std::fs::write(dir.join(&relative), damaged).unwrap();
        let blamed = |error: &Error| blames(error, &dir, std::slice::from_ref(&relative));
        let (mut right, mut refused) = (0, 0);
        match Database::open_with(&dir, options.clone()) {
            Err(error) => assert!(blamed(&error), "{name}: open: {error:?}"),
            Ok(db) => {
                let docs = db.collection("docs").unwrap();
                for key in &sample {
                    match docs.get(key) {
                        Ok(got) => {
                            assert_eq!(got.as_ref(), model.get(key), "{name}: get {key}");
                            right += 1;
                        }
                        Err(error) => {
                            assert!(blamed(&error), "{name}: get {key}: {error:?}");
                            refused += 1;
                        }
                    }
                }
                answers_or_blames(&db, &model, &sample, &blamed)
                    .unwrap_or_else(|why| panic!("{name}: {why}"));
                assert!(
                    matches!(db.verify(), Err(error) if blamed(&error)),
                    "{name}: verify"
                );
            }
        }
        if granular {
            assert!(
                right > 0 && refused > 0,
                "{name}: {right} right, {refused} refused: one damaged block fails the reads \
                 that touch it only"
            );
        }
        writes_answer_or_blame(&dir, model.clone(), &sample, &blamed)
            .unwrap_or_else(|why| panic!("{name}: {why}"));
    }
}

#[test]
fn a_damaged_graph_or_vector_block_fails_the_graph_search_instead_of_steering_it() {
    // A graph walk reads links and vectors wherever they lead, so the first walk checks
    // both files whole: damage anywhere in them fails the search naming the file,
    // instead of answering from a walk that damaged bytes steered.
    const ROWS: u64 = 3_000;
    const DIM: usize = 16;
    let root = scratch_dir();
    let pristine = root.path().join("db");
    let schema = Schema::builder()
        .vector("v", DIM, Metric::L2, VectorIndex::hnsw(8, 32))
        .build()
        .unwrap();
    let vectors = random_vectors(5, ROWS as usize, DIM);
    let query = random_vectors(6, 1, DIM).remove(0);
    let walk = || {
        Search::knn("v", &query, 10)
            .ef_runtime(64)
            .brute_force(false)
            .no_content()
    };
    let expected = {
        let db = Database::open_with(&pristine, options()).unwrap();
        let docs = db.create_collection("docs", schema).unwrap();
        docs.upsert_many(
            vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (key(i as u64), Doc::new().vector("v", v.clone()))),
        )
        .unwrap();
        db.flush().unwrap();
        docs.search(&walk()).unwrap()
    };
    assert_eq!(expected.len(), 10);
    let segment = std::fs::read_dir(pristine.join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .next()
        .unwrap();
    // The suite's options write the graph with 8-bit codes (version 2), so the
    // damage below lands in codes and neighbour lists alike.
    let graph = std::fs::read(segment.join("hnsw-0")).unwrap();
    assert_eq!(u32::from_le_bytes(graph[8..12].try_into().unwrap()), 2);
    for name in ["hnsw-0", "vectors-0"] {
        let relative = segment.strip_prefix(&pristine).unwrap().join(name);
        let len = std::fs::metadata(pristine.join(&relative)).unwrap().len() as usize;
        for at in [200, 70_000, len / 2, len - FOOTER_LEN - 200] {
            let work = scratch_dir();
            let dir = work.path().join("db");
            copy_dir(&pristine, &dir);
            let path = dir.join(&relative);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[at] ^= 0x08;
            std::fs::write(&path, bytes).unwrap();
            let blamed = |error: &Error| blames(error, &dir, std::slice::from_ref(&relative));
            let db = match Database::open_with(&dir, options()) {
                Err(error) => {
                    assert!(blamed(&error), "{name} at {at}: open: {error:?}");
                    continue;
                }
                Ok(db) => db,
            };
            let docs = db.collection("docs").unwrap();
            match docs.search(&walk()) {
                Err(error) => assert!(blamed(&error), "{name} at {at}: {error:?}"),
                Ok(hits) => panic!("{name} at {at}: answered from a damaged file: {hits:?}"),
            }
            assert!(matches!(db.verify(), Err(error) if blamed(&error)));
        }
    }
}
