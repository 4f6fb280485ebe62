//! `FT.AGGREGATE index query [step ..]` and `FT.CURSOR READ|DEL`: the query's hits
//! become rows, then each step runs in the order given, as RediSearch runs its
//! pipeline: `LOAD`, `APPLY expr AS name`, `FILTER expr`, `GROUPBY n @f.. REDUCE ..`,
//! `SORTBY n @f [ASC|DESC] .. [MAX m]`, `LIMIT offset num`; `WITHCURSOR [COUNT n]
//! [MAXIDLE ms]` hands the rows out a page at a time. `PARAMS`, `DIALECT`, `SCORER`,
//! `VERBATIM` and `TIMEOUT` go to the query; `ADDSCORES` puts each hit's score in
//! `@__score`.
//!
//! As in RediSearch, a `SORTBY` without `MAX` or a later `LIMIT` keeps 10 rows.
//! A row sees every field of its hit (`@field` in expressions, `SORTBY` and `GROUPBY`)
//! but replies only with what `LOAD`, `APPLY`, `GROUPBY`/`REDUCE` and `SORTBY` name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value as Json;
use strata::{FieldKind, JsonPath, Value};

use crate::expr::{self, format_number, Expr, Val};
use crate::ft::{
    err, hit_fields, json_fields, lookup, parse_request, resp3_page, rest_of, run, wrong_args,
    Request,
};
use crate::keyspace::{Index, Keyspace};
use crate::resp::Reply;

type Args<'a> = &'a [Vec<u8>];

/// Hits read from the engine per page.
const PAGE: usize = 10_000;
/// Open cursors at most; opening one more closes the one idle longest.
const MAX_CURSORS: usize = 1024;
/// Rows a `SORTBY` keeps without `MAX` or a later `LIMIT`, as in RediSearch.
const SORTBY_DEFAULT_MAX: usize = 10;
/// RediSearch's default `MAXIDLE`.
const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(300);

/// One row: the fields it replies with, in order, and what it can read.
#[derive(Clone, Debug, Default)]
struct Row {
    shown: Vec<(String, Val)>,
    hidden: Vec<(String, Val)>,
    document: Option<Json>,
}

impl Row {
    fn get(&self, name: &str) -> Val {
        let name = name.strip_prefix('@').unwrap_or(name);
        if let Some((_, v)) = self.shown.iter().find(|(n, _)| n == name) {
            return v.clone();
        }
        if let Some((_, v)) = self.hidden.iter().find(|(n, _)| n == name) {
            return v.clone();
        }
        if let (Some(doc), true) = (&self.document, name.starts_with('$')) {
            if let Ok(path) = JsonPath::parse(name) {
                return path.select(doc).first().map_or(Val::Nil, json_val);
            }
        }
        Val::Nil
    }

    fn show(&mut self, name: &str, value: Val) {
        match self.shown.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.shown.push((name.to_string(), value)),
        }
    }
}

fn json_val(value: &Json) -> Val {
    match value {
        Json::Null => Val::Nil,
        Json::Number(n) => n.as_f64().map_or(Val::Nil, Val::Num),
        Json::String(s) => Val::Str(s.clone().into_bytes()),
        other => Val::Str(other.to_string().into_bytes()),
    }
}

#[derive(Clone, Debug)]
enum Reducer {
    Count,
    CountDistinct(String),
    Sum(String),
    Avg(String),
    Min(String),
    Max(String),
    StdDev(String),
    ToList(String),
    FirstValue(String, Option<(String, bool)>),
}

#[derive(Clone, Debug)]
enum Step {
    Load(Option<Vec<(String, String)>>),
    Apply(Expr, String),
    Filter(Expr),
    GroupBy(Vec<String>, Vec<(Reducer, String)>),
    SortBy(Vec<(String, bool)>, Option<usize>),
    Limit(usize, usize),
}

