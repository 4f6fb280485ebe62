//! `strata serve` end to end: a real server process, spoken to over a TCP socket in
//! RESP, as Redis clients do.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::{blob, encode, nearest, Client, Server, R};

const CREATE: &str =
    "FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA title TEXT genre TAG price NUMERIC SORTABLE \
                      v VECTOR FLAT 6 TYPE FLOAT32 DIM 3 DISTANCE_METRIC L2";

fn vector_of(i: usize) -> [f32; 3] {
    [i as f32, (i * 7 % 5) as f32, (i % 3) as f32]
}

fn load(c: &mut Client, n: usize) {
    for i in 0..n {
        let key = format!("doc:{i}");
        let title = format!("title {i}");
        let genre = if i % 2 == 0 { "even" } else { "odd" };
        let price = i.to_string();
        let v = blob(&vector_of(i));
        let reply = c.raw(&[
            b"HSET",
            key.as_bytes(),
            b"title",
            title.as_bytes(),
            b"genre",
            genre.as_bytes(),
            b"price",
            price.as_bytes(),
            b"v",
            &v,
            b"note",
            b"not in the schema",
        ]);
        assert_eq!(reply, R::Int(5));
    }
}

/// The exact answer: keys of the k nearest (squared L2, ties by id) among `ids`.
fn exact_knn(query: [f32; 3], ids: impl Iterator<Item = usize>, k: usize) -> Vec<String> {
    nearest(query, ids, k, vector_of)
        .into_iter()
        .map(|i| format!("doc:{i}"))
        .collect()
}

fn knn_keys(c: &mut Client, filter: &str, query: [f32; 3], k: usize) -> Vec<String> {
    let q = blob(&query);
    let text = format!("({filter})=>[KNN {k} @v $q AS d]");
    let reply = c.raw(&[
        b"FT.SEARCH",
        b"idx",
        text.as_bytes(),
        b"PARAMS",
        b"2",
        b"q",
        &q,
        b"SORTBY",
        b"d",
        b"NOCONTENT",
        b"DIALECT",
        b"2",
    ]);
    reply.items()[1..].iter().map(R::text).collect()
}

#[test]
fn hashes_are_indexed_on_write_and_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.cmd(CREATE), R::Simple("OK".into()));
    load(&mut c, 60);
    assert_eq!(
        c.raw(&[b"HSET", b"plain", b"a", b"1", b"b", &[0xff, 0x00]]),
        R::Int(2)
    );
    let query = [3.2, 1.0, 0.5];
    let expected = exact_knn(query, 0..60, 5);
    assert_eq!(knn_keys(&mut c, "*", query, 5), expected);
    let even = exact_knn(query, (0..60).filter(|i| i % 2 == 0), 5);
    assert_eq!(knn_keys(&mut c, "@genre:{even}", query, 5), even);
    let hash_before = c.cmd("HGETALL doc:7");
    server.kill();

    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.cmd("FT._LIST"), R::Array(vec![R::Bulk(b"idx".to_vec())]));
    assert_eq!(c.cmd("HGETALL doc:7"), hash_before);
    let fields = hash_before.items().iter().map(R::text).collect::<Vec<_>>();
    assert!(
        fields
            .windows(2)
            .any(|w| w == ["note", "not in the schema"]),
        "{fields:?}"
    );
    assert_eq!(c.cmd("HGET plain b"), R::Bulk(vec![0xff, 0x00]));
    assert_eq!(c.cmd("HGET plain zz"), R::Nil);
    assert_eq!(knn_keys(&mut c, "*", query, 5), expected);
    // A numeric range with SORTBY and RETURN of a field outside the schema.
    let reply = c.raw(&[
        b"FT.SEARCH",
        b"idx",
        b"@price:[10 12]",
        b"SORTBY",
        b"price",
        b"DESC",
        b"RETURN",
        b"2",
        b"price",
        b"note",
        b"DIALECT",
        b"2",
    ]);
    let items = reply.items();
    assert_eq!(items[0], R::Int(3));
    assert_eq!(items[1].text(), "doc:12");
    assert_eq!(
        items[2].items().iter().map(R::text).collect::<Vec<_>>(),
        ["price", "12", "note", "not in the schema"]
    );
    assert_eq!(c.cmd("EXISTS doc:1 doc:2 nope"), R::Int(2));
    assert_eq!(c.cmd("KEYS doc:1?").items().len(), 10);
    assert_eq!(c.cmd("DBSIZE"), R::Int(61));
}

