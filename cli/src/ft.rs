//! The search commands: `FT.CREATE`, `FT.DROPINDEX`, `FT.INFO`, `FT._LIST`,
//! `FT.SEARCH`, `FT.EXPLAIN` (`FT.AGGREGATE` is `aggregate.rs`), answered from the indexes'
//! collections in the shapes RediSearch 2.10 replies with (RESP2 arrays, RESP3 maps).

use std::sync::Arc;

use strata::{Doc, FieldKind, Hit, Value};

use crate::ftcreate::metric_name;
use crate::keyspace::{value_bytes, Hash, Index, Keyspace};
use crate::resp::Reply;

type Args<'a> = &'a [Vec<u8>];

pub(crate) fn err(message: impl AsRef<str>) -> Reply {
    let message = message.as_ref();
    Reply::error(format!("ERR {message}"))
}

fn utf8(arg: &[u8], what: &str) -> Result<String, Reply> {
    String::from_utf8(arg.to_vec()).map_err(|_| err(format!("{what} must be UTF-8 text")))
}

pub(crate) fn lookup(keyspace: &Keyspace, name: &[u8]) -> Result<Arc<Index>, Reply> {
    let name = String::from_utf8_lossy(name);
    keyspace
        .index(&name)
        .ok_or_else(|| Reply::error(format!("{name}: no such index")))
}

