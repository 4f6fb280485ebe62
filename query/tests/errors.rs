//! Malformed queries fail with the byte position and what was expected there.

use strata_query::{parse_query, Limits, QueryError};

fn error(query: &str) -> QueryError {
    match parse_query(query, &Limits::default()) {
        Ok(parsed) => panic!("{query:?} parsed as {parsed:?}"),
        Err(error) => error,
    }
}

/// Asserts a syntax error at `pos` whose expectation mentions `expected`.
fn assert_syntax(query: &str, pos: usize, expected: &str, found: &str) {
    match error(query) {
        QueryError::Syntax {
            pos: at,
            expected: wanted,
            found: got,
        } => {
            assert_eq!(at, pos, "{query:?}: {wanted}");
            assert!(wanted.contains(expected), "{query:?}: {wanted}");
            assert_eq!(got, found, "{query:?}");
        }
        other => panic!("{query:?}: {other:?}"),
    }
}

fn assert_unsupported(query: &str, pos: usize) {
    match error(query) {
        QueryError::Unsupported { pos: at, .. } => assert_eq!(at, pos, "{query:?}"),
        other => panic!("{query:?}: {other:?}"),
    }
}

#[test]
fn unclosed_brackets() {
    assert_syntax(
        "@t:{a | b",
        9,
        "`}` to close the tag list opened at byte 3",
        "end of query",
    );
    assert_syntax(
        "@price:[10 20",
        13,
        "`]` to close the numeric range",
        "end of query",
    );
    assert_syntax(
        "(a b",
        4,
        "`)` to close the group opened at byte 0",
        "end of query",
    );
    assert_syntax("\"a b", 4, "`\"` to close the phrase", "end of query");
    assert_syntax(
        "*=>[KNN 10 @v $vec",
        18,
        "`]` to close the KNN clause",
        "end of query",
    );
    assert_syntax(
        "@v:[VECTOR_RANGE 1 $v",
        21,
        "`]` to close the VECTOR_RANGE",
        "end of query",
    );
}

#[test]
fn missing_or_bad_bounds() {
    assert_syntax("@price:[]", 8, "a lower bound", "`]`");
    assert_syntax("@price:[10", 10, "an upper bound", "end of query");
    assert_syntax("@price:[abc 5]", 8, "a lower bound", "`abc`");
    assert_syntax("@price:[1 5x]", 10, "an upper bound", "`5x`");
    assert_syntax("@price:[1.2.3 5]", 8, "a lower bound", "`1.2.3`");
    assert_syntax("@price:[nan 5]", 8, "a lower bound", "`nan`");
    assert_syntax(
        "@price:[1e999 5]",
        8,
        "within the range of a 64-bit float",
        "`1e999`",
    );
    assert_syntax("@price:[(5]", 10, "an upper bound", "`]`");
}

#[test]
fn junk_after_the_query() {
    assert_syntax("@t:{x} )", 7, "end of query", "`)`");
    assert_syntax("@t:{x} ]", 7, "end of query", "`]`");
    assert_syntax("hello . world", 6, "end of query", "`.`");
    assert_syntax(
        "*=>[KNN 3 @v $q] more",
        17,
        "end of query after the KNN clause",
        "`more`",
    );
    assert_syntax("a =", 2, "end of query", "`=`");
    assert_syntax("a => b", 5, "`[` to open a KNN clause", "`b`");
}

#[test]
fn knn_mistakes() {
    assert_syntax(
        "*=>[KNN 10 $vec]",
        11,
        "`@field` naming the vector field",
        "`$vec`",
    );
    assert_syntax(
        "*=>[KNN 1 @v $vec EF_RUNTIME 0]",
        29,
        "EF_RUNTIME of at least 1",
        "`0`",
    );
    assert_syntax("*=>[KNN ten @v $vec]", 8, "a whole number", "`ten`");
    assert_syntax("*=>[KNN 1.5 @v $vec]", 8, "a whole number", "`1.5`");
    assert_syntax("*=>[KNN -3 @v $vec]", 8, "a whole number", "`-3`");
    assert_syntax(
        "*=>[KNN 10 @v vec]",
        14,
        "`$parameter` holding the query vector",
        "`vec`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $vec FOO 3]",
        19,
        "EF_RUNTIME, HYBRID_POLICY",
        "`FOO`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $vec EPSILON 0.1]",
        19,
        "EF_RUNTIME",
        "`EPSILON`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $vec AS d EF_RUNTIME 5]",
        24,
        "AS comes last",
        "`EF_RUNTIME`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $v EF_RUNTIME 1 EF_RUNTIME 2]",
        30,
        "at most once",
        "`EF_RUNTIME`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $v HYBRID_POLICY FAST]",
        31,
        "ADHOC_BF or BATCHES",
        "`FAST`",
    );
    assert_syntax(
        "*=>[KNN 10 @v $v AS d]=>{$YIELD_DISTANCE_AS: e}",
        25,
        "at most once",
        "`$YIELD_DISTANCE_AS`",
    );
    assert_syntax("*=>[TOP 10 @v $v]", 4, "`KNN`", "`TOP`");
    assert_syntax(
        "*=>[KNN 10 @v $v]=>{$FOO: 1}",
        20,
        "$YIELD_DISTANCE_AS",
        "`$FOO`",
    );
}

