//! What the `strata serve` tests share: a server process on a free port, and a RESP
//! client that reads RESP2 and RESP3 replies.
// Each test file uses its own part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum R {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<R>),
    Map(Vec<(R, R)>),
    Double(String),
}

impl R {
    pub fn text(&self) -> String {
        match self {
            R::Simple(s) | R::Error(s) | R::Double(s) => s.clone(),
            R::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            R::Int(n) => n.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    pub fn items(&self) -> &[R] {
        match self {
            R::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }
}

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("serve")
            .arg(dir)
            .args(["--port", "0", "--durability", "always"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start strata serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    pub fn client(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Ends the process abruptly, as a crash would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n", arg.len()).bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    pub fn send(&mut self, args: &[&[u8]]) {
        self.writer.write_all(&encode(args)).unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> R {
        let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.raw(&words)
    }

    pub fn raw(&mut self, args: &[&[u8]]) -> R {
        self.send(args);
        self.read()
    }

    pub fn read(&mut self) -> R {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => R::Simple(rest.into()),
            "-" => R::Error(rest.into()),
            ":" => R::Int(rest.parse().unwrap()),
            "," => R::Double(rest.into()),
            "_" => R::Nil,
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return R::Nil;
                }
                let mut buf = vec![0; n as usize + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                R::Bulk(buf)
            }
            "*" | "~" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return R::Nil;
                }
                R::Array((0..n).map(|_| self.read()).collect())
            }
            "%" => {
                let n: usize = rest.parse().unwrap();
                R::Map((0..n).map(|_| (self.read(), self.read())).collect())
            }
            other => panic!("unexpected reply type {other:?} in {line:?}"),
        }
    }

    /// Whether the server closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

/// A vector as the little-endian FLOAT32 bytes Redis clients send.
pub fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The exact k-NN oracle: the `k` ids of `ids` nearest `query` by squared L2 over
/// `vector_of`, nearest first, ties by id.
pub fn nearest(
    query: [f32; 3],
    ids: impl Iterator<Item = usize>,
    k: usize,
    vector_of: impl Fn(usize) -> [f32; 3],
) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = ids
        .map(|i| {
            let v = vector_of(i);
            ((0..3).map(|d| (v[d] - query[d]).powi(2)).sum(), i)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}
