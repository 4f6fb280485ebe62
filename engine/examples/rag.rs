//! A retrieval-augmented generation (RAG) document store on the shipped sample: the
//! 2,000 package summaries are the chunks, spread over three tenants and two sources,
//! each with a creation time. Retrieval is the query a RedisVL / LangChain RAG app
//! sends to Redis: tenant and source tags, a created_at range, KNN, RETURN, SORTBY,
//! LIMIT, with the query vector as FLOAT32 bytes.
//!
//! ```text
//! cargo run --release -p strata --example rag
//! ```
//!
//! It ingests, counts a tenant's chunks, retrieves context for the five sample
//! queries and prints the prompt an LLM would get, retrieves again with keywords (the
//! query's words as a full-text pre-filter of the KNN, and ranked by BM25 alone), then
//! removes one source of one tenant (a scan by key prefix and filter, then one
//! `delete_many`).

mod sample;

use sample::{clip, section, Outcome, TempDb, DIM};
use strata::{Database, Doc, Filter, Metric, Param, Schema, VectorIndex};

const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// Seconds since the Unix epoch at the start of `year` (close enough for a demo:
/// 365.25-day years).
fn start_of(year: f64) -> f64 {
    ((year - 1970.0) * 365.25 * 86_400.0).round()
}

fn main() -> Outcome<()> {
    let packages = sample::packages()?;
    let queries = sample::queries()?;
    let dir = TempDb::new("rag");
    let db = Database::open(&dir.0)?;

    section("ingest");
    // FT.CREATE chunks ON HASH PREFIX 1 chunk: SCHEMA content TEXT tenant TAG
    //   source TAG created_at NUMERIC embedding VECTOR HNSW 6 TYPE FLOAT32 DIM 384
    //   DISTANCE_METRIC COSINE
    let chunks = db.create_collection(
        "chunks",
        Schema::builder()
            .text("content")
            .tag("tenant")
            .tag("source")
            .numeric("created_at")
            .vector("embedding", DIM, Metric::Cosine, VectorIndex::hnsw(16, 200))
            .build()?,
    )?;
    let docs = packages.iter().enumerate().map(|(i, p)| {
        let tenant = TENANTS[i % TENANTS.len()];
        let source = if p.popularity > 0.0 { "docs" } else { "forum" };
        let mut doc = Doc::new()
            .text("content", format!("{}: {}", p.name, p.summary))
            .tag("tenant", tenant)
            .tag("source", source)
            .vector("embedding", p.embedding.as_slice());
        if let Some(year) = p.year {
            doc = doc.numeric("created_at", start_of(year));
        }
        (format!("chunk:{tenant}:{}", p.key), doc)
    });
    chunks.upsert_many(docs)?;
    for tenant in TENANTS {
        let total = chunks.count(&Filter::tag("tenant", [tenant]))?;
        let docs =
            chunks.count(&Filter::tag("tenant", [tenant]).and(Filter::tag("source", ["docs"])))?;
        println!("tenant {tenant:<8} {total} chunks, {docs} from `docs`");
    }

    section("retrieve");
    let since = start_of(2020.0);
    for query in &queries {
        // What redis-py sends: the vector as little-endian FLOAT32 bytes.
        let blob: Vec<u8> = query
            .embedding
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let context = chunks
            .query(
                "(@tenant:{$tenant} @source:{$source} @created_at:[$since +inf])=>[KNN 3 @embedding $vec AS score]",
            )
            .param("tenant", "acme")
            .param("source", "forum")
            .param("since", since)
            .param("vec", Param::from_f32_le_bytes(&blob)?)
            .args([
                "RETURN", "2", "content", "score", "SORTBY", "score", "LIMIT", "0", "3", "DIALECT",
                "2",
            ])
            .run()?;
        println!("question: {}", query.text);
        println!("  prompt: Answer from this context only.");
        for hit in &context {
            println!(
                "    [{:.3}] {}",
                hit.distance,
                clip(hit.doc.get_text("content").unwrap_or_default(), 70)
            );
        }
    }

    section("keywords and vectors");
    for query in queries.iter().take(2) {
        // The seeds' form: a text predicate and a tag filter, then KNN over what they
        // match (no outer parentheses needed).
        let mut words: Vec<&str> = Vec::new();
        for word in query.text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if word.len() > 3 && !words.contains(&word) {
                words.push(word);
            }
        }
        let keywords = format!("@content:({}) @tenant:{{acme}}", words.join("|"));
        let hybrid = chunks
            .query(&format!("{keywords}=>[KNN 3 @embedding $vec AS score]"))
            .param("vec", query.embedding.as_slice())
            .args(["RETURN", "2", "content", "score", "SORTBY", "score"])
            .run()?;
        println!("question: {}", query.text);
        println!("  KNN among chunks matching {keywords}:");
        for hit in &hybrid {
            println!(
                "    [{:.3}] {}",
                hit.distance,
                clip(hit.doc.get_text("content").unwrap_or_default(), 70)
            );
        }
        // The same words ranked by BM25 alone (FT.SEARCH ... WITHSCORES).
        let ranked = chunks
            .query(&keywords)
            .args(["WITHSCORES", "RETURN", "1", "content", "LIMIT", "0", "3"])
            .run()?;
        println!("  BM25 alone:");
        for hit in &ranked {
            println!(
                "    [{:.2}] {}",
                hit.score.unwrap_or_default(),
                clip(hit.doc.get_text("content").unwrap_or_default(), 70)
            );
        }
    }

    section("one source of one tenant");
    let filter = Filter::tag("source", ["forum"]);
    let doomed: Vec<String> = chunks
        .scan("chunk:initech:", &filter)?
        .collect::<strata::Result<_>>()?;
    println!(
        "removing {} `forum` chunks of initech in one delete_many: {} removed",
        doomed.len(),
        chunks.delete_many(&doomed)?
    );
    println!(
        "initech now {} chunks, none from `forum`: {}",
        chunks.count(&Filter::tag("tenant", ["initech"]))?,
        chunks.count(&Filter::tag("tenant", ["initech"]).and(filter))? == 0
    );
    Ok(())
}
