#!/usr/bin/env python3
"""Unchanged Redis client code against Redis Stack and `strata serve`, side by side.

The same redis-py and RedisVL code (the way their users write it: `create_index` +
`hset` + `ft().search(Query(...).sort_by().return_fields().paging().dialect(2))`;
RedisVL `SearchIndex` from a schema dict (hash and JSON storage), `load`,
`VectorQuery` with `Tag` / `Num` filters, `FilterQuery`, `CountQuery`, `fetch`,
`SemanticCache` store/check with TTLs; redis-py on lists and JSON documents) runs
against both servers, over RESP2 and RESP3,
on the shipped 2,000-row sample (engine/examples/data). Every answer must be the same:
keys, order, returned fields, distances to 1e-5.

    clients.py --redis-port A --strata-port B

Exit status 1 on any difference.
"""
import argparse
import os
import sys
import time

import numpy as np
import redis
from redis.commands.search.field import NumericField, TagField, TextField, VectorField
from redis.commands.search.query import Query

try:
    from redis.commands.search.index_definition import IndexDefinition, IndexType
except ImportError:  # redis-py < 6
    from redis.commands.search.indexDefinition import IndexDefinition, IndexType

from redisvl.extensions.cache.llm import SemanticCache
from redisvl.index import SearchIndex
from redisvl.query import CountQuery, FilterQuery, VectorQuery
from redisvl.query.filter import Num, Tag

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "redis_parity"))
from parity import DATA, decode_vectors, read_rows  # noqa: E402

TOLERANCE = 1e-5


class Page:
    """A search reply as redis-py gives it under either protocol: RESP2 `Result`
    objects, RESP3 dicts."""

    def __init__(self, res):
        if isinstance(res, dict):
            def text(x):
                return x.decode() if isinstance(x, bytes) else x
            self.total = res.get("total_results", res.get(b"total_results"))
            self.docs = []
            for entry in res.get("results", res.get(b"results")):
                entry = {text(k): v for k, v in entry.items()}
                fields = {text(k): text(v) for k, v in entry.get("extra_attributes", {}).items()}
                self.docs.append(type("Doc", (), dict(fields, id=text(entry["id"]))))
        else:
            self.total, self.docs = res.total, res.docs


def redis_py_session(port, protocol, rows, vectors, queries):
    """The redis-py quickstart: an index, HSETs, searches with the Query builder."""
    r = redis.Redis(port=port, protocol=protocol)
    for name in ("docs", ):
        try:
            r.ft(name).dropindex(delete_documents=True)
        except redis.ResponseError:
            pass
    dim = vectors.shape[1]
    r.ft("docs").create_index(
        [
            TextField("name"),
            TagField("topic"),
            NumericField("year", sortable=True),
            NumericField("popularity", sortable=True),
            VectorField("embedding", "FLAT",
                        {"TYPE": "FLOAT32", "DIM": dim, "DISTANCE_METRIC": "COSINE"}),
        ],
        definition=IndexDefinition(prefix=["doc:"], index_type=IndexType.HASH),
    )
    pipe = r.pipeline(transaction=False)
    for i, (row, vector) in enumerate(zip(rows, vectors)):
        mapping = {"name": row["name"], "topic": row["topic"], "popularity": row["popularity"],
                   "summary": row["summary"], "embedding": vector.astype(np.float32).tobytes()}
        if row["year"]:
            mapping["year"] = row["year"]
        pipe.hset(f"doc:{i}", mapping=mapping)
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()
    answers = {}
    for qi in range(3):
        blob = queries[qi].astype(np.float32).tobytes()
        q = (Query("(@topic:{web | data})=>[KNN 10 @embedding $vec AS score]")
             .sort_by("score").return_fields("name", "score", "year").paging(0, 10).dialect(2))
        res = Page(r.ft("docs").search(q, query_params={"vec": blob}))
        answers[f"knn {qi}"] = (res.total, [(d.id, d.name, float(d.score), getattr(d, "year", None))
                                           for d in res.docs])
        q = (Query("*=>[KNN 20 @embedding $vec AS score]").sort_by("score")
             .return_fields("name", "summary", "score").paging(5, 5).dialect(2))
        res = Page(r.ft("docs").search(q, query_params={"vec": blob}))
        answers[f"knn paged {qi}"] = (res.total, [(d.id, d.name, d.summary, float(d.score))
                                                 for d in res.docs])
    q = (Query("@year:[2019 2020] @topic:{cli}").sort_by("popularity", asc=False)
         .return_fields("name", "popularity", "year").paging(0, 7).dialect(2))
    res = Page(r.ft("docs").search(q))
    answers["filter sorted"] = (res.total, [(d.id, d.name, d.popularity, d.year) for d in res.docs])
    res = Page(r.ft("docs").search(Query("@topic:{database}").no_content().paging(0, 0).dialect(2)))
    answers["count"] = res.total
    answers["hgetall"] = {k.decode(): v for k, v in r.hgetall("doc:7").items() if k != b"embedding"}
    r.ft("docs").dropindex(delete_documents=True)
    answers["dropped"] = r.exists("doc:7")
    r.close()
    return answers


