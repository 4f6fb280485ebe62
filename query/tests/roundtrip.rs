//! Printing then parsing gives back the same tree.

use proptest::prelude::*;
use strata_query::{
    parse_query, parse_search, Filter, HybridPolicy, Limits, Page, Query, QueryOptions, RangeBound,
    ReturnField, SortBy, SortOrder, TagPattern, TextTerm, Value, VectorClause,
};

/// Names and words, including characters that only survive escaped.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_]{1,8}",
        2 => r#"[a-z \-.:|{}()\[\]$@*"'\\=>;,%~\t]{1,6}"#,
        1 => "[éß中日 ]{1,3}",
    ]
}

/// Tag values may also hold control characters, which print quoted.
fn tag_value() -> impl Strategy<Value = Value<String>> {
    prop_oneof![
        6 => word().prop_map(Value::Literal),
        1 => r"[a-z\x01\x7f\x00 ]{1,4}".prop_map(Value::Literal),
        1 => word().prop_map(Value::Param),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i32..1000).prop_map(f64::from),
        any::<f64>().prop_filter("not NaN", |value| !value.is_nan()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn distance() -> impl Strategy<Value = Value<f64>> {
    prop_oneof![
        3 => number()
            .prop_filter("finite", |value| value.is_finite())
            .prop_map(|value| Value::Literal(value.abs())),
        1 => word().prop_map(Value::Param),
    ]
}

fn count(max: u64) -> impl Strategy<Value = Value<u64>> {
    prop_oneof![
        3 => (1..=max).prop_map(Value::Literal),
        1 => word().prop_map(Value::Param),
    ]
}

fn bound() -> impl Strategy<Value = RangeBound> {
    let value = prop_oneof![
        4 => number().prop_map(Value::Literal),
        1 => word().prop_map(Value::Param),
    ];
    (value, any::<bool>()).prop_map(|(value, inclusive)| RangeBound { value, inclusive })
}

fn text_term() -> impl Strategy<Value = TextTerm> {
    prop_oneof![
        word().prop_map(|word| TextTerm::Word(Value::Literal(word))),
        word().prop_map(|name| TextTerm::Word(Value::Param(name))),
        prop::collection::vec(word(), 1..4).prop_map(TextTerm::Phrase),
        word().prop_map(TextTerm::Prefix),
        (word(), 1..=3u8).prop_map(|(word, distance)| TextTerm::Fuzzy { word, distance }),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        Just(Filter::All),
        (word(), prop::collection::vec(tag_value(), 1..4))
            .prop_map(|(field, values)| Filter::Tag { field, values }),
        (word(), 0..3u8, r"[a-z\x01\x7f\x00 *]{1,4}").prop_map(|(field, kind, text)| {
            let pattern = match kind {
                0 => TagPattern::Prefix(text),
                1 => TagPattern::Suffix(text),
                _ => TagPattern::Infix(text),
            };
            Filter::TagMatch { field, pattern }
        }),
        (word(), bound(), bound()).prop_map(|(field, low, high)| Filter::Range {
            field,
            low,
            high
        }),
        (prop::option::of(word()), text_term())
            .prop_map(|(field, term)| Filter::Text { field, term }),
        (
            word(),
            distance(),
            word(),
            prop::option::of(word()),
            prop::option::of(distance())
        )
            .prop_map(
                |(field, radius, vector_param, yield_distance_as, epsilon)| Filter::VectorRange {
                    field,
                    radius,
                    vector_param,
                    yield_distance_as,
                    epsilon,
                }
            ),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|child| Filter::Not(Box::new(child))),
        ]
    })
}

fn vector_clause() -> impl Strategy<Value = VectorClause> {
    (
        count(10_000),
        word(),
        word(),
        prop::option::of(count(10_000)),
        prop::option::of(prop_oneof![
            Just(HybridPolicy::AdhocBruteForce),
            Just(HybridPolicy::Batches)
        ]),
        prop::option::of(count(10_000)),
        prop::option::of((count(1_000), count(1_000))),
        prop::option::of(word()),
    )
        .prop_map(
            |(k, field, vector_param, ef_runtime, hybrid_policy, batch_size, ivf, alias)| {
                VectorClause {
                    k,
                    field,
                    vector_param,
                    ef_runtime,
                    hybrid_policy,
                    batch_size,
                    nprobe: ivf.as_ref().map(|(nprobe, _)| nprobe.clone()),
                    refine: ivf.map(|(_, refine)| refine),
                    alias,
                }
            },
        )
}

/// Any non-empty argument; `AS` is left out of RETURN names because RediSearch's
/// own syntax cannot tell a field called `AS` from the keyword.
fn argument() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9$.@ _-]{1,6}".prop_filter("not AS", |arg| !arg.eq_ignore_ascii_case("as"))
}

