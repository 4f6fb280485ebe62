//! Full-text search through the public API: the query forms of RediSearch dialect 2 on
//! TEXT fields, text predicates as filters and KNN pre-filters, and BM25 scores that
//! equal a plain tantivy index's over the same live documents, whatever the layout of
//! segments and memtable.

use std::collections::HashMap;

use rand::{rngs::StdRng, Rng, SeedableRng};
use strata::{Collection, Database, Doc, Error, Metric, Options, Schema, TextOptions, VectorIndex};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    IndexRecordOption, TextFieldIndexing, TextOptions as TvText, STORED, STRING,
};
use tantivy::{Index, TantivyDocument, Term};

fn keys(hits: &[strata::Hit]) -> Vec<String> {
    let mut keys: Vec<String> = hits.iter().map(|hit| hit.key.clone()).collect();
    keys.sort();
    keys
}

fn options() -> Options {
    Options {
        background_work: false,
        ..Options::default()
    }
}

/// A small corpus with known stems, stop words and two TEXT fields.
fn small(dir: &std::path::Path) -> (Database, Collection) {
    let db = Database::open_with(dir, options()).unwrap();
    let schema = Schema::builder()
        .text("title")
        .text("body")
        .text_with("code", TextOptions::default().no_stem())
        .tag("tenant")
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    let rows = [
        (
            "d1",
            "OAuth refresh tokens",
            "How to refresh an OAuth token",
            "running",
            "acme",
            1.0,
        ),
        (
            "d2",
            "Token bucket",
            "A rate limiter with tokens",
            "runs",
            "acme",
            2.0,
        ),
        (
            "d3",
            "Running dogs",
            "The state of the art in dog running",
            "run",
            "globex",
            3.0,
        ),
        (
            "d4",
            "Refreshing news",
            "refresh-token rotation, oauth2 flows",
            "ran",
            "globex",
            4.0,
        ),
        (
            "d5",
            "Hello world",
            "hello wrold with a typo",
            "hello",
            "acme",
            5.0,
        ),
    ];
    for (key, title, body, code, tenant, x) in rows {
        docs.upsert(
            key,
            Doc::new()
                .text("title", title)
                .text("body", body)
                .text("code", code)
                .tag("tenant", tenant)
                .vector("v", vec![x, 0.0]),
        )
        .unwrap();
    }
    (db, docs)
}

fn run(docs: &Collection, query: &str) -> Vec<String> {
    keys(
        &docs
            .query(query)
            .args(["LIMIT", "0", "100"])
            .run()
            .unwrap_or_else(|e| panic!("{query}: {e}")),
    )
}

/// Every query form, in memtable, segment and mixed layouts.
#[test]
fn query_forms_match_the_expected_documents() {
    let cases: &[(&str, &[&str])] = &[
        ("@title:token", &["d1", "d2"]),
        ("@title:tokens", &["d1", "d2"]),
        ("@body:(refresh token)", &["d1", "d4"]),
        ("@body:(refresh oauth)", &["d1"]),
        ("@title:(dogs|hello)", &["d3", "d5"]),
        ("@body:\"state art\"", &["d3"]),
        ("@body:\"art in dog\"", &[]),
        ("@body:\"dog running\"", &["d3"]),
        ("@body:\"dogs running\"", &[]),
        ("@body:\"art state\"", &[]),
        ("@body:\"refresh oauth\"", &["d1"]),
        ("@title:refr*", &["d1", "d4"]),
        ("refr*", &["d1", "d4"]),
        ("token -@title:bucket", &["d1", "d4"]),
        ("@title:token -@title:token", &["d1"]),
        ("@title|body:(rate)", &["d2"]),
        ("@title|code:(running)", &["d1", "d3"]),
        ("running", &["d1", "d3"]),
        ("@code:running", &["d1"]),
        ("@code:run", &["d3"]),
        ("%wrld%", &["d5"]),
        ("%wrd%", &[]),
        ("%%wrld%%", &["d5"]),
        ("%wrold%", &["d5"]),
        ("@body:%wrold%", &["d5"]),
        ("hello @tenant:{acme}", &["d5"]),
        ("token @tenant:{globex}", &["d4"]),
        ("the", &[]),
        ("the dogs", &["d3"]),
        ("@title:(the|dogs)", &["d3"]),
        ("-token", &["d3", "d5"]),
        ("oauth | hello", &["d1", "d5"]),
        ("oauth2 | hello", &["d4", "d5"]),
    ];
    for flush_after in [0usize, 5, 3] {
        let dir = tempfile::tempdir().unwrap();
        let (db, docs) = small(dir.path());
        if flush_after == 5 {
            db.flush().unwrap();
        }
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(query, expected)| {
                let found = run(&docs, query);
                (found != *expected).then(|| format!("{query}: {found:?}, expected {expected:?}"))
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "layout {flush_after}:\n{}",
            wrong.join("\n")
        );
        drop(docs);
        drop(db);
        // Reopen: replayed from the WAL or read from the segment.
        let db = Database::open_with(dir.path(), options()).unwrap();
        let docs = db.collection("docs").unwrap();
        for (query, expected) in cases {
            assert_eq!(run(&docs, query), *expected, "{query} after reopen");
        }
    }
}

