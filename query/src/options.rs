//! The FT.SEARCH arguments after the query string, in both directions.

use crate::ast::{
    Highlight, Page, Query, QueryOptions, ReturnField, Scorer, SortBy, SortOrder, Summarize,
};
use crate::error::{excerpt, QueryError};
use crate::limits::{widen, Limits};
use crate::number::parse_count;
use crate::parser::parse_query;

/// FT.SEARCH options RediSearch has and Strata does not (yet); named so the error
/// says "not supported" rather than "unknown".
const UNSUPPORTED: [&str; 14] = [
    "VERBATIM",
    "NOSTOPWORDS",
    "WITHPAYLOADS",
    "WITHSORTKEYS",
    "FILTER",
    "GEOFILTER",
    "SLOP",
    "TIMEOUT",
    "INORDER",
    "LANGUAGE",
    "EXPANDER",
    "EXPLAINSCORE",
    "PAYLOAD",
    "ADDSCORES",
];

/// Parses the FT.SEARCH arguments that follow the query string, such as
/// `["RETURN", "1", "title", "LIMIT", "0", "5", "DIALECT", "2"]`. Keywords are
/// case-insensitive; each option may appear once, in any order.
///
/// # Errors
/// [`QueryError::InvalidArgument`], [`QueryError::UnknownOption`],
/// [`QueryError::UnsupportedOption`], [`QueryError::DuplicateOption`],
/// [`QueryError::DuplicateParam`], [`QueryError::UnsupportedDialect`] (anything but
/// `DIALECT` 2, 3 or 4) and [`QueryError::LimitExceeded`], with `index` into `args`.
pub fn parse_options<S: AsRef<str>>(
    args: &[S],
    limits: &Limits,
) -> Result<QueryOptions, QueryError> {
    check_size(args, limits)?;
    let mut reader = Args { args, next: 0 };
    let mut options = QueryOptions::default();
    let mut seen: Vec<&'static str> = Vec::new();
    while let Some((index, arg)) = reader.next() {
        let keyword = arg.to_ascii_uppercase();
        let option = match keyword.as_str() {
            "RETURN" => "RETURN",
            "SORTBY" => "SORTBY",
            "LIMIT" => "LIMIT",
            "PARAMS" => "PARAMS",
            "NOCONTENT" => "NOCONTENT",
            "WITHSCORES" => "WITHSCORES",
            "DIALECT" => "DIALECT",
            "SCORER" => "SCORER",
            "INKEYS" => "INKEYS",
            "INFIELDS" => "INFIELDS",
            "HIGHLIGHT" => "HIGHLIGHT",
            "SUMMARIZE" => "SUMMARIZE",
            name if UNSUPPORTED.contains(&name) => {
                return Err(QueryError::UnsupportedOption {
                    index,
                    name: keyword,
                })
            }
            "EF_RUNTIME" | "HYBRID_POLICY" | "BATCH_SIZE" | "EPSILON" => {
                return Err(QueryError::InvalidArgument {
                    index,
                    expected: "an FT.SEARCH option (EF_RUNTIME, HYBRID_POLICY, BATCH_SIZE and \
                               EPSILON go inside the query's KNN or VECTOR_RANGE clause)"
                        .to_string(),
                    found: excerpt(arg),
                })
            }
            _ => {
                return Err(QueryError::UnknownOption {
                    index,
                    name: arg.chars().take(64).collect(),
                })
            }
        };
        if seen.contains(&option) {
            return Err(QueryError::DuplicateOption {
                index,
                name: option.to_string(),
            });
        }
        seen.push(option);
        match option {
            "RETURN" => options.return_fields = Some(parse_return(&mut reader)?),
            "SORTBY" => options.sort_by = Some(parse_sort_by(&mut reader)?),
            "LIMIT" => options.limit = Some(parse_limit(&mut reader, limits)?),
            "PARAMS" => options.params = parse_params(&mut reader, limits)?,
            "NOCONTENT" => options.no_content = true,
            "WITHSCORES" => options.with_scores = true,
            "INKEYS" => options.in_keys = Some(parse_names(&mut reader, "INKEYS", "a key")?),
            "INFIELDS" => {
                options.in_fields = Some(parse_names(&mut reader, "INFIELDS", "a field name")?)
            }
            "HIGHLIGHT" => options.highlight = Some(parse_highlight(&mut reader)?),
            "SUMMARIZE" => options.summarize = Some(parse_summarize(&mut reader)?),
            "SCORER" => {
                let (index, name) = reader.expect("a scorer name after SCORER")?;
                options.scorer = Some(Scorer::from_keyword(name).ok_or_else(|| {
                    let names: Vec<&str> = Scorer::ALL.iter().map(|s| s.keyword()).collect();
                    QueryError::InvalidArgument {
                        index,
                        expected: format!("a scorer: {}", names.join(", ")),
                        found: excerpt(name),
                    }
                })?);
            }
            _ => options.dialect = Some(parse_dialect(&mut reader)?),
        }
    }
    Ok(options)
}

