#!/usr/bin/env python3
"""Side-by-side suite: the same rows and query strings through Redis Stack and Strata.

Loads the shipped 2,000-row sample (engine/examples/data) into Redis with redis-py,
runs every case below there and through `redis_parity` (tests/src/bin), and compares:
FLAT results exactly (keys, order, distances to 1e-5, returned fields, totals), HNSW
by recall against the exact answer, errors by both sides refusing. Where Strata is
deliberately stricter or lacks a feature, the case says so and the README lists it
under "Differences from Redis"; the comparison then pins that exact difference.

    parity.py --port PORT [--runner CMD]

Exit status 1 on any mismatch. Needs redis-py and numpy (tests/redis_parity/run.sh
installs them with the server).
"""
import argparse
import json
import os
import shlex
import struct
import subprocess
import sys
import tempfile

import numpy as np
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "engine", "examples", "data")
INDEX = "packages"
PREFIX = "pypi:"
JSON_INDEX = "packages_json"
JSON_PREFIX = "json:"
WEIGHTED_INDEX = "packages_weighted"
# Partial updates between phase 1 and phase 2, in order; as in redis_parity.rs.
JSON_UPDATES = [("json:pypi:burrito", "$.meta.year", "2030"),
                ("json:pypi:crawailer", "$.meta.year", "2030"),
                ("json:pypi:burrito", "$.topics", '["zz","cli"]'),
                ("json:pypi:ferrit", "$.topics", '["zz"]')]
# Then a value of the wrong type: Redis stores it and drops the document from the
# index; Strata refuses it and keeps the document (case mode "json_refused").
JSON_REFUSED = ("json:pypi:postgres-install", "$.meta.year", '"2022"')
# Written again (same content) between phase 1 and phase 2, in order; as in
# redis_parity.rs (the last one rewrites a row that is then in Strata's memtable).
REWRITTEN_KEYS = ["pypi:postgres-install", "pypi:burrito", "pypi:crawailer",
                  "pypi:postgres-install"]
VECTOR_FIELDS = {"v": ("FLAT", "COSINE"), "vl2": ("FLAT", "L2"), "vip": ("FLAT", "IP"),
                 "vh": ("HNSW", "COSINE")}
TOLERANCE = 1e-5
MIN_RECALL = 0.9


def case(name, query, mode="exact", args=(), params=None, text=None, phase=1, **extra):
    """One query string with its FT.SEARCH arguments and how to compare the answers."""
    entry = {"name": name, "query": query, "mode": mode, "args": list(args),
             "params": params or {}, "text_params": text or {}, "phase": phase}
    entry.update(extra)
    return entry


Q = {"q": "query:0"}
Q1 = {"q": "query:1"}
Q3 = {"q": "query:3"}
ALL = ["LIMIT", "0", "2000"]

