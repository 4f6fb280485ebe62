#!/usr/bin/env bash
# IVF-PQ side by side on one data set, in one run: strata through its public API (the
# `ann` tool: ingest, flush = training, reopen, one run per NPROBE x REFINE pair) and
# faiss IndexIVFPQ + IndexRefineFlat with the same NLIST, M and 8-bit codes;
# ratios.py prints QPS at equal recall@10 and the training-time ratio.
#
#   benches/compare/run_ivfpq.sh [DATA_DIR] [THREADS]
#
# NLIST (default 256), PQ_M (default dim/8 = 48 for 384 dimensions), NPROBES, REFINES
# and REPEAT come from the environment. The machine is shared and noisy: compare
# ratios within one run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-$root/../shared/data/real-pypi-50k}"
threads="${2:-$(nproc)}"
nlist="${NLIST:-256}"
pq_m="${PQ_M:-48}"
nprobes="${NPROBES:-1,2,4,8,16,32,64}"
refines="${REFINES:-1,2,4,8}"
repeat="${REPEAT:-3}"

if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet --upgrade pip
    "$here/.venv/bin/pip" install --quiet faiss-cpu numpy
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --quiet --release -p strata-bench --bin ann)
ann="$CARGO_TARGET_DIR/release/ann"
out="$(mktemp -d)"

"$ann" --base "$data/base.fvecs" --query "$data/query.fvecs" --gt "$data/gt.ivecs" \
    --metric cosine --index ivfpq --nlist "$nlist" --pq-m "$pq_m" \
    --nprobe "$nprobes" --refine "$refines" --threads "$threads" \
    --json "$out/ann.json" | tail -n 40
"$here/.venv/bin/python" "$here/compare_ivfpq.py" --data "$data" --threads "$threads" \
    --nlist "$nlist" --m "$pq_m" --nprobe "$nprobes" --refine "$refines" \
    --repeat "$repeat" | tee "$out/peers.txt"
"$here/.venv/bin/python" "$here/ratios.py" "$out/ann.json" "$out/peers.txt" --targets 0.9,0.95
