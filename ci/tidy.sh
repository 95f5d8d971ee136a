#!/usr/bin/env bash
# clang-tidy-14 with the root .clang-tidy over the translation units of a
# build's compile_commands.json: the code under src/ (libraries, mains,
# benchmarks) and the fuzz targets, and through them the headers, src/testing's
# included. The tests (*_test.cpp, test_*.cpp, proptest/, and the test
# processes' helpers src/testing/*.cpp) double the run time; TIDY_SCOPE=all
# checks them too.
#
#   ci/tidy.sh [BUILD_DIR]     (default build/release)
#
# BUILD_DIR needs only to be configured (cmake --preset release): clang-tidy
# reads compile_commands.json and the generated version header, nothing built.
#
# Environment:
#   JOBS          parallel clang-tidy processes (default 2)
#   TIDY_TIMEOUT  seconds for the whole run (default 1200)
#   TIDY_SCOPE    code (default) or all (tests and properties too)
#
# Prints each finding once (file:line:col, message, [check]), then
# "tidy: N findings in N files checked". Exits non-zero on any finding, on a
# file clang-tidy cannot parse, and when the time runs out. The full output
# is in BUILD_DIR/clang-tidy.log.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build/release}"
[[ "$build" = /* ]] || build="$repo/$build"
jobs="${JOBS:-2}"
limit="${TIDY_TIMEOUT:-1200}"
log="$build/clang-tidy.log"
case "${TIDY_SCOPE:-code}" in
  code) files='^(?!.*(_test\.cpp|/test_[^/]*\.cpp)$)(?!.*/(proptest|src/testing)/).*/(src|fuzz)/' ;;
  all) files='/(src|proptest|fuzz)/' ;;
  *) echo "tidy: TIDY_SCOPE is code or all" >&2; exit 2 ;;
esac

if ! command -v run-clang-tidy-14 >/dev/null; then
  echo "tidy: run-clang-tidy-14 not found (Debian: apt-get install clang-tidy-14)" >&2
  exit 1
fi
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "tidy: no $build/compile_commands.json (configure first: cmake --preset release)" >&2
  exit 1
fi

# One compile command per file: clang-tidy checks a file once for each of its
# commands, and the build compiles some twice with the same code in them (the
# server for katsubushi-epoll, which differs only in Boost.Asio's reactor
# macros; the fuzz corpus replayer once per target). A second command is kept
# for a file whose text tests those macros, so both of its branches are read.
db="$build/tidy-db"
mkdir -p "$db"
python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY' || exit 1
import json, re, sys
kept, seen = [], set()
for entry in json.load(open(sys.argv[1])):
    name = entry["file"]
    if name in seen:
        try:
            text = open(name, errors="replace").read()
        except OSError:
            continue
        if not re.search(r"BOOST_ASIO_(HAS_IO_URING|DISABLE_EPOLL)", text):
            continue
    seen.add(name)
    kept.append(entry)
json.dump(kept, open(sys.argv[2], "w"), indent=0)
PY

start=$(date +%s)
status=0
# The compile commands are g++'s: clang does not know -Wno-restrict or
# -Wno-tsan, and -Werror would make that an error in every file.
(cd "$repo" && timeout "$limit" run-clang-tidy-14 -p "$db" -j "$jobs" -quiet \
  -extra-arg=-Wno-unknown-warning-option "$files") >"$log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))

# run-clang-tidy-14 always asks for colour: strip it. A header's finding is
# reported once per file including it: list it once.
all="$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" |
  grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' |
  sed -e 's/,-warnings-as-errors\]$/]/' | sort -u)"
# Findings located in a library's header (the static analyzer follows our
# calls into Boost.Asio, whose coroutine frames it does not model) cannot be
# fixed here: they are shown, and do not count.
ours="$(grep "^$repo/" <<<"$all" | sed "s|^$repo/||")"
theirs="$(grep -v "^$repo/" <<<"$all")"
count=0
[[ -n "$ours" ]] && count=$(wc -l <<<"$ours")
files=$(grep -cE '^[^ ]*clang-tidy-14 ' "$log")
# clang-tidy failing on a file in another way than a finding (a crash).
broken=$(grep -cE 'PLEASE submit a bug report|Segmentation fault|^Aborted' "$log")

[[ -n "$ours" ]] && echo "$ours"
if [[ -n "$theirs" ]]; then
  echo "tidy: not counted, located outside this repository:"
  sed 's/^/  /' <<<"$theirs"
fi
ok=true
[[ $count -eq 0 ]] || ok=false
if [[ $status -eq 124 ]]; then
  echo "tidy: stopped after ${limit}s (TIDY_TIMEOUT); full output in $log" >&2
  ok=false
elif [[ $broken -ne 0 || ($status -ne 0 && -z "$all") ]]; then
  echo "tidy: run-clang-tidy-14 failed (exit $status) other than by a finding; see $log" >&2
  tail -n 20 "$log" >&2
  ok=false
fi
echo "tidy: $count findings in $files files checked (${elapsed}s)"
$ok
