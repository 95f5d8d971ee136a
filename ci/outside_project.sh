#!/usr/bin/env bash
# Builds ci/outside_project against an installed katsubushi and runs it:
#   ci/outside_project.sh PREFIX DAEMON WORKDIR [build-only]
# PREFIX is where `cmake --install` put it (/usr for the .debs). Configures
# and builds the project (find_package(katsubushi COMPONENTS client_grpc) for
# katsubushi::client, katsubushi::client_grpc and katsubushi::id, pkg-config
# for the C ABI and its gRPC library); then, unless build-only, starts three
# DAEMONs on free loopback ports (memcached and -grpc-port) and runs
# fetch_loop over their memcached ports and fetch_loop_grpc over their gRPC
# ports side by side for 3 s (an id every 100 µs each) while the first is
# SIGKILLed at 1 s and the second at 2 s: no fetch may fail, no id repeat.
# Also fetch_c and fetch_c_grpc (the C ABI) once each.
# Prints what it did; exits non-zero on the first failure. About 15 s.
set -uo pipefail
prefix=$1 daemon=$2 work=$3 mode=${4:-run}
src="$(cd "$(dirname "$0")" && pwd)/outside_project"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

mkdir -p "$work"
# pkg-config finds the prefix's .pc; CMake its package (CMAKE_PREFIX_PATH).
lib_pc=$(find "$prefix"/lib "$prefix"/lib64 "$prefix"/lib/*-linux-gnu -maxdepth 2 \
  -path '*/pkgconfig/katsubushi-client.pc' -printf '%h\n' 2>/dev/null | head -n 1)
export PKG_CONFIG_PATH="${lib_pc}${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if ! cmake -S "$src" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"; echo "outside project: configure failed"; exit 1
fi
if ! cmake --build "$work/build" -j 2 >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log"; echo "outside project: build failed"; exit 1
fi
echo "outside project: built against $prefix (find_package and pkg-config)"
[ "$mode" = build-only ] && exit 0

# Three daemons on ports they pick (-port=0), read from their logs, and gRPC
# ports found free a moment before.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
servers=""
grpc_servers=""
for w in 1 2 3; do
  grpc_port=$(free_port)
  grpc_servers+="${grpc_servers:+,}grpc://127.0.0.1:$grpc_port"
  "$daemon" -worker-id=$w -port=0 -grpc-port="$grpc_port" -threads=1 >"$work/daemon$w.log" 2>&1 &
  pids+=($!)
  disown $!  # killed on purpose below: no "Killed" line from the shell
  port=""
  for _ in $(seq 100); do
    port=$(sed -nE 's/.*memcached listening on port ([0-9]+).*/\1/p' "$work/daemon$w.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$work/daemon$w.log"; echo "outside project: daemon $w did not start"; exit 1; }
  servers+="${servers:+,}127.0.0.1:$port"
done
LD_LIBRARY_PATH="$(dirname "$lib_pc")" "$work/build/fetch_c" "$servers" >"$work/fetch_c.out" ||
  { echo "outside project: fetch_c failed"; exit 1; }
echo "outside project: fetch_c (C ABI, shared library) got $(cat "$work/fetch_c.out")"
LD_LIBRARY_PATH="$(dirname "$lib_pc")" "$work/build/fetch_c_grpc" "$grpc_servers" \
  >"$work/fetch_c_grpc.out" || { echo "outside project: fetch_c_grpc failed"; exit 1; }
echo "outside project: fetch_c_grpc (C ABI, grpc://) got $(cat "$work/fetch_c_grpc.out")"
"$work/build/fetch_loop" "$servers" 3 >"$work/loop.out" 2>&1 &
loop=$!
"$work/build/fetch_loop_grpc" "$grpc_servers" 3 >"$work/loop_grpc.out" 2>&1 &
loop_grpc=$!
sleep 1; kill -KILL "${pids[0]}"
sleep 1; kill -KILL "${pids[1]}"
wait "$loop"
rc=$?
wait "$loop_grpc"
rc_grpc=$?
cat "$work/loop.out" "$work/loop_grpc.out"
[ "$rc" -eq 0 ] || { echo "outside project: fetch_loop failed while daemons were killed"; exit 1; }
[ "$rc_grpc" -eq 0 ] ||
  { echo "outside project: fetch_loop_grpc failed while daemons were killed"; exit 1; }
# Ids came from all three: each failed over twice.
for out in loop loop_grpc; do
  grep -qE ' 1=[0-9]+ 2=[0-9]+ 3=[0-9]+$' "$work/$out.out" ||
    { echo "outside project: not every daemon served $out"; exit 1; }
done
echo "outside project: no failed fetch, no duplicate while two of three daemons were killed" \
  "(memcached and grpc://)"
