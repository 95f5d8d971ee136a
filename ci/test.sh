#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, then
#   1. Release build: unit, daemon integration, property and fuzz-corpus replay tests
#      then package: cmake --install, and the .deb built, installed, run once and purged
#      (ci/package.sh)
#   2. tidy: clang-tidy-14 over the code the release build compiles, tests aside
#      (ci/tidy.sh), in the background at idle priority until before clients
#   3. address+undefined sanitizer build: the same tests (property tests at 200 cases
#      each instead of 1000: the release stage runs them in full)
#   4. thread sanitizer build: the tests labelled tsan (multi-threaded generator, server)
#   5. libFuzzer: every target for FUZZ_SECONDS (default 7) each: eight targets, bounded so the whole run stays under 60 min on 2 cores
#   6. clients: real memcached and HTTP clients against the release binary (ci/clients.sh)
#   7. chaos: the real release binary under dying clients and server faults; five
#      of the scenarios again against katsubushi-epoll
#   8. fleet: daemons leasing worker ids from real Redis (master + replica, and a
#      Cluster) and from a 3-member etcd cluster under seeded faults, one id checker
#      (FLEET_BUDGET, default 150 s), then its self-test (each protection turned off
#      must be caught, about 20 s)
#   9. line coverage of src/id and src/proto (reported, not gated)
# Ends with one line "N passed, N failed, N skipped" over every test, target and
# scenario; ctest's counts come from its JUnit report (build/ci-logs/*-junit.xml).
# Knobs: KATSUBUSHI_SKIP_DEPS=1, FUZZ_SECONDS, CHAOS_BUDGET, FLEET_BUDGET,
# SKIP_STAGES="tidy tsan fleet coverage ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
skip=" ${SKIP_STAGES:-} "
passed=0
failed=0
skipped_tests=0
failed_stages=()
logdir="$root/build/ci-logs"

