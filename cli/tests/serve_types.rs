//! JSON documents and lists through `strata serve`: `FT.CREATE ... ON JSON` indexes
//! the keys `JSON.SET` writes under its prefix, `JSON.*` read and change them, lists
//! follow Redis's ranges and types, and all of it survives a crash of the server.

mod common;

use common::{blob, nearest, Server, R};

fn vector_of(i: usize) -> [f32; 3] {
    [(i % 7) as f32, (i * 3 % 5) as f32, (i % 4) as f32 * 0.5]
}

const CREATE_JSON: &str = "FT.CREATE products ON JSON PREFIX 1 p: SCHEMA \
    $.name AS name TEXT $.tags[*] AS tags TAG $.meta.price AS price NUMERIC SORTABLE \
    $.v AS v VECTOR FLAT 6 TYPE FLOAT32 DIM 3 DISTANCE_METRIC L2";

fn document(i: usize) -> String {
    let parity = if i.is_multiple_of(2) { "even" } else { "odd" };
    let v = vector_of(i);
    format!(
        r#"{{"name":"item {i}","tags":["{parity}","all"],"meta":{{"price":{i}}},"v":[{},{},{}]}}"#,
        v[0], v[1], v[2]
    )
}

/// The exact answer: keys of the k nearest (squared L2, ties by id) among `ids`.
fn exact_knn(query: [f32; 3], ids: impl Iterator<Item = usize>, k: usize) -> Vec<String> {
    nearest(query, ids, k, vector_of)
        .into_iter()
        .map(|i| format!("p:{i}"))
        .collect()
}

