//! Hybrid search (Redis 8.4's FT.HYBRID) through the public API: RRF and LINEAR
//! fusion against a hand-computed oracle, ties and documents only one side found,
//! WINDOW and K, the vector side's FILTER and RANGE, YIELD_SCORE_AS, LIMIT, SORTBY and
//! LOAD, the typed builder against the string form, and a clear error for every
//! malformed argument. Redis 7.4 (the side-by-side server) has no FT.HYBRID, so the
//! oracle is RediSearch's documented formulas.

use strata::{
    Collection, Database, Doc, Error, Filter, HybridResults, Metric, Options, Schema, Search,
    VectorIndex,
};

const TOLERANCE: f64 = 1e-12;

fn options() -> Options {
    Options {
        background_work: false,
        ..Options::default()
    }
}

/// Three documents match `oauth`, ranked by BM25 by their length alone (equal term
/// frequency, one body each): t1 < t2 < t3 in length, so t1, t2, t3. Squared L2
/// distances from the origin: v1 0, t2 1, v2 4, t3 25, t1 100.
fn corpus(dir: &std::path::Path) -> (Database, Collection) {
    let db = Database::open_with(dir, options()).unwrap();
    let schema = Schema::builder()
        .text("body")
        .tag("team")
        .numeric("price")
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    let rows = [
        ("t1", "oauth", "blue", 5.0, [10.0f32, 0.0]),
        ("t2", "oauth token", "blue", 3.0, [1.0, 0.0]),
        ("t3", "oauth token refresh flow", "blue", 4.0, [5.0, 0.0]),
        ("v1", "password reset", "red", 1.0, [0.0, 0.0]),
        ("v2", "billing invoice", "blue", 2.0, [2.0, 0.0]),
    ];
    docs.upsert_many(rows.map(|(key, body, team, price, v)| {
        (
            key,
            Doc::new()
                .text("body", body)
                .tag("team", team)
                .numeric("price", price)
                .vector("v", v.to_vec()),
        )
    }))
    .unwrap();
    (db, docs)
}

fn run(docs: &Collection, args: &str) -> HybridResults {
    docs.hybrid(args)
        .param("q", vec![0.0f32, 0.0])
        .run()
        .unwrap_or_else(|error| panic!("{args}: {error}"))
}

fn keys(page: &HybridResults) -> Vec<&str> {
    page.hits.iter().map(|hit| hit.key.as_str()).collect()
}

fn assert_scores(page: &HybridResults, expected: &[(&str, f64)]) {
    assert_scores_within(page, expected, TOLERANCE);
}

fn assert_scores_within(page: &HybridResults, expected: &[(&str, f64)], tolerance: f64) {
    assert_eq!(
        keys(page),
        expected.iter().map(|(key, _)| *key).collect::<Vec<_>>()
    );
    for (hit, (key, score)) in page.hits.iter().zip(expected) {
        assert!(
            (hit.score - score).abs() < tolerance,
            "{key}: fused {} != oracle {score}",
            hit.score
        );
    }
}

/// BM25 of each `oauth` match, from FT.SEARCH's own WITHSCORES.
fn text_scores(docs: &Collection) -> Vec<(String, f64)> {
    docs.query("@body:oauth")
        .args(["WITHSCORES"])
        .run()
        .unwrap()
        .into_iter()
        .map(|hit| (hit.key, hit.score.unwrap()))
        .collect()
}

