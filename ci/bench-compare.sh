#!/usr/bin/env bash
# katsubushi-cpp against Debian's memcached, and go-katsubushi (the daemon it
# replaces) when given, under the same katsubushi-bench workloads, on this
# machine: not a CI gate, a command to run by hand.
#
#   ci/bench-compare.sh [--go BIN] [--rounds N] [--threads T] [--duration D]
#                       [--warmup W] [--idle-conns N] [--strace-requests N]
#                       [--fair-keys K] [--no-fairness] [--io-engine E]
#                       [--install-deps]
#
# Every server runs on a free loopback port with the same thread count T
# (default 2): this daemon as `-worker-id 1 -threads T -max-connections 20000
# -io-engine E` (default auto: io_uring where the kernel allows it; --io-engine
# epoll measures katsubushi-epoll, the fallback),
# memcached as `-t T -c 20000 -U 0` with the bench's keys preloaded, so every
# get hits, and go-katsubushi (--go, a binary built by
# ../shared/anchors/build-go-katsubushi.sh or any other) as
# `-worker-id 2` with GOMAXPROCS=T. Each workload runs on each server in
# turn (A B C A B C ...), N rounds (default 3); the table shows the median of
# the rounds, and how this daemon compares with the better of the others:
#   1. 1 connection, one request at a time
#   2. 32 connections, one request at a time each
#   3. 200 connections, one request at a time each
#   4. 2 connections, 64 requests in flight each
#   5. 4 connections, gets of 100 keys
#   6. server RSS per idle connection, 10,000 of them (a fresh server each round)
#   7. server syscalls per request: strace -c -f on the server during a
#      1-connection run of a fixed number of requests
# Server CPU time per request comes from /proc/PID/stat around each window.
#
# Then fairness, this daemon only (-max-keys-per-get and -max-line-bytes
# raised so a get of K keys, default 2,000,000, is allowed): one bulk client
# (a K-key text get in a loop; binary GetKQ batches of 100,000 keys; HTTP
# /ids?n=1000 in a loop) runs alone, then beside 4 one-id clients (one get at
# a time each). The rows give the one-id clients' p99.9 and worst latency and
# the bulk client's ids/s beside them as a share of its ids/s alone.
#
# Builds build/release (katsubushi, katsubushi-bench) if a binary is missing.
# Installs nothing unless --install-deps (apt-get install memcached strace).
# Prints progress on stderr and the table (Markdown) on stdout. Everything it
# started is killed on exit, its temporary files removed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build/release"
rounds=3
threads=2
duration=2s
warmup=0.5s
idle_conns=10000
strace_requests=20000
install_deps=false
go_bin=""
fair_keys=2000000
fairness=true
io_engine=auto
# Keys the workloads ask for: memcached gets <prefix>0..<prefix>(preload-1).
preload=100
max_connections=20000

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --idle-conns) idle_conns=$2; shift 2 ;;
    --strace-requests) strace_requests=$2; shift 2 ;;
    --install-deps) install_deps=true; shift ;;
    --go) go_bin=$2; shift 2 ;;
    --fair-keys) fair_keys=$2; shift 2 ;;
    --no-fairness) fairness=false; shift ;;
    --io-engine) io_engine=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rounds" "$threads" "$idle_conns" "$strace_requests" "$fair_keys"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench-compare: not a positive number: $n" >&2; exit 2; }
done

