//! Parameter binding and the FT.SEARCH options after the query.

use strata_query::{
    parse_options, parse_query, parse_search, Filter, Limits, Page, ParamValue, Params, Query,
    QueryError, QueryOptions, RangeBound, ReturnField, SortBy, SortOrder, TextTerm, Value,
};

fn parse(query: &str) -> Query {
    parse_query(query, &Limits::default()).unwrap()
}

fn bind(query: &str, params: &Params) -> Result<Query, QueryError> {
    parse(query).bind(params, &Limits::default())
}

#[test]
fn binds_every_kind_of_value() {
    let params = Params::new()
        .with_text("lo", "(5")
        .with_text("hi", "+inf")
        .with_text("tag", "news")
        .with_text("word", "hello")
        .with_text("k", "7")
        .with_text("ef", "40")
        .with_text("r", "0.5")
        .with_text("eps", "0.01")
        .with_vector("vec", vec![1.0, 2.0]);
    let bound = bind(
        "@n:[$lo $hi] @t:{$tag} $word @v:[VECTOR_RANGE $r $vec]=>{$EPSILON: $eps}\
         =>[KNN $k @v $vec EF_RUNTIME $ef]",
        &params,
    )
    .unwrap();
    let Filter::And(parts) = &bound.filter else {
        panic!("{:?}", bound.filter)
    };
    assert_eq!(
        parts[0],
        Filter::Range {
            field: "n".to_string(),
            low: RangeBound::exclusive(5.0),
            high: RangeBound::inclusive(f64::INFINITY),
        }
    );
    assert_eq!(
        parts[1],
        Filter::Tag {
            field: "t".to_string(),
            values: vec![Value::Literal("news".to_string())],
        }
    );
    assert_eq!(
        parts[2],
        Filter::Text {
            field: None,
            term: TextTerm::Word(Value::Literal("hello".to_string())),
        }
    );
    assert_eq!(
        parts[3],
        Filter::VectorRange {
            field: "v".to_string(),
            radius: Value::Literal(0.5),
            vector_param: "vec".to_string(),
            yield_distance_as: None,
            epsilon: Some(Value::Literal(0.01)),
        }
    );
    let clause = bound.vector.unwrap();
    assert_eq!(clause.k, Value::Literal(7));
    assert_eq!(clause.ef_runtime, Some(Value::Literal(40)));
    // The vector stays a reference for the engine to look up.
    assert_eq!(clause.vector_param, "vec");
    assert_eq!(params.vector("vec"), Some(&[1.0, 2.0][..]));
}

#[test]
fn exclusive_syntax_and_exclusive_text_combine() {
    let bound = bind("@n:[($lo 10]", &Params::new().with_text("lo", "1")).unwrap();
    assert!(matches!(
        bound.filter,
        Filter::Range {
            low: RangeBound {
                value: Value::Literal(1.0),
                inclusive: false
            },
            ..
        }
    ));
}

#[test]
fn missing_parameter() {
    assert_eq!(
        bind("@n:[$lo 5]", &Params::new()),
        Err(QueryError::MissingParam {
            name: "lo".to_string()
        })
    );
    assert_eq!(
        bind("*=>[KNN 5 @v $vec]", &Params::new()),
        Err(QueryError::MissingParam {
            name: "vec".to_string()
        })
    );
}

#[test]
fn parameter_of_the_wrong_type() {
    let error = bind(
        "@price:[$lo $hi]",
        &Params::new().with_text("lo", "abc").with_text("hi", "5"),
    )
    .unwrap_err();
    assert!(matches!(&error, QueryError::ParamType { name, found, .. }
        if name == "lo" && found == "text `abc`"));
    assert_eq!(
        error.to_string(),
        "parameter `$lo` must be a number such as `5`, `(5`, `-inf` or `+inf`, found text `abc`"
    );
    let vector_as_text = bind(
        "*=>[KNN 5 @v $vec]",
        &Params::new().with_text("vec", "blob"),
    );
    assert!(matches!(vector_as_text, Err(QueryError::ParamType { .. })));
    let text_as_vector = bind("@t:{$p}", &Params::new().with_vector("p", vec![1.0]));
    assert!(
        matches!(text_as_vector, Err(QueryError::ParamType { found, .. })
        if found == "a vector of length 1")
    );
    for (query, value) in [
        ("*=>[KNN 1 @v $vec EF_RUNTIME $k]", "0"),
        ("*=>[KNN $k @v $vec]", "2.5"),
        ("@v:[VECTOR_RANGE $k $vec]", "-1"),
        ("@v:[VECTOR_RANGE $k $vec]", "inf"),
        ("@t:{$k}", ""),
        ("@n:[$k 1]", "nan"),
    ] {
        let params = Params::new()
            .with_text("k", value)
            .with_vector("vec", vec![1.0]);
        assert!(
            matches!(bind(query, &params), Err(QueryError::ParamType { .. })),
            "{query} with {value:?}"
        );
    }
}