/// A parsed `FT.AGGREGATE`.
struct Plan {
    request: Request,
    steps: Vec<Step>,
    scores: bool,
    cursor: Option<(usize, Duration)>,
}

fn text(arg: &[u8]) -> Result<String, Reply> {
    String::from_utf8(arg.to_vec()).map_err(|_| err("FT.AGGREGATE arguments must be UTF-8 text"))
}

fn count(args: Args<'_>, at: usize, what: &str) -> Result<usize, Reply> {
    args.get(at)
        .and_then(|a| std::str::from_utf8(a).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(format!("Bad arguments for {what}: expected a count")))
}

fn words(args: Args<'_>, from: usize, n: usize, what: &str) -> Result<Vec<String>, Reply> {
    args.get(from..from + n)
        .ok_or_else(|| {
            err(format!(
                "Bad arguments for {what}: fewer arguments than its count"
            ))
        })?
        .iter()
        .map(|a| text(a))
        .collect()
}

fn field_name(word: &str, what: &str) -> Result<String, Reply> {
    word.strip_prefix('@')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            err(format!(
                "Bad arguments for {what}: `{word}` is not a @field"
            ))
        })
}

fn parse(args: Args<'_>) -> Result<Plan, Reply> {
    let Some(query) = args.first() else {
        return Err(wrong_args("ft.aggregate"));
    };
    let mut engine: Vec<Vec<u8>> = vec![query.clone()];
    let mut steps = Vec::new();
    let mut scores = false;
    let mut scorer = None;
    let mut cursor = None;
    let mut i = 1;
    while i < args.len() {
        let word = String::from_utf8_lossy(&args[i]).to_ascii_uppercase();
        match word.as_str() {
            "LOAD" => {
                if args.get(i + 1).is_some_and(|a| a == b"*") {
                    steps.push(Step::Load(None));
                    i += 2;
                    continue;
                }
                let n = count(args, i + 1, "LOAD")?;
                let names = words(args, i + 2, n, "LOAD")?;
                let mut loads = Vec::new();
                let mut j = 0;
                while j < names.len() {
                    let name = names[j].strip_prefix('@').unwrap_or(&names[j]).to_string();
                    if names
                        .get(j + 1)
                        .is_some_and(|a| a.eq_ignore_ascii_case("AS"))
                    {
                        let alias = names
                            .get(j + 2)
                            .ok_or_else(|| err("Bad arguments for LOAD: AS needs a name"))?;
                        loads.push((name, alias.clone()));
                        j += 3;
                    } else {
                        loads.push((name.clone(), name));
                        j += 1;
                    }
                }
                steps.push(Step::Load(Some(loads)));
                i += 2 + n;
            }
            "APPLY" => {
                let source = text(
                    args.get(i + 1)
                        .ok_or_else(|| err("APPLY needs an expression"))?,
                )?;
                if !args
                    .get(i + 2)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"AS"))
                {
                    return Err(err(format!("APPLY `{source}` needs AS and a name")));
                }
                let name = text(
                    args.get(i + 3)
                        .ok_or_else(|| err("APPLY .. AS needs a name"))?,
                )?;
                steps.push(Step::Apply(expr::parse(&source).map_err(err)?, name));
                i += 4;
            }
            "FILTER" => {
                let source = text(
                    args.get(i + 1)
                        .ok_or_else(|| err("FILTER needs an expression"))?,
                )?;
                steps.push(Step::Filter(expr::parse(&source).map_err(err)?));
                i += 2;
            }
            "GROUPBY" => {
                let n = count(args, i + 1, "GROUPBY")?;
                let fields = words(args, i + 2, n, "GROUPBY")?
                    .iter()
                    .map(|w| field_name(w, "GROUPBY"))
                    .collect::<Result<Vec<_>, _>>()?;
                i += 2 + n;
                let mut reducers = Vec::new();
                while args
                    .get(i)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"REDUCE"))
                {
                    let name = text(
                        args.get(i + 1)
                            .ok_or_else(|| err("REDUCE needs a function"))?,
                    )?;
                    let n = count(args, i + 2, "REDUCE")?;
                    let reducer_args = words(args, i + 3, n, "REDUCE")?;
                    i += 3 + n;
                    let mut alias = None;
                    if args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"AS")) {
                        alias = Some(text(
                            args.get(i + 1)
                                .ok_or_else(|| err("REDUCE .. AS needs a name"))?,
                        )?);
                        i += 2;
                    }
                    let reducer = reducer(&name, &reducer_args)?;
                    let alias = alias.unwrap_or_else(|| {
                        let joined: String = reducer_args
                            .iter()
                            .map(|a| a.trim_start_matches('@'))
                            .collect::<Vec<_>>()
                            .join(",");
                        format!("__generated_alias{}{}", name.to_ascii_lowercase(), joined)
                    });
                    reducers.push((reducer, alias));
                }
                steps.push(Step::GroupBy(fields, reducers));
            }
            "SORTBY" => {
                let n = count(args, i + 1, "SORTBY")?;
                let keys = words(args, i + 2, n, "SORTBY")?;
                let mut sort: Vec<(String, bool)> = Vec::new();
                for key in keys {
                    if key.eq_ignore_ascii_case("ASC") || key.eq_ignore_ascii_case("DESC") {
                        let last = sort.last_mut().ok_or_else(|| {
                            err("Bad arguments for SORTBY: ASC/DESC before a field")
                        })?;
                        last.1 = key.eq_ignore_ascii_case("DESC");
                    } else {
                        sort.push((field_name(&key, "SORTBY")?, false));
                    }
                }
                i += 2 + n;
                let mut max = None;
                if args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"MAX")) {
                    max = Some(count(args, i + 1, "SORTBY MAX")?);
                    i += 2;
                }
                steps.push(Step::SortBy(sort, max));
            }
            "LIMIT" => {
                let offset = count(args, i + 1, "LIMIT")?;
                let num = count(args, i + 2, "LIMIT")?;
                steps.push(Step::Limit(offset, num));
                i += 3;
            }
            "WITHCURSOR" => {
                let (mut page, mut idle) = (1000, DEFAULT_MAX_IDLE);
                i += 1;
                loop {
                    if args
                        .get(i)
                        .is_some_and(|a| a.eq_ignore_ascii_case(b"COUNT"))
                    {
                        page = count(args, i + 1, "WITHCURSOR COUNT")?.max(1);
                        i += 2;
                    } else if args
                        .get(i)
                        .is_some_and(|a| a.eq_ignore_ascii_case(b"MAXIDLE"))
                    {
                        idle =
                            Duration::from_millis(count(args, i + 1, "WITHCURSOR MAXIDLE")? as u64);
                        i += 2;
                    } else {
                        break;
                    }
                }
                cursor = Some((page, idle));
            }
            "ADDSCORES" => {
                scores = true;
                i += 1;
            }
            "PARAMS" => {
                let n = count(args, i + 1, "PARAMS")?;
                let end = (i + 2 + n).min(args.len());
                engine.extend_from_slice(&args[i..end]);
                i = end;
            }
            "DIALECT" | "TIMEOUT" => {
                engine.extend_from_slice(&args[i..(i + 2).min(args.len())]);
                i += 2;
            }
            "SCORER" => {
                // Scores reach the rows only with ADDSCORES (redis-py sends a SCORER
                // with every request); the engine is told the scorer then.
                scorer = args.get(i..i + 2).map(<[_]>::to_vec);
                i += 2;
            }
            "VERBATIM" => {
                engine.push(args[i].clone());
                i += 1;
            }
            _ => {
                return Err(err(format!(
                    "Unknown argument `{}` in FT.AGGREGATE",
                    String::from_utf8_lossy(&args[i])
                )))
            }
        }
    }
    if let (true, Some(scorer)) = (scores, scorer) {
        engine.extend(scorer);
    }
    let mut request = parse_request(&engine)?;
    if scores {
        request.engine_args.push("WITHSCORES".to_string());
    }
    Ok(Plan {
        request,
        steps,
        scores,
        cursor,
    })
}