say() { echo "bench-compare: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- dependencies and binaries ----
if $install_deps; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    memcached strace >/dev/null
fi
command -v memcached >/dev/null ||
  die "memcached not found (Debian: apt-get install memcached, or run with --install-deps)"
have_strace=true
if ! command -v strace >/dev/null; then
  have_strace=false
  say "strace not found: no syscall row (apt-get install strace, or --install-deps)"
fi
command -v python3 >/dev/null || die "python3 not found (it picks free ports)"
servers=(katsubushi)
if [[ -n "$go_bin" ]]; then
  [[ -x "$go_bin" ]] || die "--go $go_bin: not an executable (build one with ../shared/anchors/build-go-katsubushi.sh)"
  servers+=(go)
fi
servers+=(memcached)

if [[ ! -x "$build/katsubushi" || ! -x "$build/katsubushi-bench" ]]; then
  say "building the release preset (katsubushi, katsubushi-bench)"
  (cd "$repo" && cmake --preset release >/dev/null &&
    cmake --build --preset release -j2 --target katsubushi katsubushi-bench >/dev/null) ||
    die "the release build failed"
fi
daemon_bin="$build/katsubushi"
bench_bin="$build/katsubushi-bench"

# File descriptors: the bench holds idle_conns sockets and each server as
# many; both raise their soft limit to the hard one, memcached wants
# max_connections. Raise the hard limit if we may, else hold fewer.
want_fds=$((max_connections + 64))
if [[ $(ulimit -Hn) != unlimited && $(ulimit -Hn) -lt $want_fds ]]; then
  ulimit -Hn "$want_fds" 2>/dev/null || true
fi
ulimit -Sn "$(ulimit -Hn)"
fds=$(ulimit -Sn)
if [[ $fds != unlimited && $fds -lt $want_fds ]]; then
  max_connections=$((fds - 64))
  ((idle_conns <= max_connections - 64)) || idle_conns=$((max_connections - 64))
  say "fd limit $fds: -max-connections/-c $max_connections, $idle_conns idle connections"
fi

# memcached refuses to run as root without -u.
memcached_user=()
[[ $(id -u) -ne 0 ]] || memcached_user=(-u nobody)

# ---- processes ----
work="$(mktemp -d "${TMPDIR:-/tmp}/katsubushi-bench-compare.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_listening PID PORT LOG: until PORT accepts a connection; fails if PID died.
wait_listening() {
  local pid=$1 port=$2 log=$3
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  say "pid $pid did not listen on $port within 10 s:"
  cat "$log" >&2
  return 1
}

# stop PID: SIGTERM, then SIGKILL after 5 s.
stop() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# start NAME: a fresh server; sets server_pid and server_port. A port taken
# between free_port and the server's bind is retried.
start() {
  local name=$1 attempt log
  for attempt in 1 2 3 4 5; do
    server_port=$(free_port)
    log="$work/$name.log"
    if [[ $name == katsubushi ]]; then
      "$daemon_bin" -worker-id 1 -port "$server_port" -threads "$threads" -io-engine "$io_engine" \
        -max-connections "$max_connections" >"$log" 2>&1 &
    elif [[ $name == go ]]; then
      GOMAXPROCS=$threads "$go_bin" -worker-id 2 -port "$server_port" >"$log" 2>&1 &
    else
      memcached -p "$server_port" -l 127.0.0.1 -t "$threads" -c "$max_connections" -U 0 \
        "${memcached_user[@]}" >"$log" 2>&1 &
    fi
    server_pid=$!
    pids+=("$server_pid")
    if wait_listening "$server_pid" "$server_port" "$log"; then
      if [[ $name == memcached ]]; then
        "$bench_bin" -port "$server_port" -preload "$preload" >/dev/null ||
          die "preloading memcached failed"
      fi
      return 0
    fi
    stop "$server_pid"
    say "$name did not start on port $server_port (attempt $attempt):"
    tail -n 3 "$log" >&2
  done
  die "$name did not start"
}

# ---- results: $work/res/<row>.<server>, one figure per round ----
mkdir -p "$work/res"
record() { echo "$3" >>"$work/res/$1.$2"; }

# json_field KEY FILE: a number from the bench's one-line JSON.
json_field() {
  grep -o "\"$1\":[^,}]*" "$2" | head -n 1 | cut -d: -f2
}

# run_load SERVER WORKLOAD ARGS...: one measured run, its figures recorded.
run_load() {
  local server=$1 workload=$2 out="$work/run.json" pid_var port_var
  shift 2
  pid_var="${server}_pid"
  port_var="${server}_port"
  if ! "$bench_bin" -port "${!port_var}" -pid "${!pid_var}" -duration "$duration" \
    -warmup "$warmup" -json "$@" >"$out" 2>"$work/run.err"; then
    cat "$work/run.err" >&2
    die "katsubushi-bench failed on $server ($workload: $*)"
  fi
  [[ $(json_field misses "$out") == 0 ]] ||
    say "warning: $server answered $(json_field misses "$out") keys without a value ($workload)"
  record "$workload.rps" "$server" "$(json_field requests_per_s "$out")"
  record "$workload.ips" "$server" "$(json_field ids_per_s "$out")"
  record "$workload.p50" "$server" "$(json_field p50_us "$out")"
  record "$workload.p99" "$server" "$(json_field p99_us "$out")"
  record "$workload.cpu" "$server" "$(json_field server_cpu_us_per_request "$out")"
  record "$workload.cpu_id" "$server" "$(json_field server_cpu_us_per_id "$out")"
  say "  $server: $(json_field requests_per_s "$out") requests/s," \
    "p99 $(json_field p99_us "$out") µs, server $(json_field server_cpu_us_per_request "$out") µs/request"
}

# run_idle SERVER: a fresh server, idle_conns connections held, RSS per connection.
run_idle() {
  local server=$1 out="$work/idle.json"
  start "$server"
  sleep 0.5  # let start-up allocations settle before the first RSS reading
  "$bench_bin" -port "$server_port" -pid "$server_pid" -idle-conns "$idle_conns" -json \
    >"$out" 2>"$work/idle.err" || { cat "$work/idle.err" >&2; die "idle run failed on $server"; }
  record idle "$server" "$(json_field rss_per_idle_conn_bytes "$out")"
  say "  $server: $(json_field rss_per_idle_conn_bytes "$out") bytes/connection"
  stop "$server_pid"
}

# run_strace SERVER: server syscalls per request over a strace_requests run.
run_strace() {
  local server=$1 pid_var port_var spid
  pid_var="${server}_pid"
  port_var="${server}_port"
  strace -c -f -p "${!pid_var}" -o "$work/strace.out" 2>"$work/strace.err" &
  spid=$!
  pids+=("$spid")
  for _ in $(seq 100); do
    grep -q attached "$work/strace.err" 2>/dev/null && break
    kill -0 "$spid" 2>/dev/null || { cat "$work/strace.err" >&2; die "strace failed"; }
    sleep 0.05
  done
  sleep 0.3  # -f attaches to every thread, one message each
  "$bench_bin" -port "${!port_var}" -requests "$strace_requests" -json >/dev/null ||
    die "katsubushi-bench failed under strace on $server"
  kill -INT "$spid"
  wait "$spid" 2>/dev/null || true
  local total
  total=$(awk '$NF == "total" { print $4 }' "$work/strace.out")
  [[ -n "$total" ]] || { cat "$work/strace.out" >&2; die "no strace summary for $server"; }
  record syscalls "$server" "$(awk -v t="$total" -v n="$strace_requests" 'BEGIN { printf "%.2f", t / n }')"
  say "  $server: $total syscalls"
}

# ---- the runs ----
workloads=(
  "w1|-conns 1"
  "w2|-conns 32"
  "w5|-conns 200"
  "w3|-conns 2 -depth 64"
  "w4|-conns 4 -keys $preload"
)
for server in "${servers[@]}"; do
  start "$server"
  printf -v "${server}_pid" %s "$server_pid"
  printf -v "${server}_port" %s "$server_port"
  say "$server: pid $server_pid, port $server_port"
done

began=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
  for w in "${workloads[@]}"; do
    name=${w%%|*}
    read -r -a args <<<"${w#*|}"
    say "round $round/$rounds: $name (${args[*]})"
    for server in "${servers[@]}"; do run_load "$server" "$name" "${args[@]}"; done
  done
  if $have_strace; then
    say "round $round/$rounds: syscalls per request ($strace_requests requests under strace)"
    for server in "${servers[@]}"; do run_strace "$server"; done
  fi
done
for server in "${servers[@]}"; do
  pid_var="${server}_pid"
  stop "${!pid_var}"
done
for round in $(seq "$rounds"); do
  say "round $round/$rounds: RSS per idle connection ($idle_conns, fresh servers)"
  for server in "${servers[@]}"; do run_idle "$server"; done
done

# ---- fairness: this daemon, a bulk client alone and beside one-id clients ----
# fair_run KIND PORT ARGS...: the bulk client (katsubushi-bench ARGS) alone, then
# with 4 one-id connections beside it; records the bulk's share and the
# one-id clients' p99.9 and worst latency.
fair_run() {
  local kind=$1 port=$2 alone beside one
  shift 2
  alone="$work/fair-alone.json" beside="$work/fair-beside.json" one="$work/fair-one.json"
  "$bench_bin" -port "$port" -duration "$duration" -warmup "$warmup" \
    -json "$@" >"$alone" 2>"$work/fair.err" || { cat "$work/fair.err" >&2; die "bulk run failed ($kind)"; }
  # The bulk client runs a little longer than the one-id clients' window on
  # both sides, so every one-id request has it beside it.
  "$bench_bin" -port "$port" -duration "$fair_bulk_duration" -warmup "$warmup" -json "$@" \
    >"$beside" 2>"$work/fair-bulk.err" &
  local bulk=$!
  pids+=("$bulk")
  sleep "$fair_lead"
  "$bench_bin" -port "$fair_port" -conns 4 -duration "$duration" -warmup 0.2s -json \
    >"$one" 2>"$work/fair-one.err" || { cat "$work/fair-one.err" >&2; die "one-id run failed ($kind)"; }
  wait "$bulk" || { cat "$work/fair-bulk.err" >&2; die "bulk run beside one-id clients failed ($kind)"; }
  record "fair_$kind.p999" katsubushi "$(json_field p999_us "$one")"
  record "fair_$kind.max" katsubushi "$(json_field max_us "$one")"
  record "fair_$kind.share" katsubushi "$(awk -v a="$(json_field ids_per_s "$beside")" \
    -v b="$(json_field ids_per_s "$alone")" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')"
  say "  $kind: one-id p99.9 $(json_field p999_us "$one") µs, max $(json_field max_us "$one") µs;" \
    "bulk $(json_field ids_per_s "$alone") ids/s alone, $(json_field ids_per_s "$beside") beside"
}
if $fairness; then
  fair_lead=$(awk -v w="$warmup" 'BEGIN { sub(/s$/, "", w); printf "%.2f", w + 0.5 }')
  fair_bulk_duration=$(awk -v d="$duration" -v l="$fair_lead" 'BEGIN { sub(/s$/, "", d); printf "%.2fs", d + l + 1 }')
  fair_port=$(free_port) fair_http=$(free_port)
  "$daemon_bin" -worker-id 3 -port "$fair_port" -http-port "$fair_http" -threads "$threads" -io-engine "$io_engine" \
    -max-keys-per-get "$fair_keys" -max-line-bytes 16777216 >"$work/fair.log" 2>&1 &
  fair_pid=$!
  pids+=("$fair_pid")
  wait_listening "$fair_pid" "$fair_port" "$work/fair.log" || die "the fairness daemon did not start"
  wait_listening "$fair_pid" "$fair_http" "$work/fair.log" || die "the fairness daemon's HTTP port did not open"
  for round in $(seq "$rounds"); do
    say "round $round/$rounds: fairness (a bulk client alone, then beside 4 one-id clients)"
    fair_run text "$fair_port" -keys "$fair_keys" -key-prefix ""
    fair_run binary "$fair_port" -proto binary -keys 100000
    fair_run http "$fair_http" -proto http -keys 1000
  done
  stop "$fair_pid"
fi
say "done in $(($(date +%s) - began)) s"

# ---- the table ----
median() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "n/a"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# fmt VALUE DECIMALS
fmt() { [[ $1 == n/a ]] && echo n/a || LC_ALL=C printf "%.${2}f" "$1"; }
# row LABEL KEY DECIMALS higher|lower: a cell per server, then this daemon's
# figure over the better of the others' (the larger when higher is better).
row() {
  local label=$1 key=$2 decimals=$3 better=$4 line server v mine=n/a best=n/a ratio=n/a
  line="| $label |"
  for server in "${servers[@]}"; do
    v=n/a
    [[ -f "$work/res/$key.$server" ]] && v=$(median "$work/res/$key.$server")
    line+=" $(fmt "$v" "$decimals") |"
    [[ $v == n/a ]] && continue
    if [[ $server == katsubushi ]]; then
      mine=$v
    elif [[ $best == n/a ]] || awk -v a="$v" -v b="$best" -v h="$better" \
      'BEGIN { exit !((h == "higher") ? a > b : a < b) }'; then
      best=$v
    fi
  done
  if [[ $mine != n/a && $best != n/a ]]; then
    ratio=$(awk -v a="$mine" -v b="$best" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }')
  fi
  echo "$line $ratio |"
}

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if [[ -n "$(git -C "$repo" status --porcelain -- src CMakeLists.txt 2>/dev/null)" ]]; then
  dirty=" (with uncommitted changes under src/)"
fi
peers="$(memcached -V)"
[[ -z "$go_bin" ]] || peers="go-katsubushi ($go_bin) and $peers"
echo "katsubushi-cpp $commit$dirty (-io-engine $io_engine) vs $peers, all with $threads threads"
echo "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, Linux $(uname -r); the bench runs on the same cores"
echo "load average before the runs: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $rounds rounds; each load run $duration after $warmup warm-up;" \
  "ratio = katsubushi-cpp / the better of the others"
echo
header="| workload | katsubushi-cpp |"
rule="|---|---|"
for server in "${servers[@]:1}"; do
  case $server in
    go) header+=" go-katsubushi |" ;;
    memcached) header+=" memcached |" ;;
  esac
  rule+="---|"
