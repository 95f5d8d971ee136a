#!/usr/bin/env bash
# Real memcached and HTTP clients against the real daemon, as users run them:
# Perl Cache::Memcached::Fast, Python pymemcache, libmemcached's memccat (text
# and binary), Ruby Dalli (binary), Node memjs (binary, from npm into the build
# tree), curl (HTTP on the main port and on -http-port, and telnet://), and
# promtool on /metrics. Each checks that the ids it gets are decimal uint64s
# that increase.
#
#   ci/clients.sh [KATSUBUSHI_BIN]      (default build/release/katsubushi)
#
# Needs the Debian packages ci/deps.sh installs. Ends with
# "clients: N passed, N failed".
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$repo/build/release/katsubushi}"
clients="$repo/ci/clients"
npm_dir="$repo/build/npm"
py=/usr/bin/python3  # Debian's, with Debian's python3-pymemcache and python3-grpcio
grpc_stubs="$(cd "$(dirname "$bin")" && pwd)/generated/python"  # the build writes them there
work="$(mktemp -d "${TMPDIR:-/tmp}/katsubushi-clients.XXXXXX")"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ ! -d "$npm_dir/node_modules/memjs" ]; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --silent memjs >"$work/npm.log" 2>&1 ||
    { echo "npm install memjs failed:"; cat "$work/npm.log"; }
fi

port=$(free_port)
http_port=$(free_port)
grpc_port=$(free_port)
"$bin" -worker-id 1 -port "$port" -http-port "$http_port" -grpc-port "$grpc_port" -threads 2 \
  2>"$work/daemon.log" &
daemon_pid=$!
# quit: curl prints what came only when the server closes (timeout's kill
# would lose its buffered output, and the loop would wait its whole 110 s).
for _ in $(seq 100); do
  if printf 'version\r\nquit\r\n' | timeout 1 curl -s telnet://127.0.0.1:"$port" 2>/dev/null |
    grep -q VERSION; then
    break
  fi
  sleep 0.1
done

if ! kill -0 "$daemon_pid" 2>/dev/null; then
  echo "clients: the daemon did not start:"; cat "$work/daemon.log"
  echo "clients: 0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
# run NAME COMMAND...: one client check, bounded in time.
run() {
  local name=$1
  shift
  if out=$(timeout 60 "$@" 2>&1); then
    echo "clients: $name PASSED: ${out//$'\n'/ }"
    passed=$((passed + 1))
  else
    echo "clients: $name FAILED: ${out//$'\n'/ }"
    failed=$((failed + 1))
  fi
}
# pipe NAME PRODUCER CHECKER_ARGS...: the producer's output checked by check_ids.py.
pipe() {
  local name=$1 producer=$2
  shift 2
  run "$name" bash -c "set -o pipefail; $producer | $py $clients/check_ids.py $*"
}

addr="127.0.0.1:$port"
run "perl-cache-memcached-fast" perl "$clients/perl_fast.pl" "$addr"
run "python-pymemcache" "$py" "$clients/pymemcache_client.py" 127.0.0.1 "$port"
run "python-grpc" env PYTHONPATH="$grpc_stubs" "$py" "$clients/grpc_client.py" \
  "127.0.0.1:$grpc_port" "$daemon_pid" 1
pipe "libmemcached-text-get" "memccat --servers=$addr a" 1
pipe "libmemcached-text-multi" "memccat --servers=$addr k1 k2 k3" 3
pipe "libmemcached-binary-get" "memccat --binary --servers=$addr a" 1
pipe "libmemcached-binary-multi" "memccat --binary --servers=$addr k1 k2 k3" 3
run "ruby-dalli-binary" ruby "$clients/dalli_client.rb" "$addr"
run "node-memjs-binary" env NODE_PATH="$npm_dir/node_modules" node "$clients/memjs_client.js" "$addr"
for p in "$port" "$http_port"; do
  pipe "curl-id-$p" "curl -sf http://127.0.0.1:$p/id" 1
  pipe "curl-ids-json-$p" "curl -sf -H 'Accept: application/json' 'http://127.0.0.1:$p/ids?n=5'" 5 --json ids
done
pipe "curl-telnet-get" "printf 'get id\r\nquit\r\n' | curl -s telnet://$addr" 1 --memcached
run "promtool-check-metrics" bash -c "set -o pipefail; curl -sf http://127.0.0.1:$http_port/metrics | promtool check metrics"

kill -TERM "$daemon_pid"
if wait "$daemon_pid"; then
  passed=$((passed + 1))
  echo "clients: daemon-exit PASSED"
else
  failed=$((failed + 1))
  echo "clients: daemon-exit FAILED"; tail -n 20 "$work/daemon.log"
fi
daemon_pid=""
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
