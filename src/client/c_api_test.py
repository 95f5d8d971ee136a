#!/usr/bin/env python3
"""The C ABI (katsubushi/client.h) from Python through ctypes, as a binding
would use it: libkatsubushi-client.so against a real daemon on a free
loopback port, and its error statuses and messages; then grpc:// (refused
while only libkatsubushi-client.so is loaded, served once
libkatsubushi-client-grpc.so is loaded and enabled).

    c_api_test.py LIBKATSUBUSHI_CLIENT_SO KATSUBUSHI_BIN LIBKATSUBUSHI_CLIENT_GRPC_SO
"""
import ctypes
import os
import socket
import subprocess
import sys
import tempfile
import time

OK, NO_SERVER, INVALID, BAD_LIST = 0, 1, 2, 3
EPOCH_MS = 1420070400000


class Options(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "struct_size", "deadline_ms", "connect_timeout_ms", "try_timeout_ms",
        "tries_per_server", "backoff_initial_ms", "backoff_max_ms", "prefetch",
        "prefetch_max_age_ms", "max_future_skew_ms", "max_idle_connections")]


def load(path):
    lib = ctypes.CDLL(path)
    lib.katsubushi_client_options_init.argtypes = [ctypes.POINTER(Options)]
    lib.katsubushi_client_create.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_char_p, ctypes.c_size_t]
    lib.katsubushi_client_destroy.argtypes = [ctypes.c_void_p]
    lib.katsubushi_client_fetch.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_char_p, ctypes.c_size_t]
    lib.katsubushi_client_fetch_multi.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t, ctypes.c_char_p,
        ctypes.c_size_t]
    lib.katsubushi_client_status_name.restype = ctypes.c_char_p
    return lib


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(binary, worker_id, grpc_port, log):
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen([binary, f"-worker-id={worker_id}", f"-port={port}", "-threads=1",
                                 f"-grpc-port={grpc_port}"], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                time.sleep(0.02)
        proc.kill()
        proc.wait()
    sys.exit("no daemon started")


class Checks:
    def __init__(self):
        self.failed = 0

    def that(self, ok, what):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        self.failed += 0 if ok else 1


def main():
    lib = load(sys.argv[1])
    check = Checks()
    err = ctypes.create_string_buffer(512)
    with tempfile.TemporaryFile() as log:
        grpc_port = free_port()
        proc, port = start_daemon(sys.argv[2], 77, grpc_port, log)
        try:
            opts = Options()
            lib.katsubushi_client_options_init(ctypes.byref(opts))
            check.that(opts.struct_size == ctypes.sizeof(Options) and opts.tries_per_server == 2,
                       "options_init fills the defaults")
            opts.prefetch = 16
            dead = free_port()
            servers = f"127.0.0.1:{dead},binary://127.0.0.1:{port}".encode()
            client = ctypes.c_void_p()
            rc = lib.katsubushi_client_create(servers, ctypes.byref(opts), ctypes.byref(client),
                                              err, len(err))
            check.that(rc == OK and client.value, f"create: {rc} {err.value!r}")

            one = ctypes.c_uint64()
            rc = lib.katsubushi_client_fetch(client, ctypes.byref(one), err, len(err))
            check.that(rc == OK, f"fetch past a dead server: {rc} {err.value!r}")
            worker = (one.value >> 12) & 1023
            age_ms = time.time() * 1000 - (EPOCH_MS + (one.value >> 22))
            check.that(worker == 77 and -5000 < age_ms < 60000,
                       f"the id {one.value} is the daemon's, of now")

            ids = (ctypes.c_uint64 * 2000)()
            rc = lib.katsubushi_client_fetch_multi(client, ids, 2000, err, len(err))
            got = list(ids)
            check.that(rc == OK and len(set(got + [one.value])) == 2001 and all(ids),
                       f"fetch_multi 2000: every id different ({rc})")

            rc = lib.katsubushi_client_fetch_multi(client, ids, 0, err, len(err))
            check.that(rc == INVALID and b"n must be" in err.value,
                       f"n = 0 is invalid: {rc} {err.value!r}")
            lib.katsubushi_client_destroy(client)

            rc = lib.katsubushi_client_create(b"redis://127.0.0.1:1", None, ctypes.byref(client),
                                              err, len(err))
            check.that(rc == BAD_LIST and b"redis://" in err.value,
                       f"a bad server list: {rc} {err.value!r}")
            rc = lib.katsubushi_client_create(None, None, ctypes.byref(client), err, len(err))
            check.that(rc == INVALID, "NULL servers")

            opts.deadline_ms = 200
            rc = lib.katsubushi_client_create(f"127.0.0.1:{dead}".encode(), ctypes.byref(opts),
                                              ctypes.byref(client), err, len(err))
            check.that(rc == OK, "create over a dead server (connects lazily)")
            small = ctypes.create_string_buffer(24)
            rc = lib.katsubushi_client_fetch(client, ctypes.byref(one), small, len(small))
            check.that(rc == NO_SERVER and len(small.value) == 23,
                       f"no server: status 1, the message cut to the buffer: {small.value!r}")
            rc = lib.katsubushi_client_fetch(client, ctypes.byref(one), err, len(err))
            check.that(f"127.0.0.1:{dead}: connect failed".encode() in err.value,
                       f"the reason names the server: {err.value!r}")
            check.that(lib.katsubushi_client_status_name(NO_SERVER) == b"no server answered",
                       "status_name")
            lib.katsubushi_client_destroy(client)

            grpc_servers = f"grpc://127.0.0.1:{dead},grpc://127.0.0.1:{grpc_port}".encode()
            rc = lib.katsubushi_client_create(grpc_servers, None, ctypes.byref(client), err,
                                              len(err))
            check.that(rc == BAD_LIST and b"katsubushi_client_enable_grpc()" in err.value,
                       f"grpc:// with libkatsubushi-client.so alone says what to load: {rc} "
                       f"{err.value!r}")
            ctypes.CDLL(sys.argv[3]).katsubushi_client_enable_grpc()
            rc = lib.katsubushi_client_create(grpc_servers, None, ctypes.byref(client), err,
                                              len(err))
            check.that(rc == OK, f"create over grpc:// once enabled: {rc} {err.value!r}")
            rc = lib.katsubushi_client_fetch_multi(client, ids, 10, err, len(err))
            got = list(ids)[:10]
            check.that(rc == OK and all((v >> 12) & 1023 == 77 for v in got)
                       and got == sorted(set(got)),
                       f"fetch_multi 10 over grpc:// past a dead one: {rc} {err.value!r}")
            lib.katsubushi_client_destroy(client)
        finally:
            proc.kill()
            proc.wait()
    print(f"c_api: {check.failed} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
