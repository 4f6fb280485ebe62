//! FT.HYBRID's arguments (Redis 8.4): a text query and a vector query, fused.
//!
//! The grammar, after the index name:
//!
//! ```text
//! [2] SEARCH query [SCORER name] [YIELD_SCORE_AS alias]
//! VSIM @field $param [KNN n K k [EF_RUNTIME ef]] | [RANGE n RADIUS r [EPSILON e]]
//!      [FILTER query] [YIELD_SCORE_AS alias]
//! [COMBINE RRF n [CONSTANT c] [WINDOW w] [YIELD_SCORE_AS alias]] [YIELD_SCORE_AS alias]
//! [COMBINE LINEAR n [ALPHA a BETA b] [WINDOW w] [YIELD_SCORE_AS alias]] [YIELD_SCORE_AS alias]
//! [LIMIT offset count] [SORTBY n @field [ASC|DESC] ...] [NOSORT]
//! [LOAD n field ... | LOAD *] [PARAMS n name value ...]
//! ```
//!
//! The counts (`KNN n`, `RRF n`, `SORTBY n`, ...) count every argument that follows
//! in the block, as in RediSearch. Defaults are RediSearch's: KNN K 10, RRF CONSTANT
//! 60, WINDOW 20, LINEAR ALPHA 0.3 BETA 0.7, LIMIT 0 10.

use crate::ast::{Filter, Page, SortOrder};
use crate::error::{excerpt, QueryError};
use crate::limits::{widen, Limits};
use crate::number::{parse_count, parse_number, NumberText};
use crate::options::check_size;
use crate::parser::parse_query;

/// RediSearch's RRF constant when `CONSTANT` is not given.
pub const DEFAULT_RRF_CONSTANT: f64 = 60.0;
/// How many results each side contributes when `WINDOW` is not given.
pub const DEFAULT_WINDOW: u64 = 20;
/// The text weight of `COMBINE LINEAR` without `ALPHA`.
pub const DEFAULT_ALPHA: f64 = 0.3;
/// The vector weight of `COMBINE LINEAR` without `BETA`.
pub const DEFAULT_BETA: f64 = 0.7;
/// The number of neighbours of `VSIM` without `KNN ... K`.
pub const DEFAULT_HYBRID_K: u64 = 10;
/// RediSearch's upper bound on the RRF constant.
const MAX_RRF_CONSTANT: f64 = 100_000.0;

/// A parsed FT.HYBRID request.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridQuery {
    /// The `SEARCH` query: it selects and scores the text side.
    pub text: Filter,
    /// `SCORER` of the text side.
    pub scorer: HybridScorer,
    /// `YIELD_SCORE_AS` of the text side.
    pub text_alias: Option<String>,
    /// The `VSIM` side.
    pub vector: HybridVector,
    /// `COMBINE`: how the two lists are fused.
    pub combine: Combine,
    /// `YIELD_SCORE_AS` of the fused score.
    pub fused_alias: Option<String>,
    /// `LIMIT`; `None` means `LIMIT 0 10`.
    pub limit: Option<Page>,
    /// `SORTBY` keys, in order; empty means by fused score, best first.
    pub sort_by: Vec<HybridSort>,
    /// `NOSORT`: keep the fused order without sorting by another key.
    pub no_sort: bool,
    /// `LOAD`: which fields each hit carries.
    pub load: Load,
    /// `PARAMS` as name/value pairs.
    pub params: Vec<(String, String)>,
}

/// The scorer of the text side of a hybrid query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HybridScorer {
    /// `BM25` / `BM25STD` (the default): raw BM25.
    Bm25,
    /// `BM25STD.NORM`: BM25 divided by the best BM25 score of the text side.
    Bm25Norm,
}

impl HybridScorer {
    /// The keyword RediSearch uses.
    pub fn keyword(self) -> &'static str {
        match self {
            HybridScorer::Bm25 => "BM25STD",
            HybridScorer::Bm25Norm => "BM25STD.NORM",
        }
    }
}

/// The `VSIM` side of a hybrid query.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridVector {
    /// The vector field, without its `@`.
    pub field: String,
    /// The parameter holding the query vector, without its `$`.
    pub vector_param: String,
    /// KNN or RANGE.
    pub method: VectorMethod,
    /// `FILTER`: rows the vector side may return (`*` when absent).
    pub filter: Filter,
    /// `YIELD_SCORE_AS` of the vector side's (normalised) score.
    pub alias: Option<String>,
}

