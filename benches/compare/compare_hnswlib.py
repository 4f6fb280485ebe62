"""hnswlib (and faiss HNSW) on a TexMex data set, printed in the format of
strata-index's `hnsw_bench` example so the two can be read side by side.

Build on --threads threads; queries on one thread, as one batch per ef (the loop
runs in C++, so Python adds no per-query cost).
"""
import argparse
import os
import time

import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    assert (rows[:, 0] == dim).all(), f"{path}: rows of different dims"
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def recall(found, gt, k):
    return np.mean([len(set(f[:k]) & set(g[:k])) / k for f, g in zip(found, gt)])


def best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=200)
    p.add_argument("--efs", default="10,20,40,80,160,320")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--faiss", action="store_true", help="also run faiss IndexHNSWFlat")
    a = p.parse_args()
    efs = [int(e) for e in a.efs.split(",")]
    base = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(a.data, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "gt.ivecs"), np.int32)
    n, dim = base.shape
    k = a.k

    import hnswlib

    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=n, ef_construction=a.efc, M=a.m, random_seed=100)
    index.set_num_threads(a.threads)
    t = time.perf_counter()
    index.add_items(base, np.arange(n), num_threads=a.threads)
    print(f"hnswlib build_s={time.perf_counter() - t:.2f} (threads={a.threads})", flush=True)
    index.set_num_threads(1)
    for ef in efs:
        index.set_ef(ef)
        secs, (labels, _) = best_time(lambda: index.knn_query(queries, k=k, num_threads=1), a.repeat)
        print(f"hnswlib ef={ef} recall@{k}={recall(labels, gt, k):.4f} qps={len(queries) / secs:.0f}", flush=True)

    if a.faiss:
        import faiss

        # Vectors are unit-norm (see the data set's README), so IP ranks as cosine.
        faiss.omp_set_num_threads(a.threads)
        fi = faiss.IndexHNSWFlat(dim, a.m, faiss.METRIC_INNER_PRODUCT)
        fi.hnsw.efConstruction = a.efc
        t = time.perf_counter()
        fi.add(base)
        print(f"faiss build_s={time.perf_counter() - t:.2f} (threads={a.threads})", flush=True)
        faiss.omp_set_num_threads(1)
        for ef in efs:
            fi.hnsw.efSearch = ef
            secs, (_, labels) = best_time(lambda: fi.search(queries, k), a.repeat)
            print(f"faiss ef={ef} recall@{k}={recall(labels, gt, k):.4f} qps={len(queries) / secs:.0f}", flush=True)


if __name__ == "__main__":
    main()