#[test]
fn bad_input_gets_redis_errors_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-request-bytes", "4096"]);
    let mut c = server.client();
    assert_eq!(c.cmd(CREATE), R::Simple("OK".into()));
    assert_eq!(c.cmd(CREATE), R::Error("ERR Index already exists".into()));
    load(&mut c, 3);
    let before = c.cmd("HGETALL doc:1");
    // A vector of the wrong length for its field: refused, the hash unchanged.
    let reply = c.raw(&[
        b"HSET",
        b"doc:1",
        b"title",
        b"changed",
        b"v",
        &blob(&[1.0, 2.0]),
    ]);
    assert!(
        matches!(&reply, R::Error(m) if m.starts_with("ERR") && m.contains("3-dimensional")),
        "{reply:?}"
    );
    assert_eq!(c.cmd("HGETALL doc:1"), before);
    let reply = c.cmd("HSET doc:1 price cheap");
    assert!(
        matches!(&reply, R::Error(m) if m.contains("not a number")),
        "{reply:?}"
    );
    assert_eq!(c.cmd("HGETALL doc:1"), before);
    assert_eq!(
        c.cmd("HGET doc:1"),
        R::Error("ERR wrong number of arguments for 'hget' command".into())
    );
    assert!(matches!(c.cmd("FOO bar"), R::Error(m) if m.starts_with("ERR unknown command 'foo'")));
    assert_eq!(
        c.cmd("FT.SEARCH nope *"),
        R::Error("nope: no such index".into())
    );
    assert_eq!(
        c.cmd("FT.INFO nope"),
        R::Error("ERR Unknown index name".into())
    );
    assert_eq!(
        c.cmd("FT.DROPINDEX nope"),
        R::Error("ERR Unknown Index name".into())
    );
    assert!(
        matches!(c.cmd("FT.CREATE x SCHEMA a BOGUS"), R::Error(m) if m.contains("Invalid field type for field `a`"))
    );
    assert!(
        matches!(c.cmd("FT.SEARCH idx @genre:{unclosed"), R::Error(m) if m.contains("invalid query"))
    );
    assert_eq!(
        c.cmd("EXPIRE doc:1 soon"),
        R::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        c.cmd("SELECT 1"),
        R::Error("ERR DB index is out of range".into())
    );
    assert_eq!(c.cmd("FT.SEARCH idx * NOCONTENT").items()[0], R::Int(3));
    // A command over --max-request-bytes: a protocol error, then the connection closes.
    let big = vec![b'x'; 8192];
    let reply = c.raw(&[b"HSET", b"doc:9", b"title", &big]);
    assert!(
        matches!(&reply, R::Error(m) if m.starts_with("ERR Protocol error") && m.contains("limit")),
        "{reply:?}"
    );
    assert!(c.closed());
    let mut c = server.client();
    assert_eq!(c.cmd("EXISTS doc:9"), R::Int(0));
}