/// `FT.CREATE index ...`.
pub fn create(keyspace: &Keyspace, args: Args<'_>) -> Reply {
    let Some((name, rest)) = args.split_first() else {
        return wrong_args("ft.create");
    };
    let parsed: Result<Vec<String>, Reply> = rest
        .iter()
        .map(|a| utf8(a, "FT.CREATE arguments"))
        .collect();
    let (name, rest) = match (utf8(name, "an index name"), parsed) {
        (Ok(n), Ok(r)) => (n, r),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match keyspace.create_index(&name, &rest) {
        Ok(()) => Reply::ok(),
        Err(message) => err(message),
    }
}

/// `FT.DROPINDEX index [DD]`.
pub fn drop_index(keyspace: &Keyspace, args: Args<'_>) -> Reply {
    let (name, dd) = match args {
        [name] => (name, false),
        [name, dd] if dd.eq_ignore_ascii_case(b"DD") => (name, true),
        _ => return wrong_args("ft.dropindex"),
    };
    match keyspace.drop_index(&String::from_utf8_lossy(name), dd) {
        Ok(()) => Reply::ok(),
        Err(message) => err(message),
    }
}

/// `FT._LIST`.
pub fn list(keyspace: &Keyspace) -> Reply {
    Reply::Array(keyspace.list().into_iter().map(Reply::text).collect())
}

/// `FT.INFO index`.
pub fn info(keyspace: &Keyspace, args: Args<'_>) -> Reply {
    let [name] = args else {
        return wrong_args("ft.info");
    };
    let Some(index) = keyspace.index(&String::from_utf8_lossy(name)) else {
        return err("Unknown index name");
    };
    let info = match index.collection.info() {
        Ok(info) => info,
        Err(e) => return err(e.to_string()),
    };
    let t = |s: &str| Reply::text(s);
    let mut attributes = Vec::new();
    for field in index.collection.schema().fields() {
        // The document itself (`$` of a JSON index) is no attribute.
        if field.kind == FieldKind::Json {
            continue;
        }
        let identifier = index
            .def
            .as_ref()
            .and_then(|d| d.fields.iter().find(|f| f.attribute == field.name))
            .map_or(field.name.clone(), |f| f.hash_name.clone());
        let mut pairs = vec![
            (t("identifier"), t(&identifier)),
            (t("attribute"), t(&field.name)),
            (t("type"), t(field.kind.name())),
        ];
        match field.kind {
            FieldKind::Text(options) => {
                pairs.push((t("WEIGHT"), Reply::Double(options.weight)));
                if options.no_stem {
                    pairs.push((t("NOSTEM"), t("NOSTEM")));
                }
            }
            FieldKind::Tag(options) => {
                pairs.push((t("SEPARATOR"), t(&options.separator.to_string())))
            }
            FieldKind::Vector(options) => {
                let (algorithm, extra) = match options.index {
                    strata::VectorIndex::Flat => ("FLAT", vec![]),
                    strata::VectorIndex::Hnsw { m, ef_construction } => (
                        "HNSW",
                        vec![
                            (t("M"), Reply::Int(m as i64)),
                            (t("ef_construction"), Reply::Int(ef_construction as i64)),
                        ],
                    ),
                    strata::VectorIndex::IvfPq {
                        lists,
                        subquantizers,
                    } => (
                        "IVF_PQ",
                        vec![
                            (t("nlist"), Reply::Int(lists as i64)),
                            (t("M"), Reply::Int(subquantizers as i64)),
                        ],
                    ),
                };
                pairs.push((t("algorithm"), t(algorithm)));
                pairs.push((t("data_type"), t("FLOAT32")));
                pairs.push((t("dim"), Reply::Int(options.dim as i64)));
                pairs.push((t("distance_metric"), t(metric_name(options.metric))));
                pairs.extend(extra);
            }
            _ => {}
        }
        pairs.push((t("flags"), Reply::Array(vec![])));
        attributes.push(Reply::Map(pairs));
    }
    let prefixes = match &index.def {
        Some(def) if !def.prefixes.is_empty() => def.prefixes.iter().map(|p| t(p)).collect(),
        _ => vec![t("")],
    };
    let mb = |bytes: u64| Reply::Double(bytes as f64 / (1024.0 * 1024.0));
    let vector_bytes: u64 = info
        .indexes
        .iter()
        .filter(|i| i.kind.contains("HNSW") || i.kind.contains("IVF") || i.kind.contains("FLAT"))
        .map(|i| i.bytes)
        .sum();
    let index_bytes: u64 = info.indexes.iter().map(|i| i.bytes).sum();
    Reply::Map(vec![
        (t("index_name"), t(&index.name)),
        (t("index_options"), Reply::Array(vec![])),
        (
            t("index_definition"),
            Reply::Map(vec![
                (
                    t("key_type"),
                    t(if index.is_json() { "JSON" } else { "HASH" }),
                ),
                (t("prefixes"), Reply::Array(prefixes)),
                (t("default_score"), Reply::Double(1.0)),
            ]),
        ),
        (t("attributes"), Reply::Array(attributes)),
        (t("num_docs"), Reply::Int(info.rows as i64)),
        (t("max_doc_id"), Reply::Int(info.rows as i64)),
        (t("num_terms"), Reply::Int(0)),
        (t("num_records"), Reply::Int(info.rows as i64)),
        (
            t("inverted_sz_mb"),
            mb(index_bytes - vector_bytes.min(index_bytes)),
        ),
        (t("vector_index_sz_mb"), mb(vector_bytes)),
        (t("total_index_memory_sz_mb"), mb(index_bytes)),
        (t("hash_indexing_failures"), Reply::Int(0)),
        (t("indexing"), Reply::Int(0)),
        (t("percent_indexed"), Reply::Double(1.0)),
        (t("number_of_uses"), Reply::Int(0)),
        (t("cleaning"), Reply::Int(0)),
    ])
}

/// A parsed `FT.SEARCH` / `FT.EXPLAIN`: what the engine is given, and what the server
/// does itself (binary `PARAMS`, `RETURN` of hash fields the schema lacks).
#[derive(Clone)]
pub(crate) struct Request {
    pub(crate) query: String,
    pub(crate) engine_args: Vec<String>,
    pub(crate) params: Vec<(String, Vec<u8>)>,
    pub(crate) returns: Option<Vec<(String, String)>>,
    pub(crate) no_content: bool,
    /// `WITHSCORES`: each key is followed by its score (the engine computes it).
    pub(crate) with_scores: bool,
}

pub(crate) fn parse_request(args: Args<'_>) -> Result<Request, Reply> {
    let Some(query) = args.first() else {
        return Err(wrong_args("ft.search"));
    };
    let mut request = Request {
        query: utf8(query, "the query")?,
        engine_args: Vec::new(),
        params: Vec::new(),
        returns: None,
        no_content: false,
        with_scores: false,
    };
    let mut i = 1;
    let count_at = |i: usize, what: &str| -> Result<usize, Reply> {
        let arg = args
            .get(i)
            .ok_or_else(|| err(format!("Bad arguments for {what}: a count is missing")))?;
        std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                err(format!(
                    "Bad arguments for {what}: `{}` is not a count",
                    String::from_utf8_lossy(arg)
                ))
            })
    };
    while i < args.len() {
        let word = String::from_utf8_lossy(&args[i]).to_ascii_uppercase();
        match word.as_str() {
            "PARAMS" => {
                let n = count_at(i + 1, "PARAMS")?;
                if n % 2 != 0 || i + 2 + n > args.len() {
                    return Err(err(
                        "Bad arguments for PARAMS: a name and a value for each parameter",
                    ));
                }
                for pair in args[i + 2..i + 2 + n].chunks(2) {
                    request
                        .params
                        .push((utf8(&pair[0], "a parameter name")?, pair[1].clone()));
                }
                i += 2 + n;
            }
            "RETURN" => {
                let n = count_at(i + 1, "RETURN")?;
                if i + 2 + n > args.len() {
                    return Err(err("Bad arguments for RETURN: fewer fields than its count"));
                }
                let names: Vec<String> = args[i + 2..i + 2 + n]
                    .iter()
                    .map(|a| utf8(a, "a RETURN field"))
                    .collect::<Result<_, _>>()?;
                let mut returns = Vec::new();
                let mut j = 0;
                while j < names.len() {
                    let name = names[j].clone();
                    if names
                        .get(j + 1)
                        .is_some_and(|a| a.eq_ignore_ascii_case("AS"))
                    {
                        let alias = names
                            .get(j + 2)
                            .ok_or_else(|| err("Bad arguments for RETURN: AS needs a name"))?;
                        returns.push((name, alias.clone()));
                        j += 3;
                    } else {
                        returns.push((name.clone(), name));
                        j += 1;
                    }
                }
                // `RETURN 0` replies with keys only, as NOCONTENT does.
                request.no_content |= returns.is_empty();
                request.returns = Some(returns);
                i += 2 + n;
            }
            "TIMEOUT" => i += 2,
            "NOCONTENT" => {
                request.no_content = true;
                request.engine_args.push(word);
                i += 1;
            }
            "WITHSCORES" => {
                request.with_scores = true;
                request.engine_args.push(word);
                i += 1;
            }
            _ => {
                request
                    .engine_args
                    .push(utf8(&args[i], "FT.SEARCH options")?);
                i += 1;
            }
        }
    }
    Ok(request)
}