fn options() -> impl Strategy<Value = QueryOptions> {
    (
        prop::option::of(prop::collection::vec(
            (argument(), prop::option::of(argument()))
                .prop_map(|(name, alias)| ReturnField { name, alias }),
            0..4,
        )),
        prop::option::of(
            (argument(), any::<bool>()).prop_map(|(field, descending)| SortBy {
                field,
                order: if descending {
                    SortOrder::Descending
                } else {
                    SortOrder::Ascending
                },
            }),
        ),
        prop::option::of(
            (0..=1_000_000u64, 0..=10_000u64).prop_map(|(offset, count)| Page { offset, count }),
        ),
        prop::collection::btree_map(argument(), "[ -~]{0,6}", 0..4),
        any::<bool>(),
        (any::<bool>(), any::<bool>()),
        prop::option::of(2u32..=4),
    )
        .prop_map(
            |(return_fields, sort_by, limit, params, no_content, (with_scores, bm25), dialect)| {
                QueryOptions {
                    scorer: bm25.then_some(strata_query::Scorer::Bm25),
                    in_keys: bm25.then(|| vec!["doc:1".to_string(), "doc 2".to_string()]),
                    in_fields: with_scores.then(|| vec!["title".to_string()]),
                    highlight: no_content.then(|| strata_query::Highlight {
                        fields: Some(vec!["body".to_string()]),
                        tags: Some(("<em>".to_string(), "</em>".to_string())),
                    }),
                    summarize: bm25.then(|| strata_query::Summarize {
                        fields: None,
                        frags: Some(2),
                        len: Some(0),
                        separator: Some(" | ".to_string()),
                    }),
                    return_fields,
                    sort_by,
                    limit,
                    params: params.into_iter().collect(),
                    no_content,
                    with_scores,
                    dialect,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn query_text_round_trips(filter in filter(), vector in prop::option::of(vector_clause())) {
        let query = Query { filter, vector, options: QueryOptions::default() };
        let printed = query.to_string();
        let parsed = parse_query(&printed, &Limits::default());
        prop_assert_eq!(parsed, Ok(query), "printed as {}", printed);
    }

    /// Near-misses of valid queries reach every error path; whatever still parses
    /// must print back to itself.
    #[test]
    fn edited_queries_parse_or_err(
        filter in filter(),
        vector in prop::option::of(vector_clause()),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::option::of(r#"[a-z0-9@:{}()\[\]|$*"\\=>;,. (\-]"#)),
            1..4,
        ),
    ) {
        let query = Query { filter, vector, options: QueryOptions::default() };
        let mut chars: Vec<char> = query.to_string().chars().collect();
        for (at, insert) in edits {
            let at = at.index(chars.len() + 1);
            match insert {
                Some(text) => chars.splice(at..at, text.chars()).for_each(drop),
                None if at < chars.len() => {
                    chars.remove(at);
                }
                None => {}
            }
        }
        let edited: String = chars.into_iter().collect();
        if let Ok(parsed) = parse_query(&edited, &Limits::default()) {
            let printed = parsed.to_string();
            prop_assert_eq!(parse_query(&printed, &Limits::default()), Ok(parsed), "{}", printed);
        }
    }

    #[test]
    fn whole_command_round_trips(
        filter in filter(),
        vector in prop::option::of(vector_clause()),
        options in options(),
    ) {
        let query = Query { filter, vector, options };
        let args = query.to_args();
        let parsed = parse_search(&args[0], &args[1..], &Limits::default());
        prop_assert_eq!(parsed, Ok(query), "printed as {:?}", args);
    }
}

#[test]
fn canonical_spellings() {
    let cases = [
        (
            "(@category:{AI|ML} @price:[0 (100] -@status:{draft})=>[KNN 10 @embedding $vec EF_RUNTIME 64 AS score]",
            "(@category:{AI | ML} @price:[0 (100] -@status:{draft})=>[KNN 10 @embedding $vec EF_RUNTIME 64 AS score]",
        ),
        ("*=>[knn 10 @v $vec]", "*=>[KNN 10 @v $vec]"),
        ("@popularity:[7501 inf]", "@popularity:[7501 +inf]"),
        ("@n:[1e300,-1e-300]", "@n:[1e300 -1e-300]"),
        ("@n>=5", "@n:[5 +inf]"),
        (r"@t:{hello\ world | New  York}", r"@t:{hello\ world | New\ York}"),
        (r#"@t:{"a.b"}"#, r"@t:{a\.b}"),
        ("@title:(hello world)", "@title:hello @title:world"),
        ("a b | c", "a b | c"),
        ("a (b | c)", "a (b | c)"),
        ("(a b) c", "(a b) c"),
        ("-(a | b)", "-(a | b)"),
        (
            "@v:[vector_range 0.2 $vec]=>{$epsilon: 0.01; $yield_distance_as: dist}",
            "@v:[VECTOR_RANGE 0.2 $vec]=>{$YIELD_DISTANCE_AS: dist; $EPSILON: 0.01}",
        ),
        (
            "*=>[KNN 5 @v $q]=>{$YIELD_DISTANCE_AS: d; $EF_RUNTIME: 20}",
            "*=>[KNN 5 @v $q EF_RUNTIME 20 AS d]",
        ),
    ];
    for (input, canonical) in cases {
        let parsed = parse_query(input, &Limits::default()).unwrap();
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(parse_query(canonical, &Limits::default()), Ok(parsed));
    }
}

#[test]
fn control_characters_in_tags_print_quoted() {
    let filter = Filter::Tag {
        field: "t".to_string(),
        values: vec![Value::Literal("a\u{1}\"b".to_string())],
    };
    assert_eq!(filter.to_string(), "@t:{\"a\u{1}\\\"b\"}");
}
