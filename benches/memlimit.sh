#!/usr/bin/env bash
# IVF-PQ and HNSW at 1M x 128 under a memory limit well below the raw 512 MB of
# FLOAT32 vectors (issue 13): recall@10, QPS and peak resident memory of each, the
# query process alone in a memory cgroup (v1) made for it.
#
#   benches/memlimit.sh [LIMIT_MB ...]        # default: 256 192
#
# Environment: MEMLIMIT_DIR (databases and ground truth, default /tmp/strata-memlimit;
# about 1.4 GB), ANN (the ann binary, default target/release/ann, built if missing),
# SPEC (default 1m:128:42), QUERIES (default 100).
#
# Steps:
# 1. Outside any limit, and only when MEMLIMIT_DIR lacks them: build the HNSW and the
#    IVF-PQ database of the synthetic set (one bulk load, one segment each), the first
#    run writing the exact ground truth to gt.ivecs for the second and for step 3.
# 2. Evict the databases' files from the page cache (posix_fadvise DONTNEED on those
#    files only): in cgroup v1 a page is charged to the cgroup that first read it, so
#    pages the build left cached would be free to the limited run and hide its use.
# 3. For each limit and index: a child cgroup `strata_memlimit` under this process's
#    own memory cgroup, with memory.limit_in_bytes (and memory.memsw.limit_in_bytes
#    when present, so swap cannot stand in for memory); a shell writes its own pid to
#    cgroup.procs and execs `ann --query-only`, which never generates the base: it
#    opens the kept database, generates the queries and reads gt.ivecs. Only that
#    process is ever moved. Afterwards the cgroup's memory.max_usage_in_bytes,
#    failcnt and OOM kills are read and the cgroup is removed.
#
# Needs root (cgroup files) and python3 (the page-cache eviction).
set -euo pipefail

cd "$(dirname "$0")/.."
LIMITS=("$@")
[ ${#LIMITS[@]} -gt 0 ] || LIMITS=(256 192)
DIR=${MEMLIMIT_DIR:-/tmp/strata-memlimit}
SPEC=${SPEC:-1m:128:42}
QUERIES=${QUERIES:-100}
ANN=${ANN:-target/release/ann}
HNSW_SWEEP=(--ef 40,160)
IVFPQ_SWEEP=(--nlist 1024 --pq-m 32 --nprobe 16,32 --refine 8,16)

if [ ! -x "$ANN" ]; then
    cargo build --release -p strata-bench --bin ann
fi
mkdir -p "$DIR"

common=(--synthetic "$SPEC" --queries "$QUERIES" --metric l2)
if [ ! -d "$DIR/hnsw" ]; then
    echo "== build: HNSW (outside the limit)"
    "$ANN" "${common[@]}" --index hnsw "${HNSW_SWEEP[@]}" --db "$DIR/hnsw" \
        --write-gt "$DIR/gt.ivecs" --json "$DIR/build-hnsw.json"
fi
if [ ! -d "$DIR/ivfpq" ]; then
    echo "== build: IVF-PQ (outside the limit)"
    "$ANN" "${common[@]}" --index ivfpq "${IVFPQ_SWEEP[@]}" --db "$DIR/ivfpq" \
        --gt "$DIR/gt.ivecs" --json "$DIR/build-ivfpq.json"
fi

relative=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
parent="/sys/fs/cgroup/memory${relative}"
[ -d "$parent" ] || { echo "memlimit: no memory cgroup at $parent" >&2; exit 1; }
cgroup="$parent/strata_memlimit"

evict() {
    python3 - "$1" <<'EOF'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        fd = os.open(os.path.join(root, name), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
EOF
}

cleanup() { [ -d "$cgroup" ] && rmdir "$cgroup" 2>/dev/null || true; }
trap cleanup EXIT

limited() {
    local limit_mb=$1 index=$2
    shift 2
    local bytes=$((limit_mb * 1024 * 1024))
    local out="$DIR/limited-$index-${limit_mb}m"
    cleanup
    mkdir "$cgroup"
    echo "$bytes" > "$cgroup/memory.limit_in_bytes"
    if [ -e "$cgroup/memory.memsw.limit_in_bytes" ]; then
        echo "$bytes" > "$cgroup/memory.memsw.limit_in_bytes"
    fi
    evict "$DIR/$index"
    echo "== $index under ${limit_mb} MB"
    local status=0
    # The subshell moves itself, then becomes ann: nothing else enters the cgroup.
    ( echo $BASHPID > "$cgroup/cgroup.procs"
      exec "$ANN" "${common[@]}" --index "$index" "$@" --db "$DIR/$index" \
          --gt "$DIR/gt.ivecs" --query-only --no-background --json "$out.json" ) \
        > "$out.txt" 2>&1 || status=$?
    cat "$out.txt"
    local peak failcnt kills
    peak=$(cat "$cgroup/memory.max_usage_in_bytes")
    failcnt=$(cat "$cgroup/memory.failcnt")
    kills=$(awk '$1 == "oom_kill" { print $2 }' "$cgroup/memory.oom_control")
    echo "memlimit: $index limit ${limit_mb} MB: exit $status, cgroup peak" \
        "$((peak / 1024 / 1024)) MB (memory.max_usage_in_bytes $peak)," \
        "failcnt $failcnt, oom_kill ${kills:-?}" | tee -a "$DIR/summary.txt"
    rmdir "$cgroup"
}

for limit in "${LIMITS[@]}"; do
    limited "$limit" ivfpq "${IVFPQ_SWEEP[@]}"
    limited "$limit" hnsw "${HNSW_SWEEP[@]}"
done
