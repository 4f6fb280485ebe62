//! `strata export DB --to redis://host:port`: recreates each index on a Redis Stack
//! server (`FT.CREATE` with the same arguments) and streams every hash into it with
//! pipelined `HSET`s (and `PEXPIRE` for keys with a TTL). Collections made outside
//! the server (the Rust API, `strata import`) go too, as an index over `<name>:` keys,
//! when all their keys have that prefix. Keys go in sorted order and the count done
//! is recorded after each acknowledged pipeline, so a second run with the same
//! arguments continues where the first stopped.

use std::io::{BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use strata::{Doc, Schema};

use crate::import::{describe, progress_collection};
use crate::keyspace::{collection_keys, value_bytes, Hash, Keyspace};
use crate::resp::{read_reply, Reply};

/// Keys per pipeline.
const BATCH: usize = 500;

pub(crate) struct Target {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    pending: usize,
}

fn encode(args: &[&[u8]], out: &mut impl Write) -> std::io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for arg in args {
        write!(out, "${}\r\n", arg.len())?;
        out.write_all(arg)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

impl Target {
    /// Connects to `redis://[[user]:password@]host[:port][/0]`.
    pub(crate) fn connect(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("--to must be a redis:// URL, got `{url}`"))?;
        let rest = rest.trim_end_matches('/').trim_end_matches("/0");
        let (auth, address) = match rest.rsplit_once('@') {
            Some((auth, address)) => (Some(auth), address),
            None => (None, rest),
        };
        let address = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:6379")
        };
        let stream = TcpStream::connect(&address)
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(300)))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let mut target = Target {
            reader: BufReader::new(stream.try_clone().map_err(|e| e.to_string())?),
            writer: BufWriter::new(stream),
            pending: 0,
        };
        if let Some(auth) = auth {
            let (user, password) = auth.split_once(':').unwrap_or(("", auth));
            let reply = if user.is_empty() {
                target.call(&[b"AUTH", password.as_bytes()])?
            } else {
                target.call(&[b"AUTH", user.as_bytes(), password.as_bytes()])?
            };
            if let Reply::Error(e) = reply {
                return Err(format!("{address} refused the password: {e}"));
            }
        }
        Ok(target)
    }

    pub(crate) fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        encode(args, &mut self.writer).map_err(|e| format!("writing to the target: {e}"))?;
        self.pending += 1;
        Ok(())
    }

    /// Replies to everything sent, in order.
    pub(crate) fn replies(&mut self) -> Result<Vec<Reply>, String> {
        self.writer
            .flush()
            .map_err(|e| format!("writing to the server: {e}"))?;
        let mut replies = Vec::with_capacity(self.pending);
        while self.pending > 0 {
            replies.push(
                read_reply(&mut self.reader)
                    .map_err(|e| format!("reading from the server: {e}"))?,
            );
            self.pending -= 1;
        }
        Ok(replies)
    }

    /// Replies to everything sent; the first error reply is an error.
    fn collect(&mut self) -> Result<(), String> {
        self.writer
            .flush()
            .map_err(|e| format!("writing to the target: {e}"))?;
        let mut first_error = None;
        while self.pending > 0 {
            let reply = read_reply(&mut self.reader)
                .map_err(|e| format!("reading from the target: {e}"))?;
            self.pending -= 1;
            if let (Reply::Error(e), None) = (reply, &first_error) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(format!("the target refused a write: {e}")))
    }

    pub(crate) fn call(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        self.collect()?;
        encode(args, &mut self.writer).map_err(|e| e.to_string())?;
        self.writer.flush().map_err(|e| e.to_string())?;
        read_reply(&mut self.reader).map_err(|e| format!("reading from the target: {e}"))
    }
}

/// One thing to copy: an index's definition and the keys that go with it.
struct Part {
    /// The `FT.CREATE` arguments after the index name.
    create: Option<(String, Vec<String>)>,
    keys: Vec<String>,
    /// For collections made outside the server: read documents from it directly.
    collection: Option<strata::Collection>,
}

fn doc_hash(doc: &Doc) -> Hash {
    doc.fields()
        .map(|(n, v)| (n.as_bytes().to_vec(), value_bytes(v)))
        .collect()
}

fn schema_args(name: &str, schema: &Schema) -> Vec<String> {
    let mut args = vec![
        "ON".into(),
        "HASH".into(),
        "PREFIX".into(),
        "1".into(),
        format!("{name}:"),
        "SCHEMA".into(),
    ];
    args.extend(
        crate::resp::split_words(&describe(schema))
            .unwrap_or_default()
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned()),
    );
    args
}

