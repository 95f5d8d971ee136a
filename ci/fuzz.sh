#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, address+undefined) and runs each one
# for a fixed time on a scratch copy of its committed corpus.
#
#   ci/fuzz.sh [SECONDS_PER_TARGET]          (default 60)
#
# Environment:
#   FUZZ_BUILD_DIR  build directory, relative to the repo root or absolute
#                   (default build/fuzz, the preset's)
#   FUZZ_TARGETS    space-separated subset of targets (default: every fuzz/fuzz_*.cpp)
#   CXX             clang++ to build with (default: the preset's clang++-14, else clang++)
#   JOBS            parallel build jobs (default 2)
#
# The build is CMake's `fuzz` preset (CMakePresets.json), in FUZZ_BUILD_DIR.
#
# Fails on any crash, sanitizer report, leak, timeout or out-of-memory. Crash
# inputs and logs stay in $FUZZ_BUILD_DIR/fuzz-artifacts and fuzz-logs; the
# committed corpus is never written to.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-build/fuzz}"
[[ "$build" = /* ]] || build="$repo/$build"
jobs="${JOBS:-2}"
compiler=()
if [[ -n "${CXX:-}" ]]; then
  compiler=(-DCMAKE_CXX_COMPILER="$CXX")
elif ! command -v clang++-14 >/dev/null; then
  compiler=(-DCMAKE_CXX_COMPILER=clang++)
fi

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for src in "$repo"/fuzz/fuzz_*.cpp; do
    targets+=("$(basename "$src" .cpp)")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no targets found under $repo/fuzz" >&2
  exit 2
fi

# Longest input per target: a whole conversation for the session target (it
# reaches sequence exhaustion through other connections' draws, not long
# inputs), one line or a few values for the others.
max_len_for() {
  case "$1" in
    fuzz_session | fuzz_binary) echo 4096 ;;
    # The 431 and chunk-line paths need more than the 8 KiB header limit.
    fuzz_http) echo 16384 ;;
    *) echo 512 ;;
  esac
}
dict_for() {
  case "$1" in
    fuzz_session | fuzz_text_parser) echo "$repo/fuzz/dict/memcached_text.dict" ;;
    fuzz_duration) echo "$repo/fuzz/dict/duration.dict" ;;
    fuzz_binary) echo "$repo/fuzz/dict/memcached_binary.dict" ;;
    fuzz_meta) echo "$repo/fuzz/dict/memcached_meta.dict" ;;
    fuzz_http) echo "$repo/fuzz/dict/http.dict" ;;
    fuzz_state_file) echo "$repo/fuzz/dict/state_file.dict" ;;
    *) echo "" ;;
  esac
}

echo "fuzz: building into $build (preset fuzz${CXX:+, CXX=$CXX})"
configure_log="$(mktemp "${TMPDIR:-/tmp}/katsubushi-fuzz-configure.XXXXXX")"
(cd "$repo" && cmake --preset fuzz -B "$build" "${compiler[@]}") >"$configure_log" 2>&1 || {
  cat "$configure_log" >&2
  rm -f "$configure_log"
  exit 1
}
rm -f "$configure_log"
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/katsubushi-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
logs="$build/fuzz-logs"
mkdir -p "$artifacts" "$logs"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

passed=0
failed=0
for target in "${targets[@]}"; do
  binary="$build/fuzz/$target"
  corpus="$work/$target"
  mkdir -p "$corpus"
  if [[ -d "$repo/fuzz/corpus/$target" ]]; then
    cp -R "$repo/fuzz/corpus/$target/." "$corpus/"
  fi
  log="$logs/$target.log"
  args=(-max_total_time="$seconds" -max_len="$(max_len_for "$target")" -rss_limit_mb=2048
        -timeout=10 -detect_leaks=1 -print_final_stats=1
        -artifact_prefix="$artifacts/$target-")
  dict="$(dict_for "$target")"
  [[ -n "$dict" ]] && args+=(-dict="$dict")

  echo "fuzz: $target for ${seconds}s"
  status=0
  "$binary" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?

  # libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") and final
  # stats; a target that crashes on a seed prints neither (hence || true).
  cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | awk '{print $2}' || true)"
  ft="$(grep -Eo 'ft: [0-9]+' "$log" | tail -n1 | awk '{print $2}' || true)"
  execs="$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)"
  rate="$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' || true)"
  summary="execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=$(find "$corpus" -type f | wc -l)"
  if [[ $status -eq 0 ]] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' "$log"; then
    echo "fuzz: $target PASSED $summary"
    passed=$((passed + 1))
  else
    echo "fuzz: $target FAILED (exit $status) $summary; log $log" >&2
    grep -E 'ERROR:|SUMMARY:|runtime error:|Test unit written to|artifact_prefix' "$log" | head -n 20 >&2 || true
    failed=$((failed + 1))
  fi
done

echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