CASES = [
    # KNN over FLAT fields of each metric. Without SORTBY, Redis returns the k nearest
    # in its internal order and Strata nearest first (a listed difference): mode "knn"
    # compares the sets, fields and totals and checks Strata's order; with SORTBY on
    # the distance the order must match exactly.
    case("knn cosine, implicit __v_score", "*=>[KNN 10 @v $q]", mode="knn", params=Q),
    case("knn cosine sorted", "*=>[KNN 10 @v $q]", args=["SORTBY", "__v_score"], params=Q1),
    case("knn L2 sorted", "*=>[KNN 10 @vl2 $q]", args=["SORTBY", "__vl2_score"], params=Q),
    case("knn IP sorted", "*=>[KNN 10 @vip $q]", args=["SORTBY", "__vip_score", "ASC"], params=Q3),
    case("knn AS alias", "*=>[KNN 10 @v $q AS dist]", mode="knn", params=Q),
    case("knn AS alias sorted", "*=>[KNN 10 @v $q AS dist]", args=["SORTBY", "dist"], params=Q3),
    case("knn YIELD_DISTANCE_AS", "*=>[KNN 10 @v $q]=>{$YIELD_DISTANCE_AS: dd}",
         args=["SORTBY", "dd"], params=Q),
    case("knn k as a parameter", "*=>[KNN $k @v $q]", mode="knn", params=Q, text={"k": "7"}),
    case("knn k larger than LIMIT", "*=>[KNN 30 @v $q]", args=["SORTBY", "__v_score"], params=Q),
    case("knn paged", "*=>[KNN 30 @v $q]", args=["SORTBY", "__v_score", "LIMIT", "5", "10"],
         params=Q),
    case("knn count only (LIMIT 0 0)", "*=>[KNN 10 @v $q]", args=["LIMIT", "0", "0"], params=Q),
    case("knn 0 (issue 10.7)", "*=>[KNN 0 @v $q]", params=Q),
    case("knn NOCONTENT", "*=>[KNN 10 @v $q]", mode="knn", args=["NOCONTENT"], params=Q),
    case("knn RETURN alias (issue 10.1)", "*=>[KNN 5 @v $q]",
         args=["RETURN", "3", "name", "AS", "title", "SORTBY", "__v_score"], params=Q),
    case("knn RETURN order (issue 10.1)", "*=>[KNN 5 @v $q]",
         args=["RETURN", "3", "year", "__v_score", "name", "SORTBY", "__v_score"], params=Q),
    case("knn RETURN the score AS an alias (a listed difference)", "*=>[KNN 5 @v $q AS s]",
         mode="alias_dropped", field="distance",
         args=["RETURN", "4", "s", "AS", "distance", "topic", "SORTBY", "s"], params=Q),
    case("knn SORTBY implicit score DESC", "*=>[KNN 10 @v $q]",
         args=["SORTBY", "__v_score", "DESC"], params=Q),
    case("knn SORTBY a field", "*=>[KNN 20 @v $q]", args=["SORTBY", "year", "ASC"], params=Q),
    case("knn SORTBY a field DESC", "*=>[KNN 20 @v $q AS s]",
         args=["SORTBY", "year", "DESC", "RETURN", "2", "year", "s"], params=Q1),
    case("knn prefiltered by tag", "(@topic:{web})=>[KNN 10 @v $q]", mode="knn", params=Q),
    case("knn prefiltered by tags OR, NOT", "(@topic:{web | ai} -@topic:{cli})=>[KNN 10 @v $q AS s]",
         args=["SORTBY", "s"], params=Q1),
    case("knn prefiltered by range", "(@year:[2020 2022])=>[KNN 10 @v $q]",
         args=["SORTBY", "__v_score"], params=Q),
    case("knn prefiltered, exclusive bound", "(@year:[(2020 +inf] @topic:{data})=>[KNN 10 @v $q]",
         mode="knn", params=Q3),
    case("knn prefiltered, tag parameter", "(@topic:{$t})=>[KNN 10 @v $q]", mode="knn", params=Q,
         text={"t": "security"}),
    case("knn prefiltered, numeric parameters", "(@year:[$lo $hi])=>[KNN 10 @v $q]", mode="knn",
         params=Q, text={"lo": "2015", "hi": "2019"}),
    case("knn, filter matches fewer than k", "(@topic:{finance} @year:[2024 2024])=>[KNN 50 @v $q]",
         args=["SORTBY", "__v_score"], params=Q),
    case("knn HYBRID_POLICY ADHOC_BF", "(@topic:{web})=>[KNN 10 @v $q HYBRID_POLICY ADHOC_BF]",
         args=["SORTBY", "__v_score"], params=Q),
    case("knn DIALECT 3 (issue 10.7)", "*=>[KNN 10 @v $q]", mode="knn", args=["DIALECT", "3"],
         params=Q),
    case("knn on a row's own vector", "*=>[KNN 5 @v $q]", args=["SORTBY", "__v_score"],
         params={"q": "row:17"}),
    # HNSW: approximate, compared by recall with the FLAT field's exact answer.
    case("hnsw knn", "*=>[KNN 10 @vh $q]", mode="recall", params=Q,
         ref="*=>[KNN 10 @v $q]"),
    case("hnsw knn EF_RUNTIME", "*=>[KNN 10 @vh $q EF_RUNTIME 100]", mode="recall", params=Q1,
         ref="*=>[KNN 10 @v $q]"),
    case("hnsw knn filtered", "(@topic:{web})=>[KNN 10 @vh $q]", mode="recall", params=Q3,
         ref="(@topic:{web})=>[KNN 10 @v $q]"),
    case("hnsw vector range", "@vh:[VECTOR_RANGE 0.6 $q]", mode="recall", params=Q,
         args=ALL, ref="@v:[VECTOR_RANGE 0.6 $q]"),
    case("hnsw knn HYBRID_POLICY BATCHES", "(@topic:{web})=>[KNN 10 @vh $q HYBRID_POLICY BATCHES BATCH_SIZE 20]",
         mode="recall", params=Q, ref="(@topic:{web})=>[KNN 10 @v $q]"),
    case("hnsw knn attribute block", "*=>[KNN 10 @vh $q]=>{$EF_RUNTIME: 50; $YIELD_DISTANCE_AS: dd}",
         mode="recall", params=Q1, ref="*=>[KNN 10 @v $q]"),
    case("hnsw vector range EPSILON", "@vh:[VECTOR_RANGE 0.6 $q]=>{$EPSILON: 0.5}", mode="recall",
         params=Q, args=ALL, ref="@v:[VECTOR_RANGE 0.6 $q]"),
    # Hints Strata ignores where Redis refuses them (listed differences).
    case("EF_RUNTIME on a FLAT field", "*=>[KNN 10 @v $q EF_RUNTIME 50]", mode="lenient",
         params=Q, same_as="*=>[KNN 10 @v $q]"),
    case("BATCH_SIZE without a filter", "*=>[KNN 10 @v $q BATCH_SIZE 50]", mode="lenient",
         params=Q, same_as="*=>[KNN 10 @v $q]"),
    # VECTOR_RANGE.
    case("range sorted by yielded distance",
         "@v:[VECTOR_RANGE 0.6 $q]=>{$YIELD_DISTANCE_AS: d}", args=["SORTBY", "d"] + ALL,
         params=Q),
    case("range, no yielded distance", "@v:[VECTOR_RANGE 0.6 $q]", mode="set", args=ALL,
         params=Q),
    case("range AND tag", "@v:[VECTOR_RANGE 0.7 $q] @topic:{web}", mode="set", args=ALL,
         params=Q1),
    case("range OR tag: only real distances (issue 10.2)",
         "@v:[VECTOR_RANGE 0.6 $q]=>{$YIELD_DISTANCE_AS: d} | @topic:{finance}",
         args=["SORTBY", "d"] + ALL, params=Q),
    case("range OR tag, unsorted", "@v:[VECTOR_RANGE 0.6 $q]=>{$YIELD_DISTANCE_AS: d} | @topic:{finance}",
         mode="set", args=ALL, params=Q),
    case("range L2, radius as parameter", "@vl2:[VECTOR_RANGE $r $q]=>{$YIELD_DISTANCE_AS: d}",
         args=["SORTBY", "d"] + ALL, params=Q, text={"r": "1.1"}),
    case("range count only", "@v:[VECTOR_RANGE 0.6 $q]", args=["LIMIT", "0", "0"], params=Q),
    # Filters without a vector clause: Redis orders by its internal score, so the
    # whole result is compared as a set (Difference: order without SORTBY).
    case("tag", "@topic:{finance}", mode="set", args=ALL),
    case("tags OR", "@topic:{finance | security}", mode="set", args=ALL),
    case("tag AND tag", "@topic:{web} @topic:{data}", mode="set", args=ALL),
    case("NOT tag", "-@topic:{web}", mode="set", args=ALL + ["RETURN", "1", "topic"]),
    case("numeric range", "@year:[2013 2015]", mode="set", args=ALL),
    case("numeric exclusive and open bounds", "@year:[(2024 +inf]", mode="set",
         args=ALL + ["NOCONTENT"]),
    case("numeric -inf", "@year:[-inf (2014]", mode="set", args=ALL),
    case("OR of groups", "(@topic:{finance} @year:[2025 2026]) | (@topic:{math} -@year:[2020 2030])",
         mode="set", args=ALL),
    case("numeric comparison", "@year>2024", mode="set", args=ALL + ["RETURN", "1", "year"]),
    case("tag values fold case", "@topic:{WEB}", args=["LIMIT", "0", "0"]),
    case("tag wildcard folds case", "@topic:{Fin*}", mode="set", args=ALL),
    case("tag prefix wildcard (issue 10.7)", "@topic:{fin*}", mode="set", args=ALL),
    case("tag suffix wildcard (issue 10.7)", "@topic:{*ity}", mode="set", args=ALL),
    case("tag infix wildcard (issue 10.7)", "@topic:{*ev*}", mode="set", args=ALL),
    case("tag wildcard in a list", "@topic:{fin* | web}", mode="set", args=ALL),
    case("everything, count only", "*", args=["LIMIT", "0", "0"]),
    case("filter, count only", "@topic:{web}", args=["LIMIT", "0", "0"]),
    case("filter DIALECT 3", "@topic:{finance}", mode="set", args=ALL + ["DIALECT", "3"]),
    # Under DIALECT 4 Redis's optimiser reports a lower bound as the total (a listed
    # difference); Strata's stays exact.
    case("filter DIALECT 4", "@topic:{finance | math}", mode="set", args=ALL + ["DIALECT", "4"],
         lower_bound_total=True),
    case("knn DIALECT 4 sorted", "(@year:[2021 2023])=>[KNN 10 @v $q]", params=Q1,
         args=["SORTBY", "__v_score", "DIALECT", "4"]),
    # SORTBY: ties broken by insertion order, ascending for ASC, descending for DESC.
    case("SORTBY year ASC", "@topic:{web}", args=["SORTBY", "year", "ASC", "LIMIT", "0", "60"]),
    case("SORTBY year DESC", "@topic:{web}", args=["SORTBY", "year", "DESC", "LIMIT", "0", "60"]),
    case("SORTBY popularity DESC (ties)", "*", args=["SORTBY", "popularity", "DESC", "LIMIT", "0", "40"]),
    case("SORTBY a TEXT field", "@topic:{math}", args=["SORTBY", "name", "LIMIT", "0", "30",
                                                        "RETURN", "1", "name"]),
    case("SORTBY popularity ASC, paged (ties)", "*",
         args=["SORTBY", "popularity", "ASC", "LIMIT", "100", "20", "RETURN", "1", "name"]),
    case("SORTBY after rewrites ASC (issue 10.6)", "*", phase=2,
         args=["SORTBY", "popularity", "ASC", "RETURN", "0"] + ALL),
    case("SORTBY after rewrites DESC (issue 10.6)", "@year:[2015 2022]", phase=2,
         args=["SORTBY", "year", "DESC", "RETURN", "1", "year"] + ALL),
    # JSON documents (issue 15.3): the same sample JSON.SET as nested documents into an
    # index ON JSON (index "json"); fields come from JSONPaths, RETURN takes `$.path`.
    case("json: filtered KNN, RETURN paths", "(@topic:{web})=>[KNN 10 @embedding $q AS d]",
         index="json", params=Q1,
         args=["SORTBY", "d", "RETURN", "4", "d", "$.name", "$.meta.year", "$.topics"]),
    case("json: nested NUMERIC range, SORTBY (ties)", "@year:[2018 2020]", index="json",
         args=["SORTBY", "popularity", "DESC", "LIMIT", "0", "50",
               "RETURN", "2", "$.name", "popularity"]),
    case("json: a missing path leaves the field out", "@year:[-inf +inf]", index="json",
         args=["LIMIT", "0", "0"]),
    case("json: multi-valued TAG, RETURN $.path[*] (first match)", "@topic:{data}",
         mode="set", index="json", args=["RETURN", "2", "$.topics[*]", "$.meta.popularity"] + ALL),
    case("json: DIALECT 3 returns every match", "@topic:{math}", mode="set", index="json",
         args=["RETURN", "3", "$.topics[*]", "AS", "t", "DIALECT", "3"] + ALL),
    case("json: RETURN of a multi-valued TAG's alias", "@topic:{web}", mode="json_alias",
         index="json", field="topic", args=["RETURN", "2", "topic", "$.name"] + ALL),
    case("json: after JSON.SET of a path", "@year:[2030 2030] | @topic:{zz}", index="json",
         phase=2, args=["SORTBY", "year", "RETURN", "3", "$.name", "$.topics", "year"] + ALL),
    case("json: a value of the wrong type", "@topic:{database}", mode="json_refused",
         index="json", phase=2, key=JSON_REFUSED[0], args=["RETURN", "1", "$.name"] + ALL),
    case("json: RETURN $, the whole document", "@topic:{zz}", index="json", phase=2,
         args=["SORTBY", "year", "RETURN", "1", "$"]),
    # Errors both sides refuse.
    case("blob of the wrong length (issue 10.8)", "*=>[KNN 10 @v $q]", mode="error",
         params={"q": "bytes:1532"}),
    case("blob not a multiple of 4 (issue 10.8)", "*=>[KNN 10 @v $q]", mode="error",
         params={"q": "bytes:7"}),
    case("unclosed tag list", "@topic:{web", mode="error", args=ALL),
    case("missing parameter", "*=>[KNN 10 @v $nope]", mode="error", params=Q),
    case("SORTBY an unknown field", "*", mode="error", args=["SORTBY", "nosuch"]),
    case("LIMIT negative", "*", mode="error", args=["LIMIT", "-1", "10"]),
    case("unknown option", "*", mode="error", args=["FROBNICATE"]),
    # Strata refuses what can never match; Redis answers with nothing.
    case("KNN on a TEXT field (issue 10.3)", "*=>[KNN 10 @name $q]", mode="stricter",
         variant="QueryFieldType", params=Q),
    case("tag predicate on NUMERIC (issue 10.3)", "@year:{2020}", mode="stricter",
         variant="QueryFieldType"),
    case("range predicate on TAG", "@topic:[0 10]", mode="stricter", variant="QueryFieldType"),
    case("unknown field", "@nosuch:{x}", mode="stricter", variant="UnknownField"),
    # `strata serve` returns hash fields outside the schema, as Redis does, so there
    # it answers like Redis (mode "served").
    case("RETURN an unknown field", "*", mode="stricter", variant="UnknownField",
         args=["RETURN", "1", "nosuch"],
         served={"mode": "set", "args": ["RETURN", "1", "nosuch", "LIMIT", "0", "2000"]}),
    # Not provided by Strata: a clear error where Redis answers.
    case("DIALECT 1", "*", mode="unsupported", variant="InvalidQuery", args=["DIALECT", "1"]),
    case("unknown SCORER", "@summary:python", mode="error", args=["SCORER", "NOSUCH"]),
]

