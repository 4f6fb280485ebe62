//! Recommendations from recent activity on the shipped sample: the 2,000 packages are
//! the catalogue, users browse a few of them, and each gets the packages nearest to
//! the mean of what they viewed, leaving out what they have seen.
//!
//! ```text
//! cargo run --release -p strata --example recommendations
//! ```
//!
//! In Redis this is `LPUSH session:<user> <item>`, `LTRIM session:<user> 0 19`,
//! `EXPIRE session:<user> 3600` per view, then `HMGET` of the viewed items' vectors,
//! an average in the client and an `FT.SEARCH ... =>[KNN ...]` whose results the
//! client filters; here it is `Sessions::record` and `Sessions::recommend`.

mod sample;

use std::thread;
use std::time::Duration;

use sample::{clip, section, Outcome, Package, TempDb, DIM};
use strata::recommend::{SessionOptions, Sessions};
use strata::{Database, Doc, Filter, Metric, Schema, VectorIndex};

fn main() -> Outcome<()> {
    let packages = sample::packages()?;
    let dir = TempDb::new("recommendations");
    let db = Database::open(&dir.0)?;

    section("catalogue");
    let catalogue = db.create_collection(
        "packages",
        Schema::builder()
            .text("name")
            .text("summary")
            .tag("topic")
            .numeric("popularity")
            .vector("embedding", DIM, Metric::Cosine, VectorIndex::hnsw(16, 200))
            .build()?,
    )?;
    catalogue.upsert_many(packages.iter().map(|p| {
        (
            p.key.clone(),
            Doc::new()
                .text("name", p.name.as_str())
                .text("summary", p.summary.as_str())
                .tag("topic", p.topic.as_str())
                .numeric("popularity", p.popularity)
                .vector("embedding", p.embedding.as_slice()),
        )
    }))?;
    println!("{} packages", catalogue.len()?);

    section("sessions");
    let options = SessionOptions {
        max_items: 20,
        ttl: Some(Duration::from_secs(3600)),
    };
    let sessions = Sessions::open(&db, "sessions", &catalogue, "embedding", options)?;
    // Alice browses database packages, Bob command-line tools.
    let browse = |user: &str, topic: &str| -> Outcome<()> {
        for package in packages.iter().filter(|p| has_topic(p, topic)).take(4) {
            sessions.record(user, &package.key)?;
        }
        Ok(())
    };
    browse("alice", "database")?;
    browse("bob", "cli")?;
    for user in ["alice", "bob"] {
        println!("{user} viewed (newest first):");
        for key in sessions.recent(user)? {
            let package = packages
                .iter()
                .find(|p| p.key == key)
                .ok_or("unknown key")?;
            println!("    {:<28} {}", package.name, clip(&package.summary, 44));
        }
    }

    section("recommend");
    for user in ["alice", "bob"] {
        println!("for {user}:");
        for hit in sessions.recommend(user, 5, None)? {
            println!(
                "    {:.3}  {:<28} {}",
                hit.distance,
                hit.doc.get_text("name").unwrap_or_default(),
                clip(hit.doc.get_text("summary").unwrap_or_default(), 40)
            );
        }
    }
    let popular = Filter::range("popularity", 1.0..);
    println!("for alice, only ranked packages ({popular}):");
    for hit in sessions.recommend("alice", 3, Some(popular))? {
        println!(
            "    {:.3}  {:<28} popularity {}",
            hit.distance,
            hit.doc.get_text("name").unwrap_or_default(),
            hit.doc.get_numeric("popularity").unwrap_or_default()
        );
    }

    section("concurrent records");
    // Four threads record 50 views each for one user at once: none is lost.
    let wide = SessionOptions {
        max_items: 200,
        ttl: None,
    };
    let shared = Sessions::open(&db, "sessions", &catalogue, "embedding", wide)?;
    thread::scope(|scope| {
        for thread in 0..4 {
            let shared = &shared;
            let packages = &packages;
            scope.spawn(move || {
                for package in packages.iter().skip(thread * 50).take(50) {
                    shared.record("carol", &package.key).expect("record");
                }
            });
        }
    });
    println!(
        "carol's session holds {} views",
        shared.recent("carol")?.len()
    );
    println!("forget(carol): {}", shared.forget("carol")?);
    Ok(())
}

fn has_topic(package: &Package, topic: &str) -> bool {
    package.topic.split(',').any(|t| t == topic)
}
