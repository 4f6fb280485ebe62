//! Hostile input ends in the specific `LimitExceeded`, never a crash, hang or huge allocation.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use strata_query::{
    parse_options, parse_query, Filter, Limits, Params, Query, QueryError, QueryOptions, TextTerm,
    Value,
};

fn limit_error(result: Result<Query, QueryError>) -> (&'static str, u64, u64) {
    match result {
        Err(QueryError::LimitExceeded { what, limit, found }) => (what, limit, found),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

fn unbounded_length() -> Limits {
    Limits {
        max_query_bytes: usize::MAX,
        ..Limits::default()
    }
}

#[test]
fn a_hundred_thousand_nested_parentheses() {
    let query = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
    let started = Instant::now();
    assert_eq!(
        limit_error(parse_query(&query, &unbounded_length())),
        ("nesting depth", 128, 129)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Under the default limits the length check fires first.
    assert_eq!(
        limit_error(parse_query(&query, &Limits::default())),
        ("query length in bytes", 65_536, 200_001)
    );
}

#[test]
fn depth_limit_is_exact() {
    let nested = |depth: usize| format!("{}a{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse_query(&nested(128), &Limits::default()).is_ok());
    assert_eq!(
        limit_error(parse_query(&nested(129), &Limits::default())),
        ("nesting depth", 128, 129)
    );
    let shallow = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(parse_query("(((a)))", &shallow).is_ok());
    assert_eq!(
        limit_error(parse_query("((((a))))", &shallow)),
        ("nesting depth", 3, 4)
    );
}

#[test]
fn deep_negation_and_field_groups() {
    let negations = format!("{}a", "-".repeat(100_000));
    assert_eq!(
        limit_error(parse_query(&negations, &unbounded_length())),
        ("nesting depth", 128, 129)
    );
    let field_groups = format!("@t:{}a{}", "(".repeat(50_000), ")".repeat(50_000));
    assert_eq!(
        limit_error(parse_query(&field_groups, &unbounded_length())),
        ("nesting depth", 128, 129)
    );
    let mixed = "(-".repeat(40_000);
    assert_eq!(
        limit_error(parse_query(&mixed, &unbounded_length())),
        ("nesting depth", 128, 129)
    );
}

#[test]
fn ten_megabyte_query() {
    let query = "a ".repeat(5 * 1024 * 1024);
    assert_eq!(
        limit_error(parse_query(&query, &Limits::default())),
        ("query length in bytes", 65_536, 10 * 1024 * 1024)
    );
    // Even with the length check off, the term limit stops it early.
    let started = Instant::now();
    assert_eq!(
        limit_error(parse_query(&query, &unbounded_length())),
        ("number of terms", 1024, 1025)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn many_terms() {
    let words = vec!["w"; 1025].join(" ");
    assert_eq!(
        limit_error(parse_query(&words, &Limits::default())),
        ("number of terms", 1024, 1025)
    );
    assert!(parse_query(&vec!["w"; 1024].join(" "), &Limits::default()).is_ok());
    let alternatives = vec!["w"; 2000].join("|");
    assert_eq!(
        limit_error(parse_query(&alternatives, &Limits::default())),
        ("number of terms", 1024, 1025)
    );
    let tags = format!("@t:{{{}}}", vec!["v"; 2000].join("|"));
    assert_eq!(
        limit_error(parse_query(&tags, &Limits::default())),
        ("number of terms", 1024, 1025)
    );
    let phrase = format!("\"{}\"", vec!["w"; 2000].join(" "));
    assert_eq!(
        limit_error(parse_query(&phrase, &Limits::default())),
        ("number of terms", 1024, 1025)
    );
}

#[test]
fn huge_numbers_in_clauses() {
    assert_eq!(
        limit_error(parse_query(
            "*=>[KNN 99999999999999999999999999 @v $q]",
            &Limits::default()
        )),
        ("KNN k", 10_000, u64::MAX)
    );
    assert_eq!(
        limit_error(parse_query(
            "*=>[KNN 5 @v $q EF_RUNTIME 10001]",
            &Limits::default()
        )),
        ("EF_RUNTIME", 10_000, 10_001)
    );
    assert_eq!(
        limit_error(parse_query(
            "*=>[KNN 5 @v $q BATCH_SIZE 20000]",
            &Limits::default()
        )),
        ("BATCH_SIZE", 10_000, 20_000)
    );
    let long_number = format!("@n:[{} 1]", "9".repeat(60_000));
    assert!(matches!(
        parse_query(&long_number, &Limits::default()),
        Err(QueryError::Syntax { .. })
    ));
}

#[test]
fn hostile_options() {
    let limits = Limits::default();
    let many = vec!["NOCONTENT"; 5000];
    assert!(matches!(
        parse_options(&many, &limits),
        Err(QueryError::LimitExceeded {
            what: "number of arguments",
            ..
        })
    ));
    let big = "x".repeat(2 * 1024 * 1024);
    assert!(matches!(
        parse_options(&["PARAMS", "2", "p", big.as_str()], &limits),
        Err(QueryError::LimitExceeded {
            what: "argument length in bytes",
            ..
        })
    ));
    // A count far beyond the arguments present must not allocate for it.
    assert!(matches!(
        parse_options(&["RETURN", "18446744073709551615", "a"], &limits),
        Err(QueryError::InvalidArgument { index: 1, .. })
    ));
    assert!(matches!(
        parse_options(&["LIMIT", "0", "10001"], &limits),
        Err(QueryError::LimitExceeded {
            what: "LIMIT count",
            limit: 10_000,
            found: 10_001
        })
    ));
    assert!(matches!(
        parse_options(&["LIMIT", "1000001", "10"], &limits),
        Err(QueryError::LimitExceeded {
            what: "LIMIT offset",
            ..
        })
    ));
}

#[test]
fn deep_hand_built_trees_print_and_bind_without_recursion() {
    // Deeper than the parser allows; printing and binding use explicit stacks.
    let mut filter = Filter::Text {
        field: None,
        term: TextTerm::Word(Value::Param("p".to_string())),
    };
    for _ in 0..5_000 {
        filter = Filter::Not(Box::new(filter));
    }
    let query = Query {
        filter,
        vector: None,
        options: QueryOptions::default(),
    };
    let printed = query.to_string();
    assert_eq!(printed.len(), 5_002);
    let bound = query
        .bind(&Params::new().with_text("p", "x"), &Limits::default())
        .unwrap();
    assert!(bound.to_string().ends_with("-x"));
}

/// Bug: the derived `Clone` (used by `bind`), `Debug`, `PartialEq` and `Drop` recursed
/// once per level, so a tree built in code this deep overflowed the stack and
/// aborted the process.
#[test]
fn a_million_levels_clone_compare_print_bind_and_drop_without_recursion() {
    let word = Filter::Text {
        field: None,
        term: TextTerm::Word(Value::Param("p".to_string())),
    };
    let mut filter = word.clone();
    // Negations, intersections and unions in turn: every kind of interior node.
    for level in 0..1_000_000 {
        filter = match level % 3 {
            0 => Filter::Not(Box::new(filter)),
            1 => Filter::And(vec![filter, Filter::All]),
            _ => Filter::Or(vec![Filter::All, filter]),
        };
    }
    let query = Query {
        filter,
        vector: None,
        options: QueryOptions::default(),
    };
    let copy = query.clone();
    assert_eq!(copy, query);
    let debug = format!("{:?}", query.filter);
    assert!(
        debug.starts_with("Not(Or([All, And([Not(Or("),
        "{}",
        &debug[..40]
    );
    assert_eq!(debug.matches("Not(").count(), 333_334);
    assert_eq!(format!("{:#?}", query.filter), debug);
    let printed = query.to_string();
    let bound = query
        .bind(&Params::new().with_text("p", "x"), &Limits::default())
        .unwrap();
    assert_eq!(bound.to_string(), printed.replace("$p", "x"));
    assert_ne!(bound, query);
    drop(copy);
    drop(query);
    drop(bound);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The parser is total: any string gives `Ok` or `Err`, never a panic.
    #[test]
    fn any_string_parses_or_errs(query in any::<String>()) {
        let _ = parse_query(&query, &Limits::default());
    }

    /// Strings made of the dialect's own characters reach deeper into the grammar.
    #[test]
    fn query_alphabet_parses_or_errs(
        query in r#"[a-zé@:{}()\[\]|$*"\\=>;,.+\-( 0-9KNVECTOR_AGSIFBPLY%~'\t]{0,60}"#
    ) {
        if let Ok(parsed) = parse_query(&query, &Limits::default()) {
            // Whatever parses prints to something that parses back the same.
            let printed = parsed.to_string();
            prop_assert_eq!(parse_query(&printed, &Limits::default()), Ok(parsed), "{}", printed);
        }
    }

    #[test]
    fn option_words_parse_or_err(
        args in prop::collection::vec(
            prop_oneof![
                Just("RETURN".to_string()), Just("AS".to_string()), Just("LIMIT".to_string()),
                Just("PARAMS".to_string()), Just("SORTBY".to_string()), Just("DESC".to_string()),
                Just("DIALECT".to_string()), Just("NOCONTENT".to_string()), "[0-9]{1,3}", "[a-z]{0,3}",
            ],
            0..12,
        )
    ) {
        if let Ok(options) = parse_options(&args, &Limits::default()) {
            prop_assert_eq!(parse_options(&options.to_args(), &Limits::default()), Ok(options));
        }
    }
}