# Scorers (issue 10): WITHSCORES under each RediSearch scorer Strata computes, over
# text, TAG-only, numeric, `*` and mixed queries. Mode "scored" compares the totals,
# each hit's score to the tolerance, and the order wherever scores differ (hits of equal
# score may come in either order).
SCORERS = ["TFIDF", "TFIDF.DOCNORM", "BM25", "BM25STD", "DISMAX", "DOCSCORE", "HAMMING"]
# Left out, as README "Scorers" says: a word's stem expansions inside an AND, and
# prefix or fuzzy unions, where Redis counts only some of the terms that match.
SCORED_QUERIES = [
    "@summary:python", "@summary:running", "@summary:libraries", "@summary:data",
    "@summary:(django|flask)", "@summary:\"command line\"", "@summary:\"machine learning\"",
    "python", "@name|summary:(django)", "@name|summary:(redis)", "kubernetes",
    "@topic:{web}", "@topic:{web|ai}", "@topic:{data}", "@year:[2020 2022]", "*",
    "@summary:python @topic:{ai}", "@summary:django @year:[2020 2025]",
    "@summary:django -@topic:{web}", "@topic:{web} | @name:flask",
]
for scorer in SCORERS:
    for query in SCORED_QUERIES:
        CASES.append(case(f"SCORER {scorer} WITHSCORES {query}", query, mode="scored",
                          args=["SCORER", scorer, "WITHSCORES", "NOCONTENT"] + ALL))
