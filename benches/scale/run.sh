#!/usr/bin/env bash
# The scale figures of benches/README.md ("FLAT at 100k and 1M"): ingest under each
# durability, open in fresh processes (warm and cold page cache), QPS and recall.
#
#   benches/scale/run.sh [PHASE...]     phases: ingest shapes open query single (default: all)
#
# Every run writes its JSON report to $OUT (default /tmp/strata-scale/results);
# benches/scale/summary.py turns them into medians. Databases go to $DBS (default
# /tmp/strata-scale/db-*, about 2.2 GB at the peak); `run.sh clean` removes them.
# Cold runs evict the database's files from the page cache with `dd iflag=nocache`
# (GNU coreutils), which touches no other file.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
work="${WORK:-/tmp/strata-scale}"
out="${OUT:-$work/results}"
dbs="${DBS:-$work}"
mkdir -p "$out"
(cd "$root" && cargo build --quiet --release -p strata-bench --bin ann)
ann="$CARGO_TARGET_DIR/release/ann"

run() { # NAME ANN-FLAGS...
  local name=$1; shift
  echo "== $name: $*" >&2
  "$ann" --metric l2 --index flat "$@" --json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name.err"
  grep -E "ingested" "$out/$name.err" >&2 || true
}
evict() { find "$1" -type f -exec dd if={} iflag=nocache count=0 status=none \; ; }

phases=("$@")
[[ ${#phases[@]} -eq 0 ]] && phases=(ingest shapes open query single)
for phase in "${phases[@]}"; do
  case $phase in
  ingest) # upsert_many batches of 1000, default options; the last run of each size is kept
    for n in 100k 1m; do
      for d in always everysec never; do
        for i in 1 2 3; do
          rm -rf "$dbs/db-tmp"
          run "ingest-$n-$d-$i" --synthetic "$n:128" --db "$dbs/db-tmp" --durability "$d"
        done
      done
      rm -rf "$dbs/db-$n" && mv "$dbs/db-tmp" "$dbs/db-$n"
    done ;;
  shapes) # more segments: no compaction, a smaller memtable, and a WAL tail left unflushed
    for i in 1 2 3; do
      rm -rf "$dbs/db-1m-10seg"
      run "ingest-1m-nobg-$i" --synthetic 1m:128 --db "$dbs/db-1m-10seg" --no-background
    done
    for i in 1 2 3; do
      rm -rf "$dbs/db-tmp"
      run "ingest-1m-mt10k-$i" --synthetic 1m:128 --db "$dbs/db-tmp" --memtable-rows 10000
    done
    rm -rf "$dbs/db-tmp" "$dbs/db-1m-100seg" "$dbs/db-1m-tail"
    run ingest-1m-mt10k-nobg --synthetic 1m:128 --db "$dbs/db-1m-100seg" \
      --memtable-rows 10000 --no-background
    run ingest-1m-tail --synthetic 1m:128 --db "$dbs/db-1m-tail" --no-background \
      --no-final-flush --memtable-rows 150000 ;;
  open) # fresh processes that never hold the base; --no-background so nothing compacts
    for db in 100k 1m 1m-10seg 1m-100seg 1m-tail; do
      n=1m; [[ $db == 100k ]] && n=100k
      for temperature in warm cold; do
        for i in 1 2 3; do
          [[ $temperature == cold ]] && evict "$dbs/db-$db"
          run "open-$temperature-$db-$i" --synthetic "$n:128" --db "$dbs/db-$db" \
            --open-only --no-background
        done
      done
    done ;;
  query) # QPS and recall in a fresh process, nothing compacting beside the queries
    for n in 100k 1m; do
      for i in 1 2 3; do
        run "query-$n-$i" --synthetic "$n:128" --db "$dbs/db-$n" --no-background
      done
    done ;;
  single) # one upsert per call: under Always, one fdatasync each
    for d in always everysec never; do
      n=100k; [[ $d == always ]] && n=3000
      for i in 1 2 3; do
        rm -rf "$dbs/db-tmp"
        run "single-$d-$i" --synthetic "$n:128" --queries 10 --db "$dbs/db-tmp" \
          --durability "$d" --batch 1
      done
    done
    rm -rf "$dbs/db-tmp" ;;
  clean) rm -rf "$dbs"/db-* ;;
  *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