#[test]
fn rrf_fuses_ranks_and_breaks_ties_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 COMBINE RRF 2 CONSTANT 60",
    );
    // Text ranks t1 1, t2 2, t3 3; vector ranks v1 1, t2 2, v2 3.
    assert_scores(
        &page,
        &[
            ("t2", 1.0 / 62.0 + 1.0 / 62.0),
            // t1 (text only) and v1 (vector only) both rank first on their side.
            ("t1", 1.0 / 61.0),
            ("v1", 1.0 / 61.0),
            ("t3", 1.0 / 63.0),
            ("v2", 1.0 / 63.0),
        ],
    );
    assert_eq!(page.total, 5);
    let t2 = &page.hits[0];
    assert_eq!((t2.text.unwrap().rank, t2.vector.unwrap().rank), (2, 2));
    assert_eq!(t2.distance, Some(1.0));
    let t1 = &page.hits[1];
    assert!(t1.vector.is_none() && t1.distance.is_none());
    let v1 = &page.hits[2];
    assert!(v1.text.is_none());
    assert_eq!(v1.vector.map(|side| side.score), Some(1.0));
    // Without COMBINE: RRF, CONSTANT 60, WINDOW 20; K defaults to 10.
    let default = run(&docs, "SEARCH '@body:oauth' VSIM @v $q");
    assert_eq!(default.total, 5);
    assert_scores(
        &default,
        &[
            ("t2", 2.0 / 62.0),
            ("t1", 1.0 / 61.0 + 1.0 / 65.0),
            ("t3", 1.0 / 63.0 + 1.0 / 64.0),
            ("v1", 1.0 / 61.0),
            ("v2", 1.0 / 63.0),
        ],
    );
}

#[test]
fn rrf_constant_zero_ties_a_first_rank_with_two_second_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 COMBINE RRF 2 CONSTANT 0",
    );
    // 1/1 for one first rank equals 1/2 + 1/2 for two second ranks: a three-way tie.
    assert_scores(
        &page,
        &[
            ("t1", 1.0),
            ("t2", 1.0),
            ("v1", 1.0),
            ("t3", 1.0 / 3.0),
            ("v2", 1.0 / 3.0),
        ],
    );
}

#[test]
fn window_cuts_each_side_and_clamps_k() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 10 COMBINE RRF 2 WINDOW 2",
    );
    assert_scores(
        &page,
        &[("t2", 2.0 / 62.0), ("t1", 1.0 / 61.0), ("v1", 1.0 / 61.0)],
    );
    assert_eq!(page.total, 3);
    // K below the window: the vector side returns K.
    let page = run(&docs, "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 1");
    assert_scores(
        &page,
        &[
            ("t1", 1.0 / 61.0),
            ("v1", 1.0 / 61.0),
            ("t2", 1.0 / 62.0),
            ("t3", 1.0 / 63.0),
        ],
    );
}

#[test]
fn linear_weights_normalised_vector_scores_and_bm25() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    // Vector only: 1 / (1 + squared distance); text-only documents score 0.
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 COMBINE LINEAR 4 ALPHA 0 BETA 1",
    );
    assert_scores(
        &page,
        &[
            ("v1", 1.0),
            ("t2", 0.5),
            ("v2", 0.2),
            ("t1", 0.0),
            ("t3", 0.0),
        ],
    );
    // The defaults, 0.3 and 0.7, against BM25 from FT.SEARCH WITHSCORES.
    let bm25 = text_scores(&docs);
    assert_eq!(
        bm25.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(),
        ["t1", "t2", "t3"]
    );
    let text = |key: &str| bm25.iter().find(|(k, _)| k == key).map_or(0.0, |(_, s)| *s);
    let vector = |key: &str| match key {
        "v1" => 1.0,
        "t2" => 0.5,
        "v2" => 0.2,
        _ => 0.0,
    };
    let mut oracle: Vec<(&str, f64)> = ["t1", "t2", "t3", "v1", "v2"]
        .iter()
        .map(|key| (*key, 0.3 * text(key) + 0.7 * vector(key)))
        .collect();
    oracle.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let page = run(
        &docs,
        "SEARCH '@body:oauth' YIELD_SCORE_AS ts VSIM @v $q KNN 2 K 3 YIELD_SCORE_AS vs \
         COMBINE LINEAR 0 YIELD_SCORE_AS hs",
    );
    assert_scores(&page, &oracle);
    for hit in &page.hits {
        assert_eq!(hit.doc.get_numeric("hs"), Some(hit.score));
        assert_eq!(hit.doc.get_numeric("ts"), hit.text.map(|side| side.score));
        assert_eq!(hit.doc.get_numeric("vs"), hit.vector.map(|side| side.score));
        assert_eq!(
            hit.text.map(|side| side.score).unwrap_or(0.0),
            text(&hit.key)
        );
    }
    // BM25STD.NORM divides by the best text score.
    let page = run(
        &docs,
        "SEARCH '@body:oauth' SCORER BM25STD.NORM VSIM @v $q KNN 2 K 3 \
         COMBINE LINEAR 4 ALPHA 1 BETA 0",
    );
    let best = text("t1");
    assert_scores(
        &page,
        &[
            ("t1", 1.0),
            ("t2", text("t2") / best),
            ("t3", text("t3") / best),
            ("v1", 0.0),
            ("v2", 0.0),
        ],
    );
}

