//! Filters nested far past the depth limit, built in code or written as a query
//! string: refused with `QueryLimit` before anything recurses, and building, cloning,
//! comparing, printing and dropping them never overflows the stack.

use strata::{Collection, Database, Doc, Error, Filter, Limits, Options, Schema, Search};

const MILLION: usize = 1_000_000;

fn open(dir: &std::path::Path, limits: Limits) -> (Database, Collection) {
    let db = Database::open_with(
        dir,
        Options {
            limits,
            ..Options::default()
        },
    )
    .unwrap();
    let schema = Schema::builder()
        .tag("t")
        .numeric("n")
        .vector("v", 2, strata::Metric::L2, strata::VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    for (key, tag, number) in [
        ("a", "x", Some(1.0)),
        ("b", "y", Some(2.0)),
        ("c", "z", Some(3.0)),
        ("d", "x", None),
    ] {
        let mut doc = Doc::new()
            .tag("t", tag)
            .vector("v", vec![number.unwrap_or(0.0) as f32, 0.0]);
        if let Some(number) = number {
            doc = doc.numeric("n", number);
        }
        docs.upsert(key, doc).unwrap();
    }
    (db, docs)
}

/// `((t:x | t:y) n>=0 | t:y) n>=0 ...`: each round adds an OR and an AND level (the
/// builder flattens `and` of an `And`, so alternating is what nests). Depth 1 + 2r.
fn alternating(rounds: usize, leaf: impl Fn() -> Filter) -> Filter {
    let mut filter = Filter::tag("t", ["x"]);
    for _ in 0..rounds {
        filter = filter.or(leaf()).and(Filter::range("n", 0.0..));
    }
    filter
}

fn depth_error(result: strata::Result<impl std::fmt::Debug>) -> (u64, u64) {
    match result {
        Err(Error::QueryLimit { what, limit, found }) => {
            assert!(what.contains("depth"), "{what}");
            (limit, found)
        }
        other => panic!("expected a depth QueryLimit, got {other:?}"),
    }
}

fn keys(docs: &Collection, search: &Search) -> Vec<String> {
    let mut keys: Vec<String> = docs
        .search(search)
        .unwrap()
        .into_iter()
        .map(|hit| hit.key)
        .collect();
    keys.sort();
    keys
}

/// Bug: a builder filter ~100,000 levels deep overflowed the stack while its
/// parameters were bound (a recursive clone), before the depth limit was checked; at
/// 1,000,000 levels dropping or printing it did too.
#[test]
fn a_million_level_builder_filter_is_refused_and_prints_clones_and_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = open(dir.path(), Limits::default());
    let deep = alternating(MILLION / 2, Filter::all);
    let search = Search::knn("v", &[0.0, 0.0], 3).filter(deep.clone());
    assert_eq!(depth_error(docs.search(&search)), (128, 129));
    assert_eq!(depth_error(docs.explain(&search)), (128, 129));
    let range = Search::range("v", &[0.0, 0.0], 100.0).filter(deep.clone());
    assert_eq!(depth_error(docs.search(&range)), (128, 129));

    let copy = deep.clone();
    assert_eq!(copy, deep);
    let debug = format!("{deep:?}");
    assert_eq!(debug.matches("Or([").count(), MILLION / 2);
    let printed = deep.to_string();
    assert_eq!(printed.matches('|').count(), MILLION / 2);
    assert!(format!("{search:?}").len() > debug.len());
    drop(search);
    drop(range);
    drop(copy);
    drop(deep);

    // The negation chain, built with `not` between `and`s.
    let mut negated = Filter::tag("t", ["x"]);
    for _ in 0..MILLION / 2 {
        negated = negated.not().and(Filter::all());
    }
    let search = Search::knn("v", &[0.0, 0.0], 3).filter(negated);
    assert_eq!(depth_error(docs.search(&search)), (128, 129));
    assert!(format!("{search:?}").matches("Not(").count() == MILLION / 2);
}

#[test]
fn a_million_level_query_string_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_query_bytes: usize::MAX,
        ..Limits::default()
    };
    let (_db, docs) = open(dir.path(), limits);
    let deep = format!("{}@t:{{x}}{}", "(".repeat(MILLION), ")".repeat(MILLION));
    assert_eq!(depth_error(docs.query(&deep).run()), (128, 129));
    let negations = format!("{}@t:{{x}}", "-".repeat(MILLION));
    assert_eq!(depth_error(docs.query(&negations).run()), (128, 129));
}

/// A raised depth limit is capped at 200, and filters at the cap run on a thread with
/// the default 2 MiB stack, as strings and built in code (also in an unoptimised
/// build, where the recursive parser needs the most stack per level).
#[test]
fn the_depth_limit_is_capped_where_the_stack_still_holds() {
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_query_depth: usize::MAX,
            ..Limits::default()
        };
        let (_db, docs) = open(dir.path(), limits);
        // (x | y) and n >= 0, nested to depth 199; then negated to depth 200.
        let at_199 = alternating(99, || Filter::tag("t", ["y"]));
        let all = |filter: Filter| Search::knn("v", &[0.0, 0.0], 4).filter(filter);
        assert_eq!(keys(&docs, &all(at_199.clone())), ["a", "b"]);
        assert_eq!(keys(&docs, &all(at_199.not())), ["c", "d"]);
        let at_201 = alternating(100, || Filter::tag("t", ["y"]));
        assert_eq!(depth_error(docs.search(&all(at_201))), (200, 201));

        let nested = |depth: usize| format!("{}@t:{{x}}{}", "(".repeat(depth), ")".repeat(depth));
        let run = |query: String| docs.query(&query).run();
        let hits: Vec<String> = run(nested(200))
            .unwrap()
            .into_iter()
            .map(|h| h.key)
            .collect();
        assert_eq!(hits.len(), 2);
        assert_eq!(depth_error(run(nested(201))), (200, 201));
    });
    worker.unwrap().join().unwrap();
}
