#!/usr/bin/env python3
"""Medians of the JSON reports benches/scale/run.sh wrote, as the Markdown tables of
benches/README.md. Usage: summary.py [RESULTS_DIR] (default /tmp/strata-scale/results)."""
import glob
import json
import statistics
import sys

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "/tmp/strata-scale/results"


def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(f"{RESULTS}/{pattern}.json"))]


def med(values):
    return statistics.median(values)


def spread(values, fmt="{:,.0f}"):
    return f"{fmt.format(med(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def ingest_table():
    print("| data | durability | rows/s, median (min–max) | runs | segments after | B/vector |")
    print("|---|---|---|---|---|---|")
    for name, label, durability in [
        ("100k-always", "100k", "Always"), ("100k-everysec", "100k", "EverySec"),
        ("100k-never", "100k", "Never"), ("1m-always", "1M", "Always"),
        ("1m-everysec", "1M", "EverySec"), ("1m-never", "1M", "Never"),
        ("1m-nobg", "1M, `--no-background`", "EverySec"),
        ("1m-mt10k", "1M, `--memtable-rows 10000`", "EverySec"),
        ("1m-mt10k-nobg", "1M, `--memtable-rows 10000 --no-background`", "EverySec"),
    ]:
        runs = load(f"ingest-{name}-[0-9]") or load(f"ingest-{name}")
        if not runs:
            continue
        rates = [r["strata"]["ingest_rows_per_s"] for r in runs]
        segments = ", ".join(str(r["strata"]["segments"]) for r in runs)
        per_vector = med([r["strata"]["disk_bytes_per_vector"] for r in runs])
        print(f"| {label} | {durability} | {spread(rates)} | {len(runs)} | {segments} | {per_vector:.1f} |")
    print()
    print("| single `upsert` per call | rows/s, median (min–max) |")
    print("|---|---|")
    for durability in ["always", "everysec", "never"]:
        runs = load(f"single-{durability}-[0-9]")
        if runs:
            rates = [r["strata"]["ingest_rows_per_s"] for r in runs]
            print(f"| {durability} ({runs[0]['n']:,} rows) | {spread(rates)} |")


def open_table():
    print("| database | segments | cache | handle ms | + first get ms | + first answer ms "
          "| disk read MB: handle / get / answer | RSS MiB after handle: total / anon / file "
          "| RSS after first answer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for db, label in [("100k", "100k"), ("1m", "1M"), ("1m-10seg", "1M"),
                      ("1m-100seg", "1M"), ("1m-tail", "1M + WAL tail")]:
        for temperature in ["warm", "cold"]:
            runs = load(f"open-{temperature}-{db}-[0-9]")
            if not runs:
                continue
            o = [r["strata"]["open"] for r in runs]
            ms = lambda key: med([x[key] for x in o])
            read = lambda key: med([x["disk_read_mb"][key] for x in o])
            rss = lambda key: "{:.1f} / {:.1f} / {:.1f}".format(
                *(med([x[key][part] for x in o]) for part in ["total_mb", "anon_mb", "file_mb"]))
            replayed = o[0]["records_replayed"]
            note = f" ({replayed} WAL records)" if replayed else ""
            print(f"| {label}{note} | {runs[0]['strata']['segments']} | {temperature} "
                  f"| {ms('handle_ms'):.2f} | {ms('first_get_ms'):.2f} | {ms('first_answer_ms'):.1f} "
                  f"| {read('handle'):.2f} / {read('first_get'):.2f} / {read('first_answer'):.1f} "
                  f"| {rss('rss_handle')} | {rss('rss_first_answer')} |")


def query_table():
    print("| data | recall@10 | QPS, median (min–max) | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for n, label in [("100k", "100k"), ("1m", "1M")]:
        runs = load(f"query-{n}-[0-9]")
        if not runs:
            continue
        r = [x["runs"][0] for x in runs]
        recall = min(x["recall_at_10"] for x in r)
        print(f"| {label} | {recall:.4f} | {spread([x['qps'] for x in r], '{:,.1f}')} "
              f"| {med([x['p50_us'] for x in r]) / 1e3:.2f} | {med([x['p99_us'] for x in r]) / 1e3:.2f} |")


if __name__ == "__main__":
    ingest_table()
    print()
    open_table()
    print()
    query_table()
