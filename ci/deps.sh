#!/usr/bin/env bash
# Installs what building and testing katsubushi-cpp needs on Debian 12.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  ca-certificates g++ cmake make pkg-config python3 \
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev \
  libspdlog-dev libhiredis-dev librapidcheck-dev libgtest-dev libgmock-dev libbenchmark-dev \
  clang-14 clang-tidy-14 libclang-rt-14-dev llvm-14 gcovr \
  redis-server memcached faketime procps curl strace etcd-server etcd-client openssl \
  libcache-memcached-fast-perl python3-pymemcache libmemcached-tools ruby ruby-dalli \
  prometheus \
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev python3-grpcio python3-protobuf \
  libsystemd-dev liburing-dev systemd dpkg-dev groff-base man-db buildah >/dev/null
# Node for the memjs client test (memjs itself comes from npm, into the build
# tree); an image may already ship Node with its own npm.
if ! command -v npm >/dev/null; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