#[test]
fn text_filters_knn_in_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = small(dir.path());
    db.flush().unwrap();
    for query in [
        "@body:(oauth refresh token) @tenant:{acme}=>[KNN 10 @v $q AS score]",
        "(@body:(oauth refresh token) @tenant:{acme})=>[KNN 10 @v $q AS score]",
    ] {
        let hits = docs
            .query(query)
            .param("q", vec![0.0f32, 0.0])
            .run()
            .unwrap();
        assert_eq!(keys(&hits), ["d1"], "{query}");
    }
    let hits = docs
        .query("token=>[KNN 2 @v $q]")
        .param("q", vec![10.0f32, 0.0])
        .run()
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["d4", "d2"]
    );
}

#[test]
fn bad_text_queries_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = small(dir.path());
    for query in [
        "@tenant:word",
        "@nope:word",
        "%%%%word%%%%",
        "%word",
        "@title|tenant:{x}",
    ] {
        let error = docs.query(query).run().unwrap_err();
        assert!(
            matches!(
                error,
                Error::QueryFieldType { .. }
                    | Error::UnknownField { .. }
                    | Error::InvalidQuery { .. }
                    | Error::Unsupported { .. }
            ),
            "{query}: {error:?}"
        );
    }
    // An unknown scorer is refused with the names Strata accepts.
    let error = docs
        .query("token")
        .args(["SCORER", "NOSUCH"])
        .run()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidQuery { .. }), "{error:?}");
    assert!(error.to_string().contains("TFIDF"), "{error}");
}

#[test]
fn upserts_deletes_and_expiry_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = small(dir.path());
    db.flush().unwrap();
    docs.upsert(
        "d5",
        Doc::new()
            .text("title", "Goodbye moon")
            .text("body", "nothing"),
    )
    .unwrap();
    docs.delete("d2").unwrap();
    docs.expire("d3", std::time::Duration::from_millis(1))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(run(&docs, "hello"), Vec::<String>::new());
    assert_eq!(run(&docs, "moon"), ["d5"]);
    assert_eq!(run(&docs, "@title:token"), ["d1"]);
    assert_eq!(run(&docs, "dogs"), Vec::<String>::new());
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(run(&docs, "moon"), ["d5"]);
    assert_eq!(run(&docs, "@title:token"), ["d1"]);
    db.verify().unwrap();
}

#[test]
fn withscores_reports_bm25_one_or_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = small(dir.path());
    let hits = docs.query("token").args(["WITHSCORES"]).run().unwrap();
    assert!(hits.iter().all(|h| h.score.is_some_and(|s| s > 0.0)));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let hits = docs.query("*").args(["WITHSCORES"]).run().unwrap();
    assert!(hits.iter().all(|h| h.score == Some(1.0)));
    let hits = docs
        .query("*=>[KNN 2 @v $q]")
        .param("q", vec![0.0f32, 0.0])
        .args(["WITHSCORES"])
        .run()
        .unwrap();
    assert!(hits.iter().all(|h| h.score == Some(0.0)));
    let hits = docs.query("token").run().unwrap();
    assert!(hits.iter().all(|h| h.score.is_none()));
}

// ---- The BM25 oracle ----------------------------------------------------------

const WORDS: [&str; 24] = [
    "search",
    "searching",
    "vector",
    "vectors",
    "index",
    "indexes",
    "token",
    "tokens",
    "refresh",
    "oauth",
    "the",
    "of",
    "database",
    "databases",
    "query",
    "queries",
    "rank",
    "ranking",
    "fast",
    "faster",
    "embedded",
    "store",
    "stored",
    "text",
];