/// How the vector side finds its candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorMethod {
    /// `KNN n K k [EF_RUNTIME ef]`.
    Knn { k: u64, ef_runtime: Option<u64> },
    /// `RANGE n RADIUS r [EPSILON e]`.
    Range { radius: f64, epsilon: Option<f64> },
}

/// `COMBINE`: the fusion of the two ranked lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Combine {
    /// Reciprocal rank fusion: `Σ 1 / (constant + rank)` over the sides that returned
    /// the document, ranks counted from 1.
    Rrf { constant: f64, window: u64 },
    /// `alpha · text score + beta · vector score`, a missing side counting 0.
    Linear { alpha: f64, beta: f64, window: u64 },
}

impl Combine {
    /// How many results each side contributes.
    pub fn window(&self) -> u64 {
        match *self {
            Combine::Rrf { window, .. } | Combine::Linear { window, .. } => window,
        }
    }
}

impl Default for Combine {
    fn default() -> Combine {
        Combine::Rrf {
            constant: DEFAULT_RRF_CONSTANT,
            window: DEFAULT_WINDOW,
        }
    }
}

/// One `SORTBY` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HybridSort {
    /// A field, a `YIELD_SCORE_AS` alias, `__score` or `__key` (without the `@`).
    pub field: String,
    pub order: SortOrder,
}

/// `LOAD`: the fields a hybrid hit carries besides its key and scores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Load {
    /// No `LOAD`: only the key and the scores, as FT.HYBRID returns.
    #[default]
    None,
    /// `LOAD *`: every non-vector field.
    All,
    /// `LOAD n field ...`, without `@`.
    Fields(Vec<String>),
}

/// Parses FT.HYBRID's arguments after the index name, such as
/// `["SEARCH", "@body:(oauth)", "VSIM", "@v", "$q", "KNN", "2", "K", "10"]`.
///
/// ```
/// use strata_query::{parse_hybrid, Combine, Limits, VectorMethod};
/// let args = ["SEARCH", "oauth", "VSIM", "@v", "$q", "KNN", "2", "K", "5",
///             "COMBINE", "RRF", "4", "CONSTANT", "10", "WINDOW", "30"];
/// let query = parse_hybrid(&args, &Limits::default())?;
/// assert_eq!(query.vector.method, VectorMethod::Knn { k: 5, ef_runtime: None });
/// assert_eq!(query.combine, Combine::Rrf { constant: 10.0, window: 30 });
/// # Ok::<(), strata_query::QueryError>(())
/// ```
///
/// # Errors
/// [`QueryError::InvalidArgument`] for a missing or malformed argument,
/// [`QueryError::DuplicateOption`], [`QueryError::UnknownOption`],
/// [`QueryError::UnsupportedOption`] for FT.HYBRID options Strata lacks (`GROUPBY`,
/// `APPLY`, a post-`FILTER`, `TIMEOUT`, ...), [`QueryError::LimitExceeded`], and
/// those of [`parse_query`] for the `SEARCH` and `FILTER` queries.
pub fn parse_hybrid<S: AsRef<str>>(args: &[S], limits: &Limits) -> Result<HybridQuery, QueryError> {
    check_size(args, limits)?;
    let mut reader = Reader { args, next: 0 };
    if reader.peek().is_some_and(|arg| parse_count(arg).is_some()) {
        let (index, count) = reader.count("the number of subqueries")?;
        if count != 2 {
            return Err(invalid(
                index,
                "2 subqueries (SEARCH and VSIM)",
                &count.to_string(),
            ));
        }
    }
    reader.keyword("SEARCH")?;
    let (index, text) = reader.expect("the SEARCH query")?;
    let text = filter_only(index, text, "SEARCH", limits)?;
    let mut scorer = None;
    let mut text_alias = None;
    loop {
        match reader.peek_upper().as_deref() {
            Some("SCORER") => {
                let index = reader.skip();
                duplicate(scorer.is_some(), index, "SCORER")?;
                let (index, name) = reader.expect("a scorer name after SCORER")?;
                scorer = Some(match name.to_ascii_uppercase().as_str() {
                    "BM25" | "BM25STD" => HybridScorer::Bm25,
                    "BM25STD.NORM" => HybridScorer::Bm25Norm,
                    _ => {
                        return Err(invalid(
                            index,
                            "BM25STD or BM25STD.NORM (the scorers Strata has for hybrid)",
                            name,
                        ))
                    }
                });
            }
            Some("YIELD_SCORE_AS") => {
                let index = reader.skip();
                duplicate(text_alias.is_some(), index, "YIELD_SCORE_AS")?;
                text_alias = Some(reader.name("an alias for the text score")?);
            }
            Some("DIALECT") => return Err(dialect(reader.next)),
            _ => break,
        }
    }
    let vector = parse_vsim(&mut reader, limits)?;
    let (combine, fused_alias) = match reader.peek_upper().as_deref() {
        Some("COMBINE") => {
            reader.skip();
            parse_combine(&mut reader, limits)?
        }
        _ => (Combine::default(), None),
    };
    let mut query = HybridQuery {
        text,
        scorer: scorer.unwrap_or(HybridScorer::Bm25),
        text_alias,
        vector,
        combine,
        fused_alias,
        limit: None,
        sort_by: Vec::new(),
        no_sort: false,
        load: Load::None,
        params: Vec::new(),
    };
    parse_tail(&mut reader, &mut query, limits)?;
    check_aliases(&query)?;
    Ok(query)
}

