//! Strata's query language (RediSearch dialect 2): the AST, the parser and the printer.
//!
//! The crate is pure: text in, typed tree out, and back. The engine plans and runs.
//!
//! ```
//! use strata_query::{parse_search, Filter, Limits, Params};
//!
//! let limits = Limits::default();
//! let query = parse_search(
//!     "(@category:{AI|ML} @price:[0 (100] -@status:{draft})=>[KNN 10 @embedding $vec AS score]",
//!     &["LIMIT", "0", "5", "DIALECT", "2"],
//!     &limits,
//! )?;
//! assert!(matches!(query.filter, Filter::And(ref parts) if parts.len() == 3));
//! assert_eq!(query.vector.as_ref().map(|knn| knn.alias.as_deref()), Some(Some("score")));
//!
//! // Parameters are bound in a separate step; the vector stays a reference by name.
//! let bound = query.bind(&Params::new().with_vector("vec", vec![0.1, 0.2]), &limits)?;
//! // Printing gives query text that parses back to the same tree.
//! assert_eq!(parse_search(&bound.to_args()[0], &bound.to_args()[1..], &limits)?, bound);
//! # Ok::<(), strata_query::QueryError>(())
//! ```
//!
//! # API
//! - [`parse_query`]: the query string alone (FT.SEARCH's query argument).
//! - [`parse_options`]: the FT.SEARCH arguments after it (`RETURN`, `SORTBY`,
//!   `LIMIT`, `PARAMS`, `NOCONTENT`, `WITHSCORES`, `SCORER BM25`, `INKEYS`,
//!   `INFIELDS`, `HIGHLIGHT`, `SUMMARIZE`, `DIALECT`).
//! - [`parse_search`]: both at once into one [`Query`].
//! - [`parse_hybrid`]: FT.HYBRID's arguments (a text query and a vector query with
//!   their fusion) into a [`HybridQuery`]; [`split_arguments`] splits a command line
//!   into arguments as `redis-cli` does.
//! - [`Query::bind`]: substitutes `$name` parameters from [`Params`] (and the
//!   query's own `PARAMS`).
//! - `Display` for [`Query`] and [`Filter`] prints query text; [`Query::to_args`]
//!   and [`QueryOptions::to_args`] print the arguments.
//!
//! # The dialect
//! - `a b` is AND, `a | b` is OR and binds looser (`a b | c` is `(a b) | c`), `-a`
//!   is NOT, parentheses group, `*` matches everything.
//! - `@tag:{a | b}`: any of the values. Whitespace around values is trimmed; escape
//!   punctuation and inner spaces with `\` (`{hello\ world}`, `{foo\-bar}`) or quote
//!   the value (`{"hello world"}`). `{$p}` is a parameter.
//! - `@num:[low high]`: `(` makes a bound exclusive (`[(1 (5]`); bounds may be
//!   `-inf`, `+inf`/`inf`, `$param`, negative or with exponents, separated by
//!   whitespace or a comma. `@num:[v]`, `@num==v`, `!=`, `>`, `>=`, `<`, `<=` (the
//!   RediSearch 2.10 shorthands) parse to the same ranges.
//! - Text: `hello`, `"hello world"`, `hel*`, `%helo%` (fuzzy, 1 to 3 `%`),
//!   `@title:hello`, `@title:(a | b)`, `@title|body:(a b)`.
//! - `@v:[VECTOR_RANGE radius $vec]=>{$YIELD_DISTANCE_AS: d; $EPSILON: e}`.
//! - `filter=>[KNN k @v $vec EF_RUNTIME n HYBRID_POLICY ADHOC_BF|BATCHES BATCH_SIZE b
//!   NPROBE p REFINE r AS alias]`, parameters in any order and `AS` last as in RediSearch, or the same
//!   given as `=>{$EF_RUNTIME: n; $YIELD_DISTANCE_AS: alias}` after the clause. The
//!   KNN filter is the whole expression before `=>`.
//! - Keywords are case-insensitive; words, tag values and field names keep their case.
//!
//! Stricter than RediSearch where it silently guesses: stray punctuation outside
//! tags and phrases is an error rather than ignored, an empty query is an error,
//! and RediSearch syntax Strata lacks (optional, suffix, wildcard, geo,
//! text attributes such as `$weight`) fails with
//! [`QueryError::Unsupported`] instead of being approximated.
//!
//! # Hostile input
//! Every bound in [`Limits`] is checked as input is read, before work or memory
//! grows with it: the parser recurses once per nesting level and stops at
//! `max_depth`, so no input overflows its stack, and it reads each byte a bounded
//! number of times. Printing and binding walk trees with explicit stacks.

mod ast;
mod cursor;
mod deep;
mod error;
mod hybrid;
mod knn;
mod limits;
mod number;
mod options;
mod params;
mod parser;
mod predicates;
mod print;

pub use ast::{
    Filter, Highlight, HybridPolicy, Page, Query, QueryOptions, RangeBound, ReturnField, Scorer,
    SortBy, SortOrder, Summarize, TagPattern, TextTerm, Value, VectorClause,
};
pub use error::QueryError;
pub use hybrid::{
    parse_hybrid, split_arguments, Combine, HybridQuery, HybridScorer, HybridSort, HybridVector,
    Load, VectorMethod, DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_HYBRID_K, DEFAULT_RRF_CONSTANT,
    DEFAULT_WINDOW,
};
pub use limits::Limits;
pub use options::{parse_options, parse_search};
pub use params::{ParamValue, Params};
pub use parser::parse_query;
