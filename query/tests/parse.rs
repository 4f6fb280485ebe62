//! Each construct of the dialect parses to the tree it means.

use strata_query::{
    parse_query, Filter, HybridPolicy, Limits, Query, QueryOptions, RangeBound, TagPattern,
    TextTerm, Value, VectorClause,
};

fn parse(query: &str) -> Query {
    parse_query(query, &Limits::default()).unwrap_or_else(|error| panic!("{query}: {error}"))
}

fn filter(query: &str) -> Filter {
    let parsed = parse(query);
    assert_eq!(parsed.vector, None, "{query}");
    parsed.filter
}

fn tag(field: &str, values: &[&str]) -> Filter {
    Filter::Tag {
        field: field.to_string(),
        values: values
            .iter()
            .map(|value| Value::Literal(value.to_string()))
            .collect(),
    }
}

fn range(field: &str, low: RangeBound, high: RangeBound) -> Filter {
    Filter::Range {
        field: field.to_string(),
        low,
        high,
    }
}

fn word(field: Option<&str>, text: &str) -> Filter {
    Filter::Text {
        field: field.map(str::to_string),
        term: TextTerm::Word(Value::Literal(text.to_string())),
    }
}

fn not(inner: Filter) -> Filter {
    Filter::Not(Box::new(inner))
}

fn incl(value: f64) -> RangeBound {
    RangeBound::inclusive(value)
}

fn excl(value: f64) -> RangeBound {
    RangeBound::exclusive(value)
}

#[test]
fn the_design_example() {
    let query = parse(
        "(@category:{AI|ML} @price:[0 (100] -@status:{draft})=>[KNN 10 @embedding $vec EF_RUNTIME 64 AS score]",
    );
    assert_eq!(
        query.filter,
        Filter::And(vec![
            tag("category", &["AI", "ML"]),
            range("price", incl(0.0), excl(100.0)),
            not(tag("status", &["draft"])),
        ])
    );
    let mut knn = VectorClause::new(10, "embedding", "vec");
    knn.ef_runtime = Some(Value::Literal(64));
    knn.alias = Some("score".to_string());
    assert_eq!(query.vector, Some(knn));
    assert_eq!(query.options, QueryOptions::default());
}

#[test]
fn pure_knn() {
    let query = parse("*=>[KNN 10 @v $vec]");
    assert_eq!(query.filter, Filter::All);
    assert_eq!(query.vector, Some(VectorClause::new(10, "v", "vec")));
    assert_eq!(parse("(*)=>[KNN 10 @v $vec]"), query);
    assert_eq!(parse("  * => [ knn 10 @v $vec ]  "), query);
}

