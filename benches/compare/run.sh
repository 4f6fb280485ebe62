#!/usr/bin/env bash
# Side-by-side HNSW comparison on one data set, in one command:
#   strata through its public API (the `ann` tool: ingest, flush = graph build, reopen,
#   query), twice: walking SQ8 codes (the default) and FLOAT32 rows
#   (--compression float32); hnswlib (its own C++ batch loop) and, with FAISS=1, faiss
#   IndexHNSWFlat. ratios.py prints QPS at recall@10 0.90 / 0.95 / 0.99 read off each
#   interpolated curve, the ratios, build times, and disk and resident memory per
#   vector with and without codes. With RAW=1 the bare strata-index graph
#   (examples/hnsw_bench.rs) runs too.
#
#   benches/compare/run.sh [DATA_DIR] [THREADS]
#
# Same M / EF_CONSTRUCTION, same build threads, queries on one thread. Every system
# is built once (strata's databases and the peers' indexes are kept in a temporary
# directory), then PASSES query passes run with the systems alternated (strata SQ8,
# strata FLOAT32, the peers, and again), and each system's best QPS per EF counts: a
# pass that other work on the machine disturbed loses to one it did not. METRIC
# (cosine, l2 or ip; default cosine) is every system's metric: the synthetic 1M x 128
# set is made by `ann --synthetic 1000000:128:42 --queries 1000 --metric l2 --index
# flat --write-data DIR` and measured with `METRIC=l2 benches/compare/run.sh DIR`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-$root/../shared/data/real-pypi-50k}"
threads="${2:-$(nproc)}"
m="${M:-16}"
efc="${EF_CONSTRUCTION:-200}"
efs="${EFS:-10,20,40,80,160,320}"
repeat="${REPEAT:-1}"
passes="${PASSES:-3}"
metric="${METRIC:-cosine}"

if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet --upgrade pip
    "$here/.venv/bin/pip" install --quiet hnswlib faiss-cpu numpy
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --quiet --release -p strata-index --example hnsw_bench && cargo build --quiet --release -p strata-bench --bin ann)
bench="$CARGO_TARGET_DIR/release/examples/hnsw_bench"
ann="$CARGO_TARGET_DIR/release/ann"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/peers-cache"

faiss_flag=()
[ "${FAISS:-0}" = 1 ] && faiss_flag=(--faiss)
results=()
for pass in $(seq "$passes"); do
    echo "== pass $pass of $passes"
    for compression in sq8 float32; do
        # The first pass ingests and builds (its build_s counts: later passes reopen
        # the database and report none).
        "$ann" --base "$data/base.fvecs" --query "$data/query.fvecs" --gt "$data/gt.ivecs" \
            --metric "$metric" --index hnsw --m "$m" --ef-construction "$efc" --ef "$efs" \
            --threads "$threads" --compression "$compression" --db "$out/db-$compression" \
            --json "$out/ann-$compression-$pass.json" | tail -n 8
        results+=("$out/ann-$compression-$pass.json")
    done
    if [ "${RAW:-0}" = 1 ]; then
        "$bench" --data "$data" --threads "$threads" --m "$m" --efc "$efc" --efs "$efs" --repeat "$repeat"
    fi
    "$here/.venv/bin/python" "$here/compare_hnswlib.py" --data "$data" --threads "$threads" \
        --m "$m" --efc "$efc" --efs "$efs" --repeat "$repeat" --cache "$out/peers-cache" \
        --space "$metric" \
        "${faiss_flag[@]}" | tee "$out/peers-$pass.txt"
    results+=("$out/peers-$pass.txt")
done
echo "== best of $passes passes per EF (build time: the first pass's)"
"$here/.venv/bin/python" "$here/ratios.py" "${results[@]}"
