"""Recall@10 of IVF-PQ with 8-bit codes (M sub-quantisers of 256 codewords) against
4-bit codes (2M of 16) at the same bytes per row: the same coarse quantiser (256
lists), NPROBE and REFINE, exact re-ranking; real-pypi-50k, COSINE, all 1,000 queries.
The question it answers is whether 4-bit fast-scan codes could hold recall here; their
speed (an in-register table lookup per 4-bit code) is not measured by it.

    benches/compare/.venv/bin/python benches/compare/pq4_recall.py ../shared/data/real-pypi-50k

Needs numpy only (`run_ivfpq.sh` creates that venv). Prints one line per setting.
"""
import sys

import numpy as np

D = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/real-pypi-50k"
NLIST = 256
SAMPLE = 16384  # rows that train each quantiser, as Strata samples 64 per centroid
rng = np.random.default_rng(42)


def fvecs(path):
    words = np.fromfile(path, dtype=np.int32)
    return words.reshape(-1, words[0] + 1)[:, 1:].view(np.float32).copy()


def ivecs(path):
    words = np.fromfile(path, dtype=np.int32)
    return words.reshape(-1, words[0] + 1)[:, 1:]


def nearest(x, centres):
    """Index of each row's nearest centre (squared L2)."""
    d = (x * x).sum(1)[:, None] - 2 * x @ centres.T + (centres * centres).sum(1)[None]
    return d.argmin(1)


def kmeans(x, k, iterations=12):
    """Lloyd's algorithm from k distinct sample rows, as Strata's trainer."""
    centres = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        assigned = nearest(x, centres)
        for j in range(k):
            members = assigned == j
            if members.any():
                centres[j] = x[members].mean(0)
    return centres


base, queries = fvecs(f"{D}/base.fvecs"), fvecs(f"{D}/query.fvecs")
truth = ivecs(f"{D}/gt.ivecs")[:, :10]
base /= np.linalg.norm(base, axis=1, keepdims=True)
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
n, dim = base.shape
coarse = kmeans(base[rng.choice(n, 64 * NLIST, replace=False)], NLIST)
lists = np.concatenate([nearest(base[i:i + 10000], coarse) for i in range(0, n, 10000)])
residuals = base - coarse[lists]
sample = residuals[rng.choice(n, SAMPLE, replace=False)]
members = [np.nonzero(lists == l)[0] for l in range(NLIST)]


def train(m, ksub):
    """m codebooks of ksub codewords, and every row's code."""
    ds = dim // m
    books = [kmeans(sample[:, j * ds:(j + 1) * ds], ksub) for j in range(m)]
    codes = np.stack(
        [nearest(residuals[:, j * ds:(j + 1) * ds], books[j]) for j in range(m)], 1
    ).astype(np.uint8)
    return books, codes


def recall(books, codes, nprobe, refine, k=10):
    """Recall@10: probe the nearest lists, rank by the distance tables, re-rank the
    best k * refine exactly."""
    m = len(books)
    ds = dim // m
    hits = 0
    for qi, q in enumerate(queries):
        probed = np.argsort(((q - coarse) ** 2).sum(1))[:nprobe]
        tables = np.stack([books[j] @ q[j * ds:(j + 1) * ds] for j in range(m)])
        candidates = np.concatenate([members[l] for l in probed])
        approx = -(coarse[lists[candidates]] @ q) - tables[
            np.arange(m)[None, :], codes[candidates]
        ].sum(1)
        wanted = min(k * refine, len(candidates) - 1)
        best = candidates[np.argpartition(approx, wanted)[:wanted]]
        exact = best[np.argsort(-(base[best] @ q))[:k]]
        hits += len(set(exact.tolist()) & set(truth[qi].tolist()))
    return hits / (k * len(queries))


for name, (m, ksub) in [("8-bit M48", (48, 256)), ("4-bit M96", (96, 16))]:
    books, codes = train(m, ksub)
    for nprobe, refine in [(32, 8), (32, 16), (32, 32), (64, 8), (64, 16), (64, 32)]:
        print(name, "NPROBE", nprobe, "REFINE", refine, round(recall(books, codes, nprobe, refine), 4), flush=True)
