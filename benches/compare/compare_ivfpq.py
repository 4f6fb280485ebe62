"""faiss IndexIVFPQ + IndexRefineFlat on a TexMex data set, printed in the format
ratios.py reads, beside strata's `ann --index ivfpq` on the same data.

Same NLIST, M and 8-bit codes; training on --threads threads, queries on one thread
as one batch per (nprobe, refine) pair, best of --repeat passes. The vectors of the
data sets used here are unit-norm, so L2 on them ranks as cosine does.
"""
import argparse
import os
import time

import numpy as np

from compare_hnswlib import best_time, read_vecs, recall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--nlist", type=int, default=256)
    p.add_argument("--m", type=int, required=True, help="sub-quantisers (bytes per code)")
    p.add_argument("--nprobe", default="1,2,4,8,16,32,64")
    p.add_argument("--refine", default="1,2,4,8")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    base = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(a.data, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(a.data, "gt.ivecs"), np.int32)
    n, dim = base.shape
    k = a.k

    import faiss

    faiss.omp_set_num_threads(a.threads)
    quantizer = faiss.IndexFlatL2(dim)
    ivfpq = faiss.IndexIVFPQ(quantizer, dim, a.nlist, a.m, 8)
    index = faiss.IndexRefineFlat(ivfpq)
    t = time.perf_counter()
    index.train(base)
    index.add(base)
    print(f"faiss build_s={time.perf_counter() - t:.2f} (threads={a.threads})", flush=True)
    codes = ivfpq.invlists.compute_ntotal() * (a.m + 8)  # code + 64-bit id per row
    tables = ivfpq.precomputed_table.size() * 4 if ivfpq.use_precomputed_table else 0
    print(
        f"faiss index_bytes codes+ids={codes} centroids={a.nlist * dim * 4} "
        f"codebooks={256 * dim * 4} precomputed_tables={tables} raw={n * dim * 4}",
        flush=True,
    )
    faiss.omp_set_num_threads(1)
    for nprobe in [int(x) for x in a.nprobe.split(",")]:
        for refine in [int(x) for x in a.refine.split(",")]:
            ivfpq.nprobe = nprobe
            index.k_factor = refine
            secs, (_, labels) = best_time(lambda: index.search(queries, k), a.repeat)
            print(
                f"faiss nprobe={nprobe} refine={refine} recall@{k}={recall(labels, gt, k):.4f} "
                f"qps={len(queries) / secs:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