fn sentence(rng: &mut StdRng) -> String {
    let len = rng.gen_range(1..40);
    (0..len)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Scores of a plain tantivy index over `live` for the AND of `words`.
fn tantivy_scores(live: &HashMap<String, String>, words: &[&str]) -> HashMap<String, f32> {
    let mut builder = tantivy::schema::Schema::builder();
    let key = builder.add_text_field("key", STRING | STORED);
    let indexing = TextFieldIndexing::default()
        .set_tokenizer("strata")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let body = builder.add_text_field("body", TvText::default().set_indexing_options(indexing));
    let index = Index::create_in_ram(builder.build());
    index
        .tokenizers()
        .register("strata", strata::tantivy_analyzer(&TextOptions::default()));
    let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
    let mut sorted: Vec<_> = live.iter().collect();
    sorted.sort();
    for (k, text) in sorted {
        let mut doc = TantivyDocument::default();
        doc.add_text(key, k);
        doc.add_text(body, text);
        writer.add_document(doc).unwrap();
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    let mut analyzer = strata::tantivy_analyzer(&TextOptions::default());
    let clauses: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|word| {
            let mut stream = analyzer.token_stream(word);
            assert!(stream.advance());
            let term = Term::from_field_text(body, &stream.token().text);
            (
                Occur::Must,
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as Box<dyn Query>,
            )
        })
        .collect();
    let query = BooleanQuery::new(clauses);
    let top = searcher
        .search(&query, &TopDocs::with_limit(10_000).order_by_score())
        .unwrap();
    top.into_iter()
        .map(|(score, address)| {
            let doc: TantivyDocument = searcher.doc(address).unwrap();
            let k = tantivy::schema::Value::as_str(&doc.get_first(key).unwrap())
                .unwrap()
                .to_string();
            (k, score)
        })
        .collect()
}

fn check_against_oracle(docs: &Collection, live: &HashMap<String, String>, layout: &str) {
    for words in [
        &["search"][..],
        &["vectors"],
        &["token", "refresh"],
        &["database", "query", "rank"],
        &["embedded"],
    ] {
        let expected = tantivy_scores(live, words);
        let query = format!("@body:({})", words.join(" "));
        let hits = docs
            .query(&query)
            .args(["WITHSCORES", "LIMIT", "0", "10000"])
            .run()
            .unwrap();
        assert_eq!(hits.len(), expected.len(), "{query} in {layout}");
        for hit in &hits {
            let want = expected[&hit.key];
            let got = hit.score.unwrap() as f32;
            assert!(
                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{query} in {layout}: {} scored {got}, tantivy {want}",
                hit.key
            );
        }
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{query}: not ranked"
        );
    }
}

#[test]
fn bm25_scores_equal_a_plain_tantivy_index_whatever_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        Options {
            compaction_trigger: usize::MAX,
            ..options()
        },
    )
    .unwrap();
    let schema = Schema::builder().text("body").tag("group").build().unwrap();
    let docs = db.create_collection("docs", schema).unwrap();
    let mut rng = StdRng::seed_from_u64(12);
    let mut live: HashMap<String, String> = HashMap::new();
    let write =
        |docs: &Collection, live: &mut HashMap<String, String>, rng: &mut StdRng, n: usize| {
            for _ in 0..n {
                let key = format!("doc:{}", rng.gen_range(0..400));
                if rng.gen_bool(0.1) {
                    docs.delete(&key).unwrap();
                    live.remove(&key);
                } else {
                    let text = sentence(rng);
                    docs.upsert(&key, Doc::new().text("body", &text).tag("group", "g"))
                        .unwrap();
                    live.insert(key, text);
                }
            }
        };
    // Memtable only.
    write(&docs, &mut live, &mut rng, 150);
    check_against_oracle(&docs, &live, "memtable");
    // One segment.
    db.flush().unwrap();
    check_against_oracle(&docs, &live, "one segment");
    // Many segments, then memtable plus segments.
    for _ in 0..9 {
        write(&docs, &mut live, &mut rng, 60);
        db.flush().unwrap();
    }
    check_against_oracle(&docs, &live, "ten segments");
    write(&docs, &mut live, &mut rng, 80);
    check_against_oracle(&docs, &live, "memtable plus segments");
    db.flush().unwrap();
    db.compact().unwrap();
    check_against_oracle(&docs, &live, "after compaction");
    drop(docs);
    drop(db);
    let db = Database::open_with(dir.path(), options()).unwrap();
    let docs = db.collection("docs").unwrap();
    check_against_oracle(&docs, &live, "after reopen");
}

#[test]
fn the_builder_makes_the_same_text_queries() {
    use strata::{Filter, Search};
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = small(dir.path());
    db.flush().unwrap();
    let built = docs
        .search(
            &Search::matching(Filter::text("body", "refresh").and(Filter::tag("tenant", ["acme"])))
                .with_scores(),
        )
        .unwrap();
    let parsed = docs
        .query("@body:refresh @tenant:{acme}")
        .args(["WITHSCORES"])
        .run()
        .unwrap();
    assert_eq!(built, parsed);
    assert_eq!(keys(&built), ["d1"]);
    for (filter, expected) in [
        (Filter::phrase("body", ["dog", "running"]), vec!["d3"]),
        (Filter::prefix("title", "refr"), vec!["d1", "d4"]),
        (Filter::fuzzy("body", "wrold", 1), vec!["d5"]),
        (Filter::any_text("dogs"), vec!["d3"]),
    ] {
        let hits = docs
            .search(&Search::matching(filter.clone()).limit(0, 100))
            .unwrap();
        assert_eq!(keys(&hits), expected, "{filter}");
    }
    assert!(matches!(
        docs.search(&Search::matching(Filter::fuzzy("body", "x", 4))),
        Err(Error::InvalidQuery { .. })
    ));
    // A text pre-filter on KNN through the builder.
    let hits = docs
        .search(&Search::knn("v", &[0.0, 0.0], 3).filter(Filter::any_text("token")))
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["d1", "d2", "d4"]
    );
}

