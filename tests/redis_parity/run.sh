#!/usr/bin/env bash
# The side-by-side suite against a real Redis Stack, as `.ci/run` runs it: install the
# server and redis-py into a venv (kept in target/redis-stack, so later runs only check
# it), start it on a free loopback port, run parity.py, stop it. Fails on a mismatch.
# Skips (exit 0, with a message saying so) only when the install fails for lack of
# network; every other failure, a missing install script included, fails.
#
#   tests/redis_parity/run.sh            # from anywhere in the repository
#   STRATA_SHARED=/path/to/shared ...    # where tools/redis-stack.sh lives (default ../shared)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${STRATA_SHARED:-$root/../shared}
stack=$shared/tools/redis-stack.sh
venv=${STRATA_REDIS_VENV:-$root/target/redis-stack}
if [ ! -x "$stack" ]; then
  echo "redis parity: $stack is missing; put a copy of ../shared beside the repository or set STRATA_SHARED" >&2
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
    echo "redis parity: SKIPPED - installing Redis Stack from PyPI failed for lack of network (see $log)"
    exit 0
  fi
  echo "redis parity: installing Redis Stack failed (not a network error):" >&2
  cat "$log" >&2
  exit 1
fi

cargo build -q -p strata-tests --bin redis_parity --manifest-path "$root/Cargo.toml"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$stack" start "$venv" "$port"
trap '"$stack" stop "$venv" "$port"' EXIT
"$venv/bin/python" "$root/tests/redis_parity/parity.py" --port "$port" \
  --runner "$root/target/debug/redis_parity"
