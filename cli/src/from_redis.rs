//! `strata import DB --from redis://host:port --collection INDEX`: brings an index of a
//! Redis Stack server back. Its definition is read from `FT.INFO` and made again here
//! with `FT.CREATE`; its hashes are found with `SCAN MATCH prefix*` and copied with
//! pipelined `HGETALL` and `PTTL` into the keyspace, as `HSET`s through the server would
//! write them. The SCAN cursor is recorded after each acknowledged batch, so a second
//! run continues from there (a SCAN cursor stays valid across connections).

use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use strata::Doc;

use crate::export::Target;
use crate::import::progress_collection;
use crate::keyspace::{Hash, Keyspace};
use crate::resp::Reply;

fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Reply::Simple(s) => Some(s.clone()),
        Reply::Int(n) => Some(n.to_string()),
        Reply::Double(x) => Some(x.to_string()),
        _ => None,
    }
}

/// Values of a flat `[key, value, ...]` array under `key`.
fn field<'a>(items: &'a [Reply], key: &str) -> Option<&'a Reply> {
    items
        .chunks(2)
        .find(|pair| text(&pair[0]).is_some_and(|k| k.eq_ignore_ascii_case(key)))
        .and_then(|pair| pair.get(1))
}

/// `FT.CREATE` arguments (after the name) equivalent to an `FT.INFO` reply (RESP2).
pub fn create_args(info: &[Reply]) -> Result<(Vec<String>, Vec<String>), String> {
    let bad = |what: &str| format!("FT.INFO reply without {what}");
    let Some(Reply::Array(definition)) = field(info, "index_definition") else {
        return Err(bad("index_definition"));
    };
    if field(definition, "key_type").and_then(text).as_deref() != Some("HASH") {
        return Err("the index is not ON HASH; only hash indexes can be brought back".into());
    }
    let prefixes: Vec<String> = match field(definition, "prefixes") {
        Some(Reply::Array(items)) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let mut args = vec![
        "ON".to_string(),
        "HASH".to_string(),
        "PREFIX".to_string(),
        prefixes.len().to_string(),
    ];
    args.extend(prefixes.iter().cloned());
    args.push("SCHEMA".into());
    let Some(Reply::Array(attributes)) = field(info, "attributes") else {
        return Err(bad("attributes"));
    };
    for attribute in attributes {
        let Reply::Array(items) = attribute else {
            return Err(bad("attribute arrays"));
        };
        let get = |key: &str| field(items, key).and_then(text);
        let identifier = get("identifier").ok_or_else(|| bad("an identifier"))?;
        let name = get("attribute").unwrap_or_else(|| identifier.clone());
        args.push(identifier.clone());
        if name != identifier {
            args.extend(["AS".to_string(), name]);
        }
        let kind = get("type").ok_or_else(|| bad("a type"))?;
        let words: Vec<String> = items.iter().filter_map(text).collect();
        match kind.as_str() {
            "TEXT" | "NUMERIC" => args.push(kind.clone()),
            "TAG" => {
                args.push(kind.clone());
                if let Some(separator) = get("SEPARATOR") {
                    args.extend(["SEPARATOR".to_string(), separator]);
                }
                if words.iter().any(|w| w == "CASESENSITIVE") {
                    args.push("CASESENSITIVE".into());
                }
            }
            "VECTOR" => {
                let algorithm = get("algorithm").ok_or_else(|| bad("a vector algorithm"))?;
                let mut attrs = vec![
                    "TYPE".to_string(),
                    get("data_type").ok_or_else(|| bad("a data_type"))?,
                    "DIM".to_string(),
                    get("dim").ok_or_else(|| bad("a dim"))?,
                    "DISTANCE_METRIC".to_string(),
                    get("distance_metric").ok_or_else(|| bad("a distance_metric"))?,
                ];
                if algorithm == "HNSW" {
                    for (key, name) in [("M", "M"), ("ef_construction", "EF_CONSTRUCTION")] {
                        if let Some(value) = get(key) {
                            attrs.extend([name.to_string(), value]);
                        }
                    }
                }
                args.extend(["VECTOR".to_string(), algorithm, attrs.len().to_string()]);
                args.extend(attrs);
            }
            other => {
                return Err(format!(
                    "field `{identifier}` is {other}, which this server does not have"
                ))
            }
        }
        if words.iter().any(|w| w == "SORTABLE") {
            args.push("SORTABLE".into());
        }
    }
    Ok((args, prefixes))
}

/// Copies index `name` of the server at `url` into the keyspace; returns keys copied.
pub fn run(keyspace: &Keyspace, url: &str, name: &str) -> Result<u64, String> {
    let mut source = Target::connect(url)?;
    let info = match source.call(&[b"FT.INFO", name.as_bytes()])? {
        Reply::Array(items) => items,
        Reply::Error(e) => return Err(format!("FT.INFO {name} on {url}: {e}")),
        other => {
            return Err(format!(
                "FT.INFO {name} on {url}: unexpected reply {other:?}"
            ))
        }
    };
    let (args, prefixes) = create_args(&info)?;
    let progress = progress_collection(keyspace.database())?;
    let progress_key = format!("from|{}|{name}", url.rsplit('@').next().unwrap_or(url));
    let resumed = progress.get(&progress_key).map_err(|e| e.to_string())?;
    let mut cursor = resumed
        .as_ref()
        .and_then(|d| d.get_text("cursor"))
        .unwrap_or("0")
        .to_string();
    let mut done = resumed
        .as_ref()
        .and_then(|d| d.get_numeric("rows"))
        .unwrap_or(0.0) as u64;
    if resumed.is_some() {
        eprintln!("resuming: {done} keys were copied by an earlier run");
    } else {
        keyspace.create_index(name, &args)?;
        eprintln!("FT.CREATE {name} {}", args.join(" "));
    }
    let patterns: Vec<String> = if prefixes.is_empty() || prefixes.iter().any(String::is_empty) {
        vec!["*".into()]
    } else {
        prefixes
            .iter()
            .map(|p| {
                format!(
                    "{}*",
                    p.replace('\\', "\\\\")
                        .replace('*', "\\*")
                        .replace('?', "\\?")
                        .replace('[', "\\[")
                )
            })
            .collect()
    };
    let bar = ProgressBar::new_spinner();
    let started = Instant::now();
    let mut copied = 0u64;
    // One SCAN per prefix, one after another; the cursor records `pattern index:cursor`.
    let (mut pattern_at, scan) = cursor
        .split_once(':')
        .map_or((0, cursor.clone()), |(p, c)| {
            (p.parse().unwrap_or(0), c.to_string())
        });
    cursor = scan;
    while pattern_at < patterns.len() {
        let reply = source.call(&[
            b"SCAN",
            cursor.as_bytes(),
            b"MATCH",
            patterns[pattern_at].as_bytes(),
            b"COUNT",
            b"500",
            b"TYPE",
            b"hash",
        ])?;
        let Reply::Array(parts) = reply else {
            return Err(format!("SCAN on {url}: {reply:?}"));
        };
        let (Some(next), Some(Reply::Array(keys))) = (parts.first().and_then(text), parts.get(1))
        else {
            return Err(format!("SCAN on {url}: an unexpected reply"));
        };
        let keys: Vec<String> = keys.iter().filter_map(text).collect();
        for key in &keys {
            source.send(&[b"HGETALL", key.as_bytes()])?;
            source.send(&[b"PTTL", key.as_bytes()])?;
        }
        let replies = source.replies()?;
        let mut entries = Vec::new();
        let mut ttls = Vec::new();
        for (key, pair) in keys.iter().zip(replies.chunks(2)) {
            let hash: Hash = match &pair[0] {
                Reply::Array(items) => items
                    .chunks(2)
                    .filter_map(|p| match p {
                        [Reply::Bulk(n), Reply::Bulk(v)] => Some((n.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
                Reply::Map(pairs) => pairs
                    .iter()
                    .filter_map(|p| match p {
                        (Reply::Bulk(n), Reply::Bulk(v)) => Some((n.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
                _ => continue,
            };
            if hash.is_empty() {
                continue; // deleted or expired since SCAN saw it
            }
            if let Reply::Int(ms) = pair[1] {
                if ms > 0 {
                    ttls.push((key.clone(), Duration::from_millis(ms as u64)));
                }
            }
            entries.push((key.clone(), hash));
        }
        keyspace.hset_many(&entries)?;
        for (key, ttl) in ttls {
            keyspace.set_ttl(&key, Some(ttl))?;
        }
        copied += entries.len() as u64;
        done += entries.len() as u64;
        cursor = next;
        if cursor == "0" {
            pattern_at += 1;
        }
        progress
            .upsert(
                &progress_key,
                Doc::new()
                    .text("cursor", format!("{pattern_at}:{cursor}"))
                    .numeric("rows", done as f64),
            )
            .map_err(|e| e.to_string())?;
        bar.set_message(format!("{done} keys"));
        bar.tick();
    }
    bar.finish_and_clear();
    progress.delete(&progress_key).map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "copied {copied} keys of index `{name}` in {seconds:.1} s ({:.0} keys/s)",
        copied as f64 / seconds.max(1e-9)
    );
    Ok(copied)
}
