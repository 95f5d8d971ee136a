#!/usr/bin/env bash
# Checks the systemd units in dist/ as systemd would load them, offline (no
# systemd running needed): `systemd-analyze verify` on a copy whose ExecStart=
# is the built daemon (verify wants the binary to exist), where any message
# at all (an unknown key, a bad value, a missing binary) is a failure, since
# systemd only warns about most mistakes and starts the unit anyway. Then what
# systemd cannot know: the socket units name their sockets as the daemon
# expects (memcached, http, grpc) and start katsubushi.service.
#
#   ci/verify_units.sh verify DAEMON_BINARY     the units in dist/ pass
#   ci/verify_units.sh selftest DAEMON_BINARY   broken copies of them fail
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
units=(katsubushi.service katsubushi.socket katsubushi-http.socket katsubushi-grpc.socket)

usage() {
  echo "usage: $0 verify|selftest DAEMON_BINARY" >&2
  exit 2
}

# check_units DIR DAEMON_BINARY: 0 when the units in DIR pass, else 1 with
# the reasons on stderr.
check_units() {
  local dir="$1" bin="$2" out status=0 unit name
  sed -i "s|^ExecStart=/usr/bin/katsubushi\\b|ExecStart=$bin|" "$dir/katsubushi.service"
  if ! out="$(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
    "${units[@]/#/./}" 2>&1)"; then
    status=1
  fi
  if [[ -n "$out" ]]; then
    printf '%s\n' "$out" >&2
    status=1
  fi
  for unit in "${units[@]}"; do
    [[ "$unit" == *.socket ]] || continue
    name="$(sed -n 's/^FileDescriptorName=//p' "$dir/$unit")"
    case "$name" in
      memcached | http | grpc) ;;
      *)
        echo "$unit: FileDescriptorName=$name is none of memcached, http, grpc" >&2
        status=1
        ;;
    esac
    if ! grep -qx 'Service=katsubushi.service' "$dir/$unit"; then
      echo "$unit: no Service=katsubushi.service" >&2
      status=1
    fi
  done
  if ! grep -qx 'Type=notify' "$dir/katsubushi.service"; then
    echo "katsubushi.service: not Type=notify" >&2
    status=1
  fi
  return "$status"
}

# copy_units DIR: a fresh copy of dist/'s units in DIR.
copy_units() {
  rm -rf "${1:?}"/*
  local unit
  for unit in "${units[@]}"; do
    cp "$repo/dist/$unit" "$1/" || return 1
  done
}

# selftest DIR BIN: each breakage must fail the check.
selftest() {
  local dir="$1" bin="$2" failed=0 file expr
  # Vacuous unless the units as they are pass.
  copy_units "$dir" || return 1
  if ! check_units "$dir" "$bin"; then
    echo "selftest: the units in dist/ fail already" >&2
    return 1
  fi
  local breakages=(
    "katsubushi.service|s/^Type=notify$/Type=notiffy/"
    "katsubushi.service|s/^ProtectSystem=/ProtectSistem=/"
    "katsubushi.service|s|^ExecStart=/usr/bin/katsubushi|ExecStart=/nonexistent/katsubushi|"
    "katsubushi.socket|s/^ListenStream=.*/ListenStream=no-such-address/"
    "katsubushi.socket|s/^Service=.*/Service=katsubushi-typo.service/"
    "katsubushi-http.socket|s/^FileDescriptorName=.*/FileDescriptorName=web/"
  )
  for breakage in "${breakages[@]}"; do
    file="${breakage%%|*}"
    expr="${breakage#*|}"
    copy_units "$dir" || return 1
    sed -i "$expr" "$dir/$file"
    if cmp -s "$repo/dist/$file" "$dir/$file"; then
      echo "selftest: '$expr' changed nothing in $file" >&2
      failed=1
    elif check_units "$dir" "$bin" 2>/dev/null; then
      echo "selftest: $file with '$expr' passed the check" >&2
      failed=1
    else
      echo "selftest: $file with '$expr' fails, as it should"
    fi
  done
  return "$failed"
}

main() {
  [[ $# -eq 2 ]] || usage
  local mode="$1" bin="$2" dir status
  [[ -x "$bin" ]] || { echo "$0: $bin is not an executable" >&2; exit 2; }
  bin="$(realpath "$bin")" || exit 2
  if ! command -v systemd-analyze >/dev/null; then
    echo "$0: systemd-analyze not found (Debian: apt-get install systemd)" >&2
    exit 1
  fi
  dir="$(mktemp -d)" || exit 1
  trap 'rm -rf "$dir"' EXIT
  case "$mode" in
    verify)
      copy_units "$dir" || exit 1
      check_units "$dir" "$bin"
      status=$?
      [[ $status -eq 0 ]] && echo "units: ${units[*]} verified"
      ;;
    selftest)
      selftest "$dir" "$bin"
      status=$?
      ;;
    *) usage ;;
  esac
  exit "$status"
}

main "$@"