fn reducer(name: &str, args: &[String]) -> Result<Reducer, Reply> {
    let upper = name.to_ascii_uppercase();
    let field = |at: usize| -> Result<String, Reply> {
        let word = args
            .get(at)
            .ok_or_else(|| err(format!("REDUCE {upper} needs a @field")))?;
        field_name(word, &format!("REDUCE {upper}"))
    };
    let one = |r: fn(String) -> Reducer| -> Result<Reducer, Reply> {
        if args.len() != 1 {
            return Err(err(format!(
                "REDUCE {upper} takes 1 argument, got {}",
                args.len()
            )));
        }
        Ok(r(field(0)?))
    };
    match upper.as_str() {
        "COUNT" if args.is_empty() => Ok(Reducer::Count),
        "COUNT" => Err(err("REDUCE COUNT takes 0 arguments")),
        "COUNT_DISTINCT" | "COUNT_DISTINCTISH" => one(Reducer::CountDistinct),
        "SUM" => one(Reducer::Sum),
        "AVG" => one(Reducer::Avg),
        "MIN" => one(Reducer::Min),
        "MAX" => one(Reducer::Max),
        "STDDEV" => one(Reducer::StdDev),
        "TOLIST" => one(Reducer::ToList),
        "FIRST_VALUE" => match args.len() {
            1 => Ok(Reducer::FirstValue(field(0)?, None)),
            3 | 4 if args[1].eq_ignore_ascii_case("BY") => {
                let desc = args.get(3).is_some_and(|o| o.eq_ignore_ascii_case("DESC"));
                Ok(Reducer::FirstValue(field(0)?, Some((field(2)?, desc))))
            }
            _ => Err(err(
                "REDUCE FIRST_VALUE takes @field [BY @field [ASC|DESC]]",
            )),
        },
        _ => Err(err(format!(
            "Unknown reducer `{name}`: COUNT, COUNT_DISTINCT, COUNT_DISTINCTISH, SUM, AVG, MIN, \
             MAX, STDDEV, TOLIST and FIRST_VALUE are available"
        ))),
    }
}