#[test]
fn knn_k_may_be_zero() {
    let params = Params::new()
        .with_text("k", "0")
        .with_vector("vec", vec![1.0]);
    let bound = bind("*=>[KNN $k @v $vec]", &params).unwrap();
    assert_eq!(bound.vector.map(|clause| clause.k), Some(Value::Literal(0)));
}

#[test]
fn bound_counts_respect_limits() {
    let params = Params::new()
        .with_text("k", "10001")
        .with_vector("v", vec![0.0]);
    assert_eq!(
        bind("*=>[KNN $k @f $v]", &params),
        Err(QueryError::LimitExceeded {
            what: "KNN k",
            limit: 10_000,
            found: 10_001
        })
    );
}

#[test]
fn params_option_supplies_text_values() {
    let query = parse_search(
        "@n:[$lo 10]=>[KNN $k @v $vec]",
        &["PARAMS", "4", "lo", "3", "k", "2"],
        &Limits::default(),
    )
    .unwrap();
    let mut params = Params::new().with_vector("vec", vec![0.5]);
    let bound = query.bind(&params, &Limits::default()).unwrap();
    assert_eq!(bound.vector.unwrap().k, Value::Literal(2));
    // Explicit parameters win over the PARAMS option.
    params.insert("k", ParamValue::Text("4".to_string()));
    let bound = query.bind(&params, &Limits::default()).unwrap();
    assert_eq!(bound.vector.unwrap().k, Value::Literal(4));
}

#[test]
fn parses_every_option() {
    let options = parse_options(
        &[
            "return",
            "4",
            "title",
            "price",
            "AS",
            "cost",
            "SORTBY",
            "price",
            "desc",
            "LIMIT",
            "10",
            "20",
            "PARAMS",
            "2",
            "vec",
            "blob",
            "NOCONTENT",
            "WITHSCORES",
            "SCORER",
            "bm25",
            "DIALECT",
            "2",
        ],
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        options,
        QueryOptions {
            scorer: Some(strata_query::Scorer::Bm25),
            in_keys: None,
            in_fields: None,
            highlight: None,
            summarize: None,
            return_fields: Some(vec![
                ReturnField {
                    name: "title".to_string(),
                    alias: None
                },
                ReturnField {
                    name: "price".to_string(),
                    alias: Some("cost".to_string())
                },
            ]),
            sort_by: Some(SortBy {
                field: "price".to_string(),
                order: SortOrder::Descending
            }),
            limit: Some(Page {
                offset: 10,
                count: 20
            }),
            params: vec![("vec".to_string(), "blob".to_string())],
            no_content: true,
            with_scores: true,
            dialect: Some(2),
        }
    );
    assert_eq!(
        parse_options(&options.to_args(), &Limits::default()),
        Ok(options)
    );
    assert_eq!(
        parse_options(&["RETURN", "0"], &Limits::default())
            .unwrap()
            .return_fields,
        Some(vec![])
    );
    assert_eq!(
        parse_options(&["SORTBY", "year"], &Limits::default())
            .unwrap()
            .sort_by,
        Some(SortBy {
            field: "year".to_string(),
            order: SortOrder::Ascending
        })
    );
    assert_eq!(
        parse_options::<&str>(&[], &Limits::default()),
        Ok(QueryOptions::default())
    );
}