#[test]
fn cosine_scores_are_one_plus_similarity_over_two() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let schema = Schema::builder()
        .text("body")
        .vector("v", 2, Metric::Cosine, VectorIndex::hnsw(16, 200))
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    docs.upsert_many([
        (
            "same",
            Doc::new().text("body", "x").vector("v", vec![1.0, 0.0]),
        ),
        (
            "square",
            Doc::new().text("body", "y").vector("v", vec![0.0, 1.0]),
        ),
        (
            "opposite",
            Doc::new().text("body", "z").vector("v", vec![-1.0, 0.0]),
        ),
    ])
    .unwrap();
    let page = docs
        .hybrid("SEARCH nothing VSIM @v $q KNN 2 K 3 COMBINE LINEAR 4 ALPHA 0 BETA 1")
        .param("q", vec![2.0f32, 0.0])
        .run()
        .unwrap();
    // Cosine distances are computed in f32: exact to about 1e-7.
    assert_scores_within(
        &page,
        &[("same", 1.0), ("square", 0.5), ("opposite", 0.0)],
        1e-6,
    );
}

#[test]
fn the_vector_filter_and_range_select_the_vector_side_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    // v1 is red: the vector side ranks t2, v2, t3.
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 FILTER '@team:{blue}'",
    );
    assert_scores(
        &page,
        &[
            ("t2", 1.0 / 62.0 + 1.0 / 61.0),
            ("t3", 1.0 / 63.0 + 1.0 / 63.0),
            ("t1", 1.0 / 61.0),
            ("v2", 1.0 / 62.0),
        ],
    );
    // RANGE: every row within the radius, nearest first.
    let page = run(&docs, "SEARCH '@body:oauth' VSIM @v $q RANGE 2 RADIUS 5");
    assert_scores(
        &page,
        &[
            ("t2", 2.0 / 62.0),
            ("t1", 1.0 / 61.0),
            ("v1", 1.0 / 61.0),
            ("t3", 1.0 / 63.0),
            ("v2", 1.0 / 63.0),
        ],
    );
    assert_eq!(page.hits[4].distance, Some(4.0));
    // The same with a parameter in the FILTER and PARAMS in the arguments.
    let page = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q RANGE 2 RADIUS 30 FILTER '@team:{$team}' PARAMS 2 team red",
    );
    assert_eq!(keys(&page), ["t1", "v1", "t2", "t3"]);
    assert_eq!(page.hits[1].vector.map(|side| side.rank), Some(1));
}

#[test]
fn limit_sortby_and_load_shape_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let base = "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3";
    let page = run(&docs, &format!("{base} LIMIT 1 2"));
    assert_eq!((keys(&page), page.total), (vec!["t1", "v1"], 5));
    assert!(
        page.hits[0].doc.is_empty(),
        "without LOAD only key and scores"
    );
    let page = run(&docs, &format!("{base} SORTBY 2 @price DESC LOAD 1 @body"));
    assert_eq!(keys(&page), ["t1", "t3", "t2", "v2", "v1"]);
    assert_eq!(page.hits[0].doc.get_text("body"), Some("oauth"));
    assert_eq!(
        page.hits[0].doc.get_numeric("price"),
        None,
        "sorted by, not loaded"
    );
    let page = run(&docs, &format!("{base} SORTBY 1 @__key LOAD *"));
    assert_eq!(keys(&page), ["t1", "t2", "t3", "v1", "v2"]);
    let v1 = &page.hits[3].doc;
    assert_eq!(
        (v1.get_tag("team"), v1.get_numeric("price")),
        (Some("red"), Some(1.0))
    );
    assert!(v1.get_vector("v").is_none());
    let page = run(
        &docs,
        &format!("{base} COMBINE RRF 2 YIELD_SCORE_AS fused SORTBY 2 @fused ASC LIMIT 0 1"),
    );
    assert_eq!(keys(&page), ["t3"]);
}

