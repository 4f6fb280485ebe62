//! The Redis serialization protocol: reading commands (multibulk and inline, within a
//! size limit) and writing replies in RESP2 or RESP3.

use std::io::{self, BufRead, Write};

/// One reply. RESP3 types (maps, doubles, sets, null) fall back to their RESP2 shapes
/// when the connection has not said `HELLO 3`, as Redis does.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Double(f64),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".to_string())
    }

    /// A bulk string from text.
    pub fn text(text: impl AsRef<str>) -> Reply {
        Reply::Bulk(text.as_ref().as_bytes().to_vec())
    }

    /// An error reply; `message` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error(message.into())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, resp3: bool) {
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => {
                // A newline inside an error would end the reply early and desynchronise
                // the client.
                let clean: String = s
                    .chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                    .collect();
                line(out, b'-', clean.as_bytes())
            }
            Reply::Int(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(bytes) => {
                line(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Set(items) => {
                line(
                    out,
                    if resp3 { b'~' } else { b'*' },
                    items.len().to_string().as_bytes(),
                );
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    line(out, b'%', pairs.len().to_string().as_bytes());
                } else {
                    line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
                }
                for (key, value) in pairs {
                    key.encode(out, resp3);
                    value.encode(out, resp3);
                }
            }
            Reply::Double(x) => {
                let text = format_double(*x);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    Reply::Bulk(text.into_bytes()).encode(out, resp3);
                }
            }
        }
    }
}

/// A double as Redis prints it: integers without a fraction, `inf`, `-inf`, `nan`.
pub fn format_double(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{x}")
    }
}

fn line(out: &mut Vec<u8>, prefix: u8, body: &[u8]) {
    out.push(prefix);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Why a command could not be read. Protocol errors end the connection after the
/// error reply, as in Redis, since the stream can no longer be framed.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Protocol(String),
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> ReadError {
        ReadError::Io(error)
    }
}

/// Most arguments in one command (Redis allows 1024*1024*1024; this bounds the
/// `Vec` a hostile header can make us allocate).
const MAX_ARGS: usize = 1 << 20;

/// Reads one command: `Ok(None)` at a clean end of stream. `max_bytes` bounds the
/// whole command (headers and arguments).
pub fn read_command(
    reader: &mut impl BufRead,
    max_bytes: usize,
) -> Result<Option<Vec<Vec<u8>>>, ReadError> {
    let mut budget = max_bytes;
    loop {
        let Some(first) = read_line(reader, &mut budget)? else {
            return Ok(None);
        };
        if first.first() == Some(&b'*') {
            let count = parse_len(&first[1..], "invalid multibulk length")?;
            if count > MAX_ARGS as i64 {
                return Err(ReadError::Protocol("invalid multibulk length".into()));
            }
            if count <= 0 {
                continue;
            }
            let mut args = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let header = read_line(reader, &mut budget)?.ok_or_else(eof)?;
                if header.first() != Some(&b'$') {
                    let found = header.first().map_or('?', |&b| b as char);
                    return Err(ReadError::Protocol(format!("expected '$', got '{found}'")));
                }
                let len = parse_len(&header[1..], "invalid bulk length")?;
                if len < 0 {
                    return Err(ReadError::Protocol("invalid bulk length".into()));
                }
                let len = len as usize;
                if len + 2 > budget {
                    return Err(too_large(max_bytes));
                }
                budget -= len + 2;
                let mut arg = vec![0; len + 2];
                reader.read_exact(&mut arg)?;
                if !arg.ends_with(b"\r\n") {
                    return Err(ReadError::Protocol("bulk string not ended by CRLF".into()));
                }
                arg.truncate(len);
                args.push(arg);
            }
            return Ok(Some(args));
        }
        // Inline command (telnet style): words separated by spaces, quotes allowed.
        let text = String::from_utf8_lossy(&first);
        match split_words(&text) {
            Some(words) if words.is_empty() => continue,
            Some(words) => return Ok(Some(words)),
            None => return Err(ReadError::Protocol("unbalanced quotes in request".into())),
        }
    }
}

fn eof() -> ReadError {
    ReadError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed mid-command",
    ))
}

fn too_large(max: usize) -> ReadError {
    ReadError::Protocol(format!(
        "request is over the server's limit of {max} bytes (raise it with --max-request-bytes)"
    ))
}

/// One CRLF- (or LF-) terminated line without its terminator, within `budget`.
fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let limit = (*budget as u64).saturating_add(1);
    let n = io::Read::take(&mut *reader, limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if n as u64 >= limit {
            return Err(too_large(*budget));
        }
        return Err(eof());
    }
    *budget = budget.saturating_sub(n);
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn parse_len(text: &[u8], what: &str) -> Result<i64, ReadError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ReadError::Protocol(what.to_string()))
}