done
echo "$header ratio |"
echo "$rule---|"
row "1 conn, 1 at a time: requests/s (higher is better)" w1.rps 0 higher
row "1 conn, 1 at a time: p50 latency µs (lower is better)" w1.p50 1 lower
row "1 conn, 1 at a time: p99 latency µs (lower is better)" w1.p99 1 lower
row "1 conn, 1 at a time: server CPU µs/request (lower is better)" w1.cpu 2 lower
row "32 conns, 1 at a time: requests/s (higher is better)" w2.rps 0 higher
row "32 conns, 1 at a time: p99 latency µs (lower is better)" w2.p99 1 lower
row "32 conns, 1 at a time: server CPU µs/request (lower is better)" w2.cpu 2 lower
row "200 conns, 1 at a time: requests/s (higher is better)" w5.rps 0 higher
row "200 conns, 1 at a time: p99 latency µs (lower is better)" w5.p99 1 lower
row "200 conns, 1 at a time: server CPU µs/request (lower is better)" w5.cpu 2 lower
row "2 conns × depth 64: requests/s (higher is better)" w3.rps 0 higher
row "2 conns × depth 64: p99 latency µs (lower is better)" w3.p99 1 lower
row "2 conns × depth 64: server CPU µs/request (lower is better)" w3.cpu 2 lower
row "4 conns, $preload-key gets: ids/s (higher is better)" w4.ips 0 higher
row "4 conns, $preload-key gets: p99 latency µs per get (lower is better)" w4.p99 1 lower
row "4 conns, $preload-key gets: server CPU µs/id (lower is better)" w4.cpu_id 3 lower
row "$idle_conns idle conns: server RSS bytes/conn (lower is better)" idle 0 lower
if $have_strace; then
  row "1 conn, 1 at a time: server syscalls/request (lower is better)" syscalls 2 lower
fi
if $fairness; then
  echo
  echo "Fairness (katsubushi-cpp only): 4 one-id clients beside one bulk client"
  echo
  echo "| bulk client | one-id p99.9 µs | one-id max µs | bulk ids/s beside them, % of alone |"
  echo "|---|---|---|---|"
  for kind in text binary http; do
    case $kind in
      text) label="a $fair_keys-key get in a loop" ;;
      binary) label="binary GetKQ batches of 100,000 keys" ;;
      http) label="HTTP /ids?n=1000 in a loop" ;;
    esac
    echo "| $label | $(fmt "$(median "$work/res/fair_$kind.p999.katsubushi")" 0) |" \
      "$(fmt "$(median "$work/res/fair_$kind.max.katsubushi")" 0) |" \
      "$(fmt "$(median "$work/res/fair_$kind.share.katsubushi")" 1) |"
  done
fi
