#!/usr/bin/env bash
# Unchanged redis-py and RedisVL client code, then the parity suite, against Redis
# Stack and `strata serve`, as `.ci/run` runs it: install the server and the clients into a venv (shared with
# tests/redis_parity, kept in target/redis-stack), start Redis Stack and `strata serve`
# on free loopback ports, run clients.py, stop both. Fails on any difference. Skips
# (exit 0, saying so) only when the install fails for lack of network.
#
#   cli/tests/clients.sh                 # from anywhere in the repository
#   STRATA_SHARED=/path/to/shared ...    # where tools/redis-stack.sh lives (default ../shared)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
stack=$shared/tools/redis-stack.sh
venv=${STRATA_REDIS_VENV:-$root/target/redis-stack}
if [ ! -x "$stack" ]; then
  echo "clients: $stack is missing; put a copy of ../shared beside the repository or set STRATA_SHARED" >&2
  exit 1
fi

mkdir -p "$venv"
log=$venv/install.log
offline() {
  grep -Eqi 'NewConnectionError|Temporary failure in name resolution|Network is unreachable|Max retries exceeded|Could not resolve host|Connection refused|No route to host' "$log" ||
    ! python3 -c 'import socket; socket.create_connection(("pypi.org", 443), timeout=5)' 2>/dev/null
}
if ! "$stack" install "$venv" >"$log" 2>&1; then
  if offline; then
    echo "clients: SKIPPED - installing Redis Stack from PyPI failed for lack of network (see $log)"
    exit 0
  fi
  echo "clients: installing Redis Stack failed (not a network error):" >&2
  cat "$log" >&2
  exit 1
fi

cargo build -q -p strata-cli --manifest-path "$root/Cargo.toml"
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
"$stack" start "$venv" "$redis_port"
db=$(mktemp -d)
strata_pid=
cleanup() {
  "$stack" stop "$venv" "$redis_port"
  [ -n "$strata_pid" ] && kill "$strata_pid" 2>/dev/null || true
  rm -rf "$db"
}
trap cleanup EXIT
strata_port=$(free_port)
"$root/target/debug/strata" serve "$db/data" --port "$strata_port" >"$db/serve.log" 2>&1 &
strata_pid=$!
for _ in $(seq 100); do
  grep -q 'strata serve:' "$db/serve.log" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" "$root/cli/tests/clients.py" --redis-port "$redis_port" --strata-port "$strata_port"
# The parity suite's query strings, with Strata's answers from `strata serve`.
"$venv/bin/python" "$root/tests/redis_parity/parity.py" --port "$redis_port" --serve "$strata_port"

# Export: what parity.py left in `strata serve` (plus a TTL, a hash no index
# watches, a list and a JSON document no index watches) goes to an emptied Redis Stack with `strata export`; then both answer the
# same KNN queries and hold the same keys, values and TTLs.
"$venv/bin/python" - "$strata_port" "$redis_port" <<'PY'
import sys, redis
strata, stack = (redis.Redis(port=int(p)) for p in sys.argv[1:3])
strata.expire("pypi:burrito", 5000)
strata.hset("session:1", mapping={"user": "ada", "blob": b"\x00\xff"})
strata.lpush("session:1:viewed", "pypi:burrito", "pypi:ferrit")
strata.expire("session:1:viewed", 5000)
strata.json().set("settings:1", "$", {"theme": "dark", "sizes": [1, 2.5], "on": True})
stack.flushall()
PY
kill "$strata_pid"
wait "$strata_pid" 2>/dev/null || true
"$root/target/debug/strata" export "$db/data" --to "redis://127.0.0.1:$redis_port"
: >"$db/serve.log"
"$root/target/debug/strata" serve "$db/data" --port "$strata_port" >"$db/serve.log" 2>&1 &
strata_pid=$!
for _ in $(seq 100); do
  grep -q 'strata serve:' "$db/serve.log" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" "$root/cli/tests/export_check.py" --redis-port "$redis_port" --strata-port "$strata_port"

# And back: `strata import --from` brings the `packages` index and its hashes from
# Redis Stack into a new database, which must then answer as Redis does.
"$root/target/debug/strata" import "$db/back" --from "redis://127.0.0.1:$redis_port" --collection packages
back_port=$(free_port)
"$root/target/debug/strata" serve "$db/back" --port "$back_port" >"$db/back.log" 2>&1 &
back_pid=$!
trap 'cleanup; kill "$back_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q 'strata serve:' "$db/back.log" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" "$root/cli/tests/export_check.py" --redis-port "$redis_port" --strata-port "$back_port" --keys 'pypi:*'