#[test]
fn option_errors() {
    let limits = Limits::default();
    let fails = |args: &[&str]| parse_options(args, &limits).unwrap_err();
    assert_eq!(
        fails(&["DIALECT", "1"]),
        QueryError::UnsupportedDialect {
            found: "1".to_string()
        }
    );
    assert!(fails(&["DIALECT", "5"])
        .to_string()
        .starts_with("DIALECT 5 is not supported: Strata speaks DIALECT 2 (3 and 4 are accepted"));
    for dialect in ["2", "3", "4"] {
        assert_eq!(
            parse_options(&["DIALECT", dialect], &limits).map(|options| options.dialect),
            Ok(Some(dialect.parse().unwrap()))
        );
    }
    assert_eq!(
        fails(&["LIMIT", "0", "10", "FROBNICATE"]),
        QueryError::UnknownOption {
            index: 3,
            name: "FROBNICATE".to_string()
        }
    );
    assert_eq!(
        fails(&["WITHSCORES", "VERBATIM"]),
        QueryError::UnsupportedOption {
            index: 1,
            name: "VERBATIM".to_string()
        }
    );
    assert_eq!(
        fails(&["NOCONTENT", "nocontent"]),
        QueryError::DuplicateOption {
            index: 1,
            name: "NOCONTENT".to_string()
        }
    );
    assert_eq!(
        fails(&["PARAMS", "4", "a", "1", "a", "2"]),
        QueryError::DuplicateParam {
            name: "a".to_string()
        }
    );
    assert!(matches!(
        fails(&["PARAMS", "3", "a", "1", "b"]),
        QueryError::InvalidArgument { index: 1, .. }
    ));
    assert!(matches!(
        fails(&["LIMIT", "0"]),
        QueryError::InvalidArgument { index: 2, ref found, .. } if found == "end of arguments"
    ));
    assert!(matches!(
        fails(&["LIMIT", "x", "10"]),
        QueryError::InvalidArgument { index: 1, .. }
    ));
    assert!(matches!(
        fails(&["RETURN", "2", "a", "AS"]),
        QueryError::InvalidArgument { index: 4, .. }
    ));
    assert!(matches!(
        fails(&["RETURN", "3", "a"]),
        QueryError::InvalidArgument { index: 1, .. }
    ));
    assert!(matches!(
        fails(&["EF_RUNTIME", "10"]),
        QueryError::InvalidArgument { index: 0, ref expected, .. } if expected.contains("KNN")
    ));
    assert!(matches!(
        fails(&["DIALECT", "two"]),
        QueryError::InvalidArgument { index: 1, .. }
    ));
}

#[test]
fn search_combines_query_and_options() {
    let query = parse_search("@t:{x}", &["LIMIT", "0", "5"], &Limits::default()).unwrap();
    assert_eq!(query.filter, parse("@t:{x}").filter);
    assert_eq!(
        query.options.limit,
        Some(Page {
            offset: 0,
            count: 5
        })
    );
    assert_eq!(query.to_args(), ["@t:{x}", "LIMIT", "0", "5"]);
}

