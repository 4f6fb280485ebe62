"""hnswlib (and faiss HNSW) on a TexMex data set, printed in the format of
strata-index's `hnsw_bench` example so the two can be read side by side.

Build on --threads threads; queries on one thread, as one batch per ef (the loop
runs in C++, so Python adds no per-query cost).

With --cache DIR the built indexes are saved there and a later run loads them
instead of building (printing the first build's time and the index's size), so that
run.sh can alternate query passes of every system without rebuilding.
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
    p.add_argument("--space", default="cosine", choices=["cosine", "l2", "ip"])
    p.add_argument("--cache", help="save built indexes here; load them when present")
    a = p.parse_args()
    efs = [int(e) for e in a.efs.split(",")]
    base = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(a.data, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "gt.ivecs"), np.int32)
    n, dim = base.shape
    k = a.k

    import hnswlib

    def cached(name):
        return os.path.join(a.cache, name) if a.cache else None

    def build_time(name, seconds=None):
        """Records the build time with the cached index, or reads it back."""
        path = cached(name + ".build_s")
        if seconds is not None and path:
            with open(path, "w") as f:
                f.write(f"{seconds}\n")
        if seconds is None:
            with open(path) as f:
                seconds = float(f.read())
        return seconds

    index = hnswlib.Index(space=a.space, dim=dim)
    path = cached("hnswlib.bin")
    if path and os.path.exists(path):
        index.load_index(path, max_elements=n)
        secs = build_time("hnswlib")
    else:
        index.init_index(max_elements=n, ef_construction=a.efc, M=a.m, random_seed=100)
        index.set_num_threads(a.threads)
        t = time.perf_counter()
        index.add_items(base, np.arange(n), num_threads=a.threads)
        secs = build_time("hnswlib", time.perf_counter() - t)
        if path:
            index.save_index(path)
    print(f"hnswlib build_s={secs:.2f} (threads={a.threads})", flush=True)
    if path:
        print(f"hnswlib index_bytes_per_vector={os.path.getsize(path) / n:.0f}", flush=True)
    index.set_num_threads(1)
    for ef in efs:
        index.set_ef(ef)
        secs, (labels, _) = best_time(lambda: index.knn_query(queries, k=k, num_threads=1), a.repeat)
        print(f"hnswlib ef={ef} recall@{k}={recall(labels, gt, k):.4f} qps={len(queries) / secs:.0f}", flush=True)

    if a.faiss:
        import faiss

        # The dev vectors are unit-norm (see the data set's README), so IP ranks as
        # cosine there.
        faiss.omp_set_num_threads(a.threads)
        faiss_metric = faiss.METRIC_L2 if a.space == "l2" else faiss.METRIC_INNER_PRODUCT
        path = cached("faiss.index")
        if path and os.path.exists(path):
            fi = faiss.read_index(path)
            secs = build_time("faiss")
        else:
            fi = faiss.IndexHNSWFlat(dim, a.m, faiss_metric)
            fi.hnsw.efConstruction = a.efc
            t = time.perf_counter()
            fi.add(base)
            secs = build_time("faiss", time.perf_counter() - t)
            if path:
                faiss.write_index(fi, path)
        print(f"faiss build_s={secs:.2f} (threads={a.threads})", flush=True)
        faiss.omp_set_num_threads(1)
        for ef in efs:
            fi.hnsw.efSearch = ef
            secs, (_, labels) = best_time(lambda: fi.search(queries, k), a.repeat)
            print(f"faiss ef={ef} recall@{k}={recall(labels, gt, k):.4f} qps={len(queries) / secs:.0f}", flush=True)


if __name__ == "__main__":
    main()
