#!/usr/bin/env bash
# An OCI image of the daemon made without pulling a base image, and checked
# by running its entrypoint from the image's own root file system:
#   1. `buildah from scratch`; the release binary, its epoll build at
#      /usr/libexec/katsubushi/katsubushi-epoll (where it looks for it: a
#      container runtime's seccomp profile often refuses io_uring), and the
#      shared libraries both load (ldd), the loader included, copied in at
#      their paths; entrypoint /usr/bin/katsubushi, port 11212, labels;
#   2. `buildah commit`, then `buildah push` to an OCI layout (`oci:`), whose
#      config and layers are read back: the entrypoint from the config, the
#      root file system from the layers;
#   3. that entrypoint runs in the extracted root (chroot) with
#      -worker-id 1 -port <free loopback port>, katsubushi-client fetches an id
#      from it, and SIGTERM ends it with status 0; then again with
#      -io-engine epoll (the epoll build in the image).
# buildah keeps its storage (vfs: no overlay mount needed) in a temp dir of
# its own, removed at the end with the image: all that is left on the machine is
# buildah's blob-info cache (/var/lib/containers/cache, a small database).
# `podman run` is not used: it needs rlimits this sandbox refuses.
#   ci/oci_image.sh [BUILD_DIR] [IMAGE_OUT]   (IMAGE_OUT: keep the oci-archive there)
# Prints PASS/FAIL lines; exits non-zero on any failure. About 10 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$(realpath "${1:-build/release}")
keep=${2:-}
bin="$build/katsubushi"
epoll_bin="$build/katsubushi-epoll"
client="$build/katsubushi-client"
work=$(mktemp -d)
ctr=""
daemon=""
failed=0
b() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
proc_mounted=""
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then kill -KILL "$daemon"; wait "$daemon"; fi
  if [ -n "$proc_mounted" ]; then umount "$proc_mounted" || umount -l "$proc_mounted"; fi
  if [ -n "$proc_mounted" ] && mountpoint -q "$proc_mounted"; then
    echo "oci: $proc_mounted still mounted; $work left in place" >&2
    return
  fi
  [ -n "$ctr" ] && b rm "$ctr" >/dev/null 2>&1
  b rmi -a -f >/dev/null 2>&1
  # vfs layers can hold read-only dirs; make them removable first.
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL oci: $1"; failed=$((failed + 1)); }
pass() { echo "PASS oci: $1"; }
die() { fail "$1"; exit 1; }

command -v buildah >/dev/null || die "buildah is not installed (Debian: buildah)"
[ -x "$bin" ] || die "no $bin"

# 1. The image, from scratch.
ctr=$(b from --name katsubushi-oci-check scratch 2>"$work/from.err") ||
  die "buildah from scratch: $(cat "$work/from.err")"
mnt=$(b mount "$ctr" 2>"$work/mount.err") || die "buildah mount: $(cat "$work/mount.err")"
install -D -m 0755 "$bin" "$mnt/usr/bin/katsubushi"
binaries=("$bin")
if [ -x "$epoll_bin" ]; then
  install -D -m 0755 "$epoll_bin" "$mnt/usr/libexec/katsubushi/katsubushi-epoll"
  binaries+=("$epoll_bin")
fi
# Every shared library the binaries load, and the loader, at the same paths.
libs=$(for b in "${binaries[@]}"; do ldd "$b"; done |
  awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | sort -u)
[ -n "$libs" ] || die "ldd listed no libraries for $bin"
for lib in $libs; do
  real=$(readlink -f "$lib")
  install -D -m 0755 "$real" "$mnt$lib"
done
mkdir -p "$mnt/tmp" "$mnt/proc" && chmod 1777 "$mnt/tmp"
b unmount "$ctr" >/dev/null
b config --entrypoint '["/usr/bin/katsubushi"]' --cmd '' --port 11212 \
  --label org.opencontainers.image.title=katsubushi \
  --label org.opencontainers.image.description="unique 64-bit id server speaking the memcached protocol" \
  "$ctr" || die "buildah config"
b commit -q "$ctr" katsubushi:ci >"$work/commit.log" 2>&1 || die "buildah commit: $(cat "$work/commit.log")"
pass "buildah from scratch + commit ($(echo "$libs" | wc -l) shared libraries beside the binary)"

# 2. Pushed to an OCI layout and read back.
b push -q katsubushi:ci "oci:$work/layout:katsubushi:ci" >"$work/push.log" 2>&1 ||
  die "buildah push oci: $(cat "$work/push.log")"
if [ -n "$keep" ]; then
  b push -q katsubushi:ci "oci-archive:$keep:katsubushi:ci" >/dev/null 2>&1 && echo "image: $keep"
fi
read -r entrypoint layers < <(python3 - "$work/layout" <<'PY'
import json, os, sys
root = sys.argv[1]
def blob(digest):
    algo, hexd = digest.split(":")
    return os.path.join(root, "blobs", algo, hexd)
index = json.load(open(os.path.join(root, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
entry = config["config"]["Entrypoint"]
print(",".join(entry), " ".join(blob(l["digest"]) for l in manifest["layers"]))
PY
) || die "reading the OCI layout"
[ "$entrypoint" = /usr/bin/katsubushi ] || fail "entrypoint is '$entrypoint'"
rootfs="$work/rootfs"
mkdir -p "$rootfs"
for layer in $layers; do tar -xf "$layer" -C "$rootfs" || die "extracting $layer"; done
[ -x "$rootfs$entrypoint" ] || die "no $entrypoint in the image's root file system"
pass "pushed as an OCI layout; entrypoint $entrypoint; root file system $(du -sh "$rootfs" | cut -f1)"

# 3. The entrypoint, run from the image's root file system: as it is, and
# on the epoll build when the image has one. A container runtime mounts /proc
# (the daemon finds its epoll build from /proc/self/exe); so does this check.
if mount -t proc proc "$rootfs/proc" 2>"$work/mount-proc.err"; then
  proc_mounted="$rootfs/proc"
else
  echo "note: /proc not mounted in the root file system ($(cat "$work/mount-proc.err"))"
fi
# run_entrypoint WHAT ARGS...: an id from it, then SIGTERM and status 0.
run_entrypoint() {
  local what=$1; shift
  local port id="" rc
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  chroot "$rootfs" "$entrypoint" -worker-id 1 -port "$port" -threads 1 "$@" >"$work/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do
    id=$("$client" -servers "127.0.0.1:$port" -timeout 200ms 2>/dev/null) && break
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$id" ] && [ "$(( (id >> 12) & 1023 ))" -eq 1 ]; then
    pass "$what: the entrypoint (chroot into the image's root file system) served id $id"
  else
    tail -n 20 "$work/daemon.log"
    fail "$what: no id from the image's entrypoint on port $port"
  fi
  kill -TERM "$daemon" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
  wait "$daemon"
  rc=$?
  daemon=""
  if [ "$rc" -eq 0 ]; then pass "$what: SIGTERM, exit status 0"; else fail "$what: SIGTERM, exit status $rc"; fi
}
run_entrypoint "as built"
if [ -x "$rootfs/usr/libexec/katsubushi/katsubushi-epoll" ] && [ -n "$proc_mounted" ]; then
  run_entrypoint "-io-engine epoll" -io-engine epoll
fi
[ "$failed" -eq 0 ]
