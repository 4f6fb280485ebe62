//! `FT.HYBRID` through `strata serve`: the fused page against RRF computed by hand
//! from an exact k-NN and the text matches, in Redis 8.4's reply shape.

mod common;

use common::{blob, nearest, Server, R};

fn vector_of(i: usize) -> [f32; 3] {
    [i as f32, (i * 7 % 5) as f32, (i % 3) as f32]
}

/// The keys of the `k` nearest rows to `query` (squared L2), nearest first, ties by id.
fn exact_knn(query: [f32; 3], n: usize, k: usize) -> Vec<String> {
    nearest(query, 0..n, k, vector_of)
        .into_iter()
        .map(|i| format!("doc:{i}"))
        .collect()
}

fn field<'a>(row: &'a [R], name: &str) -> Option<&'a R> {
    row.chunks(2)
        .find(|pair| pair[0].text() == name)
        .map(|pair| &pair[1])
}

#[test]
fn ft_hybrid_fuses_text_and_vector_ranks_as_rrf() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(
        c.cmd("FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA title TEXT v VECTOR FLAT 6 TYPE FLOAT32 DIM 3 DISTANCE_METRIC L2"),
        R::Simple("OK".into())
    );
    let n = 20;
    for i in 0..n {
        let key = format!("doc:{i}");
        // Three documents hold the word the text side looks for, each once, in
        // titles of equal length: their BM25 scores tie.
        let title = if [3, 5, 7].contains(&i) {
            format!("red item{i}")
        } else {
            format!("blue item{i}")
        };
        let v = blob(&vector_of(i));
        let reply = c.raw(&[
            b"HSET",
            key.as_bytes(),
            b"title",
            title.as_bytes(),
            b"v",
            &v,
        ]);
        assert_eq!(reply, R::Int(2));
    }
    let query = vector_of(5);
    let q = blob(&query);
    let reply = c.raw(&[
        b"FT.HYBRID",
        b"idx",
        b"SEARCH",
        b"@title:red",
        b"VSIM",
        b"@v",
        b"$q",
        b"KNN",
        b"2",
        b"K",
        b"4",
        b"COMBINE",
        b"RRF",
        b"2",
        b"CONSTANT",
        b"60",
        b"LOAD",
        b"1",
        b"@title",
        b"PARAMS",
        b"2",
        b"q",
        &q,
    ]);
    let items = reply.items();
    assert_eq!(items[0].text(), "total_results");
    assert_eq!(items[2].text(), "results");
    assert_eq!(items[4].text(), "warnings");
    assert_eq!(items[6].text(), "execution_time");

    let nearest = exact_knn(query, n, 4);
    let texts = ["doc:3", "doc:5", "doc:7"];
    let mut union: Vec<&str> = nearest.iter().map(String::as_str).collect();
    union.extend(texts.iter().filter(|k| !nearest.iter().any(|n| n == *k)));
    assert_eq!(items[1], R::Int(union.len() as i64));

    let rows = items[3].items();
    assert_eq!(rows.len(), union.len().min(10));
    // The text side's three tied documents take ranks 1..=3 in some order: their
    // text contributions together are fixed, and each vector contribution is exact.
    let mut text_part = 0.0;
    for row in rows {
        let row = row.items();
        let key = field(row, "__key").unwrap().text();
        let score: f64 = field(row, "__score").unwrap().text().parse().unwrap();
        let vector_part = nearest
            .iter()
            .position(|k| *k == key)
            .map_or(0.0, |rank| 1.0 / (60.0 + rank as f64 + 1.0));
        if texts.contains(&key.as_str()) {
            text_part += score - vector_part;
            let title = field(row, "title").unwrap().text();
            assert!(title.starts_with("red "), "{key}: {title}");
        } else {
            assert!(
                (score - vector_part).abs() < 1e-12,
                "{key}: {score} vs {vector_part}"
            );
        }
    }
    let expected: f64 = (1..=3).map(|rank| 1.0 / (60.0 + rank as f64)).sum();
    assert!(
        (text_part - expected).abs() < 1e-9,
        "{text_part} vs {expected}"
    );
    // Best first. doc:5 (vector rank 1) and doc:3 (vector rank 2, nearer than the
    // other text match) are both found by each side, so they lead the page.
    let scores: Vec<f64> = rows
        .iter()
        .map(|row| {
            field(row.items(), "__score")
                .unwrap()
                .text()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let mut leaders: Vec<String> = rows[..2]
        .iter()
        .map(|row| field(row.items(), "__key").unwrap().text())
        .collect();
    leaders.sort();
    assert_eq!(leaders, ["doc:3", "doc:5"]);

    // A malformed PARAMS is a Redis error reply, and the server goes on answering.
    let bad = c.raw(&[
        b"FT.HYBRID",
        b"idx",
        b"SEARCH",
        b"red",
        b"PARAMS",
        b"3",
        b"q",
    ]);
    assert!(
        matches!(bad, R::Error(ref e) if e.contains("PARAMS")),
        "{bad:?}"
    );
    let unknown = c.cmd("FT.HYBRID nosuch SEARCH red VSIM @v $q");
    assert!(matches!(unknown, R::Error(_)), "{unknown:?}");
    assert_eq!(c.cmd("PING"), R::Simple("PONG".into()));
}