def redisvl_session(port, rows, vectors, queries):
    """RedisVL: a SearchIndex from a schema dict, load, vector and filter queries."""
    schema = {
        "index": {"name": "packages", "prefix": "pkg", "storage_type": "hash"},
        "fields": [
            {"name": "name", "type": "text"},
            {"name": "topic", "type": "tag"},
            {"name": "year", "type": "numeric"},
            {"name": "popularity", "type": "numeric"},
            {"name": "embedding", "type": "vector",
             "attrs": {"dims": int(vectors.shape[1]), "distance_metric": "cosine",
                       "algorithm": "flat", "datatype": "float32"}},
        ],
    }
    index = SearchIndex.from_dict(schema, redis_url=f"redis://127.0.0.1:{port}")
    index.create(overwrite=True, drop=True)
    data = []
    for row, vector in zip(rows, vectors):
        item = {"id": row["key"].split(":", 1)[1], "name": row["name"], "topic": row["topic"],
                "popularity": row["popularity"],
                "embedding": vector.astype(np.float32).tobytes()}
        if row["year"]:
            item["year"] = row["year"]
        data.append(item)
    keys = index.load(data, id_field="id")
    answers = {"loaded": len(keys), "exists": index.exists()}
    for qi in range(3):
        q = VectorQuery(vector=queries[qi].tolist(), vector_field_name="embedding",
                        return_fields=["name", "topic", "year"], num_results=8,
                        filter_expression=(Tag("topic") == ["web", "cli"]) & (Num("year") >= 2018))
        answers[f"vector {qi}"] = [
            (d["id"], d["name"], d.get("year"), float(d["vector_distance"])) for d in index.query(q)]
        q = VectorQuery(vector=queries[qi].tolist(), vector_field_name="embedding",
                        return_fields=["name", "popularity"], num_results=5,
                        filter_expression=Num("popularity") > 0)
        answers[f"vector popular {qi}"] = [
            (d["id"], d["name"], d["popularity"], float(d["vector_distance"])) for d in index.query(q)]
    q = FilterQuery(filter_expression=(Tag("topic") == "database") & (Num("year") == 2016),
                    return_fields=["name", "year"], num_results=50)
    answers["filter"] = sorted((d["id"], d["name"], d["year"]) for d in index.query(q))
    q = FilterQuery(filter_expression=Tag("topic") == "ai", return_fields=["name", "popularity"],
                    num_results=6, sort_by=("popularity", "DESC"))
    answers["filter sorted"] = [(d["id"], d["name"], d["popularity"]) for d in index.query(q)]
    answers["count"] = index.query(CountQuery(filter_expression=Tag("topic") == "web"))
    index.delete(drop=True)
    return answers