fn parse_vsim<S: AsRef<str>>(
    reader: &mut Reader<'_, S>,
    limits: &Limits,
) -> Result<HybridVector, QueryError> {
    reader.keyword("VSIM")?;
    let (index, field) = reader.expect("the vector field after VSIM, as @field")?;
    let field = match field.strip_prefix('@') {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => {
            return Err(invalid(
                index,
                "the vector field after VSIM, as @field",
                field,
            ))
        }
    };
    let (index, param) = reader.expect("the query vector after the field, as $param")?;
    let vector_param = match param.strip_prefix('$') {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => {
            return Err(invalid(
                index,
                "the query vector as a parameter, $name (its value goes in PARAMS)",
                param,
            ))
        }
    };
    let mut method = VectorMethod::Knn {
        k: DEFAULT_HYBRID_K,
        ef_runtime: None,
    };
    match reader.peek_upper().as_deref() {
        Some("KNN") => {
            reader.skip();
            method = parse_knn(reader, limits)?;
        }
        Some("RANGE") => {
            reader.skip();
            method = parse_range(reader)?;
        }
        _ => {}
    }
    let mut filter = Filter::All;
    if reader.peek_upper().as_deref() == Some("FILTER") {
        reader.skip();
        // Redis 8.4 takes the expression alone; later versions may count it first.
        if reader.peek().is_some_and(|arg| parse_count(arg) == Some(1)) && reader.remaining() > 1 {
            reader.skip();
        }
        let (index, expression) = reader.expect("the FILTER query")?;
        filter = filter_only(index, expression, "FILTER", limits)?;
    }
    let mut alias = None;
    if reader.peek_upper().as_deref() == Some("YIELD_SCORE_AS") {
        reader.skip();
        alias = Some(reader.name("an alias for the vector score")?);
    }
    if reader.peek_upper().as_deref() == Some("YIELD_SCORE_AS") {
        return Err(QueryError::DuplicateOption {
            index: reader.next,
            name: "YIELD_SCORE_AS".to_string(),
        });
    }
    Ok(HybridVector {
        field,
        vector_param,
        method,
        filter,
        alias,
    })
}