# Each stage's header also says how long the one before it took.
stage_started=$(date +%s)
stage() {
  local now; now=$(date +%s)
  echo; echo "===== $* ===== (previous stage: $((now - stage_started)) s)"
  stage_started=$now
}
skipped() {
  [[ "$skip" == *" $1 "* ]]
}
# run_ctest STAGE PRESET [ctest args...]: runs the preset's tests and adds the
# totals of ctest's JUnit report to ours. Any ctest failure without a failing
# test in the report (no test found, ctest itself failing) counts as one.
run_ctest() {
  local stage=$1 preset=$2; shift 2
  local junit="$logdir/$preset-junit.xml" rc totals p f s
  rm -f "$junit"
  ctest --preset "$preset" -j "$jobs" --output-junit "$junit" "$@" 2>&1 |
    tee "$logdir/$preset-ctest.log"
  rc=${PIPESTATUS[0]}
  totals=$(ci/junit_totals.py "$junit" 2>"$logdir/$preset-junit.txt") || totals="0 1 0"
  cat "$logdir/$preset-junit.txt" >&2
  read -r p f s <<<"$totals"
  # The names of the tests that did not pass, for the summary at the end.
  local names
  names=$(sed -nE 's/^  (failed|error): //p' "$logdir/$preset-junit.txt" 2>/dev/null |
    head -n 8 | paste -sd, - | sed 's/,/, /g')
  if [ $((p + f + s)) -eq 0 ]; then
    failed=$((failed + 1)); failed_stages+=("$stage (no test ran)"); return
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped_tests=$((skipped_tests + s))
  [ "$f" -eq 0 ] || failed_stages+=("$stage${names:+: $names}")
}
# count_summary LOG STAGE: for our own scripts' "name: N passed, N failed" line.
count_summary() {
  local line
  line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); failed_stages+=("$2 (no summary)"); return
  fi
  passed=$((passed + $(sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/' <<<"$line")))
  local nfail
  nfail=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  failed=$((failed + nfail))
  # The summary is all some CI views show: name what failed, with the line
  # after it (chaos prints "!!! scenario NAME FAILED" and then the reason;
  # fleet "fleet: CHECK FAIL figure", the others "NAME FAILED" or "NOT caught").
  local what
  what=$(grep -E -A1 'FAILED|NOT caught|^fleet: [^ ]+ +FAIL ' "$1" | grep -vE '^--$' |
    head -n 6 | sed -E 's/^!!! +//' | paste -sd' ' - | cut -c1-400)
  [ "$nfail" -eq 0 ] || failed_stages+=("$2${what:+: $what}")
}
build() {  # build PRESET [targets...]
  local preset=$1; shift
  cmake --preset "$preset" >"$logdir/$preset-configure.log" 2>&1 &&
    cmake --build --preset "$preset" -j "$jobs" ${1:+--target "$@"} >"$logdir/$preset-build.log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 60 "$logdir/$preset-configure.log" "$logdir/$preset-build.log"
    failed=$((failed + 1)); failed_stages+=("$preset build")
  fi
  return $rc
}

start=$(date +%s)
if [ "${KATSUBUSHI_SKIP_DEPS:-0}" != 1 ]; then
  stage "dependencies"
  ci/deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$logdir"

# clang-tidy runs in the background from the end of the release build, at
# idle priority (SCHED_IDLE: it gets a core only when nothing else wants it),
# through the release tests and the package, sanitizer and fuzz stages, and
# is waited for before the real clients, so the stages that measure time
# (chaos, fleet) run alone. It reads only the release tree's compile commands
# and generated headers, which nothing after the build changes. Alone it
# takes about 10 minutes of both cores; beside the others, what is left of it
# when they end (about 6 minutes at 8cae2d0, started after the package).
tidy_pid=
start_tidy() {
  if ! skipped tidy; then
    if [ -f build/release/compile_commands.json ]; then
      echo "(clang-tidy started in the background at idle priority; waited for before the real clients)"
      # In this script's session: a session of its own (setsid) would be an
      # autogroup of its own, which the scheduler gives an equal share of the
      # cores whatever its policy (measured: the asan build took twice as long).
      JOBS="$jobs" TIDY_TIMEOUT="${TIDY_TIMEOUT:-3300}" chrt --idle 0 ci/tidy.sh build/release \
        >"$logdir/tidy.log" 2>&1 &
      tidy_pid=$!
      # Not left running if this script is stopped (timeout passes the signal on).
      trap 'pkill -TERM -P "$tidy_pid" 2>/dev/null; kill "$tidy_pid" 2>/dev/null; exit 130' INT TERM
    else
      failed=$((failed + 1)); failed_stages+=("tidy (release not configured)")
    fi
  fi
}

stage "release build and tests"
if build release; then
  start_tidy
  run_ctest "release tests" release
fi

if ! skipped package; then
  stage "package: cmake --install, the .deb installed, run once and purged"
  ci/package.sh "$root/build/release" 2>&1 | tee "$logdir/package.log"
  count_summary "$logdir/package.log" "package"
fi

if ! skipped asan; then
  stage "address+undefined sanitizer build and tests"
  if build asan; then
    # Left out: the daemon fleets of DaemonFleet (Redis failovers and
    # restarts, 75 s of waiting for leases to expire): the release stage runs
    # them, and the lease code they drive runs under the sanitizers in
    # LeaseTest and DaemonLease.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      RC_PARAMS="${ASAN_RC_PARAMS:-max_success=60}" run_ctest "asan tests" asan \
      -E '^DaemonFleet[.]'
  fi
fi

if ! skipped tsan; then
  stage "thread sanitizer: multi-threaded generator and server tests"
  if build tsan katsubushi katsubushi-dump katsubushi_unit_tests katsubushi_daemon_tests \
      katsubushi_lease_tests; then
    TSAN_OPTIONS=halt_on_error=1 run_ctest "tsan tests" tsan -L tsan
    # The tsan preset builds its unit-test executable from the files that
    # hold tsan tests (CMakePresets.json): a tsan test added elsewhere would
    # silently not run. The release run counted the label's tests.
    want=$(sed -nE 's/^tsan +=.*\(([0-9]+) tests?\)$/\1/p' "$logdir/release-ctest.log" 2>/dev/null)
    got=$(sed -nE 's/.* tests failed out of ([0-9]+)$/\1/p' "$logdir/tsan-ctest.log" | tail -n 1)
    if [ -n "$want" ] && [ "$want" != "${got:-0}" ]; then
      echo "tsan: ran ${got:-0} tests, the release build has $want labelled tsan" \
        "(a file holding tsan tests is missing from KATSUBUSHI_UNIT_TEST_FILES)" >&2
      failed=$((failed + 1)); failed_stages+=("tsan (ran ${got:-0} of $want tests)")
    fi
  fi
fi

if ! skipped fuzz; then
  stage "fuzzing (${FUZZ_SECONDS:-7} s per target)"
  FUZZ_BUILD_DIR="$root/build/fuzz" ci/fuzz.sh "${FUZZ_SECONDS:-7}" 2>&1 | tee "$logdir/fuzz.log"
  count_summary "$logdir/fuzz.log" "fuzz"
fi

if [ -n "$tidy_pid" ]; then
  stage "clang-tidy over what the release build compiles (waiting for the rest of it)"
  wait "$tidy_pid"
  tidy_status=$?
  cat "$logdir/tidy.log"
  if [ "$tidy_status" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failed_stages+=("tidy: $(tail -n 1 "$logdir/tidy.log")")
  fi
fi

if ! skipped clients; then
  stage "real clients"
  ci/clients.sh "$root/build/release/katsubushi" 2>&1 | tee "$logdir/clients.log"
  count_summary "$logdir/clients.log" "clients"
fi

if ! skipped chaos; then
  stage "chaos"
  chaos/run --budget "${CHAOS_BUDGET:-100}" --bin "$root/build/release/katsubushi" 2>&1 |
    tee "$logdir/chaos.log"
  count_summary "$logdir/chaos.log" "chaos"
  # The clients that die mid-request and mid-reply, and the storms, against
  # katsubushi-epoll too (the event loops katsubushi falls back to), about 25 s.
  chaos/run --budget 20 --bin "$root/build/release/katsubushi-epoll" \
    --only half-line rst-mid-reply pipeline-close backpressure storms 2>&1 |
    tee "$logdir/chaos-epoll.log"
  count_summary "$logdir/chaos-epoll.log" "chaos (epoll)"
fi

if ! skipped fleet; then
  stage "fleet: daemons leasing worker ids from real Redis and etcd under seeded faults"
  chaos/fleet/run --budget "${FLEET_BUDGET:-150}" --bin "$root/build/release/katsubushi" \
    --report "$logdir/fleet-report" 2>&1 | tee "$logdir/fleet.log"
  count_summary "$logdir/fleet.log" "fleet"
  chaos/fleet/run --self-test --bin "$root/build/release/katsubushi" \
    --report "$logdir/fleet-selftest-report" 2>&1 | tee "$logdir/fleet-selftest.log"
  count_summary "$logdir/fleet-selftest.log" "fleet self-test"
fi

if ! skipped coverage; then
  stage "coverage"
  COVERAGE_BUILD_DIR="$root/build/coverage" ci/coverage.sh 2>&1 | tee "$logdir/coverage.log" ||
    { failed=$((failed + 1)); failed_stages+=("coverage"); }
fi

stage "summary ($(( $(date +%s) - start )) s)"
for s in "${failed_stages[@]}"; do echo "FAILED: $s"; done
echo "$passed passed, $failed failed, $skipped_tests skipped"
[ "$failed" -eq 0 ]