#[test]
fn tags() {
    assert_eq!(filter("@topic:{devops}"), tag("topic", &["devops"]));
    assert_eq!(filter("@topic:{web|cli}"), tag("topic", &["web", "cli"]));
    assert_eq!(
        filter("@topic:{ web |  cli }"),
        tag("topic", &["web", "cli"])
    );
    assert_eq!(filter(r"@t:{hello\ world}"), tag("t", &["hello world"]));
    assert_eq!(filter(r"@t:{foo\-bar}"), tag("t", &["foo-bar"]));
    assert_eq!(filter(r"@t:{a\|b | c\}d}"), tag("t", &["a|b", "c}d"]));
    assert_eq!(
        filter("@t:{New   York | LA}"),
        tag("t", &["New York", "LA"])
    );
    assert_eq!(filter(r"@t:{\ padded\ }"), tag("t", &[" padded "]));
    assert_eq!(
        filter(r#"@t:{"hello world" | "say \"hi\"" | x}"#),
        tag("t", &["hello world", "say \"hi\"", "x"])
    );
    assert_eq!(filter("@t:{Müller|東京}"), tag("t", &["Müller", "東京"]));
    assert_eq!(
        filter("@t:{a | $p}"),
        Filter::Tag {
            field: "t".to_string(),
            values: vec![
                Value::Literal("a".to_string()),
                Value::Param("p".to_string())
            ],
        }
    );
    assert_eq!(filter(r"@my\-field:{x}"), tag("my-field", &["x"]));
}

#[test]
fn numeric_ranges() {
    assert_eq!(
        filter("@popularity:[7501 +inf]"),
        range("popularity", incl(7501.0), incl(f64::INFINITY))
    );
    assert_eq!(filter("@n:[(1 (5]"), range("n", excl(1.0), excl(5.0)));
    assert_eq!(
        filter("@n:[-inf inf]"),
        range("n", incl(f64::NEG_INFINITY), incl(f64::INFINITY))
    );
    assert_eq!(
        filter("@n:[-2.5 1e3]"),
        range("n", incl(-2.5), incl(1000.0))
    );
    assert_eq!(filter("@n:[1.5E-3,2]"), range("n", incl(0.0015), incl(2.0)));
    assert_eq!(filter("@n:[ ( 1 , 5 ]"), range("n", excl(1.0), incl(5.0)));
    assert_eq!(filter("@n:[1(5]"), range("n", incl(1.0), excl(5.0)));
    assert_eq!(filter("@n:[270]"), range("n", incl(270.0), incl(270.0)));
    assert_eq!(
        filter("@n:[$lo ($hi]"),
        range(
            "n",
            RangeBound {
                value: Value::Param("lo".to_string()),
                inclusive: true
            },
            RangeBound {
                value: Value::Param("hi".to_string()),
                inclusive: false
            },
        )
    );
}

#[test]
fn comparisons_are_ranges() {
    assert_eq!(filter("@n==5"), range("n", incl(5.0), incl(5.0)));
    assert_eq!(filter("@n!=5"), not(range("n", incl(5.0), incl(5.0))));
    assert_eq!(filter("@n>5"), range("n", excl(5.0), incl(f64::INFINITY)));
    assert_eq!(
        filter("@n >= 5"),
        range("n", incl(5.0), incl(f64::INFINITY))
    );
    assert_eq!(
        filter("@n<5"),
        range("n", incl(f64::NEG_INFINITY), excl(5.0))
    );
    assert_eq!(
        filter("@n<=-5"),
        range("n", incl(f64::NEG_INFINITY), incl(-5.0))
    );
}

#[test]
fn juxtaposition_is_and() {
    assert_eq!(
        filter("@topic:{ai} @year:[2025 +inf]"),
        Filter::And(vec![
            tag("topic", &["ai"]),
            range("year", incl(2025.0), incl(f64::INFINITY)),
        ])
    );
}

#[test]
fn or_binds_looser_than_and() {
    let (a, b, c, d) = (
        word(None, "a"),
        word(None, "b"),
        word(None, "c"),
        word(None, "d"),
    );
    assert_eq!(
        filter("a b | c"),
        Filter::Or(vec![Filter::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        filter("a | b c"),
        Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        filter("a b | c d"),
        Filter::Or(vec![
            Filter::And(vec![a.clone(), b.clone()]),
            Filter::And(vec![c.clone(), d.clone()]),
        ])
    );
    assert_eq!(
        filter("a (b | c)"),
        Filter::And(vec![a.clone(), Filter::Or(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        filter("a|b|c"),
        Filter::Or(vec![a.clone(), b.clone(), c.clone()])
    );
}

#[test]
fn not_binds_to_one_operand() {
    let (a, b) = (word(None, "a"), word(None, "b"));
    assert_eq!(filter("-a b"), Filter::And(vec![not(a.clone()), b.clone()]));
    assert_eq!(
        filter("-(a b)"),
        not(Filter::And(vec![a.clone(), b.clone()]))
    );
    assert_eq!(filter("--a"), not(not(a.clone())));
    assert_eq!(filter("a -b"), Filter::And(vec![a, not(b)]));
}

#[test]
fn parentheses_keep_structure() {
    let (a, b, c) = (word(None, "a"), word(None, "b"), word(None, "c"));
    assert_eq!(
        filter("(a b) c"),
        Filter::And(vec![Filter::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(filter("a b c"), Filter::And(vec![a.clone(), b, c]));
    assert_eq!(filter("((a))"), a);
}

#[test]
fn text_predicates() {
    assert_eq!(filter("hello"), word(None, "hello"));
    assert_eq!(filter("@title:hello"), word(Some("title"), "hello"));
    assert_eq!(
        filter("@title:(hello world)"),
        Filter::And(vec![
            word(Some("title"), "hello"),
            word(Some("title"), "world")
        ])
    );
    assert_eq!(
        filter("@title:(a | -b)"),
        Filter::Or(vec![
            word(Some("title"), "a"),
            not(word(Some("title"), "b"))
        ])
    );
    assert_eq!(
        filter("@title:hello world"),
        Filter::And(vec![word(Some("title"), "hello"), word(None, "world")])
    );
    assert_eq!(
        filter(r#""hello world""#),
        Filter::Text {
            field: None,
            term: TextTerm::Phrase(vec!["hello".to_string(), "world".to_string()]),
        }
    );
    assert_eq!(
        filter(r#"@title:"exact""#),
        Filter::Text {
            field: Some("title".to_string()),
            term: TextTerm::Phrase(vec!["exact".to_string()]),
        }
    );
    assert_eq!(
        filter("hel*"),
        Filter::Text {
            field: None,
            term: TextTerm::Prefix("hel".to_string()),
        }
    );
    assert_eq!(
        filter("$term"),
        Filter::Text {
            field: None,
            term: TextTerm::Word(Value::Param("term".to_string())),
        }
    );
    assert_eq!(filter("2025"), word(None, "2025"));
    assert_eq!(filter(r"1\.5"), word(None, "1.5"));
    assert_eq!(filter("as"), word(None, "as"));
}

#[test]
fn vector_range() {
    let expected = Filter::VectorRange {
        field: "v".to_string(),
        radius: Value::Literal(0.2),
        vector_param: "vec".to_string(),
        yield_distance_as: Some("dist".to_string()),
        epsilon: None,
    };
    assert_eq!(
        filter("@v:[VECTOR_RANGE 0.2 $vec]=>{$YIELD_DISTANCE_AS: dist}"),
        expected
    );
    assert_eq!(
        filter("@v:[vector_range 0.2 $vec] => { $yield_distance_as : dist ; }"),
        expected
    );
    assert_eq!(
        filter("@v:[VECTOR_RANGE $r $vec]=>{$EPSILON: 0.01; $YIELD_DISTANCE_AS: d}"),
        Filter::VectorRange {
            field: "v".to_string(),
            radius: Value::Param("r".to_string()),
            vector_param: "vec".to_string(),
            yield_distance_as: Some("d".to_string()),
            epsilon: Some(Value::Literal(0.01)),
        }
    );
    assert!(matches!(
        &filter("@v:[VECTOR_RANGE 1 $vec] @t:{x}"),
        Filter::And(parts) if matches!(parts[0], Filter::VectorRange { .. })
    ));
}

#[test]
fn knn_parameters() {
    let query =
        parse("@t:{x}=>[KNN $k @v $vec HYBRID_POLICY adhoc_bf EF_RUNTIME $ef BATCH_SIZE 50 as d]");
    assert_eq!(query.filter, tag("t", &["x"]));
    assert_eq!(
        query.vector,
        Some(VectorClause {
            k: Value::Param("k".to_string()),
            field: "v".to_string(),
            vector_param: "vec".to_string(),
            ef_runtime: Some(Value::Param("ef".to_string())),
            hybrid_policy: Some(HybridPolicy::AdhocBruteForce),
            batch_size: Some(Value::Literal(50)),
            nprobe: None,
            refine: None,
            alias: Some("d".to_string()),
        })
    );
    let ivf = parse("*=>[KNN 10 @v $q NPROBE 16 refine $r]")
        .vector
        .unwrap();
    assert_eq!(ivf.nprobe, Some(Value::Literal(16)));
    assert_eq!(ivf.refine, Some(Value::Param("r".to_string())));
    let ivf = parse("*=>[KNN 10 @v $q]=>{$NPROBE: 4; $REFINE: 2}")
        .vector
        .unwrap();
    assert_eq!(
        (ivf.nprobe, ivf.refine),
        (Some(Value::Literal(4)), Some(Value::Literal(2)))
    );
    let attributes = parse(
        "*=>[KNN 5 @v $vec]=>{$YIELD_DISTANCE_AS: d; $EF_RUNTIME: 20; $HYBRID_POLICY: BATCHES}",
    );
    let clause = attributes.vector.unwrap();
    assert_eq!(clause.alias.as_deref(), Some("d"));
    assert_eq!(clause.ef_runtime, Some(Value::Literal(20)));
    assert_eq!(clause.hybrid_policy, Some(HybridPolicy::Batches));
}

#[test]
fn the_knn_filter_is_the_whole_expression() {
    let query = parse("a b | c=>[KNN 3 @v $q]");
    assert!(matches!(query.filter, Filter::Or(_)));
}

#[test]
fn tag_wildcards() {
    let pattern = |pattern: TagPattern| Filter::TagMatch {
        field: "t".to_string(),
        pattern,
    };
    assert_eq!(
        filter("@t:{fin*}"),
        pattern(TagPattern::Prefix("fin".to_string()))
    );
    assert_eq!(
        filter("@t:{*ance}"),
        pattern(TagPattern::Suffix("ance".to_string()))
    );
    assert_eq!(
        filter("@t:{*an*}"),
        pattern(TagPattern::Infix("an".to_string()))
    );
    assert_eq!(
        filter("@t:{*\"new yo\"*}"),
        pattern(TagPattern::Infix("new yo".to_string()))
    );
    // Values and patterns in one list: the values stay one Tag, each pattern is ORed.
    assert_eq!(
        filter("@t:{web | fin* | ai}"),
        Filter::Or(vec![
            tag("t", &["web", "ai"]),
            pattern(TagPattern::Prefix("fin".to_string()))
        ])
    );
    // An escaped star is part of the value.
    assert_eq!(filter("@t:{fin\\*}"), tag("t", &["fin*"]));
}

#[test]
fn knn_zero_parses() {
    let parsed = parse("*=>[KNN 0 @v $q]");
    assert_eq!(
        parsed.vector.map(|clause| clause.k),
        Some(Value::Literal(0))
    );
}

#[test]
fn wildcard_lists_print_back_to_the_same_tree() {
    for query in [
        "@t:{web | fin*}",
        "@a:{x} @t:{web | fin* | *ance}",
        "@t:{web | fin*} | @b:{y}",
        "-@t:{*an* | web}",
        "(@t:{a | b*})=>[KNN 3 @v $q]",
        "@t:{*\"new york\"*} @t:{x\\*}",
    ] {
        let parsed = parse(query);
        let printed = parsed.to_string();
        assert_eq!(parse(&printed), parsed, "{query} printed as {printed}");
    }
}