fn parse_knn<S: AsRef<str>>(
    reader: &mut Reader<'_, S>,
    limits: &Limits,
) -> Result<VectorMethod, QueryError> {
    let mut block = reader.pairs("KNN")?;
    let mut k = None;
    let mut ef_runtime = None;
    while let Some((index, key)) = block.next() {
        match key.to_ascii_uppercase().as_str() {
            "K" => {
                duplicate(k.is_some(), index, "K")?;
                let (index, value) = block.value("K")?;
                let value = positive(index, value, "K: a whole number of at least 1")?;
                if value > limits.max_k {
                    return Err(QueryError::LimitExceeded {
                        what: "KNN k",
                        limit: limits.max_k,
                        found: value,
                    });
                }
                k = Some(value);
            }
            "EF_RUNTIME" => {
                duplicate(ef_runtime.is_some(), index, "EF_RUNTIME")?;
                let (index, value) = block.value("EF_RUNTIME")?;
                let value = positive(index, value, "EF_RUNTIME: a whole number of at least 1")?;
                if value > limits.max_ef_runtime {
                    return Err(QueryError::LimitExceeded {
                        what: "EF_RUNTIME",
                        limit: limits.max_ef_runtime,
                        found: value,
                    });
                }
                ef_runtime = Some(value);
            }
            _ => return Err(invalid(index, "K or EF_RUNTIME inside KNN", key)),
        }
    }
    match k {
        Some(k) => Ok(VectorMethod::Knn { k, ef_runtime }),
        None => Err(QueryError::InvalidArgument {
            index: block.start,
            expected: "K among the KNN arguments (KNN 2 K 10)".to_string(),
            found: "none".to_string(),
        }),
    }
}

fn parse_range<S: AsRef<str>>(reader: &mut Reader<'_, S>) -> Result<VectorMethod, QueryError> {
    let mut block = reader.pairs("RANGE")?;
    let mut radius = None;
    let mut epsilon = None;
    while let Some((index, key)) = block.next() {
        match key.to_ascii_uppercase().as_str() {
            "RADIUS" => {
                duplicate(radius.is_some(), index, "RADIUS")?;
                let (index, value) = block.value("RADIUS")?;
                radius = Some(non_negative(
                    index,
                    value,
                    "RADIUS: a distance of 0 or more",
                )?);
            }
            "EPSILON" => {
                duplicate(epsilon.is_some(), index, "EPSILON")?;
                let (index, value) = block.value("EPSILON")?;
                epsilon = Some(non_negative(
                    index,
                    value,
                    "EPSILON: a number of 0 or more",
                )?);
            }
            _ => return Err(invalid(index, "RADIUS or EPSILON inside RANGE", key)),
        }
    }
    match radius {
        Some(radius) => Ok(VectorMethod::Range { radius, epsilon }),
        None => Err(QueryError::InvalidArgument {
            index: block.start,
            expected: "RADIUS among the RANGE arguments (RANGE 2 RADIUS 0.5)".to_string(),
            found: "none".to_string(),
        }),
    }
}

