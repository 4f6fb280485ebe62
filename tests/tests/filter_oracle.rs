//! Random documents and random filter trees (AND / OR / NOT over tags and numeric
//! ranges, edge values, empty results): Strata's answers equal an independent
//! evaluation, through the typed builder and through the printed query string, over
//! the memtable and sealed segments alike.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Database, Doc, Filter, Metric, Options, Schema, Search, VectorIndex};
use strata_tests::oracle_distance;

const TAGS: [&str; 6] = ["ai", "web", "Data", "cli", "math", "big data"];
const DIM: usize = 4;

#[derive(Clone, Debug)]
struct Row {
    tags: BTreeSet<String>,
    price: Option<f64>,
    vector: Vec<f32>,
}

/// An independent filter tree and its evaluation.
#[derive(Clone, Debug)]
enum Tree {
    Tag(Vec<&'static str>),
    Range(Bound<f64>, Bound<f64>),
    And(Vec<Tree>),
    Or(Vec<Tree>),
    Not(Box<Tree>),
}

impl Tree {
    fn matches(&self, row: &Row) -> bool {
        match self {
            Tree::Tag(values) => values.iter().any(|v| row.tags.contains(&v.to_lowercase())),
            Tree::Range(low, high) => row.price.is_some_and(|p| {
                let above = match low {
                    Bound::Included(l) => p >= *l,
                    Bound::Excluded(l) => p > *l,
                    Bound::Unbounded => true,
                };
                let below = match high {
                    Bound::Included(h) => p <= *h,
                    Bound::Excluded(h) => p < *h,
                    Bound::Unbounded => true,
                };
                above && below
            }),
            Tree::And(children) => children.iter().all(|c| c.matches(row)),
            Tree::Or(children) => children.iter().any(|c| c.matches(row)),
            Tree::Not(inner) => !inner.matches(row),
        }
    }