#[test]
fn auth_and_connection_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve"])
        .arg(dir.path())
        .args(["--port", "0", "--bind", "0.0.0.0"])
        .env_remove("STRATA_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--requirepass"));

    let server = Server::start(
        dir.path(),
        &["--requirepass", "s3cret", "--max-clients", "2"],
    );
    let mut c = server.client();
    assert_eq!(
        c.cmd("HSET k a 1"),
        R::Error("NOAUTH Authentication required.".into())
    );
    assert!(matches!(c.cmd("AUTH wrong"), R::Error(m) if m.starts_with("WRONGPASS")));
    assert_eq!(c.cmd("AUTH s3cret"), R::Simple("OK".into()));
    assert_eq!(c.cmd("HSET k a 1"), R::Int(1));
    let mut d = server.client();
    assert!(
        matches!(d.cmd("HELLO 3 AUTH default wrong"), R::Error(m) if m.starts_with("WRONGPASS"))
    );
    let hello = d.cmd("HELLO 3 AUTH default s3cret SETNAME app");
    let R::Map(pairs) = hello else {
        panic!("HELLO 3 replies with a map: {hello:?}")
    };
    assert!(pairs.contains(&(R::Bulk(b"proto".to_vec()), R::Int(3))));
    assert_eq!(d.cmd("CLIENT GETNAME"), R::Bulk(b"app".to_vec()));
    // RESP3 from here: HGETALL is a map.
    assert_eq!(
        d.cmd("HGETALL k"),
        R::Map(vec![(R::Bulk(b"a".to_vec()), R::Bulk(b"1".to_vec()))])
    );
    let mut third = server.client();
    assert_eq!(
        third.read(),
        R::Error("ERR max number of clients reached".into())
    );
    drop(c);
    drop(d);
    // The slots free up once those connections close.
    let mut ok = false;
    for _ in 0..50 {
        let mut again = server.client();
        if again.cmd("PING") == R::Error("NOAUTH Authentication required.".into()) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok, "a closed connection's slot was not given back");
}

#[test]
fn pipelines_and_multi_exec_write_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.cmd(CREATE), R::Simple("OK".into()));
    // 200 HSETs in one write, one of them bad: every other one lands, in order.
    let mut wire = Vec::new();
    for i in 0..200 {
        let key = format!("doc:{i}");
        let v = if i == 57 {
            blob(&[1.0])
        } else {
            blob(&vector_of(i))
        };
        wire.extend(encode(&[b"HSET", key.as_bytes(), b"genre", b"p", b"v", &v]));
    }
    c.writer.write_all(&wire).unwrap();
    for i in 0..200 {
        let reply = c.read();
        if i == 57 {
            assert!(reply.text().contains("3-dimensional"), "{reply:?}");
        } else {
            assert_eq!(reply, R::Int(2), "reply {i}");
        }
    }
    assert_eq!(
        c.cmd("FT.SEARCH idx @genre:{p} LIMIT 0 0").items()[0],
        R::Int(199)
    );
    assert_eq!(c.cmd("MULTI"), R::Simple("OK".into()));
    assert_eq!(
        c.cmd("HSET doc:500 genre m price 1"),
        R::Simple("QUEUED".into())
    );
    assert_eq!(
        c.cmd("HSET doc:501 genre m price 2"),
        R::Simple("QUEUED".into())
    );
    assert_eq!(c.cmd("HGET doc:500 price"), R::Simple("QUEUED".into()));
    assert_eq!(
        c.cmd("EXEC"),
        R::Array(vec![R::Int(2), R::Int(2), R::Bulk(b"1".to_vec())])
    );
    assert_eq!(c.cmd("MULTI"), R::Simple("OK".into()));
    assert!(matches!(c.cmd("NOSUCH x"), R::Error(_)));
    assert_eq!(c.cmd("HSET doc:502 genre m"), R::Simple("QUEUED".into()));
    assert!(matches!(c.cmd("EXEC"), R::Error(m) if m.starts_with("EXECABORT")));
    assert_eq!(c.cmd("EXISTS doc:502"), R::Int(0));
    assert_eq!(
        c.cmd("FT.SEARCH idx @genre:{m} LIMIT 0 0").items()[0],
        R::Int(2)
    );
}

