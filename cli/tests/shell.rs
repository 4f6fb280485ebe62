//! `strata DB ...`: one-shot commands and the shell, printed as redis-cli prints.

use std::io::Write;
use std::process::{Command, Stdio};

fn strata(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn one_shot_commands_print_like_redis_cli_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_str().unwrap();
    let create = "FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA title TEXT genre TAG price NUMERIC";
    assert_eq!(strata(&[db, create]), (true, "OK\n".into()));
    assert_eq!(
        strata(&[db, "HSET", "doc:1", "title", "a b", "genre", "x", "price", "3"]),
        (true, "(integer) 3\n".into())
    );
    assert_eq!(
        strata(&[db, "HSET doc:2 title 'c d' genre y price 5"]),
        (true, "(integer) 3\n".into())
    );
    // Arguments that look like options belong to the command.
    assert_eq!(
        strata(&[db, "HSET", "doc:3", "price", "-2"]),
        (true, "(integer) 1\n".into())
    );
    let (ok, out) = strata(&[db, "FT.SEARCH idx '@price:[4 10]' RETURN 1 title"]);
    assert!(ok);
    assert_eq!(
        out,
        "1) (integer) 1\n2) \"doc:2\"\n3) 1) \"title\"\n   2) \"c d\"\n"
    );
    let (ok, out) = strata(&[db, "FT.SEARCH nope *"]);
    assert!(!ok, "an error reply fails the command");
    assert_eq!(out, "(error) nope: no such index\n");
    let (ok, out) = strata(&["info", db]);
    assert!(ok);
    assert!(out.contains("idx: 3 rows"), "{out}");
    let (ok, out) = strata(&["verify", db]);
    assert!(ok && out.starts_with("ok:"), "{out}");
    let backup = dir.path().join("copy");
    assert!(strata(&["backup", db, backup.to_str().unwrap()]).0);
    assert!(strata(&["compact", db]).0);
    assert_eq!(
        strata(&[backup.to_str().unwrap(), "HGET doc:2 title"]),
        (true, "\"c d\"\n".into())
    );
}

#[test]
fn the_shell_reads_commands_until_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg(dir.path().join("db"))
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"HSET k a 1 b \"two words\"\nHGETALL k\nHGET k \"unclosed\nexit\nHGET k a\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(integer) 2"), "{text}");
    assert!(
        text.contains("1) \"a\"\n2) \"1\"\n3) \"b\"\n4) \"two words\""),
        "{text}"
    );
    assert!(text.contains("unbalanced quotes"), "{text}");
    // Nothing after `exit` ran.
    assert_eq!(text.matches("\"1\"").count(), 1, "{text}");
}
