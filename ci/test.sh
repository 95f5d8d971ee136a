#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, then
#   1. Release build: unit, daemon integration, property and fuzz-corpus replay tests
#   2. address+undefined sanitizer build: the same tests
#   3. thread sanitizer build: the multi-threaded generator and server tests
#   4. libFuzzer: every target for FUZZ_SECONDS (default 60) each
#   5. chaos: the real release binary under dying clients and server faults
#   6. line coverage of src/id and src/proto (reported, not gated)
# Ends with one line "N passed, N failed" over every test, target and scenario.
# Knobs: KATSUBUSHI_SKIP_DEPS=1, FUZZ_SECONDS, CHAOS_BUDGET, SKIP_STAGES="tsan coverage ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}
skip=" ${SKIP_STAGES:-} "
passed=0
failed=0
failed_stages=()
logdir="$root/build/ci-logs"

stage() { echo; echo "===== $* ====="; }
skipped() { [[ "$skip" == *" $1 "* ]]; }
# count_ctest LOG STAGE: add ctest's own totals to ours.
count_ctest() {
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); failed_stages+=("$2 (no test ran)"); return
  fi
  nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  [ "$nfail" -eq 0 ] || failed_stages+=("$2")
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
  [ "$nfail" -eq 0 ] || failed_stages+=("$2")
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

stage "release build and tests"
if build release; then
  ctest --preset release -j "$jobs" 2>&1 | tee "$logdir/release-ctest.log"
  count_ctest "$logdir/release-ctest.log" "release tests"
fi

if ! skipped asan; then
  stage "address+undefined sanitizer build and tests"
  if build asan; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --preset asan -j "$jobs" 2>&1 | tee "$logdir/asan-ctest.log"
    count_ctest "$logdir/asan-ctest.log" "asan tests"
  fi
fi

if ! skipped tsan; then
  stage "thread sanitizer: multi-threaded generator and server tests"
  if build tsan katsubushi katsubushi-dump katsubushi_unit_tests katsubushi_daemon_tests; then
    TSAN_OPTIONS=halt_on_error=1 ctest --preset tsan -j "$jobs" \
      -R 'Threads|DaemonShutdown|TenThousand|MaxConnections|IdsIncreaseAcrossConnections' \
      2>&1 | tee "$logdir/tsan-ctest.log"
    count_ctest "$logdir/tsan-ctest.log" "tsan tests"
  fi
fi

if ! skipped fuzz; then
  stage "fuzzing (${FUZZ_SECONDS:-60} s per target)"
  FUZZ_BUILD_DIR="$root/build/fuzz" ci/fuzz.sh "${FUZZ_SECONDS:-60}" 2>&1 | tee "$logdir/fuzz.log"
  count_summary "$logdir/fuzz.log" "fuzz"
fi

if ! skipped chaos; then
  stage "chaos"
  chaos/run --budget "${CHAOS_BUDGET:-150}" --bin "$root/build/release/katsubushi" 2>&1 |
    tee "$logdir/chaos.log"
  count_summary "$logdir/chaos.log" "chaos"
fi

if ! skipped coverage; then
  stage "coverage"
  COVERAGE_BUILD_DIR="$root/build/coverage" ci/coverage.sh 2>&1 | tee "$logdir/coverage.log" ||
    { failed=$((failed + 1)); failed_stages+=("coverage"); }
fi

echo
echo "===== summary ($(( $(date +%s) - start )) s) ====="
for s in "${failed_stages[@]}"; do echo "FAILED: $s"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
