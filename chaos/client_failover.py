"""The client library (libkatsubushi-client.so, through its C ABI from
ctypes) over three daemons while they are SIGKILLed and restarted one by
one, and for a while two at once: while one daemon lives no fetch may fail,
and every id handed out must be unique."""

import ctypes
import os
import signal
import threading
import time

from harness import ChaosError, free_port, wait_until
from scenario import Result, Scenario, failures_recorded

WORKER_IDS = (1, 2, 3)
# Every call must end well within this while one daemon lives.
DEADLINE_MS = 3000
# How long each step of a round waits (a daemon down, two down, restarted),
# at scale 1; never less than MIN_PAUSE_S.
PAUSE_S = 1.0
MIN_PAUSE_S = 0.3
ROUNDS = 2
FETCHERS = 3  # threads: two share a client without prefetch, one has a prefetching client
OK = 0
# Between one fetcher's calls: a client fetching every 100 µs or so, not a
# load test (the run keeps every id to check them).
PACE_S = 0.0001


class _Options(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "struct_size", "deadline_ms", "connect_timeout_ms", "try_timeout_ms",
        "tries_per_server", "backoff_initial_ms", "backoff_max_ms", "prefetch",
        "prefetch_max_age_ms", "max_future_skew_ms", "max_idle_connections")]


def load_client_library(binary):
    """libkatsubushi-client.so from beside the daemon binary (the build tree)."""
    path = os.path.join(os.path.dirname(binary), "libkatsubushi-client.so")
    if not os.path.exists(path):
        raise ChaosError(f"no {path}: build the katsubushi_client_shared target")
    lib = ctypes.CDLL(path)
    lib.katsubushi_client_options_init.argtypes = [ctypes.POINTER(_Options)]
    lib.katsubushi_client_create.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(_Options), ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_char_p, ctypes.c_size_t]
    lib.katsubushi_client_destroy.argtypes = [ctypes.c_void_p]
    lib.katsubushi_client_fetch_multi.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t, ctypes.c_char_p,
        ctypes.c_size_t]
    return lib


class _Fetcher(threading.Thread):
    """Fetches 1-3 ids at a time until told to stop; keeps every id and the
    first errors."""

    def __init__(self, lib, client, seed):
        super().__init__(daemon=True)
        self.lib, self.client, self.n = lib, client, 1 + seed % 3
        self.ids = []
        self.errors = []
        self.calls = 0
        self.stop = threading.Event()

    def run(self):
        buf = (ctypes.c_uint64 * 3)()
        err = ctypes.create_string_buffer(1024)
        while not self.stop.is_set():
            n = self.n
            self.n = self.n % 3 + 1
            rc = self.lib.katsubushi_client_fetch_multi(self.client, buf, n, err, len(err))
            self.calls += 1
            if rc != OK:
                if len(self.errors) < 5:
                    self.errors.append(f"fetch failed ({rc}): {err.value.decode(errors='replace')}")
                continue
            self.ids.extend(buf[:n])
            time.sleep(PACE_S)


class ClientFailover(Scenario):
    name = "client-failover"
    summary = ("the client library over 3 daemons SIGKILLed and restarted one by one (and two "
               "at once): no failed fetch while one lives, every id unique")

    def execute(self, env):
        result = Result(self.name)
        daemons = []
        clients = []
        fetchers = []
        lib = None
        with failures_recorded(result):
            lib = load_client_library(env.binary)
            for w in WORKER_IDS:
                d = env.new_daemon(f"{self.name}-{w}", port=free_port(),
                                   extra_args=["-worker-id", str(w)])
                d.start().close()
                daemons.append(d)
            servers = ",".join(f"127.0.0.1:{d.port}" for d in daemons).encode()
            err = ctypes.create_string_buffer(1024)
            for prefetch in (0, 64):
                opts = _Options()
                lib.katsubushi_client_options_init(ctypes.byref(opts))
                opts.deadline_ms = DEADLINE_MS
                opts.prefetch = prefetch
                opts.prefetch_max_age_ms = 200
                client = ctypes.c_void_p()
                if lib.katsubushi_client_create(servers, ctypes.byref(opts), ctypes.byref(client),
                                                err, len(err)) != OK:
                    raise ChaosError(f"client: {err.value!r}")
                clients.append(client)
            fetchers = [_Fetcher(lib, clients[0 if i < FETCHERS - 1 else 1], i)
                        for i in range(FETCHERS)]
            for f in fetchers:
                f.start()
            try:
                result.killed = self.kill_and_restart(env, daemons)
            finally:
                for f in fetchers:
                    f.stop.set()
                for f in fetchers:
                    f.join(timeout=DEADLINE_MS / 1000 + 5)
            self.check(env, result, fetchers)
        for d in daemons:
            if result.failures:
                result.log_tail += d.log_tail(5)
            d.kill()
        if lib is not None:
            for c in clients:
                lib.katsubushi_client_destroy(c)
        return result

    def kill_and_restart(self, env, daemons):
        """Each daemon in turn: killed; then the next one too (one lives);
        both started again on their ports. Returns the number of kills."""
        pause = max(MIN_PAUSE_S, PAUSE_S * env.scale)
        kills = 0
        for _ in range(ROUNDS):
            for i, first in enumerate(daemons):
                second = daemons[(i + 1) % len(daemons)]
                time.sleep(pause)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                time.sleep(pause)
                second.send_signal(signal.SIGKILL)
                second.wait(10)
                kills += 2
                time.sleep(pause)
                first.start().close()
                time.sleep(pause)
                second.start().close()
        time.sleep(pause)
        return kills

    def check(self, env, result, fetchers):
        all_ids = []
        for f in fetchers:
            result.failures.extend(f.errors[:2])
            if f.is_alive():
                result.failures.append("a fetcher did not stop (a call past its deadline)")
            all_ids.extend(f.ids)
        if env.inject == "duplicate-id" and all_ids:
            all_ids.append(all_ids[len(all_ids) // 2])  # self-test of the check below
        result.ids = len(all_ids)
        seen = set()
        for i in all_ids:
            if i in seen:
                result.failures.append(f"duplicate id {i}")
                break
            seen.add(i)
        workers = {(i >> 12) & 1023 for i in all_ids}
        if not workers <= set(WORKER_IDS):
            result.failures.append(f"ids of worker ids {sorted(workers - set(WORKER_IDS))}")
        if workers != set(WORKER_IDS):
            result.failures.append(f"ids came from worker ids {sorted(workers)} only: no failover")
        if any(f.calls == 0 for f in fetchers) or not all_ids:
            result.failures.append("a fetcher made no call")
        print(f"chaos: client-failover: {sum(f.calls for f in fetchers)} calls, "
              f"{len(all_ids)} ids from worker ids {sorted(workers)}, "
              f"{sum(len(f.errors) for f in fetchers)} failed", flush=True)


SCENARIOS = [ClientFailover()]
