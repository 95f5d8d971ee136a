#!/usr/bin/env bash
# The package stage of ci/test.sh, on a release build that is already built:
#   1. `cmake --install --prefix` into a temporary directory: bin/, the man
#      page, the systemd units, etc/default/katsubushi and the conformance
#      cases land there; the installed katsubushi-conform lists its cases
#      from another directory;
#   2. cpack builds the .deb; its contents, dependencies and conffiles;
#   3. apt-get installs it (as root, or with sudo); the files are where the
#      README says, `man -w katsubushi` finds the page;
#   4. the installed /usr/bin/katsubushi runs once on a free port, hands out an
#      id over the memcached protocol, passes the installed katsubushi-conform
#      (run from another directory, finding its cases itself, writing JUnit
#      XML), and exits 0 on SIGTERM;
#   5. the package is purged, so the machine is left as found.
# And the client half: cmake --install also puts the client library and its
# gRPC transport, the id layer, their headers, the CMake package and the .pc
# files in the prefix, and an outside project (ci/outside_project.sh) is built
# against it and run over three daemons (memcached and grpc://) while two are
# killed; cpack also makes
# katsubushi-dev, installed beside katsubushi, the outside project built
# against /usr, and purged; an OCI image of the daemon is built from scratch
# with buildah and its entrypoint run from the image's root file system
# (ci/oci_image.sh).
# Ends with "package: N passed, N failed". Takes about a minute.
# usage: ci/package.sh [BUILD_DIR]   (default build/release)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$(realpath "${1:-build/release}")
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
passed=0
failed=0
work=$(mktemp -d)
mkdir -p "$work/elsewhere"
installed=0
daemon=""

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# What the checks below look at, one function each.
no_tests_in() { ! find "$1" -name '*test*' | grep -q .; }
deb_has_no_tests() { ! grep -E '_tests|test_|fuzz|_benchmarks' "$work/contents"; }
deb_depends_on_shared_libs() {
  local lib
  for lib in libc6 libboost-json libhiredis libgrpc++ libprotobuf libsystemd0; do
    grep -qF "$lib" "$work/depends" || { echo "no $lib in Depends"; return 1; }
  done
}
deb_conffiles() { dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx "$1"; }
dpkg_conffile() { dpkg-query -W -f='${Conffiles}' katsubushi | grep -q " $1 "; }
# conform_lists_cases BIN: BIN, run from a directory with no cases near it,
# finds its own and lists every protocol's.
conform_lists_cases() {
  local out group
  out=$(cd "$work/elsewhere" && "$1" --list) || { echo "$1 --list failed"; return 1; }
  for group in text meta binary http; do
    grep -q "^$group/" <<<"$out" || { echo "no $group cases listed"; return 1; }
  done
}
# junit_counts FILE: the JUnit XML parses, with as many testcases as it says
# and no failure.
junit_counts() {
  python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall("./testsuite/testcase")
assert len(cases) == int(root.get("tests")) > 100, (len(cases), root.get("tests"))
assert root.get("failures") == "0" and not root.findall(".//failure"), root.get("failures")
print("junit: %d testcases, %s skipped" % (len(cases), root.get("skipped")))
EOF
}
man_finds_page() { [ "$(man -w katsubushi 2>/dev/null)" = /usr/share/man/man1/katsubushi.1.gz ]; }
prints_version() { /usr/bin/katsubushi -version | grep -q '^katsubushi version: [0-9]'; }
# BIN -io-engine epoll: katsubushi runs the epoll build in its place, which
# must be where it looks (beside it, or libexec/katsubushi/ from its bin/).
runs_epoll_build() {
  timeout -s TERM 3 "$1" -worker-id=1 -port=0 -io-engine=epoll >"$work/epoll.log" 2>&1
  grep -q 'info event loops: epoll$' "$work/epoll.log" &&
    grep -q 'listening on port' "$work/epoll.log" || { cat "$work/epoll.log"; false; }
}
dump_worker_id() { /usr/bin/katsubushi-dump "$1" | grep -q "\"worker_id\":$2,"; }
all_gone() {
  ! [ -e /usr/bin/katsubushi ] && ! [ -e /etc/default/katsubushi ] &&
    ! [ -e /usr/include/katsubushi ] &&
    ! dpkg-query -W -f='${Status}' katsubushi 2>/dev/null | grep -q installed &&
    ! dpkg-query -W -f='${Status}' katsubushi-dev 2>/dev/null | grep -q installed
}
# The -dev package: the library, headers, CMake package and .pc, nothing of the daemon's.
dev_deb_contents() {
  local f
  for f in ./usr/include/katsubushi/client.hpp ./usr/include/katsubushi/client.h \
      ./usr/include/katsubushi/id/generator.hpp ./usr/lib/libkatsubushi-client.a \
      ./usr/lib/libkatsubushi-client.so ./usr/lib/libkatsubushi-id.a \
      ./usr/lib/cmake/katsubushi/katsubushiConfig.cmake \
      ./usr/lib/cmake/katsubushi/katsubushiConfigVersion.cmake \
      ./usr/lib/pkgconfig/katsubushi-client.pc ./usr/include/katsubushi/client_grpc.hpp \
      ./usr/include/katsubushi/client_grpc.h ./usr/lib/libkatsubushi-client-grpc.a \
      ./usr/lib/libkatsubushi-client-grpc.so ./usr/lib/cmake/katsubushi/katsubushiGrpcTargets.cmake \
      ./usr/lib/pkgconfig/katsubushi-client-grpc.pc; do
    grep -qxF "$f" "$work/dev-contents" || { echo "no $f in the -dev .deb"; return 1; }
  done
  ! grep -qE '/usr/bin/|/etc/' "$work/dev-contents"
}
# libkatsubushi-client-grpc.so's runtime: gRPC and Protobuf, from dpkg-shlibdeps.
dev_deb_depends_on_grpc() {
  local lib
  for lib in libgrpc++ libprotobuf; do
    grep -qF "$lib" "$work/dev-depends" || { echo "no $lib in the -dev Depends"; return 1; }
  done
}
daemon_deb_has_no_dev_files() { ! grep -qE '/usr/include/|\.a$|/cmake/|pkgconfig' "$work/contents"; }
pkg_config_finds_client() {
  [ "$(pkg-config --modversion katsubushi-client)" = "$(/usr/bin/katsubushi -version | sed -nE 's/^katsubushi version: ([0-9.]+).*/\1/p')" ]
}
summary() {
  echo "package: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
purge() {
  $SUDO apt-get purge -y -qq katsubushi katsubushi-dev >"$work/purge.log" 2>&1
}
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then kill -KILL "$daemon"; fi
  if [ "$installed" = 1 ]; then purge || cat "$work/purge.log"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. cmake --install into a directory of our own.
prefix="$work/prefix"
if cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  pass "cmake --install --prefix"
  for f in bin/katsubushi bin/katsubushi-dump bin/katsubushi-bench \
      share/man/man1/katsubushi.1.gz share/doc/katsubushi/README.md \
      lib/systemd/system/katsubushi.service lib/systemd/system/katsubushi.socket \
      lib/systemd/system/katsubushi-http.socket lib/systemd/system/katsubushi-grpc.socket \
      etc/default/katsubushi bin/katsubushi-conform share/katsubushi/conform/binary/get.case \
      libexec/katsubushi/katsubushi-epoll; do
    check "cmake --install: $f" test -f "$prefix/$f"
  done
  check "cmake --install: no test binaries" no_tests_in "$prefix/bin"
  check "cmake --install: katsubushi -io-engine epoll runs libexec/katsubushi/katsubushi-epoll" \
    runs_epoll_build "$prefix/bin/katsubushi"
  check "cmake --install: katsubushi-conform finds its cases from another directory" \
    conform_lists_cases "$prefix/bin/katsubushi-conform"
  for f in bin/katsubushi-client include/katsubushi/client.hpp include/katsubushi/client.h \
      include/katsubushi/id/generator.hpp lib/libkatsubushi-client.a lib/libkatsubushi-client.so \
      lib/libkatsubushi-id.a lib/cmake/katsubushi/katsubushiConfig.cmake \
      lib/cmake/katsubushi/katsubushiConfigVersion.cmake lib/pkgconfig/katsubushi-client.pc \
      include/katsubushi/client_grpc.hpp include/katsubushi/client_grpc.h \
      lib/libkatsubushi-client-grpc.a lib/libkatsubushi-client-grpc.so \
      lib/pkgconfig/katsubushi-client-grpc.pc; do
    check "cmake --install: $f" test -e "$prefix/$f"
  done
  check "an outside project against the prefix (find_package, pkg-config), fetching over memcached and grpc:// while daemons die" \
    ci/outside_project.sh "$prefix" "$build/katsubushi" "$work/outside-prefix"
  check "cmake --install: the service runs \$prefix/bin/katsubushi" \
    grep -qx "ExecStart=$prefix/bin/katsubushi" "$prefix/lib/systemd/system/katsubushi.service"
else
  cat "$work/install.log"
  fail "cmake --install --prefix"
fi

# Another katsubushi on this machine is not ours to replace or remove.
if dpkg-query -W -f='${Status}' katsubushi 2>/dev/null | grep -q 'ok installed' ||
    [ -e /usr/bin/katsubushi ]; then
  fail "a katsubushi is already installed here; the .deb is not installed over it"
  summary; exit
fi

# 2. The .deb.
if cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/cpack" >"$work/cpack.log" 2>&1; then
  pass "cpack -G DEB"
else
  tail -n 40 "$work/cpack.log"
  fail "cpack -G DEB"
  summary; exit
fi
deb=$(find "$work/cpack" -maxdepth 1 -name 'katsubushi_*.deb' | head -n 1)
if [ -z "$deb" ]; then
  ls "$work/cpack"
  fail "cpack wrote katsubushi_<version>_<arch>.deb"
  summary; exit
fi
echo "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
dpkg-deb -f "$deb" Depends >"$work/depends"
echo "Depends: $(cat "$work/depends")"
check ".deb: usr/bin/katsubushi" grep -qx './usr/bin/katsubushi' "$work/contents"
check ".deb: the man page" grep -qx './usr/share/man/man1/katsubushi.1.gz' "$work/contents"
check ".deb: no tests" deb_has_no_tests
check ".deb: usr/bin/katsubushi-conform" grep -qx './usr/bin/katsubushi-conform' "$work/contents"
check ".deb: the conformance cases" \
  grep -qx './usr/share/katsubushi/conform/binary/get.case' "$work/contents"
check ".deb: Depends from dpkg-shlibdeps (Boost.JSON, hiredis, gRPC, protobuf, libsystemd)" \
  deb_depends_on_shared_libs
check ".deb: /etc/default/katsubushi is a conffile" deb_conffiles /etc/default/katsubushi
check ".deb: usr/bin/katsubushi-client" grep -qx './usr/bin/katsubushi-client' "$work/contents"
check ".deb: nothing of the -dev package" daemon_deb_has_no_dev_files
dev_deb=$(find "$work/cpack" -maxdepth 1 -name 'katsubushi-dev_*.deb' | head -n 1)
if [ -n "$dev_deb" ]; then
  pass "cpack wrote $(basename "$dev_deb")"
  dpkg-deb -c "$dev_deb" | awk '{print $6}' >"$work/dev-contents"
  dpkg-deb -f "$dev_deb" Depends >"$work/dev-depends"
  echo "$(basename "$dev_deb"): $(du -k "$dev_deb" | cut -f1) KiB, Depends: $(cat "$work/dev-depends")"
  check "-dev .deb: library, headers, CMake package, .pc (and their gRPC transport's); no daemon files" \
    dev_deb_contents
  check "-dev .deb: Depends from dpkg-shlibdeps (gRPC, Protobuf)" dev_deb_depends_on_grpc
else
  ls "$work/cpack"
  fail "cpack wrote katsubushi-dev_<version>_<arch>.deb"
fi

# 3. Install it as an operator would.
if $SUDO apt-get install -y -qq --no-install-recommends "$deb" ${dev_deb:+"$dev_deb"} \
    >"$work/apt.log" 2>&1; then
  installed=1
  pass "apt-get install ./$(basename "$deb") ${dev_deb:+./$(basename "$dev_deb")}"
else
  installed=1  # whatever got half-way is purged on exit
  tail -n 30 "$work/apt.log"
  fail "apt-get install ./$(basename "$deb")"
  summary; exit
fi
grep -F 'katsubushi:' "$work/apt.log"  # the postinst's word to the operator
for f in /usr/bin/katsubushi /usr/bin/katsubushi-dump /usr/bin/katsubushi-bench \
    /usr/lib/systemd/system/katsubushi.service /usr/lib/systemd/system/katsubushi.socket \
    /usr/lib/systemd/system/katsubushi-http.socket /usr/lib/systemd/system/katsubushi-grpc.socket \
    /etc/default/katsubushi /usr/bin/katsubushi-conform \
    /usr/share/katsubushi/conform/text/get.case /usr/libexec/katsubushi/katsubushi-epoll; do
  check "installed: $f" test -f "$f"
done
check "installed: the service runs /usr/bin/katsubushi" \
  grep -qx "ExecStart=/usr/bin/katsubushi" /usr/lib/systemd/system/katsubushi.service
check "installed: dpkg knows /etc/default/katsubushi as a conffile" \
  dpkg_conffile /etc/default/katsubushi
if grep -qs '^path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
  echo "note: dpkg leaves /usr/share/man out on this machine; the page was checked in the .deb"
else
  check "installed: man -w katsubushi" man_finds_page
fi
check "installed: katsubushi -version" prints_version
check "installed: katsubushi -io-engine epoll runs /usr/libexec/katsubushi/katsubushi-epoll" \
  runs_epoll_build /usr/bin/katsubushi
if [ -n "$dev_deb" ]; then
  check "installed -dev: pkg-config --modversion katsubushi-client" pkg_config_finds_client
  check "installed -dev: the outside project builds against /usr" \
    ci/outside_project.sh /usr /usr/bin/katsubushi "$work/outside-usr" build-only
fi

# 4. Run the installed daemon once: an id over the memcached protocol, then SIGTERM.
# A port free on both families, as the daemon listens on one dual-stack socket.
port=$(python3 -c 'import socket
try:
    s = socket.socket(socket.AF_INET6)
    s.bind(("::", 0))
except OSError:
    s = socket.socket(socket.AF_INET)
    s.bind(("0.0.0.0", 0))
print(s.getsockname()[1])')
/usr/bin/katsubushi -worker-id=1 -port="$port" >"$work/daemon.log" 2>&1 &
daemon=$!
reply=$(python3 - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("no daemon on port %d" % port)
        time.sleep(0.05)
s.sendall(b"get package-check\r\n")
data = b""
while not data.endswith(b"END\r\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode("ascii", "replace").replace("\r\n", "|"))
EOF
)
echo "reply: $reply"
id=$(sed -nE 's/^VALUE package-check 0 [0-9]+\|([0-9]+)\|END\|$/\1/p' <<<"$reply")
if [ -n "$id" ]; then
  pass "installed daemon: get answers an id ($id)"
  check "installed daemon: katsubushi-dump reads worker id 1 in it" dump_worker_id "$id" 1
else
  fail "installed daemon: get answers an id" "$reply"
fi
# The installed runner, from a directory of its own, against the installed
# daemon: every protocol's cases (HTTP on the memcached port), JUnit XML out.
if (cd "$work/elsewhere" && /usr/bin/katsubushi-conform --target "127.0.0.1:$port" \
    --junit "$work/conform.xml" >"$work/conform.log" 2>&1); then
  pass "installed katsubushi-conform: $(tail -n 1 "$work/conform.log")"
  check "installed katsubushi-conform: --junit wrote every case, none failed" \
    junit_counts "$work/conform.xml"
else
  grep -v '^PASS' "$work/conform.log" | tail -n 30
  fail "installed katsubushi-conform against the installed daemon"
fi
kill -TERM "$daemon"
for _ in $(seq 150); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && kill -KILL "$daemon"  # not stopped in 15 s: fails below
wait "$daemon"
rc=$?
daemon=""
if [ "$rc" -eq 0 ]; then
  pass "installed daemon: SIGTERM exits 0"
else
  tail -n 20 "$work/daemon.log"
  fail "installed daemon: SIGTERM exits 0" "status $rc"
fi

# 5. Leave the machine as found.
if purge; then
  installed=0
  pass "apt-get purge katsubushi"
else
  cat "$work/purge.log"
  fail "apt-get purge katsubushi"
fi
check "purged: no /usr/bin/katsubushi, no /etc/default/katsubushi, no /usr/include/katsubushi, no package" all_gone

# 6. The OCI image: built from scratch, its entrypoint run from its root file system.
check "OCI image (buildah from scratch; the entrypoint from the image's root file system serves ids)" \
  ci/oci_image.sh "$build"

summary