    fn to_filter(&self) -> Filter {
        match self {
            Tree::Tag(values) => Filter::tag("tags", values.iter().copied()),
            Tree::Range(low, high) => Filter::range("price", (*low, *high)),
            Tree::And(children) => children
                .iter()
                .skip(1)
                .fold(children[0].to_filter(), |f, c| f.and(c.to_filter())),
            Tree::Or(children) => children
                .iter()
                .skip(1)
                .fold(children[0].to_filter(), |f, c| f.or(c.to_filter())),
            Tree::Not(inner) => inner.to_filter().not(),
        }
    }
}

fn random_bound(rng: &mut StdRng) -> Bound<f64> {
    // Values sit on a grid of halves, so bounds often equal stored values exactly.
    let value = rng.gen_range(-4..24) as f64 / 2.0;
    match rng.gen_range(0..5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(value),
        _ => Bound::Excluded(value),
    }
}

fn random_tree(rng: &mut StdRng, depth: u32) -> Tree {
    let leaf = depth == 0 || rng.gen_bool(0.4);
    if leaf {
        return if rng.gen_bool(0.5) {
            let count = rng.gen_range(1..3);
            Tree::Tag(
                (0..count)
                    .map(|_| TAGS[rng.gen_range(0..TAGS.len())])
                    .collect(),
            )
        } else {
            Tree::Range(random_bound(rng), random_bound(rng))
        };
    }
    match rng.gen_range(0..3) {
        0 => Tree::And(
            (0..rng.gen_range(2..4))
                .map(|_| random_tree(rng, depth - 1))
                .collect(),
        ),
        1 => Tree::Or(
            (0..rng.gen_range(2..4))
                .map(|_| random_tree(rng, depth - 1))
                .collect(),
        ),
        _ => Tree::Not(Box::new(random_tree(rng, depth - 1))),
    }
}

fn random_row(rng: &mut StdRng) -> (Row, Doc) {
    let mut tags = BTreeSet::new();
    let mut raw = Vec::new();
    for _ in 0..rng.gen_range(0..3) {
        let tag = TAGS[rng.gen_range(0..TAGS.len())];
        // Stored with odd case and padding: indexing trims and folds case.
        let written = if rng.gen_bool(0.5) {
            tag.to_uppercase()
        } else {
            format!(" {tag} ")
        };
        raw.push(written);
        tags.insert(tag.to_lowercase());
    }
    let price = rng
        .gen_bool(0.85)
        .then(|| rng.gen_range(-4..24) as f64 / 2.0);
    let vector: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut doc = Doc::new().vector("v", vector.clone());
    if !raw.is_empty() {
        doc = doc.tag("tags", raw.join(","));
    }
    if let Some(price) = price {
        doc = doc.numeric("price", price);
    }
    (
        Row {
            tags,
            price,
            vector,
        },
        doc,
    )
}

#[test]
fn filters_match_an_independent_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_rows_max: 150,
        background_work: false,
        ..Options::default()
    };
    let db = Database::open_with(dir.path(), options).unwrap();
    let schema = Schema::builder()
        .tag("tags")
        .numeric("price")
        .vector("v", DIM, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut model: BTreeMap<String, Row> = BTreeMap::new();
    // Three flushes' worth of rows, then deletes and replacements of sealed rows, so
    // every query spans segments with overlays and the memtable.
    for i in 0..500 {
        let (row, doc) = random_row(&mut rng);
        docs.upsert(format!("k{i}"), doc).unwrap();
        model.insert(format!("k{i}"), row);
    }
    for i in (0..500).step_by(9) {
        docs.delete(&format!("k{i}")).unwrap();
        model.remove(&format!("k{i}"));
    }
    for i in (1..500).step_by(13) {
        let (row, doc) = random_row(&mut rng);
        docs.upsert(format!("k{i}"), doc).unwrap();
        model.insert(format!("k{i}"), row);
    }

    let mut empty_results = 0;
    for round in 0..300 {
        let tree = random_tree(&mut rng, 3);
        let filter = tree.to_filter();
        let expected: BTreeSet<&String> = model
            .iter()
            .filter(|(_, row)| tree.matches(row))
            .map(|(key, _)| key)
            .collect();
        empty_results += expected.is_empty() as usize;

        // Filter only, through the query string the builder prints.
        let text = filter.to_string();
        let hits = docs
            .query(&text)
            .args(["LIMIT", "0", "10000", "NOCONTENT"])
            .run()
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: BTreeSet<&String> = hits.iter().map(|hit| &hit.key).collect();
        assert_eq!(got, expected, "round {round}: {text}");

        // Filtered KNN through the builder: exactly the k nearest matching rows.
        let query: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let hits = docs
            .search(
                &Search::knn("v", &query, 7)
                    .filter(filter.clone())
                    .no_content(),
            )
            .unwrap();
        let mut truth: Vec<(f64, &String)> = expected
            .iter()
            .map(|key| {
                (
                    oracle_distance(Metric::L2, &query, &model[*key].vector),
                    *key,
                )
            })
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(hits.len(), truth.len().min(7), "round {round}: {text}");
        for (hit, (distance, _)) in hits.iter().zip(&truth) {
            assert!(
                expected.contains(&hit.key),
                "round {round}: {} does not match {text}",
                hit.key
            );
            assert!(
                (hit.distance as f64 - distance).abs() < 1e-4,
                "round {round}: {text}"
            );
        }
    }
    assert!(
        empty_results > 5,
        "the generator must exercise empty results ({empty_results})"
    );
}

