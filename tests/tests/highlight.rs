//! HIGHLIGHT and SUMMARIZE through the public API. The expected strings are what
//! Redis Stack 7.4 (RediSearch 2.10) returns for the same documents and queries.

use strata::{Collection, Database, Doc, Error, Schema};

fn body() -> String {
    "The quick brown fox jumps over the lazy dog. ".repeat(3)
        + &"Nothing to see here at all, just filler words padding the text out further and further. "
            .repeat(4)
        + "Running foxes are fast; a fox runs home.  Done."
}

fn collection(db: &Database) -> Collection {
    let docs = db
        .create_collection(
            "docs",
            Schema::builder()
                .text("title")
                .text("body")
                .tag("tag")
                .build()
                .unwrap(),
        )
        .unwrap();
    docs.upsert(
        "d:1",
        Doc::new()
            .text("title", "Foxes and dogs")
            .text("body", body())
            .tag("tag", "x"),
    )
    .unwrap();
    docs.upsert(
        "d:2",
        Doc::new()
            .text("title", "Hello world")
            .text("body", "hello   world\tagain and again")
            .tag("tag", "y"),
    )
    .unwrap();
    docs
}

fn field(docs: &Collection, query: &str, args: &[&str], name: &str) -> String {
    let hits = docs.query(query).args(args.iter().copied()).run().unwrap();
    assert_eq!(hits.len(), 1, "{query} {args:?}");
    hits[0].doc.get_text(name).unwrap().to_string()
}

#[test]
fn highlight_wraps_every_matched_word_and_its_stemmed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let docs = collection(&db);
    assert_eq!(
        field(&docs, "fox", &["HIGHLIGHT"], "title"),
        "<b>Foxes</b> and dogs"
    );
    let highlighted = field(&docs, "fox", &["HIGHLIGHT"], "body");
    assert_eq!(highlighted.matches("<b>fox</b>").count(), 4);
    assert!(highlighted.ends_with("Running <b>foxes</b> are fast; a <b>fox</b> runs home.  Done."));
    assert_eq!(highlighted.replace("<b>", "").replace("</b>", ""), body());
    assert_eq!(
        field(
            &docs,
            "foxes dogs",
            &["HIGHLIGHT", "TAGS", "[", "]"],
            "title"
        ),
        "[Foxes] and [dogs]"
    );
    // Stems match: `runs` marks `Running`; only the named field changes.
    let runs = docs
        .query("runs")
        .args(["HIGHLIGHT", "FIELDS", "1", "body"])
        .run()
        .unwrap();
    assert!(runs[0]
        .doc
        .get_text("body")
        .unwrap()
        .ends_with("<b>Running</b> foxes are fast; a fox <b>runs</b> home.  Done."));
    assert_eq!(runs[0].doc.get_text("title"), Some("Foxes and dogs"));
    // Prefix and fuzzy words are not marked (nor are they in RediSearch 2.10).
    assert_eq!(
        field(&docs, "fo*", &["HIGHLIGHT"], "title"),
        "Foxes and dogs"
    );
    assert_eq!(
        field(&docs, "%fax%", &["HIGHLIGHT"], "title"),
        "Foxes and dogs"
    );
    // Without a text match nothing changes.
    assert_eq!(
        field(&docs, "@tag:{y}", &["HIGHLIGHT"], "body"),
        "hello   world\tagain and again"
    );
}

#[test]
fn summarize_keeps_the_best_fragments_in_text_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let docs = collection(&db);
    assert_eq!(
        field(&docs, "fox", &["SUMMARIZE"], "body"),
        "quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. \
         The quick brown fox jumps over the lazy dog... padding the text out further and \
         further. Running foxes are fast; a fox runs home. Done... "
    );
    assert_eq!(
        field(&docs, "fox", &["SUMMARIZE"], "title"),
        "Foxes and... "
    );
    assert_eq!(
        field(&docs, "fox", &["SUMMARIZE", "HIGHLIGHT"], "body"),
        "quick brown <b>fox</b> jumps over the lazy dog. The quick brown <b>fox</b> jumps over \
         the lazy dog. The quick brown <b>fox</b> jumps over the lazy dog... padding the text \
         out further and further. Running <b>foxes</b> are fast; a <b>fox</b> runs home. Done... "
    );
    // Two distinct word forms outscore three of one.
    assert_eq!(
        field(
            &docs,
            "fox",
            &[
                "SUMMARIZE",
                "FRAGS",
                "1",
                "LEN",
                "5",
                "HIGHLIGHT",
                "TAGS",
                "[",
                "]"
            ],
            "body"
        ),
        "Running [foxes] are fast; a [fox] runs home... "
    );
    // A word matched in one field is marked in the others too. (RediSearch applies
    // the title's word positions to the body's offsets, and keeps only the last
    // fragment; see README "Differences from Redis".)
    assert_eq!(
        field(
            &docs,
            "@title:fox",
            &["SUMMARIZE", "FIELDS", "1", "body"],
            "body"
        ),
        field(&docs, "fox", &["SUMMARIZE"], "body")
    );
    assert_eq!(
        field(&docs, "hello", &["SUMMARIZE", "LEN", "2"], "body"),
        "hello ... "
    );
    assert_eq!(
        field(
            &docs,
            "hello",
            &["SUMMARIZE", "SEPARATOR", " | ", "LEN", "2"],
            "title"
        ),
        "Hello  | "
    );
    // Without a match SUMMARIZE keeps the head, less its last word, spaces collapsed.
    assert_eq!(
        field(&docs, "@tag:{y}", &["SUMMARIZE"], "body"),
        "hello world again and"
    );
    assert_eq!(field(&docs, "@tag:{y}", &["SUMMARIZE"], "title"), "Hello");
    // ...but with HIGHLIGHT too, it leaves the field alone.
    assert_eq!(
        field(&docs, "@tag:{y}", &["SUMMARIZE", "HIGHLIGHT"], "body"),
        "hello   world\tagain and again"
    );
    // The stored document is untouched.
    assert_eq!(
        docs.get("d:1").unwrap().unwrap().get_text("body"),
        Some(body().as_str())
    );
}

#[test]
fn bad_highlight_and_summarize_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let docs = collection(&db);
    let run = |args: &[&str]| docs.query("fox").args(args.iter().copied()).run();
    assert!(matches!(
        run(&["SUMMARIZE", "FIELDS", "1", "nosuch"]),
        Err(Error::UnknownField { ref field, .. }) if field == "nosuch"
    ));
    assert!(matches!(
        run(&["HIGHLIGHT", "FIELDS", "1", "tag"]),
        Err(Error::InvalidArgument { ref reason }) if reason.contains("TEXT")
    ));
    for args in [
        &["SUMMARIZE", "FRAGS", "0"][..],
        &["SUMMARIZE", "LEN", "-1"],
        &["HIGHLIGHT", "TAGS", "<i>"],
        &["HIGHLIGHT", "FIELDS", "0"],
        &["SUMMARIZE", "SEPARATOR"],
    ] {
        assert!(
            matches!(run(args), Err(Error::InvalidQuery { .. })),
            "{args:?}"
        );
    }
}