#[test]
fn the_builder_runs_the_same_query_as_the_string() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let strings = run(
        &docs,
        "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 FILTER '@team:{blue}' \
         COMBINE LINEAR 6 ALPHA 0.4 BETA 0.6 WINDOW 10 LIMIT 0 4 LOAD 1 body",
    );
    let built = docs
        .search_hybrid(
            &Search::hybrid(
                Filter::text("body", "oauth"),
                Search::knn("v", &[0.0, 0.0], 3).filter(Filter::tag("team", ["blue"])),
            )
            .linear(0.4, 0.6, 10)
            .limit(0, 4)
            .load(["body"]),
        )
        .unwrap();
    assert_eq!(strings, built);
    let ranged = docs
        .search_hybrid(
            &Search::hybrid(
                Filter::text("body", "oauth"),
                Search::range("v", &[0.0, 0.0], 5.0),
            )
            .rrf(60.0, 20),
        )
        .unwrap();
    assert_eq!(
        ranged,
        run(&docs, "SEARCH '@body:oauth' VSIM @v $q RANGE 2 RADIUS 5")
    );
    let no_vector = docs.search_hybrid(&Search::hybrid(
        Filter::text("body", "oauth"),
        Search::matching(Filter::all()),
    ));
    assert!(
        matches!(no_vector, Err(Error::InvalidArgument { .. })),
        "{no_vector:?}"
    );
}

#[test]
fn results_do_not_depend_on_the_segment_layout() {
    let dir = tempfile::tempdir().unwrap();
    // LINEAR uses BM25 itself, whose statistics are the live rows', wherever they are.
    let args = "SEARCH '@body:oauth' VSIM @v $q KNN 2 K 3 COMBINE LINEAR 0 LOAD *";
    let in_memtable = {
        let (_db, docs) = corpus(dir.path());
        run(&docs, args)
    };
    let db = Database::open_with(dir.path(), options()).unwrap();
    db.flush().unwrap();
    let docs = db.collection("docs").unwrap();
    assert_eq!(run(&docs, args), in_memtable);
    docs.upsert(
        "t4",
        Doc::new().text("body", "oauth").vector("v", vec![9.0, 9.0]),
    )
    .unwrap();
    db.flush().unwrap();
    docs.delete("t4").unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(run(&docs, args), in_memtable);
}