# The same index with field weights and no vectors: WEIGHT multiplies a word's
# frequency in RediSearch's forward index, which spans the fields.
for scorer in SCORERS:
    for query in ["@name|summary:(django)", "@name|summary:(redis)", "python",
                  "@summary:running", "@topic:{web}"]:
        CASES.append(case(f"weighted SCORER {scorer} WITHSCORES {query}", query,
                          mode="scored", index="weighted",
                          args=["SCORER", scorer, "WITHSCORES", "NOCONTENT"] + ALL))
CASES += [
    case("KNN WITHSCORES SCORER TFIDF", "*=>[KNN 10 @v $q]", args=["SORTBY", "__v_score",
         "WITHSCORES", "SCORER", "TFIDF"], params=Q),
    case("SORTBY WITHSCORES SCORER BM25STD", "@summary:data", args=["SORTBY", "year",
         "WITHSCORES", "SCORER", "BM25STD", "RETURN", "1", "year"] + ALL),
]

# Full-text search (issue 12) on the sample's TEXT fields `name` and `summary`: the
# set of documents each query matches (Redis orders them by TFIDF, Strata by BM25, a
# listed difference), with their fields and the total. Same stemming and stop words.
TEXT_WORDS = ["python", "library", "libraries", "package", "packages", "api", "data",
              "tool", "tools", "client", "clients", "simple", "framework", "frameworks",
              "server", "files", "file", "agent", "agents", "django", "model", "models",
              "testing", "tests", "test", "running", "run", "runs", "utility", "utilities",
              "database", "learning", "analysis", "interface", "extension", "wrapper",
              "command", "json", "cloud", "terminal"]
TEXT_CASES = [("@summary:" + w, []) for w in TEXT_WORDS]
TEXT_CASES += [(q, []) for q in [
    "@name:burrito", "@name:django", "@name:pytest",
    "@summary:(python library)", "@summary:(command line)", "@summary:(machine learning)",
    "@summary:(data analysis)", "@summary:(django extension)", "@summary:(api client)",
    "@summary:(simple python wrapper)", "@summary:(tools for testing)",
    "@summary:(the python)", "@summary:(a library for data)",
    "@summary:(django|flask)", "@summary:(json|yaml|toml)", "@summary:(agent|agents)",
    "@summary:(cli|terminal)", "@summary:(aws|azure|gcp)",
    "@summary:\"command line\"", "@summary:\"command line tool\"",
    "@summary:\"machine learning\"", "@summary:\"python library\"",
    "@summary:\"a python library\"", "@summary:\"library for\"",
    "@summary:\"state of the art\"", "@summary:\"for python\"",
    "@summary:\"data science\"", "@summary:\"python package\"",
    "@summary:\"api client\"", "@summary:\"mcp server\"",
    "@summary:pars*", "@summary:auto*", "@summary:conf*", "@summary:test*",
    "@name:py*", "@name:django*", "@summary:micro*", "@summary:async*",
    "@summary:python -@summary:library", "@summary:django -@topic:{web}",
    "@summary:(api -client)", "@summary:data -@summary:(science|analysis)",
    "@name|summary:(django)", "@name|summary:(pytest)", "@name|summary:(flask plugin)",
    "@name|summary:(redis)", "@name|summary:(mcp|llm)",
    "python", "django", "pytest", "redis cache", "machine learning", "kubernetes",
    "aws", "openai", "parser", "scraping",
    "%pyhton%", "%%framwork%%", "%djano%", "%%%libary%%%", "%serer%",
    "@summary:%tesing%", "@summary:%%databse%%", "@name:%redis%",
    "@summary:python @topic:{ai}", "@summary:django @year:[2020 2025]",
    "@summary:(data|model) @topic:{data}", "@summary:test* @topic:{testing}",
    "@summary:python @popularity:[1 +inf]", "(@summary:api @topic:{web}) | @name:flask",
    "@summary:library -@topic:{ai|data}", "@topic:{web} @summary:\"web framework\"",
]]
for query, args in TEXT_CASES:
    CASES.append(case(f"text {query}", query, mode="set", args=ALL + args))
