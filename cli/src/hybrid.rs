//! `FT.HYBRID index SEARCH .. VSIM .. [COMBINE ..] [LIMIT ..] [SORTBY ..] [LOAD ..]
//! [PARAMS ..]` (Redis 8.4): the arguments after the index name go to the engine's
//! hybrid query unchanged (`Collection::hybrid_args`), except `PARAMS`, whose values
//! may be FLOAT32 blobs that are not text. The reply has Redis's shape: `total_results`,
//! `results` (each a map with `__key`, `__score` and the loaded fields), `warnings` and
//! `execution_time`.

use std::time::Instant;

use crate::ft::{err, lookup, wrong_args};
use crate::keyspace::Keyspace;
use crate::resp::{format_double, Reply};
use crate::values::value_bytes;

type Args<'a> = &'a [Vec<u8>];

/// `FT.HYBRID index ...`.
pub fn hybrid(keyspace: &Keyspace, args: Args<'_>, resp3: bool) -> Reply {
    let Some((name, rest)) = args.split_first() else {
        return wrong_args("ft.hybrid");
    };
    if rest.is_empty() {
        return wrong_args("ft.hybrid");
    }
    let index = match lookup(keyspace, name) {
        Ok(index) => index,
        Err(reply) => return reply,
    };
    let (words, params) = match split_params(rest) {
        Ok(split) => split,
        Err(reply) => return reply,
    };
    // The vector side's parameter is the word after `VSIM @field`; its value is a blob
    // even when its bytes happen to be valid UTF-8.
    let vector_param = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("VSIM"))
        .and_then(|at| words.get(at + 2))
        .and_then(|w| w.strip_prefix('$'))
        .map(str::to_string);
    let started = Instant::now();
    let mut builder = index.collection.hybrid_args(words);
    for (name, value) in &params {
        builder = match std::str::from_utf8(value) {
            Ok(text) if vector_param.as_deref() != Some(name) => builder.param(name, text),
            _ => builder.param(name, &value[..]),
        };
    }
    let page = match builder.run() {
        Ok(page) => page,
        Err(e) => return err(e.to_string()),
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let def = index.def.as_ref();
    let hash_name = |attribute: &str| {
        def.and_then(|d| d.fields.iter().find(|f| f.attribute == attribute))
            .map_or(attribute.to_string(), |f| f.hash_name.clone())
    };
    let results: Vec<Vec<(Reply, Reply)>> = page
        .hits
        .iter()
        .map(|hit| {
            let mut row = vec![
                (Reply::text("__key"), Reply::text(hit.key.clone())),
                (
                    Reply::text("__score"),
                    Reply::text(format_double(hit.score)),
                ),
            ];
            for (field, value) in hit.doc.fields() {
                row.push((
                    Reply::Bulk(hash_name(field).into_bytes()),
                    Reply::Bulk(value_bytes(value)),
                ));
            }
            row
        })
        .collect();
    let total = Reply::Int(page.total as i64);
    let time = Reply::text(format_double(elapsed_ms));
    if resp3 {
        return Reply::Map(vec![
            (Reply::text("total_results"), total),
            (
                Reply::text("results"),
                Reply::Array(results.into_iter().map(Reply::Map).collect()),
            ),
            (Reply::text("warnings"), Reply::Array(vec![])),
            (Reply::text("execution_time"), time),
        ]);
    }
    let flat = |row: Vec<(Reply, Reply)>| {
        Reply::Array(row.into_iter().flat_map(|(n, v)| [n, v]).collect())
    };
    Reply::Array(vec![
        Reply::text("total_results"),
        total,
        Reply::text("results"),
        Reply::Array(results.into_iter().map(flat).collect()),
        Reply::text("warnings"),
        Reply::Array(vec![]),
        Reply::text("execution_time"),
        time,
    ])
}

/// The arguments as text, with `PARAMS n name value ..` taken out as raw bytes.
type Split = (Vec<String>, Vec<(String, Vec<u8>)>);

fn split_params(args: Args<'_>) -> Result<Split, Reply> {
    let mut words = Vec::new();
    let mut params = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"PARAMS") {
            let count = args
                .get(i + 1)
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| n % 2 == 0 && i + 2 + n <= args.len())
                .ok_or_else(|| {
                    err("PARAMS takes an even count and that many name and value arguments")
                })?;
            for pair in args[i + 2..i + 2 + count].chunks(2) {
                let name = String::from_utf8(pair[0].clone())
                    .map_err(|_| err("a PARAMS name must be UTF-8 text"))?;
                params.push((name, pair[1].clone()));
            }
            i += 2 + count;
            continue;
        }
        let word = String::from_utf8(args[i].clone()).map_err(|_| {
            err("FT.HYBRID arguments must be UTF-8 text (pass vectors as PARAMS values)")
        })?;
        words.push(word);
        i += 1;
    }
    Ok((words, params))
}
