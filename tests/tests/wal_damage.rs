//! A damaged write-ahead log: a torn tail is cut and reported; damage with intact
//! records after it is `Error::Corrupt`, unless the caller opts into truncation.

use std::path::{Path, PathBuf};

use strata::{Database, Durability, Error, Metric, Options, Recovery};
use strata_tests::{doc_for, full_schema, key_for};

const DOCS: u64 = 20;

fn populate(dir: &Path) -> PathBuf {
    let db = Database::open_with(
        dir,
        Options {
            durability: Durability::Always,
            ..Options::default()
        },
    )
    .unwrap();
    let docs = db
        .create_collection("docs", full_schema(Metric::Cosine))
        .unwrap();
    for index in 0..DOCS {
        docs.upsert(key_for(index), doc_for(index)).unwrap();
    }
    drop(db);
    wal_file(dir)
}

fn wal_file(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("wal-")
        })
        .collect();
    assert_eq!(logs.len(), 1, "one WAL file: {logs:?}");
    logs.pop().unwrap()
}

fn surviving_docs(db: &Database) -> u64 {
    let docs = db.collection("docs").unwrap();
    let count = docs.len().unwrap() as u64;
    for index in 0..count {
        assert_eq!(docs.get(&key_for(index)).unwrap(), Some(doc_for(index)));
    }
    count
}

#[test]
fn a_torn_last_record_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let wal = populate(dir.path());
    let length = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(length - 7)
        .unwrap();

    let db = Database::open(dir.path()).expect("a torn tail is not an error");
    let cut = db
        .recovery_report()
        .cut
        .clone()
        .expect("the cut is reported");
    assert_eq!(cut.file, wal);
    assert_eq!(cut.corruption, None, "a torn tail, not corruption");
    assert_eq!(
        surviving_docs(&db),
        DOCS - 1,
        "only the torn document is gone"
    );

    db.collection("docs")
        .unwrap()
        .upsert(key_for(DOCS - 1), doc_for(DOCS - 1))
        .unwrap();
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.recovery_report().cut, None, "the log was repaired");
    assert_eq!(surviving_docs(&db), DOCS);
}

#[test]
fn a_flipped_byte_before_the_tail_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let wal = populate(dir.path());
    let mut bytes = std::fs::read(&wal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&wal, &bytes).unwrap();

    match Database::open(dir.path()) {
        Err(Error::Corrupt { file, offset, .. }) => {
            assert_eq!(file, wal);
            assert!(offset <= middle as u64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&wal).unwrap(),
        bytes,
        "a refused open changes nothing"
    );

    let options = Options {
        recovery: Recovery::TruncateAtCorruption,
        ..Options::default()
    };
    let db = Database::open_with(dir.path(), options).expect("truncating recovery opens");
    let cut = db.recovery_report().cut.clone().unwrap();
    assert!(cut.corruption.is_some(), "reported as corruption: {cut:?}");
    let survivors = surviving_docs(&db);
    assert!(
        survivors < DOCS,
        "the damaged record and everything after it are dropped"
    );
}

#[test]
fn a_damaged_header_is_corruption_at_offset_zero() {
    let dir = tempfile::tempdir().unwrap();
    let wal = populate(dir.path());
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[0] = b'X';
    std::fs::write(&wal, &bytes).unwrap();
    assert!(matches!(
        Database::open(dir.path()),
        Err(Error::Corrupt { offset: 0, .. })
    ));
}
