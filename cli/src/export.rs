//! `strata export DB --to redis://host:port [--cluster]`: recreates each index on a
//! Redis Stack server (with `--cluster`, on every master of a Redis Cluster, each
//! indexing the keys it holds, as RediSearch without its coordinator does) (`FT.CREATE` with the same arguments) and streams every key into it with
//! pipelined `HSET`s, `JSON.SET`s and `RPUSH`es (and `PEXPIRE` for keys with a TTL). Collections made outside
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
use crate::keyspace::{collection_keys, value_bytes, Hash, KeyValue, Keyspace};
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

/// Where the export writes: one server, or every master of a Redis Cluster, each key
/// to the master owning its hash slot.
enum Sink {
    One(Target),
    Cluster {
        /// Each master's address and connection.
        nodes: Vec<(String, Target)>,
        /// For each of the 16384 slots, its master's position in `nodes`.
        owner: Vec<usize>,
    },
}

/// CRC16 (XMODEM), the hash Redis Cluster places keys with.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The cluster hash slot of `key`: of its hash tag (`{...}`, non-empty) when it has
/// one, as Redis computes it.
pub(crate) fn slot(key: &[u8]) -> usize {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) as usize % 16384
}

impl Sink {
    fn connect(url: &str, cluster: bool) -> Result<Sink, String> {
        let mut first = Target::connect(url)?;
        if !cluster {
            return Ok(Sink::One(first));
        }
        let rest = url.strip_prefix("redis://").unwrap_or(url);
        let (auth, seed_host) = match rest.rsplit_once('@') {
            Some((auth, address)) => (format!("{auth}@"), address),
            None => (String::new(), rest),
        };
        let seed_host = seed_host
            .split(':')
            .next()
            .unwrap_or("127.0.0.1")
            .to_string();
        let slots = match first.call(&[b"CLUSTER", b"SLOTS"])? {
            Reply::Array(ranges) if !ranges.is_empty() => ranges,
            Reply::Error(e) => {
                return Err(format!(
                    "{url} is not a Redis Cluster node ({e}); leave out --cluster"
                ))
            }
            other => {
                return Err(format!(
                    "{url} gave no slot map ({other:?}); is the cluster set up?"
                ))
            }
        };
        let mut nodes: Vec<(String, Target)> = Vec::new();
        let mut owner = vec![usize::MAX; 16384];
        for range in slots {
            let Reply::Array(parts) = range else {
                return Err("CLUSTER SLOTS: an entry is not an array".to_string());
            };
            let (Some(Reply::Int(start)), Some(Reply::Int(end)), Some(Reply::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return Err("CLUSTER SLOTS: an entry lacks its range or master".to_string());
            };
            let host = match master.first() {
                Some(Reply::Bulk(h)) if !h.is_empty() && h != b"?" => {
                    String::from_utf8_lossy(h).into_owned()
                }
                _ => seed_host.clone(),
            };
            let Some(Reply::Int(port)) = master.get(1) else {
                return Err("CLUSTER SLOTS: a master has no port".to_string());
            };
            let address = format!("{host}:{port}");
            let at = match nodes.iter().position(|(a, _)| *a == address) {
                Some(at) => at,
                None => {
                    nodes.push((
                        address.clone(),
                        Target::connect(&format!("redis://{auth}{address}"))?,
                    ));
                    nodes.len() - 1
                }
            };
            let slots = (*start).max(0) as usize..=(*end).min(16383) as usize;
            owner[slots].iter_mut().for_each(|o| *o = at);
        }
        if let Some(slot) = owner.iter().position(|o| *o == usize::MAX) {
            return Err(format!(
                "slot {slot} has no master; the cluster is not fully set up"
            ));
        }
        Ok(Sink::Cluster { nodes, owner })
    }

    fn targets(&mut self) -> Vec<&mut Target> {
        match self {
            Sink::One(target) => vec![target],
            Sink::Cluster { nodes, .. } => nodes.iter_mut().map(|(_, t)| t).collect(),
        }
    }

    /// Runs a command on every server (`PING`, `FT.CREATE`: without RediSearch's
    /// coordinator each master indexes the keys it holds).
    fn call_all(&mut self, args: &[&[u8]]) -> Result<Vec<Reply>, String> {
        self.targets().into_iter().map(|t| t.call(args)).collect()
    }

    /// Queues a command on the server holding `key`.
    fn send(&mut self, key: &[u8], args: &[&[u8]]) -> Result<(), String> {
        match self {
            Sink::One(target) => target.send(args),
            Sink::Cluster { nodes, owner } => nodes[owner[slot(key)]].1.send(args),
        }
    }

    fn collect(&mut self) -> Result<(), String> {
        for target in self.targets() {
            target.collect()?;
        }
        Ok(())
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
pub fn run(keyspace: &Keyspace, url: &str, cluster: bool) -> Result<u64, String> {
    let mut target = Sink::connect(url, cluster)?;
    if target
        .call_all(&[b"PING"])?
        .iter()
        .any(|r| *r != Reply::Simple("PONG".into()))
    {
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
    // Keys of the keyspace (under indexes or in `_rest`) go once each.
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
            let mut made = false;
            for (i, reply) in target.call_all(&command)?.into_iter().enumerate() {
                match reply {
                    // A resumed run made it already; in a cluster whose RediSearch has
                    // its coordinator, the first master's FT.CREATE reached the others.
                    Reply::Error(e)
                        if e.contains("Index already exists") && (done > 0 || i > 0) =>
                    {
                        made = true
                    }
                    // Without the coordinator RediSearch treats the index name as a
                    // key: only the master owning its slot takes the FT.CREATE.
                    Reply::Error(e) if e.starts_with("MOVED") && cluster => {}
                    Reply::Error(e) => {
                        return Err(format!("FT.CREATE {name} on the target failed: {e}"))
                    }
                    _ => made = true,
                }
            }
            if !made {
                return Err(format!(
                    "FT.CREATE {name}: no master of the cluster took it"
                ));
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
                let (value, ttl) = match &part.collection {
                    Some(c) => (
                        c.get(key)
                            .map_err(|e| e.to_string())?
                            .map(|d| KeyValue::Hash(doc_hash(&d))),
                        c.ttl(key).map_err(|e| e.to_string())?,
                    ),
                    None => (
                        keyspace.value(key)?,
                        match keyspace.ttl(key)? {
                            Some(Some(left)) => strata::KeyTtl::ExpiresIn(left),
                            _ => strata::KeyTtl::Persistent,
                        },
                    ),
                };
                let Some(value) = value.filter(|v| !v.is_empty()) else {
                    // Deleted or expired since the listing.
                    continue;
                };
                // The value replaces whatever the target had under the key.
                let k = key.as_bytes();
                target.send(k, &[b"DEL", k])?;
                match &value {
                    KeyValue::Hash(hash) => {
                        let mut command: Vec<&[u8]> = vec![b"HSET", key.as_bytes()];
                        for (name, value) in hash {
                            command.push(name);
                            command.push(value);
                        }
                        target.send(k, &command)?;
                    }
                    KeyValue::Json(doc) => {
                        let text = doc.to_string();
                        target.send(k, &[b"JSON.SET", k, b"$", text.as_bytes()])?;
                    }
                    KeyValue::List(items) => {
                        let mut command: Vec<&[u8]> = vec![b"RPUSH", k];
                        command.extend(items.iter().map(|i| i.as_slice()));
                        target.send(k, &command)?;
                    }
                }
                if let strata::KeyTtl::ExpiresIn(left) = ttl {
                    let ms = left.as_millis().max(1).to_string();
                    target.send(k, &[b"PEXPIRE", k, ms.as_bytes()])?;
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

#[cfg(test)]
mod tests {
    use super::{crc16, slot};

    #[test]
    fn slots_match_redis_cluster() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        // An empty tag is no tag.
        assert_eq!(slot(b"{}x"), crc16(b"{}x") as usize % 16384);
    }
}