/// Splits a line into words as redis-cli does: spaces separate, `"..."` (with `\n`,
/// `\xHH`, `\"` escapes, so binary arguments can be typed) and `'...'` quote. `None`
/// when a quote is left open.
pub fn split_words(line: &str) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    let push = |word: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = Vec::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' && first == '"' {
                    match chars.next()? {
                        'n' => word.push(b'\n'),
                        'r' => word.push(b'\r'),
                        't' => word.push(b'\t'),
                        'x' => {
                            let hex: String = [chars.next()?, chars.next()?].iter().collect();
                            word.push(u8::from_str_radix(&hex, 16).ok()?);
                        }
                        other => push(&mut word, other),
                    }
                } else if c == '\\' && chars.peek() == Some(&'\'') {
                    push(&mut word, chars.next()?);
                } else {
                    push(&mut word, c);
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                push(&mut word, c);
                chars.next();
            }
        }
        words.push(word);
    }
}

/// Reads one reply (for `strata export`, a client of another server).
pub fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply: {what}"));
    let mut budget = usize::MAX - 1;
    let line = match read_line(reader, &mut budget) {
        Ok(Some(line)) => line,
        Ok(None) => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ))
        }
        Err(ReadError::Io(e)) => return Err(e),
        Err(ReadError::Protocol(m)) => return Err(bad(&m)),
    };
    let (&kind, rest) = line.split_first().ok_or_else(|| bad("empty line"))?;
    let text = String::from_utf8_lossy(rest).into_owned();
    let number = || text.parse::<i64>().map_err(|_| bad(&text));
    Ok(match kind {
        b'+' => Reply::Simple(text),
        b'-' => Reply::Error(text),
        b':' => Reply::Int(number()?),
        b',' => Reply::Double(text.parse().map_err(|_| bad(&text))?),
        b'_' => Reply::Nil,
        b'$' => {
            let n = number()?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut body = vec![0; n as usize + 2];
            reader.read_exact(&mut body)?;
            body.truncate(n as usize);
            Reply::Bulk(body)
        }
        b'*' | b'~' => {
            let n = number()?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            Reply::Array(
                (0..n)
                    .map(|_| read_reply(reader))
                    .collect::<io::Result<_>>()?,
            )
        }
        b'%' => {
            let n = number()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                pairs.push((read_reply(reader)?, read_reply(reader)?));
            }
            Reply::Map(pairs)
        }
        _ => return Err(bad(&format!("type byte {kind:?}"))),
    })
}

/// Writes `replies` and flushes once, so a pipeline's replies leave in one write.
pub fn write_replies(out: &mut impl Write, replies: &[Reply], resp3: bool) -> io::Result<()> {
    let mut buffer = Vec::new();
    for reply in replies {
        reply.encode(&mut buffer, resp3);
    }
    out.write_all(&buffer)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], max: usize) -> Result<Option<Vec<Vec<u8>>>, ReadError> {
        read_command(&mut io::Cursor::new(bytes.to_vec()), max)
    }

    #[test]
    fn multibulk_and_inline_commands_parse() {
        let cmd = read(b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n", 1024)
            .unwrap()
            .unwrap();
        assert_eq!(cmd, vec![b"ECHO".to_vec(), b"a\r\n".to_vec()]);
        let cmd = read(b"SET k \"a b\"\r\n", 1024).unwrap().unwrap();
        assert_eq!(cmd, vec![b"SET".to_vec(), b"k".to_vec(), b"a b".to_vec()]);
        assert!(read(b"", 1024).unwrap().is_none());
    }

    #[test]
    fn oversized_and_malformed_requests_are_protocol_errors() {
        assert!(
            matches!(read(b"*1\r\n$100\r\n", 50), Err(ReadError::Protocol(m)) if m.contains("limit"))
        );
        assert!(
            matches!(read(b"*x\r\n", 50), Err(ReadError::Protocol(m)) if m.contains("multibulk"))
        );
        assert!(matches!(
            read(b"*1\r\n+x\r\n", 50),
            Err(ReadError::Protocol(_))
        ));
        assert!(
            matches!(read(&[b'a'; 100], 50), Err(ReadError::Protocol(m)) if m.contains("limit"))
        );
    }

    #[test]
    fn resp3_types_fall_back_in_resp2() {
        let reply = Reply::Map(vec![(Reply::text("a"), Reply::Double(1.5))]);
        let mut two = Vec::new();
        reply.encode(&mut two, false);
        assert_eq!(two, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n");
        let mut three = Vec::new();
        reply.encode(&mut three, true);
        assert_eq!(three, b"%1\r\n$1\r\na\r\n,1.5\r\n");
        let mut nil = Vec::new();
        Reply::Nil.encode(&mut nil, false);
        assert_eq!(nil, b"$-1\r\n");
    }
}