fn parse_combine<S: AsRef<str>>(
    reader: &mut Reader<'_, S>,
    limits: &Limits,
) -> Result<(Combine, Option<String>), QueryError> {
    let (index, method) = reader.expect("RRF or LINEAR after COMBINE")?;
    let method = method.to_ascii_uppercase();
    if method != "RRF" && method != "LINEAR" {
        return Err(invalid(index, "RRF or LINEAR after COMBINE", &method));
    }
    let mut block = reader.pairs(&method)?;
    let mut constant = None;
    let mut window = None;
    let mut alpha = None;
    let mut beta = None;
    let mut alias = None;
    while let Some((index, key)) = block.next() {
        let key = key.to_ascii_uppercase();
        match (method.as_str(), key.as_str()) {
            ("RRF", "CONSTANT") => {
                duplicate(constant.is_some(), index, "CONSTANT")?;
                let (index, value) = block.value("CONSTANT")?;
                let value = non_negative(index, value, "CONSTANT: a number from 0 to 100000")?;
                if value > MAX_RRF_CONSTANT {
                    return Err(invalid(
                        index,
                        "CONSTANT: a number from 0 to 100000",
                        &value.to_string(),
                    ));
                }
                constant = Some(value);
            }
            ("LINEAR", "ALPHA" | "BETA") => {
                let slot = if key == "ALPHA" {
                    &mut alpha
                } else {
                    &mut beta
                };
                duplicate(slot.is_some(), index, &key)?;
                let (index, value) = block.value(&key)?;
                *slot = Some(finite(index, value, &format!("{key}: a number"))?);
            }
            (_, "WINDOW") => {
                duplicate(window.is_some(), index, "WINDOW")?;
                let (index, value) = block.value("WINDOW")?;
                let value = positive(index, value, "WINDOW: a whole number of at least 1")?;
                if value > limits.max_limit {
                    return Err(QueryError::LimitExceeded {
                        what: "COMBINE WINDOW",
                        limit: limits.max_limit,
                        found: value,
                    });
                }
                window = Some(value);
            }
            (_, "YIELD_SCORE_AS") => {
                duplicate(alias.is_some(), index, "YIELD_SCORE_AS")?;
                let (index, value) = block.value("YIELD_SCORE_AS")?;
                if value.is_empty() {
                    return Err(invalid(index, "an alias for the fused score", value));
                }
                alias = Some(value.to_string());
            }
            ("RRF", _) => {
                return Err(invalid(
                    index,
                    "CONSTANT, WINDOW or YIELD_SCORE_AS inside RRF",
                    &key,
                ))
            }
            _ => {
                return Err(invalid(
                    index,
                    "ALPHA, BETA, WINDOW or YIELD_SCORE_AS inside LINEAR",
                    &key,
                ))
            }
        }
    }
    if reader.peek_upper().as_deref() == Some("YIELD_SCORE_AS") {
        let index = reader.skip();
        duplicate(alias.is_some(), index, "YIELD_SCORE_AS")?;
        alias = Some(reader.name("an alias for the fused score")?);
    }
    let window = window.unwrap_or(DEFAULT_WINDOW.min(limits.max_limit.max(1)));
    let combine = if method == "RRF" {
        Combine::Rrf {
            constant: constant.unwrap_or(DEFAULT_RRF_CONSTANT),
            window,
        }
    } else {
        match (alpha, beta) {
            (Some(alpha), Some(beta)) => Combine::Linear {
                alpha,
                beta,
                window,
            },
            (None, None) => Combine::Linear {
                alpha: DEFAULT_ALPHA,
                beta: DEFAULT_BETA,
                window,
            },
            (Some(_), None) | (None, Some(_)) => {
                return Err(QueryError::InvalidArgument {
                    index: block.start,
                    expected: "both ALPHA and BETA, or neither (0.3 and 0.7)".to_string(),
                    found: if alpha.is_some() {
                        "ALPHA alone"
                    } else {
                        "BETA alone"
                    }
                    .to_string(),
                })
            }
        }
    };
    Ok((combine, alias))
}

/// LIMIT, SORTBY, NOSORT, LOAD and PARAMS, in any order, each once.
fn parse_tail<S: AsRef<str>>(
    reader: &mut Reader<'_, S>,
    query: &mut HybridQuery,
    limits: &Limits,
) -> Result<(), QueryError> {
    let mut seen: Vec<String> = Vec::new();
    while let Some((index, arg)) = reader.next() {
        let keyword = arg.to_ascii_uppercase();
        match keyword.as_str() {
            "LIMIT" | "SORTBY" | "NOSORT" | "LOAD" | "PARAMS" => {}
            "DIALECT" => return Err(dialect(index)),
            "GROUPBY" | "APPLY" | "FILTER" | "TIMEOUT" | "WITHCURSOR" | "EXPLAINSCORE"
            | "FORMAT" | "REDUCE" => {
                return Err(QueryError::UnsupportedOption {
                    index,
                    name: keyword,
                })
            }
            "COMBINE" | "SEARCH" | "VSIM" | "SCORER" | "YIELD_SCORE_AS" | "KNN" | "RANGE" => {
                return Err(invalid(
                    index,
                    "LIMIT, SORTBY, NOSORT, LOAD or PARAMS (FT.HYBRID's order is SEARCH, \
                     VSIM, COMBINE, then these)",
                    arg,
                ))
            }
            _ => {
                return Err(QueryError::UnknownOption {
                    index,
                    name: arg.chars().take(64).collect(),
                })
            }
        }
        duplicate(seen.contains(&keyword), index, &keyword)?;
        seen.push(keyword.clone());
        match keyword.as_str() {
            "LIMIT" => {
                let (_, offset) = reader.count("the LIMIT offset: a whole number")?;
                let (_, count) = reader.count("the LIMIT count: a whole number")?;
                if offset > limits.max_offset {
                    return Err(QueryError::LimitExceeded {
                        what: "LIMIT offset",
                        limit: limits.max_offset,
                        found: offset,
                    });
                }
                if count > limits.max_limit {
                    return Err(QueryError::LimitExceeded {
                        what: "LIMIT count",
                        limit: limits.max_limit,
                        found: count,
                    });
                }
                query.limit = Some(Page { offset, count });
            }
            "SORTBY" => query.sort_by = parse_sort(reader)?,
            "NOSORT" => query.no_sort = true,
            "LOAD" => query.load = parse_load(reader)?,
            _ => query.params = parse_params(reader, limits)?,
        }
    }
    if query.no_sort && !query.sort_by.is_empty() {
        return Err(QueryError::InvalidArgument {
            index: args_len(reader),
            expected: "SORTBY or NOSORT, not both".to_string(),
            found: "both".to_string(),
        });
    }
    Ok(())
}

