//! VECTOR_RANGE latency and recall: an HNSW field (the graph walk) beside a FLAT twin
//! (the exact scan every VECTOR_RANGE did before the walk existed: the same code
//! path, measuring every live row of each segment).
//!
//! ```text
//! cargo run --release -p strata-bench --bin range -- --data DIR [--rows 50000]
//!     [--queries 200] [--epsilon 0.01] [--m 16] [--ef-construction 200] [--db DIR]
//!     [--self-query]
//! ```
//!
//! `DIR` holds a TexMex `base.fvecs` of unit vectors (real-pypi-50k). Queries are base
//! rows spread evenly over the set; each query's radius is chosen from the exact
//! distances so that it takes between 10 and 100 rows (cycling through that span)
//! and lies mid-way in a gap between two distances. Recall is the share of the exact
//! rows returned, summed over the queries; latency is per query, one thread, after
//! one warm-up pass. `--db` keeps the database (and reuses it when it holds the rows).
//! `--self-query` first searches every stored row by its own vector (KNN 1,
//! EF_RUNTIME 64, through the graph) and counts the rows that do not come back.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use strata::{Collection, Database, Doc, Metric, Options, Schema, Search, VectorIndex};
use strata_bench::fvecs;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Case {
    query: Vec<f32>,
    radius: f64,
    exact: HashSet<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data: PathBuf = flag(
        &args,
        "--data",
        PathBuf::from("../shared/data/real-pypi-50k"),
    );
    let rows: usize = flag(&args, "--rows", 50_000);
    let queries: usize = flag(&args, "--queries", 200);
    let epsilon: f64 = flag(&args, "--epsilon", 0.01);
    let m: usize = flag(&args, "--m", 16);
    let ef_construction: usize = flag(&args, "--ef-construction", 200);

    let base = fvecs::read_fvecs(&data.join("base.fvecs"), Some(rows))?;
    let (n, dim) = (base.len(), base.dim());
    let metric = Metric::Cosine;
    let cases: Vec<Case> = (0..queries)
        .map(|j| {
            let query = base.row(j * n / queries).to_vec();
            let mut by_distance: Vec<(f32, usize)> = base
                .rows()
                .enumerate()
                .map(|(i, row)| (metric.distance(&query, row), i))
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want = 10 + 90 * j / queries;
            let cut = (want..n)
                .find(|&k| by_distance[k].0 - by_distance[k - 1].0 > 1e-5)
                .unwrap_or(n);
            let radius = match by_distance.get(cut) {
                Some(next) => (by_distance[cut - 1].0 as f64 + next.0 as f64) / 2.0,
                None => 2.0,
            };
            let exact = by_distance[..cut]
                .iter()
                .map(|(_, i)| i.to_string())
                .collect();
            Case {
                query,
                radius,
                exact,
            }
        })
        .collect();

    let temporary = tempfile::tempdir()?;
    let dir: PathBuf = flag(&args, "--db", temporary.path().to_path_buf());
    let db = Database::open_with(
        &dir,
        Options {
            background_work: false,
            ..Options::default()
        },
    )?;
    let mut collections = Vec::new();
    for (name, index) in [
        ("hnsw", VectorIndex::hnsw(m, ef_construction)),
        ("flat", VectorIndex::flat()),
    ] {
        if let Ok(docs) = db.collection(name) {
            if docs.len()? == n {
                collections.push((name, docs));
                continue;
            }
        }
        let schema = Schema::builder().vector("v", dim, metric, index).build()?;
        let docs = db.create_collection(name, schema)?;
        let start = Instant::now();
        for (chunk, rows) in base.rows().collect::<Vec<_>>().chunks(1_000).enumerate() {
            docs.upsert_many(rows.iter().enumerate().map(|(i, row)| {
                (
                    (chunk * 1_000 + i).to_string(),
                    Doc::new().vector("v", row.to_vec()),
                )
            }))?;
        }
        db.flush()?;
        println!(
            "{name}: {n} rows x {dim} ingested and flushed in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        collections.push((name, docs));
    }

    if args.iter().any(|a| a == "--self-query") {
        // Every stored row searched for by its own vector, through the graph.
        let docs = &collections[0].1;
        let start = Instant::now();
        let mut missed = Vec::new();
        for (i, row) in base.rows().enumerate() {
            let request = Search::knn("v", row, 1)
                .ef_runtime(64)
                .brute_force(false)
                .no_content();
            let hit = docs.search(&request)?.into_iter().next();
            let found = hit.is_some_and(|hit| {
                hit.key
                    .parse::<usize>()
                    .is_ok_and(|j| j == i || base.row(j) == row)
            });
            if !found {
                missed.push(i);
            }
        }
        println!(
            "self-query KNN 1 EF_RUNTIME 64: {} of {n} rows found themselves ({:.1} s); missed {missed:?}",
            n - missed.len(),
            start.elapsed().as_secs_f64()
        );
    }
    println!("queries {queries}, epsilon {epsilon}, radii taking 10-100 rows");
    for (name, docs) in &collections {
        let (recall, mut times) = run(docs, &cases, epsilon)?;
        times.sort();
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "{name}: recall {recall:.4}  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
            ms(pct(0.5)),
            ms(pct(0.9)),
            ms(pct(0.99)),
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(
    docs: &Collection,
    cases: &[Case],
    epsilon: f64,
) -> Result<(f64, Vec<Duration>), Box<dyn std::error::Error>> {
    let request = |case: &Case| {
        Search::range("v", &case.query, case.radius)
            .epsilon(epsilon)
            .limit(0, 10_000)
            .no_content()
    };
    for case in cases {
        docs.search(&request(case))?;
    }
    let (mut found, mut wanted) = (0usize, 0usize);
    let mut times = Vec::with_capacity(cases.len());
    for case in cases {
        let search = request(case);
        let start = Instant::now();
        let hits = docs.search(&search)?;
        times.push(start.elapsed());
        let got = hits.iter().filter(|h| case.exact.contains(&h.key)).count();
        found += got;
        wanted += case.exact.len();
    }
    Ok((found as f64 / wanted.max(1) as f64, times))
}
