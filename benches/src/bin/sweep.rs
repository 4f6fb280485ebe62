//! Selectivity sweep: latency and recall of filtered k-NN from 0.1% to 100% of rows
//! matching, with the planner's choice beside forced exact search (`HYBRID_POLICY
//! ADHOC_BF`) and forced graph traversal (`BATCHES`). This is the measurement behind
//! the planner's threshold.
//!
//! ```text
//! cargo run --release -p strata-bench --bin sweep -- [--n 100000] [--dim 128]
//!     [--queries 200] [--m 16] [--ef-construction 200] [--ef 64] [--db DIR]
//! ```
//!
//! Data: `n` vectors around 100 Gaussian-ish centres (seeded), and a NUMERIC field `u`
//! uniform in [0, 1) drawn independently, so `@u:[0 (s]` matches a fraction `s` of
//! rows spread over the whole vector space. Truth: the exact filtered top-10 from a
//! FLAT twin collection.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use strata::{Collection, Database, Doc, Metric, Options, Schema, VectorIndex};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn centred(&mut self) -> f32 {
        // Sum of three uniforms: a cheap bell shape.
        (self.unit() + self.unit() + self.unit()) / 1.5 - 1.0
    }
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n = flag(&args, "--n", 100_000);
    let dim = flag(&args, "--dim", 128);
    let queries = flag(&args, "--queries", 200);
    let m = flag(&args, "--m", 16);
    let ef_construction = flag(&args, "--ef-construction", 200);
    let ef = flag(&args, "--ef", 64);
    let k = 10;
    let keep = args
        .iter()
        .position(|a| a == "--db")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let temporary = tempfile::tempdir()?;
    let path = keep
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temporary.path().join("db"));

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let centres: Vec<Vec<f32>> = (0..100)
        .map(|_| (0..dim).map(|_| rng.centred()).collect())
        .collect();
    let point = |rng: &mut Rng| -> Vec<f32> {
        let centre = &centres[(rng.next() % 100) as usize];
        centre.iter().map(|c| c + 0.35 * rng.centred()).collect()
    };

    let options = Options {
        background_work: false,
        memtable_rows_max: n + 1,
        ..Options::default()
    };
    let db = Database::open_with(&path, options)?;
    let (graph, exact) = match (db.collection("graph"), db.collection("exact")) {
        (Ok(graph), Ok(exact)) if graph.len()? == n => (graph, exact),
        _ => {
            let schema = |index| {
                Schema::builder()
                    .numeric("u")
                    .vector("v", dim, Metric::L2, index)
                    .build()
            };
            let graph =
                db.create_collection("graph", schema(VectorIndex::hnsw(m, ef_construction))?)?;
            let exact = db.create_collection("exact", schema(VectorIndex::flat())?)?;
            let clock = Instant::now();
            for start in (0..n).step_by(5_000) {
                let batch: Vec<(String, Doc)> = (start..(start + 5_000).min(n))
                    .map(|i| {
                        (
                            i.to_string(),
                            Doc::new()
                                .numeric("u", rng.unit() as f64)
                                .vector("v", point(&mut rng)),
                        )
                    })
                    .collect();
                graph.upsert_many(batch.clone())?;
                exact.upsert_many(batch)?;
            }
            let ingested = clock.elapsed();
            let clock = Instant::now();
            db.flush()?;
            eprintln!("sweep: {n} x {dim} ingested twice in {ingested:.1?}, flushed (HNSW M={m} EFC={ef_construction} built) in {:.1?}", clock.elapsed());
            (graph, exact)
        }
    };
    let query_vectors: Vec<Vec<f32>> = (0..queries).map(|_| point(&mut rng)).collect();

    println!("n={n} dim={dim} k={k} EF_RUNTIME={ef} M={m} EF_CONSTRUCTION={ef_construction}, {queries} queries, one thread");
    println!(
        "{:>9} {:>9} | {:>16} {:>8} {:>9} {:>7} | {:>8} {:>9} {:>7} | {:>8} {:>9} {:>7}",
        "select.",
        "matches",
        "planner",
        "recall",
        "p50_us",
        "min_k",
        "exact",
        "p50_us",
        "min_k",
        "graph",
        "p50_us",
        "min_k"
    );
    for selectivity in [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0] {
        let filter = format!("@u:[0 ({selectivity}]");
        let request = |_: &[f32], policy: &str| {
            format!("({filter})=>[KNN {k} @v $vec EF_RUNTIME {ef}{policy}]")
        };
        let truth: Vec<Vec<String>> = query_vectors
            .iter()
            .map(|q| keys(&exact, &request(q, ""), q))
            .collect::<Result<_, _>>()?;
        let matches = exact
            .query(&filter)
            .args(["LIMIT", "0", "0"])
            .explain()?
            .sources
            .iter()
            .map(|s| s.matching_rows)
            .sum::<u64>();
        let plan = graph
            .query(&request(&[], ""))
            .param("vec", query_vectors[0].clone())
            .explain()?;
        let chosen = format!("{:?}", plan.sources.first().map(|s| s.strategy));
        let mut row = format!("{:>8.1}% {matches:>9} |", selectivity * 100.0);
        for (label, policy) in [
            (chosen.as_str(), ""),
            ("", " HYBRID_POLICY ADHOC_BF"),
            ("", " HYBRID_POLICY BATCHES"),
        ] {
            let (recall, p50, fewest) =
                measure(&graph, &query_vectors, &truth, |q| request(q, policy))?;
            let shown = label.replace("Some(", "").replace(')', "");
            row += &format!(
                " {shown:>16} {recall:>8.4} {:>9.1} {fewest:>7} |",
                p50.as_secs_f64() * 1e6
            );
        }
        println!("{}", row.trim_end_matches(" |"));
    }
    Ok(())
}

fn keys(
    collection: &Collection,
    query: &str,
    vector: &[f32],
) -> Result<Vec<String>, strata::Error> {
    Ok(collection
        .query(query)
        .param("vec", vector.to_vec())
        .args(["NOCONTENT"])
        .run()?
        .into_iter()
        .map(|hit| hit.key)
        .collect())
}

fn measure(
    collection: &Collection,
    queries: &[Vec<f32>],
    truth: &[Vec<String>],
    request: impl Fn(&[f32]) -> String,
) -> Result<(f64, Duration, usize), strata::Error> {
    let mut latencies = Vec::with_capacity(queries.len());
    let mut recall = 0.0;
    let mut fewest = usize::MAX;
    for (query, expected) in queries.iter().zip(truth) {
        let text = request(query);
        let clock = Instant::now();
        let got = keys(collection, &text, query)?;
        latencies.push(clock.elapsed());
        let expected_set: HashSet<&String> = expected.iter().collect();
        recall += got.iter().filter(|key| expected_set.contains(key)).count() as f64
            / expected.len().max(1) as f64;
        fewest = fewest.min(got.len());
    }
    latencies.sort();
    Ok((
        recall / queries.len() as f64,
        latencies[latencies.len() / 2],
        fewest,
    ))
}