fn args_len<S>(reader: &Reader<'_, S>) -> usize {
    reader.args.len()
}

fn parse_sort<S: AsRef<str>>(reader: &mut Reader<'_, S>) -> Result<Vec<HybridSort>, QueryError> {
    let (index, span) = reader.span("the number of SORTBY arguments")?;
    if span == 0 {
        return Err(invalid(
            index,
            "at least one @field after SORTBY's count",
            "0",
        ));
    }
    let end = reader.next + span;
    let mut keys: Vec<HybridSort> = Vec::new();
    // An order applies to the field just before it, once.
    let mut open = false;
    while reader.next < end {
        let (index, arg) = reader.expect("a @field to sort by")?;
        let order = if arg.eq_ignore_ascii_case("ASC") {
            Some(SortOrder::Ascending)
        } else if arg.eq_ignore_ascii_case("DESC") {
            Some(SortOrder::Descending)
        } else {
            None
        };
        if let Some(order) = order {
            match keys.last_mut() {
                Some(key) if open => {
                    key.order = order;
                    open = false;
                    continue;
                }
                _ => return Err(invalid(index, "a @field before ASC or DESC", arg)),
            }
        }
        match arg.strip_prefix('@') {
            Some(field) if !field.is_empty() => keys.push(HybridSort {
                field: field.to_string(),
                order: SortOrder::Ascending,
            }),
            _ => return Err(invalid(index, "a field to sort by, written @field", arg)),
        }
        open = true;
    }
    Ok(keys)
}

fn parse_load<S: AsRef<str>>(reader: &mut Reader<'_, S>) -> Result<Load, QueryError> {
    if reader.peek() == Some("*") {
        reader.skip();
        return Ok(Load::All);
    }
    let (index, span) = reader.span("the number of LOAD fields, or *")?;
    if span == 0 {
        return Err(invalid(index, "at least one field after LOAD's count", "0"));
    }
    let mut fields = Vec::with_capacity(span);
    for _ in 0..span {
        let (index, arg) = reader.expect("a field to load")?;
        let name = arg.strip_prefix('@').unwrap_or(arg);
        if name.is_empty() {
            return Err(invalid(index, "a field name to load", arg));
        }
        fields.push(name.to_string());
    }
    Ok(Load::Fields(fields))
}

fn parse_params<S: AsRef<str>>(
    reader: &mut Reader<'_, S>,
    limits: &Limits,
) -> Result<Vec<(String, String)>, QueryError> {
    let (index, span) = reader.span("the number of PARAMS arguments")?;
    if span % 2 != 0 || span == 0 {
        return Err(invalid(
            index,
            "a positive even number of PARAMS arguments (name/value pairs)",
            &span.to_string(),
        ));
    }
    if span / 2 > limits.max_params {
        return Err(QueryError::LimitExceeded {
            what: "number of PARAMS",
            limit: widen(limits.max_params),
            found: widen(span / 2),
        });
    }
    let mut params: Vec<(String, String)> = Vec::with_capacity(span / 2);
    for _ in 0..span / 2 {
        let name = reader.name("a parameter name")?;
        let (_, value) = reader.expect("a parameter value")?;
        if params.iter().any(|(existing, _)| *existing == name) {
            return Err(QueryError::DuplicateParam { name });
        }
        params.push((name, value.to_string()));
    }
    Ok(params)
}

/// Two outputs under one name would shadow each other in the hit.
fn check_aliases(query: &HybridQuery) -> Result<(), QueryError> {
    let aliases = [&query.text_alias, &query.vector.alias, &query.fused_alias];
    for (at, alias) in aliases.iter().enumerate() {
        if let Some(alias) = alias {
            if aliases[..at]
                .iter()
                .any(|other| other.as_ref() == Some(alias))
            {
                return Err(QueryError::InvalidArgument {
                    index: 0,
                    expected: "a different YIELD_SCORE_AS alias for each score".to_string(),
                    found: format!("`{alias}` twice"),
                });
            }
        }
    }
    Ok(())
}

