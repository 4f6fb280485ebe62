//! `strata::cache::SemanticCache` on real embeddings: hit and miss rates at a
//! threshold beside an exact scan's, and the latency of `check`.
//!
//! ```text
//! cargo run --release -p strata-bench --bin cache -- --data DIR [--entries 50000]
//!     [--threshold 0.1] [--ttl-secs 0] [--self-queries 1000] [--db DIR]
//! ```
//!
//! `DIR` holds real-pypi-50k (`base.fvecs`, `query.fvecs`, `gt.ivecs`). The first
//! `--entries` base rows are stored as the cache's prompts (HNSW, M 16,
//! EF_CONSTRUCTION 200, the cache's lookup EF_RUNTIME 64), then sealed with a flush.
//! Two sets of lookups, one thread, after one warm-up pass each:
//!
//! - **stored prompts** (every `entries / self-queries`-th row): each must hit its own
//!   entry; the share that does is reported.
//! - **dev queries** (all of `query.fvecs`, none of them stored): a hit is right when
//!   the exact nearest stored prompt lies within the threshold too (from `gt.ivecs`
//!   when the whole base is stored, by a scan otherwise); the report gives the cache's
//!   hit rate, the exact hit rate, and the hits the graph search missed.
//!
//! Latency is `check` per call (p50, p99), with the TTL refresh a hit writes when
//! `--ttl-secs` is not 0 (RedisVL's default is no TTL).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use strata::cache::{CacheOptions, SemanticCache};
use strata::{Database, Options};
use strata_bench::fvecs;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    1.0 - dot / (na * nb)
}

type Outcome<T> = Result<T, Box<dyn std::error::Error>>;

/// The timed pass over a set of lookups.
struct Pass {
    /// Per lookup, sorted.
    latencies: Vec<Duration>,
    /// Per lookup in order, the row of the prompt it hit (the prompts are `p<row>`).
    hits: Vec<Option<usize>>,
}

/// Runs `check` for each query twice: a warm-up, then the timed pass.
fn run(cache: &SemanticCache, queries: &[&[f32]]) -> Outcome<Pass> {
    for query in queries {
        cache.check(query, None)?;
    }
    let mut latencies = Vec::with_capacity(queries.len());
    let mut hits = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        let found = cache.check(query, None)?;
        latencies.push(started.elapsed());
        hits.push(match found.first() {
            Some(hit) => Some(hit.prompt[1..].parse()?),
            None => None,
        });
    }
    latencies.sort();
    Ok(Pass { latencies, hits })
}

fn main() -> Outcome<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = PathBuf::from(flag(&args, "--data", String::new()));
    let entries: usize = flag(&args, "--entries", 50_000);
    let threshold: f32 = flag(&args, "--threshold", 0.1);
    let ttl_secs: u64 = flag(&args, "--ttl-secs", 0);
    let self_queries: usize = flag(&args, "--self-queries", 1_000);
    let base = fvecs::read_fvecs(&data.join("base.fvecs"), Some(entries))?;
    let queries = fvecs::read_fvecs(&data.join("query.fvecs"), None)?;
    let truth = fvecs::read_ivecs(&data.join("gt.ivecs"), None)?;
    let entries = base.len();

    let scratch = tempfile::tempdir()?;
    let path = match args.iter().position(|a| a == "--db") {
        Some(i) => PathBuf::from(&args[i + 1]),
        None => scratch.path().join("db"),
    };
    let db = Database::open_with(&path, Options::default())?;
    let mut options = CacheOptions::new(base.dim()).distance_threshold(threshold);
    if ttl_secs > 0 {
        options = options.ttl(Duration::from_secs(ttl_secs));
    }
    let cache = SemanticCache::open(&db, "llmcache", options)?;
    if cache.len()? != entries {
        let started = Instant::now();
        for (row, vector) in base.rows().enumerate() {
            cache.store(&format!("p{row}"), vector, "response", None)?;
        }
        db.flush()?;
        println!(
            "stored {entries} entries and flushed in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let step = (entries / self_queries.max(1)).max(1);
    let stored: Vec<usize> = (0..entries).step_by(step).collect();
    let stored_vectors: Vec<&[f32]> = stored.iter().map(|&row| base.row(row)).collect();
    let Pass {
        latencies: stored_latency,
        hits: stored_hits,
    } = run(&cache, &stored_vectors)?;
    let own = stored
        .iter()
        .zip(&stored_hits)
        .filter(|(row, hit)| **hit == Some(**row))
        .count();

    let dev: Vec<&[f32]> = queries.rows().collect();
    let Pass {
        latencies: dev_latency,
        hits: dev_hits,
    } = run(&cache, &dev)?;
    let exact_nearest = |q: usize| -> f32 {
        let whole_base = entries == 50_000 && truth.len() == queries.len();
        if whole_base {
            cosine_distance(queries.row(q), base.row(truth.row(q)[0] as usize))
        } else {
            base.rows()
                .map(|row| cosine_distance(queries.row(q), row))
                .fold(f32::INFINITY, f32::min)
        }
    };
    let (mut exact_hits, mut cache_hits, mut missed, mut wrong) = (0, 0, 0, 0);
    for (q, hit) in dev_hits.iter().enumerate() {
        let exact = exact_nearest(q) <= threshold;
        exact_hits += usize::from(exact);
        cache_hits += usize::from(hit.is_some());
        missed += usize::from(exact && hit.is_none());
        if let Some(row) = hit {
            // A hit must lie within the threshold whatever the exact nearest is.
            wrong += usize::from(cosine_distance(queries.row(q), base.row(*row)) > threshold);
        }
    }
    let n = dev.len() as f64;
    println!(
        "entries {entries}, threshold {threshold}, ttl {}",
        if ttl_secs > 0 {
            format!("{ttl_secs} s (a hit refreshes it)")
        } else {
            "none".into()
        }
    );
    println!(
        "stored prompts: {own} of {} hit their own entry ({:.2}%); check p50 {:.0} us, p99 {:.0} us",
        stored.len(),
        100.0 * own as f64 / stored.len() as f64,
        percentile(&stored_latency, 0.5),
        percentile(&stored_latency, 0.99)
    );
    println!(
        "dev queries: {} hit ({:.1}%), {} miss ({:.1}%); exact scan: {} hit ({:.1}%); \
         hits the graph missed: {missed}; hits outside the threshold: {wrong}; \
         check p50 {:.0} us, p99 {:.0} us",
        cache_hits,
        100.0 * cache_hits as f64 / n,
        dev.len() - cache_hits,
        100.0 * (dev.len() - cache_hits) as f64 / n,
        exact_hits,
        100.0 * exact_hits as f64 / n,
        percentile(&dev_latency, 0.5),
        percentile(&dev_latency, 0.99)
    );
    Ok(())
}