def redisvl_json_session(port, rows, vectors, queries):
    """RedisVL over JSON documents: a SearchIndex with storage_type json, fields taken
    from nested paths, vectors as lists of floats, then vector, filter and count
    queries and fetch of a whole document."""
    schema = {
        "index": {"name": "packages_docs", "prefix": "pj", "storage_type": "json"},
        "fields": [
            {"name": "name", "type": "text", "path": "$.name"},
            {"name": "topic", "type": "tag", "path": "$.topics[*]"},
            {"name": "year", "type": "numeric", "path": "$.meta.year"},
            {"name": "popularity", "type": "numeric", "path": "$.meta.popularity"},
            {"name": "embedding", "type": "vector", "path": "$.embedding",
             "attrs": {"dims": int(vectors.shape[1]), "distance_metric": "cosine",
                       "algorithm": "flat", "datatype": "float32"}},
        ],
    }
    index = SearchIndex.from_dict(schema, redis_url=f"redis://127.0.0.1:{port}")
    index.create(overwrite=True, drop=True)
    data = []
    for row, vector in zip(rows[:500], vectors[:500]):
        meta = {"popularity": float(row["popularity"])}
        if row["year"]:
            meta["year"] = int(row["year"])
        data.append({"id": row["key"].split(":", 1)[1], "name": row["name"],
                     "topics": row["topic"].split(","), "meta": meta,
                     "embedding": [float(x) for x in vector]})
    keys = index.load(data, id_field="id")
    answers = {"loaded": len(keys), "info type": index.info()["index_definition"][1]}
    for qi in range(3):
        q = VectorQuery(vector=queries[qi].tolist(), vector_field_name="embedding",
                        return_fields=["name", "year"], num_results=8,
                        filter_expression=(Tag("topic") == ["web", "cli"]) & (Num("year") >= 2018))
        answers[f"vector {qi}"] = [
            (d["id"], d["name"], d.get("year"), float(d["vector_distance"])) for d in index.query(q)]
    q = FilterQuery(filter_expression=Tag("topic") == "database", return_fields=["name", "year"],
                    num_results=50)
    answers["filter"] = sorted((d["id"], d["name"], d.get("year")) for d in index.query(q))
    answers["count"] = index.query(CountQuery(filter_expression=Tag("topic") == "web"))
    answers["fetch"] = index.fetch(data[3]["id"])
    index.delete(drop=True)
    return answers


def create_packages(r, rows, vectors, name, prefix):
    """The sample as hashes under `prefix`, in an index `name`."""
    try:
        r.ft(name).dropindex(delete_documents=True)
    except redis.ResponseError:
        pass
    r.ft(name).create_index(
        [TextField("name"), TagField("topic"), NumericField("year", sortable=True),
         NumericField("popularity", sortable=True),
         VectorField("embedding", "FLAT", {"TYPE": "FLOAT32", "DIM": vectors.shape[1],
                                           "DISTANCE_METRIC": "COSINE"})],
        definition=IndexDefinition(prefix=[prefix], index_type=IndexType.HASH))
    pipe = r.pipeline(transaction=False)
    for i, (row, vector) in enumerate(zip(rows, vectors)):
        mapping = {"name": row["name"], "topic": row["topic"], "popularity": row["popularity"],
                   "embedding": vector.astype(np.float32).tobytes()}
        if row["year"]:
            mapping["year"] = row["year"]
        pipe.hset(f"{prefix}{i}", mapping=mapping)
    pipe.execute()