#[test]
fn every_redisearch_scorer_parses_and_an_unknown_one_is_refused() {
    for (keyword, scorer) in [
        ("tfidf", strata_query::Scorer::Tfidf),
        ("TFIDF.DOCNORM", strata_query::Scorer::TfidfDocnorm),
        ("BM25", strata_query::Scorer::Bm25),
        ("bm25std", strata_query::Scorer::Bm25Std),
        ("DISMAX", strata_query::Scorer::Dismax),
        ("DOCSCORE", strata_query::Scorer::Docscore),
        ("HAMMING", strata_query::Scorer::Hamming),
        ("BM25STD.TANTIVY", strata_query::Scorer::Bm25StdTantivy),
    ] {
        let options = parse_options(&["SCORER", keyword], &Limits::default()).unwrap();
        assert_eq!(options.scorer, Some(scorer));
        assert!(scorer.keyword().eq_ignore_ascii_case(keyword));
    }
    let error = parse_options(&["SCORER", "NOSUCH"], &Limits::default()).unwrap_err();
    assert!(
        matches!(&error, QueryError::InvalidArgument { index: 1, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("TFIDF.DOCNORM"), "{error}");
}

#[test]
fn highlight_and_summarize_parse_with_their_sub_options_in_any_order() {
    let limits = Limits::default();
    let options = parse_options(
        &[
            "SUMMARIZE",
            "LEN",
            "5",
            "fields",
            "1",
            "body",
            "SEPARATOR",
            " | ",
            "FRAGS",
            "2",
            "HIGHLIGHT",
            "TAGS",
            "[",
            "]",
            "FIELDS",
            "2",
            "title",
            "body",
        ],
        &limits,
    )
    .unwrap();
    assert_eq!(
        options.summarize,
        Some(strata_query::Summarize {
            fields: Some(vec!["body".to_string()]),
            frags: Some(2),
            len: Some(5),
            separator: Some(" | ".to_string()),
        })
    );
    assert_eq!(
        options.highlight,
        Some(strata_query::Highlight {
            fields: Some(vec!["title".to_string(), "body".to_string()]),
            tags: Some(("[".to_string(), "]".to_string())),
        })
    );
    assert_eq!(parse_options(&options.to_args(), &limits), Ok(options));
    // Bare keywords take every default.
    let bare = parse_options(&["HIGHLIGHT", "SUMMARIZE", "LIMIT", "0", "1"], &limits).unwrap();
    assert_eq!(bare.highlight, Some(strata_query::Highlight::default()));
    assert_eq!(bare.summarize, Some(strata_query::Summarize::default()));
    assert_eq!(parse_options(&bare.to_args(), &limits), Ok(bare));
}

#[test]
fn malformed_highlight_and_summarize_arguments_are_refused_with_their_index() {
    let limits = Limits::default();
    let fails = |args: &[&str]| parse_options(args, &limits).unwrap_err();
    let invalid_at = |args: &[&str], at: usize| match fails(args) {
        QueryError::InvalidArgument {
            index, expected, ..
        } => {
            assert_eq!(index, at, "{args:?}: {expected}");
            expected
        }
        other => panic!("{args:?}: {other:?}"),
    };
    assert!(invalid_at(&["HIGHLIGHT", "FIELDS"], 2).contains("HIGHLIGHT FIELDS"));
    assert!(invalid_at(&["HIGHLIGHT", "FIELDS", "0"], 2).contains("at least one"));
    invalid_at(&["HIGHLIGHT", "FIELDS", "2", "a"], 2);
    invalid_at(&["HIGHLIGHT", "FIELDS", "x", "a"], 2);
    invalid_at(&["HIGHLIGHT", "FIELDS", "1", ""], 3);
    assert!(invalid_at(&["HIGHLIGHT", "TAGS", "<i>"], 3).contains("closing tag"));
    assert!(invalid_at(&["HIGHLIGHT", "TAGS"], 2).contains("opening tag"));
    assert!(invalid_at(&["SUMMARIZE", "FRAGS", "0"], 2).contains("from 1 to"));
    invalid_at(&["SUMMARIZE", "FRAGS", "-1"], 2);
    invalid_at(&["SUMMARIZE", "FRAGS"], 2);
    assert!(invalid_at(&["SUMMARIZE", "LEN", "ten"], 2).contains("from 0 to"));
    invalid_at(&["SUMMARIZE", "LEN", "10001"], 2);
    assert!(invalid_at(&["SUMMARIZE", "SEPARATOR"], 2).contains("separator"));
    invalid_at(&["SUMMARIZE", "FIELDS", "3", "a"], 2);
    assert_eq!(
        fails(&["SUMMARIZE", "LEN", "3", "len", "4"]),
        QueryError::DuplicateOption {
            index: 3,
            name: "SUMMARIZE LEN".to_string()
        }
    );
    assert_eq!(
        fails(&["HIGHLIGHT", "TAGS", "a", "b", "TAGS", "c", "d"]),
        QueryError::DuplicateOption {
            index: 4,
            name: "HIGHLIGHT TAGS".to_string()
        }
    );
    assert_eq!(
        fails(&["HIGHLIGHT", "highlight"]),
        QueryError::DuplicateOption {
            index: 1,
            name: "HIGHLIGHT".to_string()
        }
    );
    // A sub-option keyword outside its option is not an FT.SEARCH option.
    assert!(matches!(
        fails(&["FRAGS", "2"]),
        QueryError::UnknownOption { index: 0, .. }
    ));
}