# HIGHLIGHT and SUMMARIZE (issue 12): the rewritten fields must match Redis's byte for
# byte. FIELDS names the field the query searches: RediSearch applies a term's
# positions in the field it matched to every field's offsets (a listed difference).
MARKUP_CASES = [
    ("@summary:python", ["HIGHLIGHT", "FIELDS", "1", "summary"]),
    ("@summary:(python library)", ["HIGHLIGHT", "FIELDS", "1", "summary", "TAGS", "<em>", "</em>"]),
    ("@summary:libraries", ["SUMMARIZE", "FIELDS", "1", "summary", "LEN", "5", "FRAGS", "2"]),
    ("@summary:(data|model)", ["SUMMARIZE", "FIELDS", "1", "summary", "HIGHLIGHT", "FIELDS", "1",
                               "summary"]),
    ("@summary:\"command line\"", ["HIGHLIGHT", "FIELDS", "1", "summary"]),
    ("@summary:running", ["SUMMARIZE", "FIELDS", "1", "summary", "LEN", "3", "SEPARATOR", " | "]),
    ("@summary:tools", ["SUMMARIZE", "FIELDS", "1", "summary", "LEN", "0", "HIGHLIGHT", "FIELDS",
                       "1", "summary"]),
    ("@topic:{web}", ["SUMMARIZE", "FIELDS", "1", "summary"]),
    ("@topic:{web}", ["HIGHLIGHT", "FIELDS", "1", "summary"]),
    ("@name:django", ["HIGHLIGHT", "FIELDS", "1", "name", "SUMMARIZE", "FIELDS", "1", "name"]),
]
for query, args in MARKUP_CASES:
    CASES.append(case(f"markup {query} {' '.join(args)}", query, mode="set",
                      args=ALL + ["RETURN", "3", "name", "summary", "topic"] + args))
CASES += [
    # Redis 7.4 refuses a KNN filter of several predicates without parentheses; Strata
    # reads it as the parenthesised form (a listed difference).
    # Inside a KNN filter Redis 7.4 matches words as written, without their stems (a
    # listed difference), so these filters use words whose matches need no stemming.
    case("text KNN pre-filter, seeds' form", "@summary:(python data) @topic:{data}=>[KNN 10 @v $q]",
         mode="lenient", params=Q,
         same_as="(@summary:(python data) @topic:{data})=>[KNN 10 @v $q]"),
    case("text KNN pre-filter, parenthesised", "(@summary:(python data) @topic:{data})=>[KNN 10 @v $q]",
         mode="knn", params=Q),
    case("text KNN pre-filter, bare word", "django=>[KNN 5 @v $q]", mode="knn", params=Q),
    case("text KNN pre-filter, phrase", "@summary:\"command line\"=>[KNN 5 @v $q]", mode="knn",
         params=Q),
]


def decode_vectors(path):
    with open(path, "rb") as f:
        data = f.read()
    rows, dim = struct.unpack_from("<II", data, 0)
    out = np.empty((rows, dim), dtype=np.float32)
    offset = 8
    for i in range(rows):
        scale = np.frombuffer(data, dtype="<f4", count=1, offset=offset)[0]
        raw = np.frombuffer(data, dtype=np.int8, count=dim, offset=offset + 4)
        out[i] = raw.astype(np.float32) * np.float32(scale)
        offset += 4 + dim
    return out


def read_rows():
    with open(os.path.join(DATA, "sample.tsv"), encoding="utf-8") as f:
        lines = f.read().split("\n")[1:]
    rows = []
    for line in lines:
        if not line:
            continue
        key, name, topic, year, popularity, summary = line.split("\t")
        rows.append({"key": key, "name": name, "topic": topic, "year": year,
                     "popularity": popularity, "summary": summary})
    return rows


def hash_of(row, vector):
    blob = vector.astype("<f4").tobytes()
    fields = {"name": row["name"], "topic": row["topic"], "popularity": row["popularity"],
              "summary": row["summary"]}
    if row["year"]:
        fields["year"] = row["year"]
    for field in VECTOR_FIELDS:
        fields[field] = blob
    return fields


def load_redis(client, rows, vectors):
    client.flushall()
    schema = ["name", "TEXT", "SORTABLE", "topic", "TAG", "SEPARATOR", ",",
              "year", "NUMERIC", "SORTABLE", "popularity", "NUMERIC", "SORTABLE",
              "summary", "TEXT"]
    for field, (algorithm, metric) in VECTOR_FIELDS.items():
        attributes = ["TYPE", "FLOAT32", "DIM", str(vectors.shape[1]), "DISTANCE_METRIC", metric]
        if algorithm == "HNSW":
            attributes += ["M", "16", "EF_CONSTRUCTION", "200"]
        schema += [field, "VECTOR", algorithm, str(len(attributes))] + attributes
    client.execute_command("FT.CREATE", INDEX, "ON", "HASH", "PREFIX", "1", PREFIX,
                           "SCHEMA", *schema)
    pipe = client.pipeline(transaction=False)
    for row, vector in zip(rows, vectors):
        pipe.hset(row["key"], mapping=hash_of(row, vector))
    pipe.execute()


