//! An LLM semantic cache (RedisVL's `SemanticCache`) on the shipped sample: the 2,000
//! package summaries play the prompts already answered, the five sample queries play
//! new prompts.
//!
//! ```text
//! cargo run --release -p strata --example semantic_cache
//! ```
//!
//! It stores every prompt with its "response", looks each stored prompt up again (a
//! stored prompt hits itself), looks up the five new prompts at the default threshold
//! of 0.1 and at a looser one, narrows a lookup with a filter, shows the TTL a hit
//! refreshes, then drops one entry and clears the cache.

mod sample;

use std::time::{Duration, Instant};

use sample::{clip, section, Outcome, TempDb, DIM};
use strata::cache::{CacheOptions, CheckOptions, SemanticCache, StoreOptions};
use strata::{Database, Doc, Filter};

fn main() -> Outcome<()> {
    let packages = sample::packages()?;
    let queries = sample::queries()?;
    let dir = TempDb::new("semantic-cache");
    let db = Database::open(&dir.0)?;

    section("open");
    // RedisVL: SemanticCache(name="llmcache", distance_threshold=0.1, ttl=3600,
    //          filterable_fields=[{"name": "topic", "type": "tag"}])
    let options = CacheOptions::new(DIM)
        .distance_threshold(0.1)
        .ttl(Duration::from_secs(3600))
        .tag("topic");
    let cache = SemanticCache::open(&db, "llmcache", options)?;
    println!(
        "cache `{}`: threshold {}, ttl {:?}, HNSW over the prompt vectors",
        cache.name(),
        cache.distance_threshold(),
        cache.ttl()
    );

    section("store");
    let started = Instant::now();
    for package in &packages {
        let prompt = format!("{}: {}", package.name, package.summary);
        let response = format!("Try the `{}` package.", package.name);
        let options = StoreOptions {
            metadata: Some(format!(r#"{{"source":"{}"}}"#, package.key)),
            filters: Doc::new().tag("topic", package.topic.as_str()),
            ttl: None,
        };
        cache.store_with(&prompt, &package.embedding, &response, options)?;
    }
    println!(
        "stored {} prompts in {:.0} ms",
        cache.len()?,
        started.elapsed().as_secs_f64() * 1e3
    );

    section("a stored prompt hits itself");
    let self_hits = |cache: &SemanticCache| -> Outcome<usize> {
        let mut hits = 0;
        for package in &packages {
            if let Some(hit) = cache.check(&package.embedding, None)?.first() {
                hits += usize::from(hit.response.contains(&format!("`{}`", package.name)));
            }
        }
        Ok(hits)
    };
    let started = Instant::now();
    let hits = self_hits(&cache)?;
    println!(
        "{hits} of {} stored prompts hit their own entry ({:.0} us per check, with its \
         TTL refresh)",
        packages.len(),
        started.elapsed().as_secs_f64() * 1e6 / packages.len() as f64
    );
    // The memtable's graph grows as entries arrive, and a rare entry is not reached
    // from the others yet; a flush seals the entries into a segment whose graph is
    // repaired so that every entry finds itself.
    db.flush()?;
    println!(
        "after db.flush(): {} of {} (from a sealed segment)",
        self_hits(&cache)?,
        packages.len()
    );

    section("new prompts");
    for query in &queries {
        let hit = cache.check(&query.embedding, None)?;
        // The three nearest entries within 0.5, to show how far the cache was.
        let near = cache.check_with(
            &query.embedding,
            CheckOptions {
                num_results: 3,
                distance_threshold: Some(0.5),
                filter: None,
            },
        )?;
        let verdict = match hit.first() {
            Some(hit) => format!("HIT  {:.3} -> {}", hit.distance, hit.response),
            None => "MISS at 0.1: call the LLM, then store its answer".to_string(),
        };
        println!("{}\n    {verdict}", clip(&query.text, 70));
        for entry in &near {
            println!(
                "      within 0.5: {:.3}  {}",
                entry.distance,
                clip(&entry.prompt, 56)
            );
        }
    }

    section("filtered lookup");
    let query = &queries[0];
    let filter = Filter::tag("topic", ["ai"]);
    let options = CheckOptions {
        num_results: 2,
        distance_threshold: Some(0.6),
        filter: Some(filter.clone()),
    };
    for hit in cache.check_with(&query.embedding, options)? {
        println!(
            "{filter}  {:.3}  {}  {}",
            hit.distance,
            clip(&hit.prompt, 44),
            hit.metadata.unwrap_or_default()
        );
    }

    section("ttl, drop, clear");
    let first = &packages[0];
    let hit = cache.check(&first.embedding, None)?.remove(0);
    println!(
        "after a hit, `{}` lives {:?} more",
        hit.key,
        cache.collection().ttl(&hit.key)?
    );
    println!(
        "drop({}) removed {}",
        hit.key,
        cache.drop(&[hit.key.as_str()])?
    );
    println!(
        "the same prompt now: {}",
        if cache.check(&first.embedding, None)?.is_empty() {
            "MISS"
        } else {
            "HIT"
        }
    );
    println!(
        "clear() removed {} entries; {} left",
        cache.clear()?,
        cache.len()?
    );
    Ok(())
}
