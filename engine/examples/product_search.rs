//! Product search on the shipped sample: the 2,000 packages are products with a
//! category (their topics), a price and a rating, searched by meaning with facets,
//! filters and pages, and kept with the batch calls a catalogue needs.
//!
//! ```text
//! cargo run --release -p strata --example product_search
//! ```
//!
//! It ingests the catalogue, counts products per category (facets), runs filtered KNN
//! searches with RETURN / SORTBY / LIMIT paging, reads a basket with one `get_many`,
//! lists a key range with the `scan` cursor, puts products on a sale that expires, and
//! discontinues a category with one `delete_many`.

mod sample;

use std::collections::BTreeMap;
use std::time::Duration;

use sample::{clip, section, Outcome, TempDb, DIM};
use strata::{Database, Doc, Filter, Metric, Schema, Search, VectorIndex};

fn main() -> Outcome<()> {
    let packages = sample::packages()?;
    let queries = sample::queries()?;
    let dir = TempDb::new("product-search");
    let db = Database::open(&dir.0)?;

    section("catalogue");
    let products = db.create_collection(
        "products",
        Schema::builder()
            .text("title")
            .text("description")
            .tag("category")
            .numeric("price")
            .numeric("rating")
            .vector("embedding", DIM, Metric::Cosine, VectorIndex::hnsw(16, 200))
            .build()?,
    )?;
    // Prices and ratings are made up from the row number, so that runs agree.
    let price_of = |i: usize| 5.0 + (i * 37 % 200) as f64;
    let product = |i: usize, price: f64| -> Doc {
        let p = &packages[i];
        Doc::new()
            .text("title", p.name.as_str())
            .text("description", p.summary.as_str())
            .tag("category", p.topic.as_str())
            .numeric("price", price)
            .numeric("rating", 1.0 + (i * 13 % 5) as f64)
            .vector("embedding", p.embedding.as_slice())
    };
    products.upsert_many(
        (0..packages.len()).map(|i| (format!("product:{i:04}"), product(i, price_of(i)))),
    )?;
    println!("{} products", products.len()?);

    section("facets");
    let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
    for package in &packages {
        for topic in package.topic.split(',').filter(|t| !t.is_empty()) {
            *categories.entry(topic).or_default() += 1;
        }
    }
    for category in categories.keys().take(8) {
        let all = products.count(&Filter::tag("category", [*category]))?;
        let cheap = products
            .count(&Filter::tag("category", [*category]).and(Filter::range("price", ..50.0)))?;
        println!("{category:<12} {all:>4} products, {cheap:>3} under 50");
    }

    section("search");
    let query = &queries[3];
    println!(
        "\"{}\", rating 4+, price 20..100, page by page:",
        query.text
    );
    let filter = Filter::tag("category", ["ai", "data"])
        .and(Filter::range("rating", 4.0..))
        .and(Filter::range("price", 20.0..=100.0));
    for page in 0..2 {
        let request = Search::knn("embedding", &query.embedding, 6)
            .filter(filter.clone())
            .return_fields(["title", "price", "rating"])
            .limit(page * 3, 3);
        let results = products.search_page(&request)?;
        println!("  page {} of {} matches:", page + 1, results.total);
        for hit in &results {
            println!(
                "    {:.3}  {:<30} {:>6.2}  {}*",
                hit.distance,
                hit.doc.get_text("title").unwrap_or_default(),
                hit.doc.get_numeric("price").unwrap_or_default(),
                hit.doc.get_numeric("rating").unwrap_or_default()
            );
        }
    }
    println!("the same in the RediSearch dialect, cheapest first:");
    let hits = products
        .query("(@category:{ai|data} @rating:[4 +inf] @price:[20 100])=>[KNN 6 @embedding $vec]")
        .param("vec", query.embedding.as_slice())
        .args([
            "RETURN", "2", "title", "price", "SORTBY", "price", "ASC", "LIMIT", "0", "3",
        ])
        .run()?;
    for hit in &hits {
        println!(
            "    {:<30} {:>6.2}",
            hit.doc.get_text("title").unwrap_or_default(),
            hit.doc.get_numeric("price").unwrap_or_default()
        );
    }

    section("basket");
    let basket = ["product:0007", "product:0042", "product:9999"];
    for (key, doc) in basket.iter().zip(products.get_many(&basket)?) {
        match doc {
            Some(doc) => println!(
                "{key}  {:<28} {:>6.2}",
                doc.get_text("title").unwrap_or_default(),
                doc.get_numeric("price").unwrap_or_default()
            ),
            None => println!("{key}  (no such product)"),
        }
    }

    section("scan");
    let mut cursor = products.scan("product:01", &Filter::range("rating", 5.0..))?;
    let first = cursor.next_page(5)?;
    let rest = cursor.count();
    println!("5-star products with keys product:01..: {first:?} and {rest} more");

    section("flash sale");
    // Sale copies that vanish on their own, like SET ... EX on each key.
    let sale = (0..3).map(|i| (format!("sale:{i}"), product(i, 1.0)));
    products.upsert_many_with_ttl(sale, Duration::from_secs(15 * 60))?;
    println!(
        "sale:0 ends in {:?}; products at 1.00: {}",
        products.ttl("sale:0")?,
        products.count(&Filter::range("price", 1.0..=1.0))?
    );

    section("discontinue");
    let finance: Vec<String> = products
        .scan("product:", &Filter::tag("category", ["finance"]))?
        .collect::<strata::Result<_>>()?;
    println!(
        "discontinued {} `finance` products in one delete_many ({} listed); {} left",
        products.delete_many(&finance)?,
        finance.len(),
        products.len()?
    );
    for hit in products.search(&Search::knn("embedding", &query.embedding, 2))? {
        println!(
            "  still found: {}",
            clip(hit.doc.get_text("title").unwrap_or_default(), 40)
        );
    }
    Ok(())
}