/// Parses a query string and its trailing FT.SEARCH arguments into one [`Query`];
/// the inverse of [`Query::to_args`] (`to_args()[0]` is the query string).
///
/// # Errors
/// Those of [`parse_query`], then those of [`parse_options`].
pub fn parse_search<S: AsRef<str>>(
    query: &str,
    args: &[S],
    limits: &Limits,
) -> Result<Query, QueryError> {
    let mut parsed = parse_query(query, limits)?;
    parsed.options = parse_options(args, limits)?;
    Ok(parsed)
}

struct Args<'a, S> {
    args: &'a [S],
    next: usize,
}

impl<'a, S: AsRef<str>> Args<'a, S> {
    fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.next)
    }

    fn peek(&self) -> Option<&'a str> {
        self.args.get(self.next).map(AsRef::as_ref)
    }

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let arg = self.peek()?;
        self.next += 1;
        Some((self.next - 1, arg))
    }

    fn expect(&mut self, expected: &str) -> Result<(usize, &'a str), QueryError> {
        let index = self.next;
        self.next().ok_or_else(|| QueryError::InvalidArgument {
            index,
            expected: expected.to_string(),
            found: "end of arguments".to_string(),
        })
    }

    fn expect_name(&mut self, expected: &str) -> Result<&'a str, QueryError> {
        let (index, arg) = self.expect(expected)?;
        if arg.is_empty() {
            return Err(QueryError::InvalidArgument {
                index,
                expected: expected.to_string(),
                found: "an empty string".to_string(),
            });
        }
        Ok(arg)
    }

    fn expect_count(&mut self, expected: &str) -> Result<(usize, u64), QueryError> {
        let (index, arg) = self.expect(expected)?;
        let count = parse_count(arg).ok_or_else(|| QueryError::InvalidArgument {
            index,
            expected: expected.to_string(),
            found: excerpt(arg),
        })?;
        Ok((index, count))
    }

    /// A count of following arguments, checked against what is actually left.
    fn expect_span(&mut self, expected: &str) -> Result<(usize, usize), QueryError> {
        let (index, count) = self.expect_count(expected)?;
        match usize::try_from(count) {
            Ok(span) if span <= self.remaining() => Ok((index, span)),
            _ => Err(QueryError::InvalidArgument {
                index,
                expected: format!("{expected} no larger than the {} left", self.remaining()),
                found: format!("`{count}`"),
            }),
        }
    }
}