/// A SEARCH or FILTER query: a filter, without a KNN clause (VSIM is the vector part).
fn filter_only(
    index: usize,
    text: &str,
    what: &str,
    limits: &Limits,
) -> Result<Filter, QueryError> {
    let query = parse_query(text, limits)?;
    if query.vector.is_some() {
        return Err(QueryError::InvalidArgument {
            index,
            expected: format!(
                "a {what} query without `=>[KNN ...]` (the vector query goes in VSIM)"
            ),
            found: excerpt(text),
        });
    }
    Ok(query.filter)
}

fn invalid(index: usize, expected: &str, found: &str) -> QueryError {
    QueryError::InvalidArgument {
        index,
        expected: expected.to_string(),
        found: excerpt(found),
    }
}

fn duplicate(seen: bool, index: usize, name: &str) -> Result<(), QueryError> {
    if seen {
        return Err(QueryError::DuplicateOption {
            index,
            name: name.to_string(),
        });
    }
    Ok(())
}

fn dialect(index: usize) -> QueryError {
    QueryError::InvalidArgument {
        index,
        expected: "no DIALECT: FT.HYBRID always uses dialect 2, as in RediSearch".to_string(),
        found: "`DIALECT`".to_string(),
    }
}

fn positive(index: usize, text: &str, expected: &str) -> Result<u64, QueryError> {
    match parse_count(text) {
        Some(value) if value >= 1 => Ok(value),
        _ => Err(invalid(index, expected, text)),
    }
}

fn finite(index: usize, text: &str, expected: &str) -> Result<f64, QueryError> {
    match parse_number(text) {
        NumberText::Valid(value) if value.is_finite() => Ok(value),
        _ => Err(invalid(index, expected, text)),
    }
}

fn non_negative(index: usize, text: &str, expected: &str) -> Result<f64, QueryError> {
    match finite(index, text, expected)? {
        value if value >= 0.0 => Ok(value),
        _ => Err(invalid(index, expected, text)),
    }
}

struct Reader<'a, S> {
    args: &'a [S],
    next: usize,
}

impl<'a, S: AsRef<str>> Reader<'a, S> {
    fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.next)
    }

    fn peek(&self) -> Option<&'a str> {
        self.args.get(self.next).map(AsRef::as_ref)
    }

    fn peek_upper(&self) -> Option<String> {
        self.peek().map(str::to_ascii_uppercase)
    }

    /// Steps over the argument `peek` showed; returns its index.
    fn skip(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let arg = self.peek()?;
        Some((self.skip(), arg))
    }

    fn expect(&mut self, expected: &str) -> Result<(usize, &'a str), QueryError> {
        let index = self.next;
        self.next().ok_or_else(|| QueryError::InvalidArgument {
            index,
            expected: expected.to_string(),
            found: "end of arguments".to_string(),
        })
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), QueryError> {
        let (index, arg) = self.expect(keyword)?;
        if arg.eq_ignore_ascii_case(keyword) {
            Ok(())
        } else {
            Err(invalid(index, keyword, arg))
        }
    }

    fn name(&mut self, expected: &str) -> Result<String, QueryError> {
        let (index, arg) = self.expect(expected)?;
        if arg.is_empty() {
            return Err(invalid(index, expected, arg));
        }
        Ok(arg.to_string())
    }

    fn count(&mut self, expected: &str) -> Result<(usize, u64), QueryError> {
        let (index, arg) = self.expect(expected)?;
        parse_count(arg)
            .map(|count| (index, count))
            .ok_or_else(|| invalid(index, expected, arg))
    }

    /// A count of following arguments, checked against what is actually left.
    fn span(&mut self, expected: &str) -> Result<(usize, usize), QueryError> {
        let (index, count) = self.count(expected)?;
        match usize::try_from(count) {
            Ok(span) if span <= self.remaining() => Ok((index, span)),
            _ => Err(QueryError::InvalidArgument {
                index,
                expected: format!("{expected} no larger than the {} left", self.remaining()),
                found: format!("`{count}`"),
            }),
        }
    }

    /// `KNN n key value ...`: a block of `n` arguments in pairs.
    fn pairs(&mut self, block: &str) -> Result<Block<'a>, QueryError> {
        let expected = format!("the number of {block} arguments");
        let (index, span) = self.span(&expected)?;
        if span % 2 != 0 {
            return Err(invalid(
                index,
                &format!("an even number of {block} arguments (key/value pairs)"),
                &span.to_string(),
            ));
        }
        let start = self.next;
        let args = (start..start + span)
            .filter_map(|at| self.args.get(at).map(AsRef::as_ref))
            .collect();
        self.next += span;
        Ok(Block {
            args,
            start,
            next: 0,
        })
    }
}