#[test]
fn every_malformed_argument_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = corpus(dir.path());
    let query = |rest: &str| format!("SEARCH oauth VSIM @v $q {rest}");
    let cases: &[(&str, &str)] = &[
        ("", "SEARCH"),
        ("SEARCH", "the SEARCH query"),
        ("SEARCH oauth", "VSIM"),
        ("3 SEARCH oauth VSIM @v $q", "2 subqueries"),
        ("SEARCH oauth FOO VSIM @v $q", "VSIM"),
        ("SEARCH oauth SCORER TFIDF.DOCNORM VSIM @v $q", "BM25STD"),
        ("SEARCH 'oauth VSIM @v $q", "closing quote"),
        ("SEARCH '@body:(' VSIM @v $q", "expected"),
        ("SEARCH '*=>[KNN 2 @v $q]' VSIM @v $q", "without `=>[KNN"),
        ("SEARCH oauth VSIM v $q", "@field"),
        ("SEARCH oauth VSIM @v q", "$name"),
        ("SEARCH oauth VSIM @v", "query vector"),
        (&query("KNN 2 K 0"), "at least 1"),
        (&query("KNN 3 K 1"), "no larger than"),
        (&query("KNN 1 K"), "even number"),
        (&query("KNN 2 EF_RUNTIME 5"), "K among the KNN"),
        (&query("KNN 4 K 1 K 2"), "more than once"),
        (&query("KNN 2 K x"), "whole number"),
        (&query("KNN 2 RADIUS 1"), "K or EF_RUNTIME"),
        (&query("RANGE 2 EPSILON 0.1"), "RADIUS among"),
        (&query("RANGE 2 RADIUS -1"), "0 or more"),
        (&query("FILTER"), "FILTER query"),
        (&query("FILTER '@team:{'"), "expected"),
        (&query("COMBINE"), "RRF or LINEAR"),
        (&query("COMBINE FUNCTION 0"), "RRF or LINEAR"),
        (&query("COMBINE RRF 2 WINDOW 0"), "at least 1"),
        (&query("COMBINE RRF 2 CONSTANT -1"), "0 to 100000"),
        (&query("COMBINE RRF 2 CONSTANT 100001"), "0 to 100000"),
        (&query("COMBINE RRF 2 CONSTANT nan"), "0 to 100000"),
        (&query("COMBINE RRF 2 ALPHA 1"), "CONSTANT, WINDOW"),
        (&query("COMBINE LINEAR 2 ALPHA 0.5"), "both ALPHA and BETA"),
        (&query("COMBINE LINEAR 4 ALPHA x BETA 1"), "ALPHA: a number"),
        (&query("COMBINE LINEAR 2 CONSTANT 1"), "ALPHA, BETA"),
        (&query("LIMIT 0"), "LIMIT count"),
        (&query("LIMIT 0 1 LIMIT 0 2"), "more than once"),
        (&query("SORTBY 1 price"), "@field"),
        (&query("SORTBY 1 DESC"), "before ASC or DESC"),
        (&query("SORTBY 3 @price ASC DESC"), "before ASC or DESC"),
        (&query("SORTBY 1 @price NOSORT"), "not both"),
        (&query("LOAD 0"), "at least one field"),
        (&query("PARAMS 1 a"), "even number"),
        (&query("DIALECT 2"), "DIALECT"),
        (
            &query("GROUPBY 1 @team"),
            "does not support option `GROUPBY`",
        ),
        (&query("TIMEOUT 10"), "does not support option `TIMEOUT`"),
        (&query("FOO"), "unknown option"),
        (&query("COMBINE RRF 0 KNN 2 K 1"), "FT.HYBRID's order"),
        (
            "SEARCH oauth YIELD_SCORE_AS s VSIM @v $q YIELD_SCORE_AS s",
            "different YIELD_SCORE_AS",
        ),
        (
            &query("YIELD_SCORE_AS a YIELD_SCORE_AS b"),
            "more than once",
        ),
    ];
    for &(args, message) in cases {
        match docs.hybrid(args).param("q", vec![0.0f32, 0.0]).run() {
            Err(Error::InvalidQuery { message: said, .. }) => {
                assert!(said.contains(message), "{args}: `{said}` lacks `{message}`")
            }
            other => panic!("{args}: expected InvalidQuery mentioning `{message}`, got {other:?}"),
        }
    }
    let field_errors = [
        "SEARCH oauth VSIM @body $q",
        "SEARCH oauth VSIM @v $q LOAD 1 nope",
        "SEARCH oauth VSIM @v $q SORTBY 1 @nope",
        "SEARCH oauth VSIM @v $q LOAD 1 v",
    ];
    for args in field_errors {
        let result = docs.hybrid(args).param("q", vec![0.0f32, 0.0]).run();
        assert!(
            matches!(result, Err(Error::InvalidArgument { .. })),
            "{args}: {result:?}"
        );
    }
    let unknown = docs
        .hybrid("SEARCH oauth VSIM @nope $q")
        .param("q", vec![0.0f32])
        .run();
    assert!(
        matches!(unknown, Err(Error::UnknownField { .. })),
        "{unknown:?}"
    );
    let missing = docs.hybrid("SEARCH oauth VSIM @v $q").run();
    assert!(
        matches!(missing, Err(Error::InvalidQuery { .. })),
        "{missing:?}"
    );
    let wrong_dim = docs
        .hybrid("SEARCH oauth VSIM @v $q")
        .param("q", vec![0.0f32])
        .run();
    assert!(wrong_dim.is_err(), "{wrong_dim:?}");
    let bad_blob = docs
        .hybrid("SEARCH oauth VSIM @v $q")
        .param("q", &[0u8, 1, 2][..])
        .run();
    assert!(bad_blob.is_err(), "{bad_blob:?}");
}