/// `INKEYS n key ...` or `INFIELDS n field ...`: `n` names, at least one.
fn parse_names<S: AsRef<str>>(
    reader: &mut Args<'_, S>,
    option: &str,
    what: &str,
) -> Result<Vec<String>, QueryError> {
    let (index, span) = reader.expect_span(&format!("the number of {option} arguments"))?;
    if span == 0 {
        return Err(QueryError::InvalidArgument {
            index,
            expected: format!("at least one name after {option}"),
            found: "`0`".to_string(),
        });
    }
    (0..span)
        .map(|_| reader.expect_name(what).map(str::to_string))
        .collect()
}

/// Most fragments `SUMMARIZE FRAGS` and words of context `LEN` may ask for: far
/// beyond any useful summary, low enough that a typo cannot ask for gigabytes.
pub const MAX_SUMMARIZE: u64 = 10_000;

/// Takes the next argument if it is `keyword` (any case), refusing a second one.
fn sub_option<S: AsRef<str>>(
    reader: &mut Args<'_, S>,
    keywords: &[&'static str],
    seen: &mut Vec<&'static str>,
    option: &str,
) -> Result<Option<&'static str>, QueryError> {
    let Some(arg) = reader.peek() else {
        return Ok(None);
    };
    let Some(&keyword) = keywords.iter().find(|k| arg.eq_ignore_ascii_case(k)) else {
        return Ok(None);
    };
    if seen.contains(&keyword) {
        return Err(QueryError::DuplicateOption {
            index: reader.next,
            name: format!("{option} {keyword}"),
        });
    }
    seen.push(keyword);
    reader.next();
    Ok(Some(keyword))
}

/// `HIGHLIGHT [FIELDS n f ...] [TAGS open close]`.
fn parse_highlight<S: AsRef<str>>(reader: &mut Args<'_, S>) -> Result<Highlight, QueryError> {
    let mut highlight = Highlight::default();
    let mut seen = Vec::new();
    while let Some(keyword) = sub_option(reader, &["FIELDS", "TAGS"], &mut seen, "HIGHLIGHT")? {
        if keyword == "FIELDS" {
            highlight.fields = Some(parse_names(reader, "HIGHLIGHT FIELDS", "a field name")?);
        } else {
            let (_, open) = reader.expect("the opening tag after HIGHLIGHT TAGS")?;
            let (_, close) = reader.expect("the closing tag after HIGHLIGHT TAGS' opening tag")?;
            highlight.tags = Some((open.to_string(), close.to_string()));
        }
    }
    Ok(highlight)
}

/// `SUMMARIZE [FIELDS n f ...] [FRAGS n] [LEN n] [SEPARATOR s]`.
fn parse_summarize<S: AsRef<str>>(reader: &mut Args<'_, S>) -> Result<Summarize, QueryError> {
    let mut summarize = Summarize::default();
    let mut seen = Vec::new();
    let keywords = ["FIELDS", "FRAGS", "LEN", "SEPARATOR"];
    while let Some(keyword) = sub_option(reader, &keywords, &mut seen, "SUMMARIZE")? {
        match keyword {
            "FIELDS" => {
                summarize.fields = Some(parse_names(reader, "SUMMARIZE FIELDS", "a field name")?)
            }
            "SEPARATOR" => {
                let (_, separator) = reader.expect("the separator after SUMMARIZE SEPARATOR")?;
                summarize.separator = Some(separator.to_string());
            }
            _ => {
                let minimum = u64::from(keyword == "FRAGS");
                let expected = format!(
                    "a whole number from {minimum} to {MAX_SUMMARIZE} after SUMMARIZE {keyword}"
                );
                let (index, arg) = reader.expect(&expected)?;
                let value = parse_count(arg)
                    .filter(|value| (minimum..=MAX_SUMMARIZE).contains(value))
                    .ok_or_else(|| QueryError::InvalidArgument {
                        index,
                        expected,
                        found: excerpt(arg),
                    })?;
                if keyword == "FRAGS" {
                    summarize.frags = Some(value);
                } else {
                    summarize.len = Some(value);
                }
            }
        }
    }
    Ok(summarize)
}