#[test]
fn the_redis_example_means_what_it_means_there() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let schema = Schema::builder()
        .tag("category")
        .tag("status")
        .numeric("price")
        .text("title")
        .vector("embedding", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    let rows = [
        ("a", "AI", "live", 10.0, [0.0, 0.0]),
        ("b", "ml", "draft", 20.0, [0.1, 0.0]),
        ("c", "ML", "live", 100.0, [0.2, 0.0]),
        ("d", "web", "live", 5.0, [0.3, 0.0]),
        ("e", "ai,web", "live", 99.5, [0.4, 0.0]),
    ];
    for (key, category, status, price, vector) in rows {
        docs.upsert(
            key,
            Doc::new()
                .tag("category", category)
                .tag("status", status)
                .numeric("price", price)
                .text("title", key.to_uppercase())
                .vector("embedding", vector.to_vec()),
        )
        .unwrap();
    }
    let hits = docs
        .query("(@category:{AI|ML} @price:[0 (100] -@status:{draft})=>[KNN 10 @embedding $vec EF_RUNTIME 64 AS score]")
        .param("vec", vec![0.0f32, 0.0])
        .run()
        .unwrap();
    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["a", "e"],
        "c is excluded by (100, b by -draft, d by category"
    );
    assert_eq!(
        hits[1].doc.get_numeric("score"),
        Some(hits[1].distance as f64),
        "AS score names the distance"
    );

    let hits = docs
        .query("@embedding:[VECTOR_RANGE 0.05 $v]=>{$YIELD_DISTANCE_AS: dist}")
        .param("v", vec![0.0f32, 0.0])
        .args(["SORTBY", "dist", "DESC", "RETURN", "2", "title", "dist"])
        .run()
        .unwrap();
    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["c", "b", "a"],
        "within squared distance 0.05, farthest first"
    );
    assert_eq!(hits[0].doc.len(), 2);

    let hits = docs
        .query("@price:[$low +inf]")
        .param("low", 20.0)
        .args(["SORTBY", "price", "ASC", "LIMIT", "1", "2"])
        .run()
        .unwrap();
    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, vec!["e", "c"], "b (20) skipped by LIMIT 1 2");
}

#[test]
fn bad_queries_get_positioned_errors_and_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let schema = Schema::builder()
        .tag("t")
        .numeric("n")
        .text("body")
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    docs.upsert(
        "a",
        Doc::new()
            .tag("t", "x")
            .numeric("n", 1.0)
            .vector("v", vec![0.0, 1.0]),
    )
    .unwrap();
    match docs.query("@n:[1 2").run() {
        Err(strata::Error::InvalidQuery { pos, .. }) => assert_eq!(pos, 7),
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
    assert!(docs.query("@body:hello").run().unwrap().is_empty());
    assert!(matches!(
        docs.query("@nope:{x}").run(),
        Err(strata::Error::UnknownField { .. })
    ));
    assert!(matches!(
        docs.query("@n:{x}").run(),
        Err(strata::Error::QueryFieldType { .. })
    ));
    assert!(matches!(
        docs.query("*=>[KNN 3 @v $missing]").run(),
        Err(strata::Error::InvalidQuery { .. })
    ));
    assert!(matches!(
        docs.query("*=>[KNN 3 @v $q]")
            .param("q", vec![1.0f32])
            .run(),
        Err(strata::Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        docs.query("*=>[KNN 20000 @v $q]")
            .param("q", vec![1.0f32, 0.0])
            .run(),
        Err(strata::Error::QueryLimit { .. })
    ));
    let deep = format!("{}@t:{{x}}{}", "(".repeat(500), ")".repeat(500));
    assert!(matches!(
        docs.query(&deep).run(),
        Err(strata::Error::QueryLimit { .. })
    ));
    let mut deep_builder = Filter::tag("t", ["x"]);
    // Alternating AND and OR cannot be flattened: each round adds two levels.
    for _ in 0..500 {
        deep_builder = deep_builder
            .or(Filter::tag("t", ["y"]))
            .and(Filter::range("n", 0.0..));
    }
    let refused = docs.search(&Search::knn("v", &[0.0, 1.0], 1).filter(deep_builder));
    assert!(
        matches!(refused, Err(strata::Error::QueryLimit { .. })),
        "{refused:?}"
    );
}