#[test]
fn ttl_scan_and_index_lifecycle_follow_redis() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    // Hashes written before the index exists are indexed when it is created.
    load(&mut c, 25);
    assert_eq!(c.cmd(CREATE), R::Simple("OK".into()));
    assert_eq!(c.cmd("FT.SEARCH idx * LIMIT 0 0").items()[0], R::Int(25));
    assert_eq!(c.cmd("TTL doc:1"), R::Int(-1));
    assert_eq!(c.cmd("TTL nope"), R::Int(-2));
    assert_eq!(c.cmd("EXPIRE doc:1 100"), R::Int(1));
    // Rounded up, as Redis does; a slow machine may take a second between the two.
    assert!(matches!(c.cmd("TTL doc:1"), R::Int(99..=100)));
    assert_eq!(c.cmd("EXPIRE doc:1 50 GT"), R::Int(0));
    // HSET keeps the TTL, as in Redis.
    assert_eq!(c.cmd("HSET doc:1 title new"), R::Int(0));
    assert!(matches!(c.cmd("PTTL doc:1"), R::Int(ms) if ms > 90_000 && ms <= 100_000));
    assert_eq!(c.cmd("PERSIST doc:1"), R::Int(1));
    assert_eq!(c.cmd("TTL doc:1"), R::Int(-1));
    assert_eq!(c.cmd("PEXPIRE doc:2 1"), R::Int(1));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.cmd("EXISTS doc:2"), R::Int(0));
    assert_eq!(c.cmd("FT.SEARCH idx * LIMIT 0 0").items()[0], R::Int(24));
    // SCAN visits every key once, however small the pages.
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&format!("SCAN {cursor} COUNT 3 MATCH doc:*"));
        cursor = reply.items()[0].text();
        seen.extend(reply.items()[1].items().iter().map(R::text));
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 24);
    seen.dedup();
    assert_eq!(seen.len(), 24);
    // HDEL of an indexed field takes the hash out of matches on it.
    assert_eq!(c.cmd("HDEL doc:3 genre"), R::Int(1));
    assert_eq!(c.cmd("HEXISTS doc:3 genre"), R::Int(0));
    assert_eq!(
        c.cmd("FT.SEARCH idx @genre:{odd} LIMIT 0 0").items()[0],
        R::Int(11)
    );
    // Dropping the index keeps the hashes; DD deletes them.
    let hash = c.cmd("HGETALL doc:4");
    assert_eq!(c.cmd("FT.DROPINDEX idx"), R::Simple("OK".into()));
    assert_eq!(c.cmd("HGETALL doc:4"), hash);
    assert_eq!(c.cmd("FT._LIST"), R::Array(vec![]));
    assert_eq!(c.cmd(CREATE), R::Simple("OK".into()));
    assert_eq!(c.cmd("FT.SEARCH idx * LIMIT 0 0").items()[0], R::Int(24));
    assert_eq!(c.cmd("FT.DROPINDEX idx DD"), R::Simple("OK".into()));
    assert_eq!(c.cmd("EXISTS doc:4"), R::Int(0));
    assert_eq!(c.cmd("DBSIZE"), R::Int(0));
}

