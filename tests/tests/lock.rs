//! Only one handle writes a database: a second opener gets `Error::Locked`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use strata::{Database, Error};

#[test]
fn a_second_open_in_the_same_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    match Database::open(dir.path()) {
        Err(Error::Locked { path, holder }) => {
            assert_eq!(path, dir.path());
            assert_eq!(holder, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(db);
    Database::open(dir.path()).expect("the lock is released when the handle drops");
}

#[test]
fn another_process_holding_the_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir.path().to_str().unwrap(), "always", "hold"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    match Database::open(dir.path()) {
        Err(error @ Error::Locked { .. }) => {
            let Error::Locked { holder, .. } = &error else {
                unreachable!()
            };
            assert_eq!(*holder, Some(child.id()));
            let message = error.to_string();
            assert!(
                message.contains(&child.id().to_string()),
                "message names the holder: {message}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Database::open(dir.path()).expect("a dead holder's lock is gone");
}
