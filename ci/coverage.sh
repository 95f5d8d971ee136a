#!/usr/bin/env bash
# Line coverage of the sans-I/O core (src/id, src/proto) from their unit tests
# and the fuzz-corpus replay tests, built with gcc --coverage
# (KATSUBUSHI_COVERAGE=ON).
#
#   ci/coverage.sh
#
# Environment:
#   COVERAGE_BUILD_DIR  build directory, relative to the repo root or absolute
#                       (default build/coverage, the preset's)
#   COVERAGE_CXX        g++ to build with (default: the preset's compiler)
#   JOBS                parallel build and test jobs (default 2)
#
# Prints, for src/id and src/proto, one line per file (lines, executed, %,
# missing line numbers) and the directory's total. Coverage is reported, not
# gated: once the figures are printed the script exits 0, also when a test
# failed (failures are listed above the figures; the test stages gate on
# them). It exits non-zero only when it cannot produce figures: gcovr or g++
# missing, or the build failing.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${COVERAGE_BUILD_DIR:-build/coverage}"
[[ "$build" = /* ]] || build="$repo/$build"
jobs="${JOBS:-2}"

if ! command -v gcovr >/dev/null; then
  echo "coverage: gcovr not found (Debian/Ubuntu: apt-get install gcovr; or pip install gcovr)" >&2
  exit 1
fi
# gcov's data format belongs to gcc; clang's --coverage would need llvm-cov.
compiler=()
if [[ -n "${COVERAGE_CXX:-}" ]]; then
  compiler=(-DCMAKE_CXX_COMPILER="$COVERAGE_CXX")
fi
if ! command -v "${COVERAGE_CXX:-g++}" >/dev/null; then
  echo "coverage: ${COVERAGE_CXX:-g++} not found" >&2
  exit 1
fi

echo "coverage: building in $build"
mkdir -p "$build" || exit 1
(cd "$repo" && cmake --preset coverage -B "$build" "${compiler[@]}") >"$build/coverage-configure.log" 2>&1 ||
  { tail -n 40 "$build/coverage-configure.log"; echo "coverage: configure failed" >&2; exit 1; }
# Only what the measured tests run: the unit tests and the fuzz replays.
# Not the daemon: the unit tests that run it (the man page's and the
# systemd units') measure nothing of src/id or src/proto, run in the test
# stages, and would cost the server and etcd layers built at -O0.
# The unit tests of src/id and src/proto (the preset's) and the corpus
# replays: the properties run in the release and asan stages, and building
# them at -O0 with coverage cost a minute of a CI run that must stay under
# an hour.
targets=(katsubushi_unit_tests)
for source in "$repo"/fuzz/fuzz_*.cpp; do
  targets+=("$(basename "$source" .cpp)_replay")
done
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$build/coverage-build.log" 2>&1 ||
  { tail -n 60 "$build/coverage-build.log"; echo "coverage: build failed" >&2; exit 1; }

# Counters from an earlier run would inflate the figures.
find "$build" -name '*.gcda' -delete

failures=()
run_tests() {  # run_tests WHAT CTEST_ARGS...
  local what=$1; shift
  if [ "$(ctest --test-dir "$build" -N "$@" | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')" = 0 ]; then
    echo "coverage: no $what tests in this tree, skipped"
    return
  fi
  echo "coverage: running $what tests"
  ctest --test-dir "$build" -j "$jobs" --output-on-failure "$@" >"$build/coverage-$what.log" 2>&1 ||
    failures+=("$what (see $build/coverage-$what.log)")
  grep -E 'tests passed, [0-9]+ tests? failed' "$build/coverage-$what.log" | sed 's/^/  /'
}
run_tests unit -L '^unit$' -E '^(ManPage|SystemdUnits)[.]'
run_tests fuzz-replay -R '^fuzz_replay\.'

echo
for f in "${failures[@]}"; do echo "coverage: FAILED: $f"; done

cd "$repo" || exit 1
for dir in src/id src/proto; do
  echo
  echo "== line coverage of $dir (unit + fuzz replay) =="
  gcovr --root "$repo" --object-directory "$build" "$build" \
    --filter "$dir/" --exclude '.*_test[^/]*$' --exclude '.*_bench[^/]*$' |
    sed -E '/^-+$/d; /GCC Code Coverage Report/d; /^Directory: /d'
done
exit 0