/// Names of parameters the query uses as vectors: `KNN k @f $name` and
/// `VECTOR_RANGE r $name`. Others are text, as Redis clients send numbers.
fn vector_params(query: &str) -> Vec<String> {
    let tokens: Vec<&str> = query
        .split(|c: char| c.is_whitespace() || "[]()".contains(c))
        .filter(|t| !t.is_empty())
        .collect();
    let mut names = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let at = if token.eq_ignore_ascii_case("KNN") {
            i + 3
        } else if token.eq_ignore_ascii_case("VECTOR_RANGE") {
            i + 2
        } else {
            continue;
        };
        if let Some(name) = tokens.get(at).and_then(|t| t.strip_prefix('$')) {
            names.push(name.to_string());
        }
    }
    names
}

/// The KNN field's default EF_RUNTIME from FT.CREATE, when the clause sets none.
fn default_ef(index: &Index, query: &str) -> Option<usize> {
    let upper = query.to_ascii_uppercase();
    if upper.contains("EF_RUNTIME") {
        return None;
    }
    let at = upper.find("KNN")?;
    let field = query[at..]
        .split_whitespace()
        .nth(2)?
        .trim_start_matches('@');
    let def = index.def.as_ref()?;
    def.fields.iter().find(|f| f.attribute == field)?.ef_runtime
}

pub(crate) fn run(index: &Index, request: &Request) -> Result<strata::SearchResults, Reply> {
    let vectors = vector_params(&request.query);
    let mut builder = index
        .collection
        .query(&request.query)
        .args(request.engine_args.iter().cloned());
    for (name, value) in &request.params {
        builder = match std::str::from_utf8(value) {
            Ok(text) if !vectors.contains(name) => builder.param(name, text),
            _ => builder.param(name, &value[..]),
        };
    }
    if let Some(ef) = default_ef(index, &request.query) {
        builder = builder.ef_runtime(ef);
    }
    builder.run_with_total().map_err(|e| err(e.to_string()))
}