/// `RETURN n field [AS alias] ...`: `n` counts every argument, `AS` included.
fn parse_return<S: AsRef<str>>(reader: &mut Args<'_, S>) -> Result<Vec<ReturnField>, QueryError> {
    let (_, span) = reader.expect_span("the number of RETURN arguments")?;
    let end = reader.next + span;
    let mut fields = Vec::new();
    while reader.next < end {
        let name = reader.expect_name("a field name to return")?;
        let mut alias = None;
        if reader.next < end
            && reader
                .peek()
                .is_some_and(|arg| arg.eq_ignore_ascii_case("AS"))
        {
            reader.next();
            if reader.next >= end {
                return Err(QueryError::InvalidArgument {
                    index: reader.next,
                    expected: "an alias after AS, counted in RETURN's number".to_string(),
                    found: reader
                        .peek()
                        .map_or("end of arguments".to_string(), excerpt),
                });
            }
            alias = Some(reader.expect_name("an alias after AS")?.to_string());
        }
        fields.push(ReturnField {
            name: name.to_string(),
            alias,
        });
    }
    Ok(fields)
}

fn parse_sort_by<S: AsRef<str>>(reader: &mut Args<'_, S>) -> Result<SortBy, QueryError> {
    let field = reader.expect_name("a field to sort by")?.to_string();
    let order = match reader.peek() {
        Some(arg) if arg.eq_ignore_ascii_case("ASC") => SortOrder::Ascending,
        Some(arg) if arg.eq_ignore_ascii_case("DESC") => SortOrder::Descending,
        _ => {
            return Ok(SortBy {
                field,
                order: SortOrder::Ascending,
            })
        }
    };
    reader.next();
    Ok(SortBy { field, order })
}

fn parse_limit<S: AsRef<str>>(
    reader: &mut Args<'_, S>,
    limits: &Limits,
) -> Result<Page, QueryError> {
    let (_, offset) = reader.expect_count("the LIMIT offset: a whole number")?;
    let (_, count) = reader.expect_count("the LIMIT count: a whole number")?;
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
    Ok(Page { offset, count })
}

fn parse_params<S: AsRef<str>>(
    reader: &mut Args<'_, S>,
    limits: &Limits,
) -> Result<Vec<(String, String)>, QueryError> {
    let (index, span) = reader.expect_span("the number of PARAMS arguments")?;
    if span % 2 != 0 {
        return Err(QueryError::InvalidArgument {
            index,
            expected: "an even number of PARAMS arguments (name/value pairs)".to_string(),
            found: format!("`{span}`"),
        });
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
        let name = reader.expect_name("a parameter name")?;
        let (_, value) = reader.expect("a parameter value")?;
        if params.iter().any(|(existing, _)| existing == name) {
            return Err(QueryError::DuplicateParam {
                name: name.to_string(),
            });
        }
        params.push((name.to_string(), value.to_string()));
    }
    Ok(params)
}

fn parse_dialect<S: AsRef<str>>(reader: &mut Args<'_, S>) -> Result<u32, QueryError> {
    let (index, arg) = reader.expect("a dialect number")?;
    match parse_count(arg) {
        // 3 and 4 differ from 2 only where Strata has nothing to differ: 3 in how
        // multi-value JSON attributes are returned, 4 in Redis's optimiser (which may
        // report a lower-bound total; Strata's total is always exact).
        Some(dialect @ 2..=4) => Ok(dialect as u32),
        Some(_) => Err(QueryError::UnsupportedDialect {
            found: arg.to_string(),
        }),
        None => Err(QueryError::InvalidArgument {
            index,
            expected: "a dialect number".to_string(),
            found: excerpt(arg),
        }),
    }
}