#[test]
fn tag_mistakes() {
    assert_syntax("@t:{}", 4, "a tag value", "`}`");
    assert_syntax("@t:{a||b}", 6, "a tag value", "`|`");
    assert_syntax("@t:{foo-bar}", 7, "`|` or `}`", "`-`");
    assert_syntax(
        "@t:{\"open}",
        10,
        "`\"` to close the tag value opened at byte 4",
        "end of query",
    );
    assert_syntax("@t:{$}", 5, "a parameter name", "`}`");
}

#[test]
fn other_mistakes() {
    assert_syntax("", 0, "a query", "end of query");
    assert_syntax("  ", 2, "a query", "end of query");
    assert_syntax("a |", 3, "a query term", "end of query");
    assert_syntax("| a", 0, "a query term", "`|`");
    assert_syntax("()", 1, "a query term", "`)`");
    assert_syntax("-", 1, "a query term", "end of query");
    assert_syntax("@:x", 1, "a field name", "`:`");
    assert_syntax("@f", 2, "`:` after the field name", "end of query");
    assert_syntax("@f-x:{a}", 2, "`:` after the field name", "`-`");
    assert_syntax("@f:", 3, "a tag list", "end of query");
    assert_syntax("@f:(a @g:b)", 6, "a word, phrase or `(`", "`@g`");
    assert_syntax("a \\q", 3, "after `\\`", "`q`");
    assert_syntax("\"\"", 0, "at least one word", "`\"`");
    assert_syntax("@v:[VECTOR_RANGE -1 $v]", 17, "non-negative", "`-1`");
    assert_syntax(
        "@v:[VECTOR_RANGE 1 $v]=>{$EPSILON: 1; $EPSILON: 2}",
        38,
        "at most once",
        "`$EPSILON`",
    );
    assert_syntax(
        "@v:[VECTOR_RANGE 1 $v]=>{$EPSILON 1}",
        34,
        "`:` after the attribute name",
        "`1`",
    );
    assert_syntax(
        "@v:[VECTOR_RANGE 1 $v]=>{$EPSILON: 1",
        36,
        "`}` to close the attributes",
        "end of query",
    );
    assert_syntax("@n=5", 2, "`==`", "`=`");
}

#[test]
fn positions_are_byte_offsets() {
    // "日本" is six bytes.
    assert_syntax("日本 @x:{", 11, "a tag value", "end of query");
}

#[test]
fn unsupported_redisearch_syntax() {
    assert_unsupported("a ~maybe", 2);
    assert_unsupported("*fix", 0);
    assert_unsupported("w'foo*'", 0);
    assert_unsupported("@t:{$p*}", 4);
    assert_unsupported("@a|b:{x}", 0);
    assert_unsupported("@loc:[1 2 3 km]", 5);
    assert_unsupported("(a b)=>{$weight: 2}", 5);
    assert_unsupported("*=>[KNN 3 @v $q]=>{$slop: 2}", 19);
    assert_unsupported("$p*", 0);
}

#[test]
fn errors_read_as_sentences() {
    assert_eq!(
        error("@price:[0 100").to_string(),
        "syntax error at byte 13: expected `]` to close the numeric range opened at byte 7, \
         found end of query"
    );
    assert_eq!(
        error("%%%%x%%%%").to_string(),
        "syntax error at byte 0: expected 1 to 3 `%` around a fuzzy word, found `%`"
    );
    assert_eq!(
        error("*=>[KNN 20000 @v $q]").to_string(),
        "KNN k exceeds the limit of 10000 (found 20000)"
    );
}