def load_redis_weighted(client):
    """A second index over the same hashes, with field weights and no vectors."""
    client.execute_command("FT.CREATE", WEIGHTED_INDEX, "ON", "HASH", "PREFIX", "1", PREFIX,
                           "SCHEMA", "name", "TEXT", "WEIGHT", "3", "topic", "TAG",
                           "SEPARATOR", ",", "summary", "TEXT", "WEIGHT", "2")
    for _ in range(100):
        info = client.execute_command("FT.INFO", WEIGHTED_INDEX)
        fields = dict(zip(info[::2], info[1::2]))
        if str(fields.get(b"indexing", b"0")) in ("0", "b'0'"):
            return
        import time
        time.sleep(0.1)


def json_document(row, vector):
    meta = {"popularity": float(row["popularity"])}
    if row["year"]:
        meta["year"] = int(row["year"])
    return {"name": row["name"], "summary": row["summary"], "topics": row["topic"].split(","),
            "meta": meta, "embedding": [float(x) for x in vector]}


def load_redis_json(client, rows, vectors):
    """The same sample as JSON documents, in an index ON JSON."""
    vector = ["TYPE", "FLOAT32", "DIM", str(vectors.shape[1]), "DISTANCE_METRIC", "COSINE"]
    client.execute_command(
        "FT.CREATE", JSON_INDEX, "ON", "JSON", "PREFIX", "1", JSON_PREFIX, "SCHEMA",
        "$.name", "AS", "name", "TEXT", "$.topics[*]", "AS", "topic", "TAG",
        "$.meta.year", "AS", "year", "NUMERIC", "$.meta.popularity", "AS", "popularity", "NUMERIC",
        "$.embedding", "AS", "embedding", "VECTOR", "FLAT", str(len(vector)), *vector,
        "$.summary", "AS", "summary", "TEXT")
    pipe = client.pipeline(transaction=False)
    for row, vector in zip(rows, vectors):
        pipe.execute_command("JSON.SET", JSON_PREFIX + row["key"], "$",
                             json.dumps(json_document(row, vector)))
    pipe.execute()


def blob(source, vectors, queries):
    kind, index = source.split(":")
    index = int(index)
    if kind == "bytes":
        return bytes(index)
    return (queries if kind == "query" else vectors)[index].astype("<f4").tobytes()


def redis_answer(client, entry, vectors, queries, query=None):
    args = list(entry["args"])
    params = [item for name, source in entry["params"].items()
              for item in (name, blob(source, vectors, queries))]
    params += [item for pair in entry["text_params"].items() for item in pair]
    if params:
        args += ["PARAMS", str(len(params))] + params
    if "DIALECT" not in [str(a).upper() for a in args]:
        args += ["DIALECT", "2"]
    try:
        index = {"json": JSON_INDEX, "weighted": WEIGHTED_INDEX}.get(entry.get("index"), INDEX)
        reply = client.execute_command("FT.SEARCH", index, query or entry["query"], *args)
    except redis.ResponseError as error:
        return {"error": {"message": str(error)}}
    upper = [str(a).upper() for a in args]
    # `RETURN 0` replies with ids only, like NOCONTENT.
    no_content = "NOCONTENT" in upper or any(
        a == "RETURN" and upper[i + 1:i + 2] == ["0"] for i, a in enumerate(upper))
    with_scores = "WITHSCORES" in upper
    total, rest = reply[0], reply[1:]
    hits = []
    step = (1 if no_content else 2) + with_scores
    for i in range(0, len(rest), step):
        key = rest[i].decode()
        fields = {}
        if with_scores:
            fields["(score)"] = rest[i + 1].decode()
        if not no_content:
            raw = rest[i + step - 1] or []
            for j in range(0, len(raw), 2):
                name = raw[j].decode()
                if name in VECTOR_FIELDS:
                    # Redis returns the vector blob with every field; Strata returns
                    # vectors only when RETURN names them (a listed difference).
                    continue
                fields[name] = raw[j + 1].decode()
        hits.append({"key": key, "fields": fields})
    return {"total": total, "hits": hits}