/// One hit's fields as a hash client sees them: index attributes mapped back to hash
/// field names, the stored bytes of fields the schema lacks, distances as Redis
/// prints them.
pub(crate) fn hit_fields(
    keyspace: &Keyspace,
    index: &Index,
    hit: &Hit,
    rest: Option<&Hash>,
    returns: Option<&[(String, String)]>,
) -> Hash {
    let def = index.def.as_ref();
    let hash_name = |attribute: &str| {
        def.and_then(|d| d.fields.iter().find(|f| f.attribute == attribute))
            .map_or(attribute.to_string(), |f| f.hash_name.clone())
    };
    let rest_value = |name: &str| {
        rest.and_then(|r| {
            r.iter()
                .find(|(n, _)| n == name.as_bytes())
                .map(|(_, v)| v.clone())
        })
    };
    let shown = |attribute: &str, value: &Value| -> Vec<u8> {
        let is_field = index.collection.schema().field(attribute).is_some();
        match value {
            Value::Numeric(x) if !is_field => format!("{}", *x as f32).into_bytes(),
            _ => rest_value(&hash_name(attribute)).unwrap_or_else(|| value_bytes(value)),
        }
    };
    let Some(returns) = returns else {
        let mut out: Hash = hit
            .doc
            .fields()
            .map(|(name, value)| (hash_name(name).into_bytes(), shown(name, value)))
            .collect();
        if let Some(rest) = rest {
            for (name, value) in rest {
                if !out.iter().any(|(n, _)| n == name) {
                    out.push((name.clone(), value.clone()));
                }
            }
        }
        return out;
    };
    let mut stored: Option<Option<Doc>> = None;
    let mut out = Vec::new();
    for (name, alias) in returns {
        let attribute = def
            .and_then(|d| {
                d.fields
                    .iter()
                    .find(|f| f.hash_name == *name || f.attribute == *name)
            })
            .map_or(name.clone(), |f| f.attribute.clone());
        let value = if let Some(value) = hit.doc.get(&attribute) {
            Some(shown(&attribute, value))
        } else if let Some(value) = rest_value(name) {
            Some(value)
        } else if matches!(index.collection.schema().field(&attribute), Some((_, f)) if matches!(f.kind, FieldKind::Vector(_)))
        {
            // Vectors are not in a hit's default content; fetched only when named.
            let doc = stored.get_or_insert_with(|| index.collection.get(&hit.key).ok().flatten());
            doc.as_ref()
                .and_then(|d| d.get(&attribute))
                .map(value_bytes)
        } else {
            None
        };
        if let Some(value) = value {
            out.push((alias.clone().into_bytes(), value));
        }
    }
    let _ = keyspace;
    out
}

/// For an index ON JSON, the request with its RETURN (or FT.AGGREGATE's LOAD,
/// `loads`) handed to the engine, which evaluates `$.path` expressions on each hit's
/// document; a hash index's request unchanged.
pub(crate) fn with_json_returns(
    index: &Index,
    request: &Request,
    loads: Option<&[(String, String)]>,
) -> Request {
    let mut request = request.clone();
    let returns = loads.or(request.returns.as_deref()).map(<[_]>::to_vec);
    if let (true, Some(returns)) = (index.is_json(), returns) {
        if !returns.is_empty() {
            let mut words = Vec::new();
            for (name, alias) in returns {
                words.push(name.clone());
                if alias != name {
                    words.extend(["AS".to_string(), alias]);
                }
            }
            request.engine_args.push("RETURN".to_string());
            request.engine_args.push(words.len().to_string());
            request.engine_args.extend(words);
        }
    }
    request
}

/// A hit of an index ON JSON as RediSearch replies it: a `$.path` value that is a
/// string comes bare, anything else as JSON text.
pub(crate) fn json_fields(hit: &Hit) -> Hash {
    hit.doc
        .fields()
        .map(|(name, value)| {
            let bytes = match value {
                Value::Json(text) => match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::String(s)) => s.into_bytes(),
                    _ => text.clone().into_bytes(),
                },
                other => value_bytes(other),
            };
            (name.as_bytes().to_vec(), bytes)
        })
        .collect()
}

pub(crate) fn rest_of(
    keyspace: &Keyspace,
    index: &Index,
    key: &str,
    any_rest: bool,
) -> Option<Hash> {
    if !any_rest || index.def.is_none() {
        return None;
    }
    keyspace.rest_fields(key)
}