/// Runs the export; returns keys written by this run.
pub fn run(keyspace: &Keyspace, url: &str) -> Result<u64, String> {
    let mut target = Target::connect(url)?;
    if target.call(&[b"PING"])? != Reply::Simple("PONG".into()) {
        return Err(format!("{url} did not answer PING"));
    }
    let mut parts = Vec::new();
    for index in keyspace.indexes() {
        let args = index
            .def
            .as_ref()
            .map(|d| d.args.clone())
            .unwrap_or_default();
        parts.push(Part {
            create: Some((index.name.clone(), args)),
            keys: Vec::new(),
            collection: None,
        });
    }
    // Hashes of the keyspace (under indexes or in `_rest`) go once each.
    parts.push(Part {
        create: None,
        keys: keyspace.keys()?,
        collection: None,
    });
    for name in keyspace.list() {
        let Some(index) = keyspace.index(&name) else {
            continue;
        };
        if index.def.is_some() {
            continue;
        }
        let mut keys = collection_keys(&index.collection)?;
        keys.sort();
        let prefix = format!("{name}:");
        if let Some(key) = keys.iter().find(|k| !k.starts_with(&prefix)) {
            eprintln!("skipping collection `{name}`: its key `{key}` does not start with `{prefix}`, so no Redis index over a prefix would hold exactly its documents");
            continue;
        }
        let args = schema_args(&name, index.collection.schema());
        parts.push(Part {
            create: Some((name.clone(), args)),
            keys,
            collection: Some(index.collection.clone()),
        });
    }
    let progress_collection = Some(progress_collection(keyspace.database())?);
    let progress_key = format!("export|{}", url.rsplit('@').next().unwrap_or(url));
    let done = progress_collection
        .as_ref()
        .and_then(|c| c.get(&progress_key).ok().flatten())
        .and_then(|d| d.get_numeric("rows"))
        .unwrap_or(0.0) as u64;
    let total: u64 = parts.iter().map(|p| p.keys.len() as u64).sum();
    if done > 0 {
        eprintln!("resuming: {done} of {total} keys were exported by an earlier run");
    }
    for part in &parts {
        if let Some((name, args)) = &part.create {
            let mut command: Vec<&[u8]> = vec![b"FT.CREATE", name.as_bytes()];
            command.extend(args.iter().map(|a| a.as_bytes()));
            match target.call(&command)? {
                Reply::Error(e) if e.contains("Index already exists") && done > 0 => {}
                Reply::Error(e) => {
                    return Err(format!("FT.CREATE {name} on the target failed: {e}"))
                }
                _ => {}
            }
        }
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} keys  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut at = 0u64;
    let mut written = 0u64;
    for part in &parts {
        for chunk in part.keys.chunks(BATCH) {
            let end = at + chunk.len() as u64;
            if end <= done {
                at = end;
                bar.set_position(at);
                continue;
            }
            for key in chunk {
                let (hash, ttl) = match &part.collection {
                    Some(c) => (
                        c.get(key).map_err(|e| e.to_string())?.map(|d| doc_hash(&d)),
                        c.ttl(key).map_err(|e| e.to_string())?,
                    ),
                    None => (
                        keyspace.get(key)?,
                        match keyspace.ttl(key)? {
                            Some(Some(left)) => strata::KeyTtl::ExpiresIn(left),
                            _ => strata::KeyTtl::Persistent,
                        },
                    ),
                };
                let Some(hash) = hash.filter(|h| !h.is_empty()) else {
                    // Deleted or expired since the listing.
                    continue;
                };
                // The hash replaces whatever the target had under the key.
                target.send(&[b"DEL", key.as_bytes()])?;
                let mut command: Vec<&[u8]> = vec![b"HSET", key.as_bytes()];
                for (name, value) in &hash {
                    command.push(name);
                    command.push(value);
                }
                target.send(&command)?;
                if let strata::KeyTtl::ExpiresIn(left) = ttl {
                    let ms = left.as_millis().max(1).to_string();
                    target.send(&[b"PEXPIRE", key.as_bytes(), ms.as_bytes()])?;
                }
                written += 1;
            }
            target.collect()?;
            at = end;
            if let Some(c) = &progress_collection {
                c.upsert(&progress_key, Doc::new().numeric("rows", at as f64))
                    .map_err(|e| e.to_string())?;
            }
            bar.set_position(at);
        }
    }
    bar.finish_and_clear();
    if let Some(c) = &progress_collection {
        c.delete(&progress_key).map_err(|e| e.to_string())?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "exported {written} keys in {seconds:.1} s ({:.0} keys/s)",
        written as f64 / seconds.max(1e-9)
    );
    Ok(written)
}