def same_json(a, b):
    """JSON values equal up to key order and float rounding (Strata stores vectors as
    f32 and writes each component in its shortest form)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) <= TOLERANCE * max(1.0, abs(a))
    return a == b


def served_answer(client, entry, vectors, queries):
    """Strata's answer through `strata serve`, shaped like the runner's: numbers typed
    (so distances compare to the tolerance), and a refusal standing for the variant the
    case expects (an error reply carries only its message)."""
    answer = redis_answer(client, entry, vectors, queries)
    if "error" in answer:
        answer["error"]["variant"] = entry.get("variant", "")
        return answer
    for hit in answer["hits"]:
        for name, value in hit["fields"].items():
            try:
                hit["fields"][name] = float(value)
            except ValueError:
                pass
    return answer


def same_value(redis_value, strata_value):
    if isinstance(strata_value, str) and strata_value[:1] in ("{", "[") and redis_value != strata_value:
        try:
            return same_json(json.loads(redis_value), json.loads(strata_value))
        except ValueError:
            return False
    if isinstance(strata_value, (int, float)):
        try:
            return abs(float(redis_value) - float(strata_value)) <= TOLERANCE
        except ValueError:
            return False
    return redis_value == strata_value


def score_of(hit):
    for name, value in hit["fields"].items():
        if name.startswith("__") or name in ("dist", "dd", "s", "d", "distance"):
            try:
                return float(value)
            except ValueError:
                return None
    return None


def clip(value, width=300):
    text = repr(value)
    return text if len(text) <= width else text[:width] + "..."


def compare_fields(ours, theirs, problems, key):
    if set(ours) != set(theirs):
        problems.append(f"{key}: fields {sorted(theirs)} in Redis, {sorted(ours)} in Strata")
        return
    if list(ours) != list(theirs) and False:
        problems.append(f"{key}: field order differs")
    for name, value in theirs.items():
        if not same_value(value, ours[name]):
            problems.append(f"{key}.{name}: Redis {clip(value)}, Strata {clip(ours[name])}")


def compare(entry, ours, theirs, reference):
    """A list of problems; empty when the answers agree as the case's mode demands."""
    mode, problems = entry["mode"], []
    if mode in ("stricter", "unsupported"):
        if "error" not in ours or ours["error"]["variant"] != entry["variant"]:
            problems.append(f"Strata should refuse with {entry['variant']}, got {ours}")
        if "error" in theirs:
            problems.append(f"Redis refused too ({theirs['error']['message']}): the difference "
                            "is gone, move the case to mode 'error'")
        elif mode == "stricter" and entry["args"][:1] != ["RETURN"] and theirs["total"] != 0:
            problems.append(f"Redis matched {theirs['total']} documents, not none")
        return problems
    if mode == "alias_dropped":
        # Redis 7.4 leaves out a distance field returned under an alias; Strata
        # returns it. Everything else must agree.
        for side, answer in (("Strata", ours), ("Redis", theirs)):
            if "error" in answer:
                return [f"{side} refused: {answer['error']['message']}"]
        if any(entry["field"] in hit["fields"] for hit in theirs["hits"]):
            problems.append("Redis now returns the aliased distance: drop the difference")
        if not all(entry["field"] in hit["fields"] for hit in ours["hits"]):
            problems.append("Strata left out the aliased distance")
        for hit in ours["hits"]:
            hit["fields"].pop(entry["field"], None)
        entry = dict(entry, mode="exact")
    if mode == "json_alias":
        # RETURN of a JSON field's alias: Redis gives the path's first match, Strata the
        # value indexed (a multi-valued tag's values joined by U+001F). Everything else
        # must agree as a set.
        for side, answer in (("Strata", ours), ("Redis", theirs)):
            if "error" in answer:
                return [f"{side} refused: {answer['error']['message']}"]
        field, redis_values = entry["field"], {h["key"]: h["fields"].get(entry["field"]) for h in theirs["hits"]}
        if all(h["fields"].get(field) == redis_values.get(h["key"]) for h in ours["hits"]):
            problems.append("no hit shows the difference: Strata now returns what Redis does")
        for hit in ours["hits"]:
            value = hit["fields"].get(field)
            if value is not None and value.split("\x1f")[0] != redis_values.get(hit["key"]):
                problems.append(f"{hit['key']}.{field}: Redis {redis_values.get(hit['key'])!r}, "
                                f"Strata {value!r} (its first value should be Redis's)")
            hit["fields"][field] = redis_values.get(hit["key"], value)
        entry = dict(entry, mode="set")
        mode = "set"
    if mode == "json_refused":
        # JSON.SET of a value its field cannot index: Redis drops the document from the
        # index, Strata refused the update and still finds the document as it was.
        for side, answer in (("Strata", ours), ("Redis", theirs)):
            if "error" in answer:
                return [f"{side} refused: {answer['error']['message']}"]
        key = entry["key"]
        if any(hit["key"] == key for hit in theirs["hits"]):
            problems.append(f"Redis still finds {key}: it indexes the value now")
        if not any(hit["key"] == key for hit in ours["hits"]):
            problems.append(f"Strata lost {key}, whose update it refused")
        ours = dict(ours, total=ours["total"] - 1, hits=[h for h in ours["hits"] if h["key"] != key])
        entry = dict(entry, mode="set")
        mode = "set"
    if mode == "lenient":
        if "error" in ours:
            problems.append(f"Strata refused: {ours['error']['message']}")
        elif ours["total"] != reference["total"] or \
                {h["key"] for h in ours["hits"]} != {h["key"] for h in reference["hits"]}:
            problems.append(f"Strata's answer differs from {entry['same_as']!r} in Redis")
        if "error" not in theirs:
            problems.append("Redis answered too: the difference is gone, compare exactly")
        return problems
    if mode == "error":
        if "error" not in ours:
            problems.append("Strata answered where Redis refuses")
        if "error" not in theirs:
            problems.append("Redis answered where Strata refuses")
        return problems
    for side, answer in (("Strata", ours), ("Redis", theirs)):
        if "error" in answer:
            problems.append(f"{side} refused: {answer['error']['message']}")
    if problems:
        return problems
    mode = entry["mode"]
    if mode == "recall":
        want = [hit["key"] for hit in reference["hits"]]
        got = {hit["key"] for hit in ours["hits"]}
        recall = len(got.intersection(want)) / max(len(want), 1)
        redis_recall = len({hit["key"] for hit in theirs["hits"]}.intersection(want)) / max(len(want), 1)
        if recall < min(MIN_RECALL, redis_recall):
            problems.append(f"recall {recall:.3f} against the exact answer, below both "
                            f"{MIN_RECALL} and Redis's {redis_recall:.3f}")
        if ours["total"] != reference["total"] and not entry["query"].startswith("@"):
            problems.append(f"total {ours['total']} in Strata, {reference['total']} exact")
        entry["recall"] = (recall, redis_recall)
        return problems
    if entry.get("lower_bound_total"):
        if theirs["total"] > ours["total"]:
            problems.append(f"total: Redis's lower bound {theirs['total']} > Strata {ours['total']}")
    elif ours["total"] != theirs["total"]:
        problems.append(f"total: Redis {theirs['total']}, Strata {ours['total']}")
    if mode == "scored":
        def runs(answer):
            """(score, keys of that score) in answer order; None where unordered."""
            out = []
            for hit in answer["hits"]:
                score = float(hit["fields"].get("(score)", "nan"))
                if out and abs(out[-1][0] - score) <= TOLERANCE * max(1.0, abs(score)):
                    out[-1][1].add(hit["key"])
                else:
                    out.append((score, {hit["key"]}))
            return out
        theirs_runs, ours_runs = runs(theirs), runs(ours)
        if len(theirs_runs) != len(ours_runs):
            problems.append(f"{len(theirs_runs)} distinct scores in Redis, {len(ours_runs)} in "
                            f"Strata; Redis's first {[round(s, 6) for s, _ in theirs_runs[:5]]}, "
                            f"Strata's {[round(s, 6) for s, _ in ours_runs[:5]]}")
        for (their_score, their_keys), (our_score, our_keys) in zip(theirs_runs, ours_runs):
            if abs(their_score - our_score) > TOLERANCE * max(1.0, abs(their_score)) \
                    or their_keys != our_keys:
                key = sorted(their_keys)[0]
                mine = next((float(h["fields"].get("(score)", "nan")) for h in ours["hits"]
                             if h["key"] == key), None)
                problems.append(f"score run {their_score!r} of {len(their_keys)} hits in Redis, "
                                f"{our_score!r} of {len(our_keys)} in Strata ({key}: Strata {mine})")
                break
        return problems
    our_hits = {hit["key"]: hit for hit in ours["hits"]}
    their_keys = [hit["key"] for hit in theirs["hits"]]
    our_keys = [hit["key"] for hit in ours["hits"]]
    if mode == "knn":
        distances = [score_of(hit) for hit in ours["hits"]]
        if None not in distances and distances != sorted(distances):
            problems.append(f"Strata's hits are not nearest first: {distances}")
    if mode in ("set", "knn"):
        if set(our_keys) != set(their_keys):
            problems.append(f"keys: only Redis {sorted(set(their_keys) - set(our_keys))[:5]}, "
                            f"only Strata {sorted(set(our_keys) - set(their_keys))[:5]}")
    elif our_keys != their_keys:
        # Distances equal to within the tolerance may come in either order.
        tied = len(our_keys) == len(their_keys) and all(
            a == b or (score_of(theirs["hits"][i]) is not None
                       and score_of(ours["hits"][i]) is not None
                       and abs(score_of(theirs["hits"][i]) - score_of(ours["hits"][i])) <= TOLERANCE)
            for i, (a, b) in enumerate(zip(our_keys, their_keys)))
        if not tied or set(our_keys) != set(their_keys):
            first = next((i for i, (a, b) in enumerate(zip(our_keys, their_keys)) if a != b),
                         min(len(our_keys), len(their_keys)))
            problems.append(f"order differs from position {first}: Redis {their_keys[first:first + 3]}, "
                            f"Strata {our_keys[first:first + 3]}")
    for hit in theirs["hits"]:
        if hit["key"] in our_hits:
            compare_fields(our_hits[hit["key"]]["fields"], hit["fields"], problems, hit["key"])
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--runner", default="cargo run -q -p strata-tests --bin redis_parity --")
    parser.add_argument("--serve", type=int, metavar="PORT",
                        help="take Strata's answers from `strata serve` on PORT, through "
                             "redis-py, instead of the runner")
    options = parser.parse_args()

    rows = read_rows()
    vectors = decode_vectors(os.path.join(DATA, "sample.i8"))
    queries = decode_vectors(os.path.join(DATA, "queries.i8"))
    client = redis.Redis(port=options.port, protocol=2)
    load_redis(client, rows, vectors)
    load_redis_json(client, rows, vectors)
    load_redis_weighted(client)

    served = None
    if options.serve:
        # The WEIGHT index is created by the runner only; its cases check the scorers'
        # field weights, which the runner's pass covers.
        weighted = [entry["name"] for entry in CASES if entry.get("index") == "weighted"]
        CASES[:] = [entry for entry in CASES if entry.get("index") != "weighted"]
        print(f"skipped {len(weighted)} weighted-index cases: the runner covers them")
        for entry in CASES:
            entry.update(entry.get("served", {}))
        served = redis.Redis(port=options.serve, protocol=2)
        load_redis(served, rows, vectors)
        load_redis_json(served, rows, vectors)
        strata_answers = {}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            cases_path, out_path = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
            with open(cases_path, "w") as f:
                json.dump(CASES, f)
            subprocess.run(shlex.split(options.runner) + [cases_path, out_path], cwd=ROOT,
                           check=True)
            with open(out_path) as f:
                strata_answers = {answer["name"]: answer for answer in json.load(f)}

    theirs = {}
    for phase in (1, 2):
        if phase == 2:
            by_key = {row["key"]: i for i, row in enumerate(rows)}
            for key in REWRITTEN_KEYS:
                for side in (client, served):
                    if side is not None:
                        side.hset(key, mapping=hash_of(rows[by_key[key]], vectors[by_key[key]]))
            for key, path, value in JSON_UPDATES + [JSON_REFUSED]:
                client.execute_command("JSON.SET", key, path, value)
                if served is not None:
                    try:
                        served.execute_command("JSON.SET", key, path, value)
                    except redis.ResponseError:
                        # Strata refuses the value its field cannot index (the
                        # "json_refused" case checks the document stayed as it was).
                        if (key, path, value) != JSON_REFUSED:
                            raise
        for entry in CASES:
            if entry["phase"] == phase:
                theirs[entry["name"]] = redis_answer(client, entry, vectors, queries)
                if served is not None:
                    strata_answers[entry["name"]] = served_answer(served, entry, vectors, queries)
                if entry["mode"] in ("recall", "lenient"):
                    reference = entry.get("ref") or entry["same_as"]
                    entry["reference"] = redis_answer(client, entry, vectors, queries, reference)

    failures = 0
    for entry in CASES:
        ours = strata_answers.get(entry["name"], {"error": {"variant": "", "message": "no answer"}})
        problems = compare(entry, ours, theirs[entry["name"]], entry.get("reference"))
        status = "ok  " if not problems else "FAIL"
        detail = (f" recall@k Strata {entry['recall'][0]:.2f}, Redis {entry['recall'][1]:.2f}"
                  if "recall" in entry else "")
        if entry["mode"] in ("stricter", "unsupported", "error") and "error" in ours:
            detail = f" Strata: {ours['error']['message']}"
        print(f"{status} [{entry['mode']}] {entry['name']}{detail}")
        for problem in problems:
            print(f"       {problem}")
        failures += bool(problems)
    print(f"{len(CASES) - failures} of {len(CASES)} cases agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