/// The arguments of one counted block, read in key/value pairs.
struct Block<'a> {
    args: Vec<&'a str>,
    /// Index of the block's first argument among all the arguments.
    start: usize,
    next: usize,
}

impl<'a> Block<'a> {
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let arg = *self.args.get(self.next)?;
        self.next += 1;
        Some((self.start + self.next - 1, arg))
    }

    fn value(&mut self, key: &str) -> Result<(usize, &'a str), QueryError> {
        let index = self.start + self.next;
        self.next().ok_or_else(|| QueryError::InvalidArgument {
            index,
            expected: format!("a value after {key}"),
            found: "the end of the block".to_string(),
        })
    }
}

/// Splits a command line into arguments as `redis-cli` does: whitespace separates,
/// `"..."` may hold `\"`, `\\`, `\n`, `\t`, `\xHH` escapes, `'...'` holds `\'` only.
///
/// ```
/// let args = strata_query::split_arguments(r#"SEARCH '@title:(oauth token)' VSIM @v $q"#)?;
/// assert_eq!(args, ["SEARCH", "@title:(oauth token)", "VSIM", "@v", "$q"]);
/// # Ok::<(), strata_query::QueryError>(())
/// ```
///
/// # Errors
/// [`QueryError::Syntax`] for an unbalanced quote, a quote not followed by a space,
/// or an escape that is not valid UTF-8.
pub fn split_arguments(line: &str) -> Result<Vec<String>, QueryError> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut at = 0;
    let error = |pos: usize, expected: &str| QueryError::Syntax {
        pos,
        expected: expected.to_string(),
        found: excerpt(line.get(pos..).unwrap_or("")),
    };
    loop {
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let Some(&first) = bytes.get(at) else {
            return Ok(args);
        };
        let mut arg: Vec<u8> = Vec::new();
        match first {
            b'"' | b'\'' => {
                let start = at;
                at += 1;
                loop {
                    match (bytes.get(at), bytes.get(at + 1)) {
                        (None, _) => return Err(error(start, "a closing quote")),
                        (Some(&c), _) if c == first => {
                            at += 1;
                            break;
                        }
                        (Some(b'\\'), Some(&next)) if first == b'\'' => {
                            if next == b'\'' {
                                arg.push(b'\'');
                                at += 2;
                            } else {
                                arg.push(b'\\');
                                at += 1;
                            }
                        }
                        (Some(b'\\'), Some(&next)) => {
                            let hex = bytes.get(at + 2..at + 4).and_then(|pair| {
                                std::str::from_utf8(pair)
                                    .ok()
                                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                            });
                            match (next, hex) {
                                (b'x', Some(byte)) => {
                                    arg.push(byte);
                                    at += 4;
                                    continue;
                                }
                                (b'n', _) => arg.push(b'\n'),
                                (b'r', _) => arg.push(b'\r'),
                                (b't', _) => arg.push(b'\t'),
                                (b'b', _) => arg.push(8),
                                (b'a', _) => arg.push(7),
                                (other, _) => arg.push(other),
                            }
                            at += 2;
                        }
                        (Some(&c), _) => {
                            arg.push(c);
                            at += 1;
                        }
                    }
                }
                if bytes.get(at).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return Err(error(at, "a space after the closing quote"));
                }
            }
            _ => {
                while let Some(&c) = bytes.get(at) {
                    if c.is_ascii_whitespace() {
                        break;
                    }
                    arg.push(c);
                    at += 1;
                }
            }
        }
        match String::from_utf8(arg) {
            Ok(arg) => args.push(arg),
            Err(_) => return Err(error(at, "an argument that is valid UTF-8")),
        }
    }
}
