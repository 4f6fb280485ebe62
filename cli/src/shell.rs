//! `strata DB`: the same commands as the server, typed at a prompt (line editing and
//! history) or given once on the command line, printed as `redis-cli` prints them.

use std::path::Path;
use std::process::ExitCode;

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::commands::{execute, Shared};
use crate::print::render;
use crate::resp::{split_words, Reply};

/// Runs one command given as words (or one quoted line) and prints the reply. Fails
/// (exit code 1) on an error reply, so scripts can test it.
pub fn one_shot(shared: &Shared, words: &[String]) -> Result<ExitCode, String> {
    let words = if words.len() == 1 {
        split_words(&words[0]).ok_or("the command has an unbalanced quote")?
    } else {
        words.iter().map(|w| w.clone().into_bytes()).collect()
    };
    let reply = run_line(shared, words);
    out!("{}", render(&reply, false));
    Ok(if reply.is_error() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_line(shared: &Shared, command: Vec<Vec<u8>>) -> Reply {
    let mut session = shared.session();
    execute(shared, &mut session, &command)
}

/// The interactive shell. History is kept in `~/.strata_history`.
pub fn interactive(shared: &Shared, db: &Path) -> Result<ExitCode, String> {
    let mut editor =
        DefaultEditor::new().map_err(|e| format!("cannot start the line editor: {e}"))?;
    let history = std::env::var_os("HOME").map(|home| Path::new(&home).join(".strata_history"));
    if let Some(path) = &history {
        // A missing history file is the normal first run.
        let _ = editor.load_history(path);
    }
    let prompt = format!("strata {}> ", db.display());
    let mut session = shared.session();
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line);
                if line.eq_ignore_ascii_case("exit") || line.eq_ignore_ascii_case("quit") {
                    break;
                }
                if line.eq_ignore_ascii_case("help") {
                    out!("Redis commands (HSET, HGETALL, FT.CREATE, FT.SEARCH, ...), one per line; quote arguments with spaces. `exit` leaves.");
                    continue;
                }
                let Some(words) = split_words(line) else {
                    out!("Invalid argument(s): unbalanced quotes");
                    continue;
                };
                let reply = execute(shared, &mut session, &words);
                out!("{}", render(&reply, session.resp3));
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("reading the command line failed: {e}")),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}