fn knn(c: &mut common::Client, filter: &str, query: [f32; 3], k: usize) -> Vec<String> {
    let q = blob(&query);
    let text = format!("({filter})=>[KNN {k} @v $q AS d]");
    let reply = c.raw(&[
        b"FT.SEARCH",
        b"products",
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

fn json(reply: &R) -> serde_json::Value {
    serde_json::from_str(&reply.text()).unwrap_or_else(|e| panic!("{reply:?}: {e}"))
}

#[test]
fn json_documents_are_indexed_on_write_and_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    // A document written before the index exists is indexed when it is created.
    assert_eq!(
        c.raw(&[b"JSON.SET", b"p:0", b"$", document(0).as_bytes()]),
        R::Simple("OK".into())
    );
    assert_eq!(c.cmd(CREATE_JSON), R::Simple("OK".into()));
    for i in 1..40 {
        let reply = c.raw(&[
            b"JSON.SET",
            format!("p:{i}").as_bytes(),
            b"$",
            document(i).as_bytes(),
        ]);
        assert_eq!(reply, R::Simple("OK".into()), "p:{i}");
    }
    let query = [2.5, 1.0, 0.5];
    assert_eq!(knn(&mut c, "*", query, 5), exact_knn(query, 0..40, 5));
    let odd = exact_knn(query, (0..40usize).filter(|i| !i.is_multiple_of(2)), 5);
    assert_eq!(knn(&mut c, "@tags:{odd}", query, 5), odd);

    // RETURN of paths: strings bare, other values as JSON.
    let reply = c.raw(&[
        b"FT.SEARCH",
        b"products",
        b"@price:[7 7]",
        b"RETURN",
        b"3",
        b"$.name",
        b"$.tags",
        b"price",
        b"DIALECT",
        b"2",
    ]);
    let items = reply.items();
    assert_eq!(items[0], R::Int(1));
    assert_eq!(items[1].text(), "p:7");
    let fields: Vec<String> = items[2].items().iter().map(R::text).collect();
    assert_eq!(
        fields,
        [
            "$.name",
            "item 7",
            "$.tags",
            r#"["odd","all"]"#,
            "price",
            "7"
        ]
    );

    // Reading: the whole document (legacy root), JSONPaths as arrays, MGET.
    assert_eq!(
        json(&c.cmd("JSON.GET p:3")),
        serde_json::from_str::<serde_json::Value>(&document(3)).unwrap()
    );
    assert_eq!(
        json(&c.cmd("JSON.GET p:3 $.meta.price")),
        serde_json::json!([3])
    );
    assert_eq!(
        json(&c.cmd("JSON.GET p:3 .meta.price")),
        serde_json::json!(3)
    );
    assert_eq!(
        json(&c.cmd("JSON.GET p:3 $.name $.tags[0]")),
        serde_json::json!({"$.name": ["item 3"], "$.tags[0]": ["odd"]})
    );
    let mget = c.cmd("JSON.MGET p:1 nosuch p:2 $.name");
    assert_eq!(mget.items()[1], R::Nil);
    assert_eq!(json(&mget.items()[2]), serde_json::json!(["item 2"]));
    assert_eq!(c.cmd("JSON.GET nosuch"), R::Nil);

    // A path update re-indexes; NX/XX; a value the index cannot take changes nothing.
    assert_eq!(
        c.cmd("JSON.SET p:5 $.meta.price 1000"),
        R::Simple("OK".into())
    );
    let reply = c.raw(&[
        b"FT.SEARCH",
        b"products",
        b"@price:[1000 1000]",
        b"NOCONTENT",
    ]);
    assert_eq!(reply.items(), [R::Int(1), R::Bulk(b"p:5".to_vec())]);
    assert_eq!(c.cmd("JSON.SET p:5 $.meta.price 1 NX"), R::Nil);
    assert_eq!(c.cmd("JSON.SET p:5 $.meta.brand \"acme\" XX"), R::Nil);
    assert_eq!(
        c.cmd("JSON.SET p:5 $.meta.brand \"acme\" NX"),
        R::Simple("OK".into())
    );
    let refused = c.cmd("JSON.SET p:5 $.meta.price \"cheap\"");
    assert!(
        matches!(&refused, R::Error(e) if e.starts_with("ERR") && e.contains("price")),
        "{refused:?}"
    );
    assert_eq!(
        json(&c.cmd("JSON.GET p:5 $.meta")),
        serde_json::json!([{"price": 1000, "brand": "acme"}])
    );
    assert!(matches!(c.cmd("JSON.SET p:5 $ {bad"), R::Error(_)));
    assert!(matches!(c.cmd("JSON.SET newkey $.a 1"), R::Error(e) if e.contains("root")));
    // JSON.DEL of a path and of the whole key.
    assert_eq!(c.cmd("JSON.DEL p:6 $.tags[0]"), R::Int(1));
    assert!(!knn(&mut c, "@tags:{even}", query, 50).contains(&"p:6".to_string()));
    assert_eq!(c.cmd("JSON.DEL p:8"), R::Int(1));
    assert_eq!(c.cmd("JSON.DEL p:8"), R::Int(0));
    assert_eq!(c.cmd("EXISTS p:8"), R::Int(0));

    // Types: a JSON key is not a hash, and a hash index does not take it.
    assert_eq!(c.cmd("TYPE p:1"), R::Simple("ReJSON-RL".into()));
    assert!(matches!(c.cmd("HSET p:1 a b"), R::Error(e) if e.starts_with("WRONGTYPE")));
    assert!(matches!(c.cmd("HGETALL p:1"), R::Error(e) if e.starts_with("WRONGTYPE")));
    assert_eq!(c.cmd("HSET h:1 a b"), R::Int(1));
    let wrong = R::Error("Existing key has wrong Redis type".into());
    assert_eq!(c.cmd("JSON.GET h:1"), wrong);
    assert_eq!(c.cmd("JSON.SET h:1 $ 1"), wrong);
    assert_eq!(
        c.cmd("JSON.GET p:1 .nosuch"),
        R::Error("ERR Path '$.nosuch' does not exist".into())
    );
    // A JSON document no index watches is kept whole, with its TTL across JSON.SET.
    assert_eq!(
        c.cmd(r#"JSON.SET loose:1 $ {"a":{"b":[1,2,3]}}"#),
        R::Simple("OK".into())
    );
    assert_eq!(c.cmd("EXPIRE loose:1 1000"), R::Int(1));
    assert_eq!(c.cmd("JSON.SET loose:1 $.a.c true"), R::Simple("OK".into()));
    assert_eq!(c.cmd("JSON.DEL loose:1 $.a.b[*]"), R::Int(3));
    let ttl = c.cmd("TTL loose:1");
    assert!(matches!(ttl, R::Int(t) if t > 900), "{ttl:?}");
    server.kill();

    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    let even: Vec<String> = exact_knn(
        query,
        (0..40usize).filter(|i| i.is_multiple_of(2) && *i != 6 && *i != 8),
        5,
    );
    assert_eq!(knn(&mut c, "@tags:{even}", query, 5), even);
    assert_eq!(
        json(&c.cmd("JSON.GET loose:1")),
        serde_json::json!({"a": {"b": [], "c": true}})
    );
    assert!(matches!(c.cmd("TTL loose:1"), R::Int(t) if t > 900));
    assert_eq!(
        json(&c.cmd("JSON.GET p:5 $.meta.price")),
        serde_json::json!([1000])
    );
    let info = c.cmd("FT.INFO products");
    let at = info
        .items()
        .iter()
        .position(|r| *r == R::Bulk(b"index_definition".to_vec()))
        .unwrap();
    assert_eq!(
        info.items()[at + 1].items()[..2],
        [R::Bulk(b"key_type".to_vec()), R::Bulk(b"JSON".to_vec())]
    );
    let attributes = format!("{:?}", info.items()[at + 3]);
    assert!(
        !attributes.contains("Bulk([74, 83, 79, 78])"),
        "`$` is no attribute: {attributes}"
    );
    // Dropping the index keeps its documents (readable, no longer searchable there).
    assert_eq!(c.cmd("FT.DROPINDEX products"), R::Simple("OK".into()));
    assert_eq!(
        json(&c.cmd("JSON.GET p:3 $.name")),
        serde_json::json!(["item 3"])
    );
    assert_eq!(c.cmd("DBSIZE"), R::Int(41));
}

#[test]
fn lists_follow_redis_and_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    let texts = |r: R| r.items().iter().map(R::text).collect::<Vec<_>>();
    // The session pattern: push what was viewed, keep the last 3, expire the session.
    for item in ["a", "b", "c", "d", "e"] {
        c.cmd(&format!("LPUSH session:1 {item}"));
        assert_eq!(c.cmd("LTRIM session:1 0 2"), R::Simple("OK".into()));
    }
    assert_eq!(c.cmd("EXPIRE session:1 600"), R::Int(1));
    assert_eq!(texts(c.cmd("LRANGE session:1 0 -1")), ["e", "d", "c"]);
    assert_eq!(texts(c.cmd("LRANGE session:1 -2 100")), ["d", "c"]);
    assert_eq!(texts(c.cmd("LRANGE session:1 5 10")), Vec::<String>::new());
    assert_eq!(c.cmd("LLEN session:1"), R::Int(3));
    assert_eq!(c.cmd("TYPE session:1"), R::Simple("list".into()));
    assert_eq!(c.cmd("RPUSH session:1 z"), R::Int(4));
    assert_eq!(c.cmd("LPUSHX nosuch x"), R::Int(0));
    assert_eq!(c.cmd("EXISTS nosuch"), R::Int(0));
    assert_eq!(c.raw(&[b"RPUSH", b"bin", &[0xff, 0x00]]), R::Int(1));
    // Wrong types, both ways.
    assert!(matches!(c.cmd("HSET session:1 a b"), R::Error(e) if e.starts_with("WRONGTYPE")));
    assert_eq!(c.cmd("HSET h a b"), R::Int(1));
    assert!(matches!(c.cmd("LPUSH h x"), R::Error(e) if e.starts_with("WRONGTYPE")));
    assert!(matches!(c.cmd("LRANGE h 0 -1"), R::Error(e) if e.starts_with("WRONGTYPE")));
    assert!(matches!(c.cmd("LRANGE session:1 a 1"), R::Error(e) if e.contains("integer")));
    // An emptied list deletes its key.
    assert_eq!(c.cmd("RPUSH gone x y"), R::Int(2));
    assert_eq!(c.cmd("LPOP gone"), R::Bulk(b"x".to_vec()));
    assert_eq!(c.cmd("RPOP gone 5"), R::Array(vec![R::Bulk(b"y".to_vec())]));
    assert_eq!(c.cmd("EXISTS gone"), R::Int(0));
    assert_eq!(c.cmd("LPOP gone"), R::Nil);
    assert_eq!(c.cmd("RPUSH gone x"), R::Int(1));
    assert_eq!(c.cmd("LTRIM gone 1 0"), R::Simple("OK".into()));
    assert_eq!(c.cmd("EXISTS gone"), R::Int(0));
    server.kill();

    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(texts(c.cmd("LRANGE session:1 0 -1")), ["e", "d", "c", "z"]);
    assert!(matches!(c.cmd("TTL session:1"), R::Int(t) if t > 500 && t <= 600));
    assert_eq!(
        c.cmd("LRANGE bin 0 0"),
        R::Array(vec![R::Bulk(vec![0xff, 0x00])])
    );
    assert_eq!(c.cmd("DEL session:1"), R::Int(1));
    assert_eq!(c.cmd("LLEN session:1"), R::Int(0));
}
