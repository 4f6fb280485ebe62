#!/usr/bin/env python3
"""After `strata export DB --to redis://...` (or `strata import DB --from redis://...`):
the same FT.SEARCH strings give the same answers on Redis Stack and on `strata serve`
over DB, and every hash and TTL came over.

    export_check.py --redis-port A --strata-port B [--keys 'pypi:*']

Runs the parity suite's KNN cases (tests/redis_parity/parity.py) on both sides without
loading anything: the data on the Redis side is only what the export wrote. Cases that
SORTBY a field other than the distance are left out: their ties follow insertion
order, and the export inserts keys in sorted order.
"""
import argparse
import os
import sys

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "redis_parity"))
import parity  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--strata-port", type=int, required=True)
    parser.add_argument("--keys", default="*", help="compare the hashes of keys matching this")
    args = parser.parse_args()
    theirs_client = redis.Redis(port=args.redis_port, protocol=2)
    ours_client = redis.Redis(port=args.strata_port, protocol=2)
    vectors = parity.decode_vectors(os.path.join(parity.DATA, "sample.i8"))
    queries = parity.decode_vectors(os.path.join(parity.DATA, "queries.i8"))
    failures, checks = 0, 0
    # `strata import --from` brings back one index: cases on others are not compared.
    served = {name.decode() for name in ours_client.execute_command("FT._LIST")}
    for entry in parity.CASES:
        if "KNN" not in entry["query"] or entry["mode"] not in ("exact", "knn"):
            continue
        if (parity.JSON_INDEX if entry.get("index") == "json" else parity.INDEX) not in served:
            continue
        sort = entry["args"][entry["args"].index("SORTBY") + 1] if "SORTBY" in entry["args"] else None
        if sort in ("year", "popularity", "name"):
            continue
        checks += 1
        theirs = parity.redis_answer(theirs_client, entry, vectors, queries)
        ours = parity.served_answer(ours_client, entry, vectors, queries)
        problems = parity.compare(entry, ours, theirs, None)
        if problems:
            failures += 1
            print(f"MISMATCH {entry['name']}: {problems}")
    keys = sorted(k.decode() for k in ours_client.keys(args.keys))
    checks += 1
    if sorted(k.decode() for k in theirs_client.keys(args.keys)) != keys:
        failures += 1
        print(f"MISMATCH keys: {len(keys)} in Strata, {theirs_client.dbsize()} in Redis")
    for key in keys:
        checks += 1
        kind = ours_client.type(key)
        if theirs_client.type(key) != kind:
            failures += 1
            print(f"MISMATCH type of {key}: Redis {theirs_client.type(key)}, Strata {kind}")
        elif kind == b"ReJSON-RL":
            if not parity.same_json(theirs_client.json().get(key), ours_client.json().get(key)):
                failures += 1
                print(f"MISMATCH JSON document {key}")
        elif kind == b"list":
            if theirs_client.lrange(key, 0, -1) != ours_client.lrange(key, 0, -1):
                failures += 1
                print(f"MISMATCH list {key}")
        elif theirs_client.hgetall(key) != ours_client.hgetall(key):
            failures += 1
            print(f"MISMATCH hash {key}")
        ttl = ours_client.ttl(key)
        if (ttl < 0) != (theirs_client.ttl(key) < 0) or abs(ttl - theirs_client.ttl(key)) > 5:
            failures += 1
            print(f"MISMATCH TTL of {key}: Redis {theirs_client.ttl(key)}, Strata {ttl}")
    print(f"export: {checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