#[test]
fn aggregate_explain_info_and_resp3_search_have_redis_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.cmd("FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA title TEXT genre TAG price NUMERIC SORTABLE"), R::Simple("OK".into()));
    for i in 0..10 {
        let genre = if i % 2 == 0 { "even" } else { "odd" };
        assert_eq!(
            c.cmd(&format!("HSET doc:{i} title t{i} genre {genre} price {i}")),
            R::Int(3)
        );
    }
    // Replies as Redis Stack 7.4 gives them for the same data.
    let b = |s: &str| R::Bulk(s.as_bytes().to_vec());
    let row = |pairs: &[&str]| R::Array(pairs.iter().map(|s| b(s)).collect());
    assert_eq!(
        c.cmd("FT.AGGREGATE idx @genre:{even} LOAD 2 @price @title SORTBY 2 @price DESC MAX 3 DIALECT 2"),
        R::Array(vec![R::Int(5), row(&["price", "8", "title", "t8"]), row(&["price", "6", "title", "t6"]), row(&["price", "4", "title", "t4"])])
    );
    assert_eq!(
        c.cmd(
            "FT.AGGREGATE idx @genre:{even} LOAD 1 @title SORTBY 2 @price ASC LIMIT 1 2 DIALECT 2"
        ),
        R::Array(vec![
            R::Int(5),
            row(&["title", "t2", "price", "2"]),
            row(&["title", "t4", "price", "4"])
        ])
    );
    // APPLY, FILTER, GROUPBY with reducers, multi-key SORTBY.
    assert_eq!(
        c.cmd("FT.AGGREGATE idx * APPLY @price*2 AS p2 FILTER @p2>=14 SORTBY 2 @p2 DESC LOAD 1 @title"),
        R::Array(vec![
            R::Int(10),
            row(&["p2", "18", "title", "t9"]),
            row(&["p2", "16", "title", "t8"]),
            row(&["p2", "14", "title", "t7"])
        ])
    );
    assert_eq!(
        c.cmd("FT.AGGREGATE idx * GROUPBY 1 @genre REDUCE COUNT 0 AS n REDUCE SUM 1 @price AS total REDUCE MAX 1 @price AS top SORTBY 2 @genre ASC"),
        R::Array(vec![
            R::Int(2),
            row(&["genre", "even", "n", "5", "total", "20", "top", "8"]),
            row(&["genre", "odd", "n", "5", "total", "25", "top", "9"])
        ])
    );
    // A cursor hands the rows out a page at a time, then 0; a read past it fails.
    let first = c.cmd("FT.AGGREGATE idx * LOAD 1 @price SORTBY 2 @price ASC WITHCURSOR COUNT 4");
    let (page, cursor) = (first.items()[0].clone(), first.items()[1].clone());
    assert_eq!(page.items().len(), 5);
    assert_eq!(page.items()[1], row(&["price", "0"]));
    let R::Int(id) = cursor else {
        panic!("{first:?}")
    };
    assert!(id > 0);
    let second = c.cmd(&format!("FT.CURSOR READ idx {id}"));
    assert_eq!(second.items()[0].items()[1], row(&["price", "4"]));
    let last = c.cmd(&format!("FT.CURSOR READ idx {id} COUNT 10"));
    assert_eq!(last.items()[0].items().len(), 3);
    assert_eq!(last.items()[1], R::Int(0));
    assert!(matches!(
        c.cmd(&format!("FT.CURSOR READ idx {id}")),
        R::Error(_)
    ));
    let other = c.cmd("FT.AGGREGATE idx * WITHCURSOR COUNT 1");
    let R::Int(id) = other.items()[1] else {
        panic!("{other:?}")
    };
    assert_eq!(
        c.cmd(&format!("FT.CURSOR DEL idx {id}")),
        R::Simple("OK".into())
    );
    assert!(matches!(
        c.cmd(&format!("FT.CURSOR DEL idx {id}")),
        R::Error(_)
    ));
    let reply = c.cmd("FT.AGGREGATE idx * GROUPBY 1 @genre REDUCE MEDIAN 1 @price");
    assert!(
        matches!(&reply, R::Error(m) if m.contains("Unknown reducer")),
        "{reply:?}"
    );
    let explain = c.cmd("FT.EXPLAIN idx @genre:{odd}").text();
    assert!(
        explain.contains("@genre:{odd}") && explain.contains("matching"),
        "{explain}"
    );
    let R::Array(info) = c.cmd("FT.INFO idx") else {
        panic!("FT.INFO is a flat array in RESP2")
    };
    let at = info.iter().position(|r| *r == b("num_docs")).unwrap();
    assert_eq!(info[at + 1], R::Int(10));
    let at = info
        .iter()
        .position(|r| *r == b("index_definition"))
        .unwrap();
    assert!(info[at + 1].items().contains(&R::Array(vec![b("doc:")])));
    // RESP3: FT.SEARCH is a map with total_results and results of id/extra_attributes.
    assert!(matches!(c.cmd("HELLO 3"), R::Map(_)));
    let R::Map(page) = c.raw(&[
        b"FT.SEARCH",
        b"idx",
        b"@price:[9 9]",
        b"RETURN",
        b"1",
        b"title",
    ]) else {
        panic!("a map")
    };
    assert!(page.contains(&(b("total_results"), R::Int(1))));
    let results = &page.iter().find(|(k, _)| *k == b("results")).unwrap().1;
    let R::Map(first) = &results.items()[0] else {
        panic!("a result is a map")
    };
    assert!(first.contains(&(b("id"), b("doc:9"))));
    assert!(first.contains(&(b("extra_attributes"), R::Map(vec![(b("title"), b("t9"))]))));
}
