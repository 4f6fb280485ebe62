#!/usr/bin/env python3
"""KNN FT.SEARCH load from several client processes against a Redis-protocol server
(Redis Stack or `strata serve`): ops/s, p50/p99 latency and recall@10 against the exact
answer, on the first ROWS rows of real-pypi-50k (384-d, cosine).

    knn_load.py --port P --load              # FT.CREATE + HSET the rows (pipelined)
    knn_load.py --port P --clients 4 --seconds 20 [--ef 10]

Needs redis-py and numpy (the venv of ../shared/tools/redis-stack.sh install).
"""
import argparse
import multiprocessing as mp
import os
import struct
import time

import numpy as np
import redis

DATA = os.environ.get("STRATA_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "..", "..", "..", "shared", "data", "real-pypi-50k"))
INDEX = "knnload"


def read_fvecs(path, rows=None):
    data = np.fromfile(path, dtype="<i4")
    dim = data[0]
    matrix = data.reshape(-1, dim + 1)[:, 1:].view("<f4")
    return matrix[:rows] if rows else matrix


def load(port, rows):
    base = read_fvecs(os.path.join(DATA, "base.fvecs"), rows)
    r = redis.Redis(port=port, protocol=2)
    try:
        r.execute_command("FT.DROPINDEX", INDEX, "DD")
    except redis.ResponseError:
        pass
    r.execute_command("FT.CREATE", INDEX, "ON", "HASH", "PREFIX", "1", "kl:", "SCHEMA",
                      "v", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", str(base.shape[1]),
                      "DISTANCE_METRIC", "COSINE", "M", "16", "EF_CONSTRUCTION", "200")
    start = time.time()
    pipe = r.pipeline(transaction=False)
    for i, vector in enumerate(base):
        pipe.hset(f"kl:{i}", mapping={"v": vector.astype("<f4").tobytes()})
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()
    elapsed = time.time() - start
    print(f"loaded {len(base)} rows in {elapsed:.1f} s ({len(base) / elapsed:.0f} rows/s)")


def worker(args):
    port, seconds, ef, k, offset = args
    queries = read_fvecs(os.path.join(DATA, "query.fvecs"))
    r = redis.Redis(port=port, protocol=2)
    latencies, answers = [], {}
    deadline = time.time() + seconds
    i = offset
    query = f"*=>[KNN {k} @v $q EF_RUNTIME {ef} AS d]"
    while time.time() < deadline:
        qi = i % len(queries)
        blob = queries[qi].astype("<f4").tobytes()
        t = time.perf_counter()
        reply = r.execute_command("FT.SEARCH", INDEX, query, "PARAMS", "2", "q", blob,
                                  "SORTBY", "d", "NOCONTENT", "LIMIT", "0", str(k),
                                  "DIALECT", "2")
        latencies.append(time.perf_counter() - t)
        answers.setdefault(qi, [int(key.decode().split(":")[1]) for key in reply[1:]])
        i += 1
    return latencies, answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--ef", type=int, default=10)
    args = parser.parse_args()
    if args.load:
        load(args.port, args.rows)
        return
    k = 10
    with mp.Pool(args.clients) as pool:
        results = pool.map(worker, [(args.port, args.seconds, args.ef, k, c * 250)
                                    for c in range(args.clients)])
    latencies = np.array([x for lat, _ in results for x in lat])
    answers = {}
    for _, a in results:
        answers.update(a)
    base = read_fvecs(os.path.join(DATA, "base.fvecs"), args.rows)
    queries = read_fvecs(os.path.join(DATA, "query.fvecs"))
    norms = base / np.linalg.norm(base, axis=1, keepdims=True)
    hits = 0
    for qi, got in answers.items():
        q = queries[qi] / np.linalg.norm(queries[qi])
        exact = np.argsort(-(norms @ q), kind="stable")[:k]
        hits += len(set(exact.tolist()) & set(got))
    recall = hits / (k * len(answers))
    print(f"clients {args.clients}  ops/s {len(latencies) / args.seconds:.0f}  "
          f"p50 {np.percentile(latencies, 50) * 1e3:.2f} ms  p99 {np.percentile(latencies, 99) * 1e3:.2f} ms  "
          f"recall@10 {recall:.3f} ({len(answers)} queries)  EF_RUNTIME {args.ef}")


if __name__ == "__main__":
    main()
