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

/// Runs the shell on a pseudo-terminal, as a person at a terminal would, typing each
/// of `keys` once the output so far contains what the step before waited for. Returns
/// everything the terminal showed.
#[cfg(unix)]
fn at_a_terminal(db: &std::path::Path, home: &std::path::Path, steps: &[(&str, &str)]) -> String {
    use std::fs::File;
    use std::io::Read;
    use std::sync::mpsc;
    use std::time::Duration;

    let pty = nix::pty::openpty(None, None).expect("open a pseudo-terminal");
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg(db)
        .env("HOME", home)
        .env("TERM", "xterm")
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let mut terminal = File::from(pty.master);
    let mut reader = terminal.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    // The terminal is read on a thread so a step can wait with a deadline; the read
    // fails once the shell has exited and closed its side.
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<u8> = Vec::new();
    // Waits until what the terminal showed from byte `from` on contains `what`; returns
    // the byte after it.
    let wait = |seen: &mut Vec<u8>, from: usize, what: &str, typed: &str| loop {
        if let Some(at) = String::from_utf8_lossy(&seen[from..]).find(what) {
            break from + at + what.len();
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(bytes) => seen.extend(bytes),
            Err(_) => panic!(
                "no {what:?} after typing {typed:?}; the terminal showed:\n{}",
                String::from_utf8_lossy(seen)
            ),
        }
    };
    for (i, (keys, expect)) in steps.iter().enumerate() {
        terminal.write_all(keys.as_bytes()).unwrap();
        let from = seen.len();
        let after = wait(&mut seen, from, expect, keys);
        // The line editor drops what is typed before it shows its prompt again, so the
        // next keys wait for the prompt after this reply.
        if !keys.is_empty() && i + 1 < steps.len() {
            wait(&mut seen, after, "> ", keys);
        }
    }
    assert!(child.wait().unwrap().success());
    String::from_utf8_lossy(&seen).into_owned()
}

#[cfg(unix)]
#[test]
fn the_shell_at_a_terminal_edits_lines_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let shown = at_a_terminal(
        &db,
        &home,
        &[
            ("", "db> "),
            ("HSET doc:1 title 'hello world' n 5\r", "(integer) 2"),
            ("HGET doc:1 title\r", "\"hello world\""),
            // Line editing: three backspaces turn `nope` into `n`.
            ("HGET doc:1 nope\x7f\x7f\x7f\r", "\"5\""),
            ("LPUSH seen a b\r", "(integer) 2"),
            ("LRANGE seen 0 -1\r", "2) \"a\""),
            ("exit\r", "exit"),
        ],
    );
    assert!(!shown.contains("(error)"), "{shown}");
    let history = std::fs::read_to_string(home.join(".strata_history")).unwrap();
    assert!(history.contains("HGET doc:1 title"), "{history}");
    assert!(history.contains("HGET doc:1 n\n"), "{history}");

    // A new shell has the history and the data: five presses of Up go back past
    // `exit`, `LRANGE`, `LPUSH` and `HGET doc:1 n` to `HGET doc:1 title`.
    let shown = at_a_terminal(
        &db,
        &home,
        &[
            ("", "db> "),
            ("\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\r", "\"hello world\""),
            ("\x04", ""),
        ],
    );
    assert!(shown.contains("HGET doc:1 title"), "{shown}");
}
