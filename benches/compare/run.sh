#!/usr/bin/env bash
# Side-by-side HNSW comparison on one data set, in one run:
#   strata through its public API (the `ann` tool: ingest, flush = graph build, reopen,
#   query), the bare strata-index graph (examples/hnsw_bench.rs, RAW=1), and hnswlib
#   (and faiss with FAISS=1); ratios.py prints QPS at equal recall@10 and build ratios.
#
#   benches/compare/run.sh [DATA_DIR] [THREADS]
#
# Same M / EF_CONSTRUCTION, same build threads, queries on one thread, best of
# REPEAT passes per ef. The machine is shared and noisy: compare ratios within one
# run, and run it more than once (ROUNDS=n runs the pair n times, interleaved).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-$root/../shared/data/real-pypi-50k}"
threads="${2:-$(nproc)}"
m="${M:-16}"
efc="${EF_CONSTRUCTION:-200}"
efs="${EFS:-10,20,40,80,160,320}"
repeat="${REPEAT:-3}"
rounds="${ROUNDS:-1}"

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

faiss_flag=()
[ "${FAISS:-0}" = 1 ] && faiss_flag=(--faiss)
for round in $(seq "$rounds"); do
    echo "== round $round"
    "$ann" --base "$data/base.fvecs" --query "$data/query.fvecs" --gt "$data/gt.ivecs" \
        --metric cosine --index hnsw --m "$m" --ef-construction "$efc" --ef "$efs" \
        --json "$out/ann-$round.json" | tail -n 12
    if [ "${RAW:-0}" = 1 ]; then
        "$bench" --data "$data" --threads "$threads" --m "$m" --efc "$efc" --efs "$efs" --repeat "$repeat"
    fi
    "$here/.venv/bin/python" "$here/compare_hnswlib.py" --data "$data" --threads "$threads" \
        --m "$m" --efc "$efc" --efs "$efs" --repeat "$repeat" "${faiss_flag[@]}" | tee "$out/peers-$round.txt"
    "$here/.venv/bin/python" "$here/ratios.py" "$out/ann-$round.json" "$out/peers-$round.txt"
done