#[test]
fn text_options_survive_reopen_and_shape_matching_and_scores() {
    use strata::{FieldKind, TextLanguage};
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::builder()
        .text_with("fr", TextOptions::default().language(TextLanguage::French))
        .text_with("raw", TextOptions::default().no_stem())
        .text_with("heavy", TextOptions::default().weight(2.0))
        .text("plain")
        .build()
        .unwrap();
    {
        let db = Database::open_with(dir.path(), options()).unwrap();
        let docs = db.create_collection("docs", schema.clone()).unwrap();
        docs.upsert(
            "a",
            Doc::new()
                .text("fr", "les chanteuses chantaient")
                .text("raw", "running")
                .text("heavy", "zebra")
                .text("plain", "lion"),
        )
        .unwrap();
        docs.upsert("b", Doc::new().text("heavy", "lion").text("plain", "zebra"))
            .unwrap();
        db.flush().unwrap();
    }
    let db = Database::open_with(dir.path(), options()).unwrap();
    let docs = db.collection("docs").unwrap();
    assert_eq!(docs.schema(), &schema);
    assert!(matches!(
        docs.schema().fields()[1].kind,
        FieldKind::Text(options) if options.no_stem
    ));
    // French stemming: "chantaient" and "chanter" share their stem.
    assert_eq!(run(&docs, "@fr:chanter"), ["a"]);
    assert_eq!(run(&docs, "@raw:running"), ["a"]);
    assert_eq!(run(&docs, "@raw:run"), Vec::<String>::new());
    // `zebra` is a one-word text in `heavy` (weight 2) of a and in `plain` of b, with
    // the same statistics in both fields: a scores twice what b does.
    let hits = docs.query("zebra").args(["WITHSCORES"]).run().unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let (a, b) = (hits[0].score.unwrap(), hits[1].score.unwrap());
    assert!(b > 0.0 && (a / b - 2.0).abs() < 1e-6, "{a} vs {b}");
    let bad = Schema::builder()
        .text_with("t", TextOptions::default().weight(0.0))
        .build();
    assert!(matches!(bad, Err(Error::InvalidSchema { .. })));
}

#[test]
fn inkeys_and_infields_restrict_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = small(dir.path());
    db.flush().unwrap();
    docs.upsert(
        "d6",
        Doc::new().text("title", "token ring").tag("tenant", "acme"),
    )
    .unwrap();
    let with = |query: &str, args: &[&str]| {
        keys(&docs.query(query).args(args.iter().copied()).run().unwrap())
    };
    assert_eq!(with("token", &[]), ["d1", "d2", "d4", "d6"]);
    assert_eq!(with("token", &["INKEYS", "2", "d2", "d6"]), ["d2", "d6"]);
    assert_eq!(
        with("token", &["INKEYS", "2", "d3", "nope"]),
        Vec::<String>::new()
    );
    assert_eq!(with("*", &["INKEYS", "1", "d5"]), ["d5"]);
    // Bare words look only in the INFIELDS fields; a field predicate outside them
    // matches nothing.
    assert_eq!(
        with("token", &["INFIELDS", "1", "body"]),
        ["d1", "d2", "d4"]
    );
    assert_eq!(
        with("token", &["INFIELDS", "1", "title"]),
        ["d1", "d2", "d6"]
    );
    assert_eq!(
        with("@title:token", &["INFIELDS", "1", "body"]),
        Vec::<String>::new()
    );
    // INKEYS pre-filters KNN.
    let hits = docs
        .query("*=>[KNN 1 @v $q]")
        .param("q", vec![0.0f32, 0.0])
        .args(["INKEYS", "1", "d4"])
        .run()
        .unwrap();
    assert_eq!(keys(&hits), ["d4"]);
    for bad in [
        &["INFIELDS", "1", "tenant"][..],
        &["INFIELDS", "1", "nope"],
        &["INKEYS", "0"],
    ] {
        assert!(
            docs.query("token").args(bad.iter().copied()).run().is_err(),
            "{bad:?}"
        );
    }
}