pub(crate) fn pairs(hash: Hash) -> Vec<(Reply, Reply)> {
    hash.into_iter()
        .map(|(n, v)| (Reply::Bulk(n), Reply::Bulk(v)))
        .collect()
}

/// `FT.SEARCH index query [options]`.
pub fn search(keyspace: &Keyspace, args: Args<'_>, resp3: bool) -> Reply {
    let Some((name, rest)) = args.split_first() else {
        return wrong_args("ft.search");
    };
    if rest.is_empty() {
        return wrong_args("ft.search");
    }
    let index = match lookup(keyspace, name) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let request = match parse_request(rest) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let page = match run(&index, &with_json_returns(&index, &request, None)) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let any_rest = keyspace.has_rest();
    let mut rows = Vec::new();
    for hit in &page.hits {
        let fields = if request.no_content {
            None
        } else if index.is_json() {
            Some(json_fields(hit))
        } else {
            let rest = rest_of(keyspace, &index, &hit.key, any_rest);
            Some(hit_fields(
                keyspace,
                &index,
                hit,
                rest.as_ref(),
                request.returns.as_deref(),
            ))
        };
        rows.push((hit.key.clone(), hit.score.unwrap_or(0.0), fields));
    }
    if resp3 {
        let results = rows
            .into_iter()
            .map(|(key, score, fields)| {
                let mut entry = vec![(Reply::text("id"), Reply::text(key))];
                if request.with_scores {
                    entry.push((Reply::text("score"), Reply::Double(score)));
                }
                if let Some(fields) = fields {
                    entry.push((Reply::text("extra_attributes"), Reply::Map(pairs(fields))));
                }
                entry.push((Reply::text("values"), Reply::Array(vec![])));
                Reply::Map(entry)
            })
            .collect();
        return resp3_page(page.total, results);
    }
    let mut out = vec![Reply::Int(page.total as i64)];
    for (key, score, fields) in rows {
        out.push(Reply::text(key));
        if request.with_scores {
            out.push(Reply::text(score.to_string()));
        }
        if let Some(fields) = fields {
            out.push(Reply::Array(
                pairs(fields)
                    .into_iter()
                    .flat_map(|(n, v)| [n, v])
                    .collect(),
            ));
        }
    }
    Reply::Array(out)
}

pub(crate) fn resp3_page(total: usize, results: Vec<Reply>) -> Reply {
    Reply::Map(vec![
        (Reply::text("attributes"), Reply::Array(vec![])),
        (Reply::text("total_results"), Reply::Int(total as i64)),
        (Reply::text("format"), Reply::text("STRING")),
        (Reply::text("results"), Reply::Array(results)),
        (Reply::text("warning"), Reply::Array(vec![])),
    ])
}

/// `FT.EXPLAIN index query [DIALECT n] [PARAMS ..]`: the query as Strata parsed it,
/// printed back, and how each source would run it.
pub fn explain(keyspace: &Keyspace, args: Args<'_>) -> Reply {
    let Some((name, rest)) = args.split_first() else {
        return wrong_args("ft.explain");
    };
    if rest.is_empty() {
        return wrong_args("ft.explain");
    }
    let index = match lookup(keyspace, name) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let request = match parse_request(rest) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let vectors = vector_params(&request.query);
    let mut builder = index
        .collection
        .query(&request.query)
        .args(request.engine_args.iter().cloned());
    for (name, value) in &request.params {
        builder = match std::str::from_utf8(value) {
            Ok(text) if !vectors.contains(name) => builder.param(name, text),
            _ => builder.param(name, &value[..]),
        };
    }
    match builder.explain() {
        Ok(explain) => Reply::text(explain.to_string()),
        Err(e) => err(e.to_string()),
    }
}

/// Redis's reply to a command with the wrong number of arguments.
pub fn wrong_args(command: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{command}' command"
    ))
}

#[cfg(test)]
mod tests {
    use super::vector_params;

    #[test]
    fn vector_parameters_are_found_in_knn_and_range_clauses() {
        assert_eq!(
            vector_params("(@t:{a})=>[KNN $k @v $vec AS d]"),
            vec!["vec"]
        );
        assert_eq!(
            vector_params("@v:[VECTOR_RANGE $r $blob]=>{$YIELD_DISTANCE_AS: d}"),
            vec!["blob"]
        );
        assert!(vector_params("@price:[$lo $hi]").is_empty());
    }
}