def aggregate_session(port, rows, vectors, queries):
    """FT.AGGREGATE the way redis-py's AggregateRequest and RedisVL's MultiVectorQuery
    send it: LOAD, APPLY, FILTER, GROUPBY with reducers, SORTBY with MAX, LIMIT,
    cursors, PARAMS, DIALECT."""
    from redis.commands.search import reducers
    from redis.commands.search.aggregation import AggregateRequest, Asc, Desc
    from redisvl.query import MultiVectorQuery
    from redisvl.query.aggregate import Vector

    r = redis.Redis(port=port)
    create_packages(r, rows, vectors, "agg", "agg:")
    ft = r.ft("agg")

    def shown(res):
        return [{k.decode() if isinstance(k, bytes) else k: v for k, v in zip(row[::2], row[1::2])}
                for row in res.rows]

    answers = {}
    req = (AggregateRequest("@topic:{web|cli}")
           .group_by("@topic", reducers.count().alias("n"), reducers.sum("@popularity").alias("pop"),
                     reducers.avg("@year").alias("mean_year"), reducers.min("@year").alias("first"),
                     reducers.max("@year").alias("last"),
                     reducers.count_distinct("@year").alias("years"))
           .sort_by(Desc("@n"), Asc("@topic")).dialect(2))
    answers["groupby"] = shown(ft.aggregate(req))
    req = (AggregateRequest("@year:[2015 2020]").load("@name", "@year")
           .apply(decade="floor(@year / 10) * 10", upper_name="upper(@name)")
           .filter("@year >= 2018 && startswith(@name, 'p')")
           .sort_by(Asc("@name")).limit(0, 5).dialect(2))
    answers["apply filter"] = shown(ft.aggregate(req))
    req = (AggregateRequest("*").group_by("@year", reducers.count().alias("n"))
           .sort_by(Desc("@n"), Desc("@year"), max=3).dialect(2))
    answers["sortby max"] = shown(ft.aggregate(req))
    req = (AggregateRequest("@topic:{database}")
           .group_by([], reducers.tolist("@year").alias("years"),
                     reducers.first_value("@name", Desc("@popularity")).alias("top")).dialect(2))
    res = shown(ft.aggregate(req))
    answers["tolist, first_value"] = [{k: (sorted(v) if k == "years" else v) for k, v in row.items()}
                                      for row in res]
    req = (AggregateRequest("*").load("@name").sort_by(Asc("@name")).cursor(count=300).dialect(2))
    res = ft.aggregate(req)
    names = [row[1] for row in res.rows]
    pages = 1
    while res.cursor and res.cursor.cid:
        res = ft.aggregate(res.cursor)
        names += [row[1] for row in res.rows]
        pages += 1
    answers["cursor"] = (pages, len(names), names[:3], names[-3:])
    q = queries[0].astype(np.float32).tobytes()
    req = (AggregateRequest("(@topic:{web})=>[KNN 20 @embedding $q AS d]").load("@name")
           .apply(similarity="(2 - @d)/2").sort_by(Desc("@similarity"), max=5).dialect(2))
    answers["knn apply"] = [(row["name"], round(float(row["similarity"]), 5))
                            for row in shown(ft.aggregate(req, query_params={"q": q}))]

    # RedisVL's MultiVectorQuery: VECTOR_RANGE per vector, APPLY per score, SORTBY MAX.
    index = SearchIndex.from_dict({
        "index": {"name": "agg", "prefix": "agg:", "storage_type": "hash"},
        "fields": [{"name": "name", "type": "text"}, {"name": "topic", "type": "tag"},
                   {"name": "year", "type": "numeric"}, {"name": "popularity", "type": "numeric"},
                   {"name": "embedding", "type": "vector",
                    "attrs": {"dims": int(vectors.shape[1]), "distance_metric": "cosine",
                              "algorithm": "flat", "datatype": "float32"}}]},
        redis_url=f"redis://127.0.0.1:{port}")
    mq = MultiVectorQuery(vectors=[Vector(vector=queries[1].tolist(), field_name="embedding",
                                          weight=1.0, max_distance=0.6)],
                          return_fields=["name", "year"], num_results=6,
                          filter_expression=Tag("topic") == "ai")
    answers["multivector"] = [(d.get("name"), d.get("year"), round(float(d["combined_score"]), 5))
                              for d in index.query(mq)]
    ft.dropindex(delete_documents=True)
    r.close()
    return answers


def lists_and_json_session(port):
    """redis-py on lists (the session pattern: LPUSH the item viewed, LTRIM to the last
    N, EXPIRE the session) and on JSON documents no index watches."""
    r = redis.Redis(port=port)
    r.delete("views:1", "views:2", "h:1", "cfg:1")
    for item in ["a", "b", "c", "d", "e"]:
        pipe = r.pipeline()
        pipe.lpush("views:1", item)
        pipe.ltrim("views:1", 0, 2)
        pipe.expire("views:1", 300)
        pipe.execute()
    answers = {"range": r.lrange("views:1", 0, -1), "tail": r.lrange("views:1", -2, 100),
               "past the end": r.lrange("views:1", 5, 9), "len": r.llen("views:1"),
               "type": r.type("views:1"), "ttl set": 290 < r.ttl("views:1") <= 300,
               "rpush": r.rpush("views:1", "z"), "lpop": r.lpop("views:1"),
               "rpop 2": r.rpop("views:1", 2), "missing": r.lrange("views:2", 0, -1),
               "lpushx": r.lpushx("views:2", "x"), "exists missing": r.exists("views:2")}
    r.hset("h:1", "a", "b")
    for name, call in [("lpush on a hash", lambda: r.lpush("h:1", "x")),
                       ("hset on a list", lambda: r.hset("views:1", "a", "b")),
                       ("json.get on a hash", lambda: r.json().get("h:1"))]:
        try:
            answers[name] = call()
        except redis.ResponseError as error:
            answers[name] = str(error)
    answers["trim to nothing"] = r.ltrim("views:1", 1, 0)
    answers["exists emptied"] = r.exists("views:1")
    r.json().set("cfg:1", "$", {"theme": "dark", "sizes": [1, 2, 3], "nested": {"on": True}})
    answers["json type"] = r.type("cfg:1")
    answers["json get"] = r.json().get("cfg:1")
    answers["json get path"] = r.json().get("cfg:1", "$.sizes[*]")
    answers["json get legacy"] = r.json().get("cfg:1", ".nested.on")
    answers["json set path"] = r.json().set("cfg:1", "$.nested.level", 2)
    answers["json set nx"] = r.json().set("cfg:1", "$.theme", "light", nx=True)
    answers["json set xx"] = r.json().set("cfg:1", "$.theme", "light", xx=True)
    answers["json mget"] = r.json().mget(["cfg:1", "nosuch"], "$.theme")
    answers["json del path"] = r.json().delete("cfg:1", "$.sizes[0]")
    answers["json after"] = r.json().get("cfg:1")
    answers["json del"] = r.json().delete("cfg:1")
    answers["json gone"] = r.exists("cfg:1")
    r.delete("h:1")
    r.close()
    return answers