fn reduce(reducer: &Reducer, rows: &[Row]) -> Val {
    let numbers = |f: &str| -> Vec<f64> { rows.iter().filter_map(|r| r.get(f).number()).collect() };
    match reducer {
        Reducer::Count => Val::Num(rows.len() as f64),
        Reducer::CountDistinct(f) => {
            let mut seen: Vec<String> = rows
                .iter()
                .map(|r| r.get(f))
                .filter(|v| *v != Val::Nil)
                .map(|v| v.text())
                .collect();
            seen.sort();
            seen.dedup();
            Val::Num(seen.len() as f64)
        }
        Reducer::Sum(f) => Val::Num(numbers(f).iter().sum()),
        Reducer::Avg(f) => {
            let xs = numbers(f);
            if xs.is_empty() {
                Val::Num(f64::NAN)
            } else {
                Val::Num(xs.iter().sum::<f64>() / xs.len() as f64)
            }
        }
        Reducer::Min(f) => Val::Num(numbers(f).into_iter().fold(f64::INFINITY, f64::min)),
        Reducer::Max(f) => Val::Num(numbers(f).into_iter().fold(f64::NEG_INFINITY, f64::max)),
        Reducer::StdDev(f) => {
            let xs = numbers(f);
            if xs.len() < 2 {
                return Val::Num(0.0);
            }
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
            Val::Num(var.sqrt())
        }
        Reducer::ToList(f) => {
            let mut items: Vec<Val> = Vec::new();
            for value in rows.iter().map(|r| r.get(f)).filter(|v| *v != Val::Nil) {
                if !items.contains(&value) {
                    items.push(value);
                }
            }
            Val::List(items)
        }
        Reducer::FirstValue(f, by) => {
            let chosen = match by {
                None => rows.first(),
                Some((key, desc)) => rows.iter().min_by(|a, b| {
                    let order = a.get(key).compare(&b.get(key));
                    if *desc {
                        // Null stays last either way.
                        match (a.get(key), b.get(key)) {
                            (Val::Nil, _) | (_, Val::Nil) => order,
                            _ => order.reverse(),
                        }
                    } else {
                        order
                    }
                }),
            };
            chosen.map_or(Val::Nil, |r| r.get(f))
        }
    }
}

