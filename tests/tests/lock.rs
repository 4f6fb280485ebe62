//! Only one handle writes a database: a second opener gets `Error::Locked`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use strata::{Database, Error};

/// The tests here run one at a time. The lock is an `flock`, held by an open file
/// description; a child process forked by one test (to hold the database) shares every
/// descriptor of the parent until it execs, so a parallel test that closes and reopens
/// a database in that window would see its own lock still held. Applications that
/// spawn processes while reopening a database can see the same brief `Locked`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_second_open_in_the_same_process_is_locked() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