def embed(text):
    """A stand-in embedding model (no model can be downloaded here): the same text,
    up to case and trailing punctuation, gives the same unit vector."""
    seed = int.from_bytes(text.lower().strip("?! ").encode()[:8].ljust(8, b"_"), "little")
    v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
    return (v / np.linalg.norm(v)).tolist()


def semantic_cache_session(port):
    """RedisVL's SemanticCache: store with a TTL, check hits and misses, expiry."""
    try:
        from redisvl.utils.vectorize import CustomVectorizer as Vectorizer
    except ImportError:
        from redisvl.utils.vectorize import CustomTextVectorizer as Vectorizer
    cache = SemanticCache(name="llmcache", redis_url=f"redis://127.0.0.1:{port}",
                          distance_threshold=0.1, ttl=60, vectorizer=Vectorizer(embed=embed),
                          overwrite=True)
    cache.clear()
    cache.store(prompt="What is the capital of France?", response="Paris",
                metadata={"city": "Paris"})
    cache.store(prompt="Who wrote Hamlet?", response="Shakespeare", ttl=1)

    def shown(hits):
        return [(h.get("entry_id"), h.get("prompt"), h["response"], h.get("metadata"),
                 float(h.get("vector_distance", 0.0))) for h in hits]

    answers = {
        "hit": shown(cache.check(prompt="what is the capital of france")),
        "hit, fields": shown(cache.check(prompt="What is the capital of France?",
                                         return_fields=["response"])),
        "miss": shown(cache.check(prompt="How tall is Mont Blanc?")),
    }
    # A hit refreshes the entry's TTL (to the cache's), so Hamlet is not checked before
    # its own TTL of one second has passed.
    time.sleep(1.5)
    answers["expired"] = shown(cache.check(prompt="Who wrote Hamlet?"))
    answers["kept"] = len(cache.check(prompt="What is the capital of France?"))
    cache.delete()
    return answers


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= TOLERANCE
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--strata-port", type=int, required=True)
    args = parser.parse_args()
    rows = read_rows()
    vectors = decode_vectors(os.path.join(DATA, "sample.i8"))
    queries = decode_vectors(os.path.join(DATA, "queries.i8"))
    failures = 0
    checks = 0
    sessions = [(f"redis-py RESP{p}", lambda port, p=p: redis_py_session(port, p, rows, vectors, queries))
                for p in (2, 3)]
    sessions.append(("RedisVL", lambda port: redisvl_session(port, rows, vectors, queries)))
    sessions.append(("RedisVL JSON", lambda port: redisvl_json_session(port, rows, vectors, queries)))
    sessions.append(("redis-py lists and JSON", lists_and_json_session))
    sessions.append(("FT.AGGREGATE", lambda port: aggregate_session(port, rows, vectors, queries)))
    sessions.append(("RedisVL SemanticCache", semantic_cache_session))
    for name, session in sessions:
        theirs = session(args.redis_port)
        ours = session(args.strata_port)
        for case in theirs:
            checks += 1
            if not same(theirs[case], ours.get(case)):
                failures += 1
                print(f"MISMATCH {name} / {case}:\n  redis:  {theirs[case]}\n  strata: {ours.get(case)}")
    print(f"clients: {checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