/// Runs the steps; returns the rows and the total RediSearch reports: the hits
/// matched, or the groups made by the last `GROUPBY`.
fn apply(steps: &[Step], mut rows: Vec<Row>) -> (Vec<Row>, usize) {
    let mut total = rows.len();
    for (at, step) in steps.iter().enumerate() {
        match step {
            Step::Load(None) => {
                for row in &mut rows {
                    for (name, value) in row.hidden.clone() {
                        if !name.starts_with("__") || name == "__score" {
                            row.show(&name, value);
                        }
                    }
                }
            }
            Step::Load(Some(loads)) => {
                for row in &mut rows {
                    for (name, alias) in loads {
                        let value = row.get(name);
                        if value != Val::Nil {
                            row.show(alias, value);
                        }
                    }
                }
            }
            Step::Apply(expr, name) => {
                for row in &mut rows {
                    let value = expr.eval(&|f| row.get(f));
                    row.show(name, value);
                }
            }
            Step::Filter(expr) => rows.retain(|row| {
                let value = expr.eval(&|f| row.get(f));
                !matches!(value, Val::Nil)
                    && value != Val::Num(0.0)
                    && value != Val::Str(Vec::new())
            }),
            Step::GroupBy(fields, reducers) => {
                let mut groups: Vec<(Vec<Val>, Vec<Row>)> = Vec::new();
                let mut at: HashMap<Vec<String>, usize> = HashMap::new();
                for row in rows {
                    let values: Vec<Val> = fields.iter().map(|f| row.get(f)).collect();
                    let key: Vec<String> = values
                        .iter()
                        .map(|v| {
                            if *v == Val::Nil {
                                "\u{0}null".into()
                            } else {
                                v.text()
                            }
                        })
                        .collect();
                    match at.get(&key) {
                        Some(&g) => groups[g].1.push(row),
                        None => {
                            at.insert(key, groups.len());
                            groups.push((values, vec![row]));
                        }
                    }
                }
                rows = groups
                    .into_iter()
                    .map(|(values, members)| {
                        let mut row = Row::default();
                        for (field, value) in fields.iter().zip(values) {
                            row.show(field, value);
                        }
                        for (reducer, alias) in reducers {
                            row.show(alias, reduce(reducer, &members));
                        }
                        row
                    })
                    .collect();
                total = rows.len();
            }
            Step::SortBy(keys, max) => {
                rows.sort_by(|a, b| {
                    for (key, desc) in keys {
                        let (x, y) = (a.get(key), b.get(key));
                        let order = match (&x, &y) {
                            (Val::Nil, _) | (_, Val::Nil) => x.compare(&y),
                            _ if *desc => x.compare(&y).reverse(),
                            _ => x.compare(&y),
                        };
                        if order != std::cmp::Ordering::Equal {
                            return order;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                for row in &mut rows {
                    for (key, _) in keys {
                        let value = row.get(key);
                        if value != Val::Nil && !row.shown.iter().any(|(n, _)| n == key) {
                            row.show(key, value);
                        }
                    }
                }
                // As RediSearch: a SORTBY without MAX keeps the first 10 rows unless a
                // LIMIT after it says how many.
                let limited = steps[at + 1..].iter().any(|s| matches!(s, Step::Limit(..)));
                if let Some(max) = max.or((!limited).then_some(SORTBY_DEFAULT_MAX)) {
                    rows.truncate(max);
                }
            }
            Step::Limit(offset, num) => {
                rows = rows.into_iter().skip(*offset).take(*num).collect();
            }
        }
    }
    (rows, total)
}

/// The hits of the query as rows, reading every page.
fn hits(keyspace: &Keyspace, index: &Index, plan: &Plan) -> Result<Vec<Row>, Reply> {
    let any_rest = keyspace.has_rest();
    let def = index.def.as_ref();
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let mut request = plan.request.clone();
        request
            .engine_args
            .extend(["LIMIT".to_string(), offset.to_string(), PAGE.to_string()]);
        let page = run(index, &request)?;
        let n = page.hits.len();
        for hit in &page.hits {
            let mut row = Row::default();
            if index.is_json() {
                let fields = json_fields(hit);
                let document = fields
                    .iter()
                    .find(|(n, _)| n == b"$")
                    .and_then(|(_, v)| serde_json::from_slice::<Json>(v).ok());
                for (name, value) in fields {
                    if name != b"$" {
                        row.hidden
                            .push((String::from_utf8_lossy(&name).into_owned(), Val::Str(value)));
                    }
                }
                if let (Some(doc), Some(def)) = (&document, def) {
                    for field in &def.fields {
                        if matches!(field.kind, FieldKind::Vector(_)) {
                            continue;
                        }
                        if let Ok(path) = JsonPath::parse(&field.hash_name) {
                            if let Some(value) = path.select(doc).first() {
                                row.hidden.push((field.attribute.clone(), json_val(value)));
                            }
                        }
                    }
                }
                row.document = document;
            } else {
                let rest = rest_of(keyspace, index, &hit.key, any_rest);
                for (name, value) in hit_fields(keyspace, index, hit, rest.as_ref(), None) {
                    let name = String::from_utf8_lossy(&name).into_owned();
                    // Attributes are readable by their names too (`AS` aliases).
                    if let Some(f) = def.and_then(|d| d.fields.iter().find(|f| f.hash_name == name))
                    {
                        if f.attribute != name {
                            row.hidden
                                .push((f.attribute.clone(), Val::Str(value.clone())));
                        }
                    }
                    row.hidden.push((name, Val::Str(value)));
                }
                if def.is_none() {
                    for (name, value) in hit.doc.fields() {
                        if let Value::Numeric(x) = value {
                            row.hidden.retain(|(n, _)| n != name);
                            row.hidden.push((name.to_string(), Val::Num(*x)));
                        }
                    }
                }
            }
            row.hidden
                .push(("__key".to_string(), Val::Str(hit.key.clone().into_bytes())));
            if plan.scores {
                row.hidden
                    .push(("__score".to_string(), Val::Num(hit.score.unwrap_or(0.0))));
            }
            rows.push(row);
        }
        if n < PAGE || request.query.to_ascii_uppercase().contains("KNN") {
            return Ok(rows);
        }
        offset += n;
    }
}

fn value_reply(value: &Val) -> Reply {
    match value {
        Val::Nil => Reply::Nil,
        Val::Num(x) => Reply::Bulk(format_number(*x).into_bytes()),
        Val::Str(s) => Reply::Bulk(s.clone()),
        Val::List(items) => Reply::Array(items.iter().map(value_reply).collect()),
    }
}

fn page_reply(total: usize, rows: &[Row], resp3: bool) -> Reply {
    let fields = |row: &Row| -> Vec<(Reply, Reply)> {
        row.shown
            .iter()
            .map(|(n, v)| (Reply::text(n), value_reply(v)))
            .collect()
    };
    if resp3 {
        let results = rows
            .iter()
            .map(|row| {
                Reply::Map(vec![
                    (Reply::text("extra_attributes"), Reply::Map(fields(row))),
                    (Reply::text("values"), Reply::Array(vec![])),
                ])
            })
            .collect();
        return resp3_page(total, results);
    }
    let mut out = vec![Reply::Int(total as i64)];
    for row in rows {
        out.push(Reply::Array(
            fields(row).into_iter().flat_map(|(n, v)| [n, v]).collect(),
        ));
    }
    Reply::Array(out)
}

/// The rows of aggregations read with `WITHCURSOR`, by cursor id.
#[derive(Debug, Default)]
pub struct Cursors {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Cursor>>,
}

#[derive(Debug)]
struct Cursor {
    index: String,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    max_idle: Duration,
    used: Instant,
}

impl Cursors {
    /// Hands out the next page of cursor `id` (dropping it when that was the last),
    /// with the id to read on with (0 when none is left).
    fn read(&self, index: &str, id: u64, page: Option<usize>, resp3: bool) -> Reply {
        let mut open = self.open.lock();
        open.retain(|_, c| c.used.elapsed() <= c.max_idle);
        let Some(cursor) = open.get_mut(&id).filter(|c| c.index == index) else {
            return err("Cursor not found");
        };
        let take = page.unwrap_or(cursor.page).min(cursor.rows.len());
        let rows: Vec<Row> = cursor.rows.drain(..take).collect();
        cursor.used = Instant::now();
        let reply = page_reply(cursor.total, &rows, resp3);
        let next = if cursor.rows.is_empty() {
            open.remove(&id);
            0
        } else {
            id
        };
        Reply::Array(vec![reply, Reply::Int(next as i64)])
    }

    fn open(
        &self,
        index: &str,
        rows: Vec<Row>,
        total: usize,
        page: usize,
        max_idle: Duration,
        resp3: bool,
    ) -> Reply {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        {
            let mut open = self.open.lock();
            open.retain(|_, c| c.used.elapsed() <= c.max_idle);
            if open.len() >= MAX_CURSORS {
                if let Some(oldest) = open.iter().min_by_key(|(_, c)| c.used).map(|(id, _)| *id) {
                    open.remove(&oldest);
                }
            }
            open.insert(
                id,
                Cursor {
                    index: index.to_string(),
                    total,
                    rows,
                    page,
                    max_idle,
                    used: Instant::now(),
                },
            );
        }
        self.read(index, id, None, resp3)
    }
}

/// `FT.AGGREGATE index query [steps ..]`.
pub fn aggregate(keyspace: &Keyspace, cursors: &Cursors, args: Args<'_>, resp3: bool) -> Reply {
    let Some((name, rest)) = args.split_first() else {
        return wrong_args("ft.aggregate");
    };
    if rest.is_empty() {
        return wrong_args("ft.aggregate");
    }
    let index = match lookup(keyspace, name) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let plan = match parse(rest) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (rows, total) = match hits(keyspace, &index, &plan) {
        Ok(rows) => apply(&plan.steps, rows),
        Err(e) => return e,
    };
    match plan.cursor {
        Some((page, idle)) => cursors.open(&index.name, rows, total, page, idle, resp3),
        None => page_reply(total, &rows, resp3),
    }
}

/// `FT.CURSOR READ index id [COUNT n]` and `FT.CURSOR DEL index id`.
pub fn cursor(cursors: &Cursors, args: Args<'_>, resp3: bool) -> Reply {
    let id = |arg: &[u8]| {
        std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    match args {
        [sub, index, cursor, rest @ ..] => {
            let Some(cursor) = id(cursor) else {
                return err("Bad cursor ID");
            };
            let index = String::from_utf8_lossy(index);
            match (
                String::from_utf8_lossy(sub).to_ascii_uppercase().as_str(),
                rest,
            ) {
                ("READ", []) => cursors.read(&index, cursor, None, resp3),
                ("READ", [word, n]) if word.eq_ignore_ascii_case(b"COUNT") => match id(n) {
                    Some(n) => cursors.read(&index, cursor, Some(n.max(1) as usize), resp3),
                    None => err("Bad arguments for COUNT: expected a count"),
                },
                ("DEL", []) => {
                    let mut open = cursors.open.lock();
                    match open.get(&cursor) {
                        Some(c) if c.index == index => {
                            open.remove(&cursor);
                            Reply::ok()
                        }
                        _ => err("Cursor does not exist"),
                    }
                }
                _ => err("FT.CURSOR takes READ index id [COUNT n] or DEL index id"),
            }
        }
        _ => wrong_args("ft.cursor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(genre: &str, price: f64) -> Row {
        Row {
            hidden: vec![
                ("genre".into(), Val::Str(genre.as_bytes().to_vec())),
                ("price".into(), Val::Str(format_number(price).into_bytes())),
            ],
            ..Row::default()
        }
    }

    fn plan(line: &str) -> Vec<Step> {
        let args: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        let mut all = vec![b"*".to_vec()];
        all.extend(args);
        match parse(&all) {
            Ok(plan) => plan.steps,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn groupby_reducers_sortby_and_limit_run_in_order() {
        let rows = vec![
            row("a", 1.0),
            row("b", 10.0),
            row("a", 3.0),
            row("c", 5.0),
            row("b", 2.0),
        ];
        let steps = plan(
            "GROUPBY 1 @genre REDUCE COUNT 0 AS n REDUCE SUM 1 @price AS total \
             REDUCE AVG 1 @price AS mean REDUCE TOLIST 1 @price AS all \
             REDUCE FIRST_VALUE 4 @price BY @price DESC AS top SORTBY 2 @total DESC LIMIT 0 2",
        );
        let (out, total) = apply(&steps, rows);
        assert_eq!(total, 3);
        let shown: Vec<Vec<(String, String)>> = out
            .iter()
            .map(|r| r.shown.iter().map(|(n, v)| (n.clone(), v.text())).collect())
            .collect();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            shown,
            vec![
                vec![
                    s("genre", "b"),
                    s("n", "2"),
                    s("total", "12"),
                    s("mean", "6"),
                    s("all", "10,2"),
                    s("top", "10")
                ],
                vec![
                    s("genre", "c"),
                    s("n", "1"),
                    s("total", "5"),
                    s("mean", "5"),
                    s("all", "5"),
                    s("top", "5")
                ],
            ]
        );
    }

    #[test]
    fn apply_filter_and_load_see_hidden_fields() {
        let rows = vec![row("a", 1.0), row("b", 10.0)];
        let steps = plan("LOAD 1 @genre APPLY @price*2 AS double FILTER @double>5");
        let (out, total) = apply(&steps, rows);
        assert_eq!((out.len(), total), (1, 2));
        assert_eq!(
            out[0].shown,
            vec![
                ("genre".into(), Val::Str(b"b".to_vec())),
                ("double".into(), Val::Num(20.0))
            ]
        );
    }

    #[test]
    fn bad_steps_are_refused_with_reasons() {
        let bad = |line: &str| {
            let mut all = vec![b"*".to_vec()];
            all.extend(line.split(' ').map(|w| w.as_bytes().to_vec()));
            match parse(&all) {
                Err(Reply::Error(e)) => e,
                other => panic!("{line}: {other:?}", other = other.map(|p| p.steps)),
            }
        };
        assert!(bad("GROUPBY 1 @g REDUCE MEDIAN 1 @p").contains("Unknown reducer"));
        assert!(bad("APPLY @a+ AS x").contains("expected a value"));
        assert!(bad("GROUPBY 1 g").contains("@field"));
        assert!(bad("BOGUS").contains("Unknown argument"));
    }
}