impl QueryOptions {
    /// The options as FT.SEARCH arguments, which [`parse_options`] reads back to an
    /// equal value. Empty for default options.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(fields) = &self.return_fields {
            args.push("RETURN".to_string());
            let count: usize = fields
                .iter()
                .map(|field| if field.alias.is_some() { 3 } else { 1 })
                .sum();
            args.push(count.to_string());
            for field in fields {
                args.push(field.name.clone());
                if let Some(alias) = &field.alias {
                    args.push("AS".to_string());
                    args.push(alias.clone());
                }
            }
        }
        if let Some(sort_by) = &self.sort_by {
            args.push("SORTBY".to_string());
            args.push(sort_by.field.clone());
            args.push(match sort_by.order {
                SortOrder::Ascending => "ASC".to_string(),
                SortOrder::Descending => "DESC".to_string(),
            });
        }
        if let Some(page) = self.limit {
            args.push("LIMIT".to_string());
            args.push(page.offset.to_string());
            args.push(page.count.to_string());
        }
        if self.no_content {
            args.push("NOCONTENT".to_string());
        }
        if self.with_scores {
            args.push("WITHSCORES".to_string());
        }
        for (option, names) in [("INKEYS", &self.in_keys), ("INFIELDS", &self.in_fields)] {
            if let Some(names) = names {
                args.push(option.to_string());
                args.push(names.len().to_string());
                args.extend(names.iter().cloned());
            }
        }
        if let Some(highlight) = &self.highlight {
            args.push("HIGHLIGHT".to_string());
            push_fields(&mut args, &highlight.fields);
            if let Some((open, close)) = &highlight.tags {
                args.extend(["TAGS".to_string(), open.clone(), close.clone()]);
            }
        }
        if let Some(summarize) = &self.summarize {
            args.push("SUMMARIZE".to_string());
            push_fields(&mut args, &summarize.fields);
            for (keyword, value) in [("FRAGS", summarize.frags), ("LEN", summarize.len)] {
                if let Some(value) = value {
                    args.extend([keyword.to_string(), value.to_string()]);
                }
            }
            if let Some(separator) = &summarize.separator {
                args.extend(["SEPARATOR".to_string(), separator.clone()]);
            }
        }
        if let Some(scorer) = self.scorer {
            args.push("SCORER".to_string());
            args.push(scorer.keyword().to_string());
        }
        if !self.params.is_empty() {
            args.push("PARAMS".to_string());
            args.push((self.params.len() * 2).to_string());
            for (name, value) in &self.params {
                args.push(name.clone());
                args.push(value.clone());
            }
        }
        if let Some(dialect) = self.dialect {
            args.push("DIALECT".to_string());
            args.push(dialect.to_string());
        }
        args
    }
}

fn push_fields(args: &mut Vec<String>, fields: &Option<Vec<String>>) {
    if let Some(fields) = fields {
        args.push("FIELDS".to_string());
        args.push(fields.len().to_string());
        args.extend(fields.iter().cloned());
    }
}

impl Query {
    /// The query as FT.SEARCH arguments: the query string, then the options.
    /// `parse_search(&args[0], &args[1..], limits)` gives back an equal query.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![self.to_string()];
        args.extend(self.options.to_args());
        args
    }
}

/// Refuses an argument list longer, or larger in bytes, than `limits` allow, before
/// any of it is parsed (FT.SEARCH options and FT.HYBRID share the bound).
pub(crate) fn check_size<S: AsRef<str>>(args: &[S], limits: &Limits) -> Result<(), QueryError> {
    if args.len() > limits.max_args {
        return Err(QueryError::LimitExceeded {
            what: "number of arguments",
            limit: widen(limits.max_args),
            found: widen(args.len()),
        });
    }
    let total = args.iter().fold(0usize, |total, arg| {
        total.saturating_add(arg.as_ref().len())
    });
    if total > limits.max_args_bytes {
        return Err(QueryError::LimitExceeded {
            what: "argument length in bytes",
            limit: widen(limits.max_args_bytes),
            found: widen(total),
        });
    }
    Ok(())
}
