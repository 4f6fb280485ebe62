//! A write that meets a damaged segment (the keys it must look up to replace or
//! delete an older row) fails with nothing logged: the handle and a reopen agree that
//! it did not happen.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use strata::{Database, Durability, Error, Metric, Options};
use strata_tests::{doc_for, full_schema, key_for};

fn open(dir: &Path) -> Database {
    Database::open_with(
        dir,
        Options {
            durability: Durability::Always,
            background_work: false,
            ..Options::default()
        },
    )
    .unwrap()
}

fn keys_file(dir: &Path) -> PathBuf {
    let segments: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments[0].join("keys")
}

/// Overwrites `bytes` at `offset` in place (same inode), as a disk error or another
/// program would, so that the open database's map sees it.
fn write_in_place(path: &Path, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
}

fn blames_keys(result: strata::Result<impl std::fmt::Debug>, keys: &Path) {
    match result {
        Err(Error::Corrupt { file, .. }) => assert_eq!(file, keys),
        other => panic!("expected Corrupt naming {}, got {other:?}", keys.display()),
    }
}

/// Bug: an upsert located the key's older row only while applying, after its WAL
/// append. A damaged segment then failed the write, yet it was in the log, and a
/// reopen (once the damage was repaired, or for any write that replay could apply)
/// brought back a write the caller had been told failed.
#[test]
fn an_upsert_that_meets_a_damaged_segment_fails_with_nothing_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let docs = db
        .create_collection("docs", full_schema(Metric::L2))
        .unwrap();
    for index in 0..10 {
        docs.upsert(key_for(index), doc_for(index)).unwrap();
    }
    db.flush().unwrap();
    docs.upsert(key_for(20), doc_for(20)).unwrap();

    // `keys` body: u64 n, (n + 1) u64 offsets, n u32 rows sorted by key. Every sorted
    // entry now names a row out of range, so any lookup that passes the key filter
    // meets the damage.
    let keys = keys_file(dir.path());
    let pristine = std::fs::read(&keys).unwrap();
    let rows = u64::from_le_bytes(pristine[..8].try_into().unwrap());
    assert_eq!(rows, 10);
    let sorted_at = 8 + 8 * (rows + 1);
    write_in_place(&keys, sorted_at, &vec![0xFF; 4 * rows as usize]);

    blames_keys(docs.upsert(key_for(3), doc_for(33)), &keys);
    blames_keys(
        docs.upsert_many([(key_for(50), doc_for(50)), (key_for(4), doc_for(44))]),
        &keys,
    );
    blames_keys(docs.delete(&key_for(5)), &keys);
    // A key the memtable holds is found without reading the segment.
    docs.upsert(key_for(20), doc_for(21)).unwrap();

    write_in_place(&keys, 0, &pristine);
    let expect = |docs: &strata::Collection| {
        assert_eq!(docs.len().unwrap(), 11);
        for index in 0..10 {
            assert_eq!(docs.get(&key_for(index)).unwrap(), Some(doc_for(index)));
        }
        assert_eq!(docs.get(&key_for(20)).unwrap(), Some(doc_for(21)));
        assert_eq!(docs.get(&key_for(50)).unwrap(), None);
    };
    expect(&docs);
    drop(docs);
    drop(db);
    let db = open(dir.path());
    db.verify().unwrap();
    expect(&db.collection("docs").unwrap());
}
