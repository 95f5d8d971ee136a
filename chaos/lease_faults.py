"""Faults on the Redis side of worker-id leases: Redis killed and restarted
under load, two daemons contending for one worker id, and one lease lost
among several (-worker-id-count). Each scenario runs
its own redis-server on a free loopback port and kills it at the end. Redis
keeps an append-only file synced on every write, as a production Redis
holding leases should: a SIGKILL then loses nothing (a Redis that loses its
data is a limit the README states, not something a daemon can survive)."""

import os
import shutil
import signal
import subprocess
import threading
import time

from client_faults import PipelineClose
from harness import HOST, IO_TIMEOUT_S, WORKER_ID, ChaosError, connect, free_port, wait_until
from healthy import IdChecker
from scenario import (Context, Result, Scenario, check_rss_back, end_daemon,
                      failures_recorded)

LEASE_TTL_S = 6  # refreshed every second; the lease ends 4.5 s after its last refresh
# The first id on a fresh Redis comes 4.5 s + 2 s after its start, and more on a loaded machine.
FIRST_ID_WAIT_S = 15
# Outages the lease outlasts (a refresh is missed, the next one lands well
# before the lease's end): ids must flow on without one error.
SHORT_OUTAGE_S = 1.2
# Redis is up this long between outages: at least two refreshes land.
UP_BETWEEN_S = 2.5
# An outage longer than the lease: ids must stop, then resume.
LONG_OUTAGE_S = LEASE_TTL_S + 1.5


class RedisProcess:
    """One redis-server on 127.0.0.1, stopped (SIGKILL) and started again on
    the same port."""

    def __init__(self, tmpdir, name):
        if shutil.which("redis-server") is None:
            raise ChaosError("redis-server is not installed (Debian: redis-server)")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, f"{name}-redis")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None

    def url(self):
        return f"redis://{HOST}:{self.port}?ns=chaos"

    def start(self):
        if self.proc is not None:
            return
        for _ in range(50):  # the port may still be held a moment after a kill
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                 "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir,
                 "--logfile",
                 os.path.join(self.dir, "redis.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return
                time.sleep(0.02)
            self.stop()
            time.sleep(0.1)
        raise ChaosError(f"redis-server did not start on port {self.port}")

    def _answers(self):
        if self.proc.poll() is not None:
            return False
        try:
            with connect(self.port, timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self, lines=8):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return []
        return ["redis: " + line for line in tail]

    def cli(self, *args):
        """A redis-cli command against this Redis; its reply, stripped."""
        done = subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.port), *args],
                              capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip()

    def stop(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None


def lease_args(redis):
    # The last -worker-id wins (Go's flag package): 0 asks Redis, for our
    # worker id only, so the id checker's worker id still holds.
    return ["-worker-id", "0", "-redis", redis.url(), "-min-worker-id", str(WORKER_ID),
            "-max-worker-id", str(WORKER_ID), "-lease-ttl", f"{LEASE_TTL_S}s"]


def first_line_of_get(port):
    try:
        with connect(port, timeout=IO_TIMEOUT_S) as s:
            s.sendall(b"get probe\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\r\n")[0]
    except OSError as e:
        return f"{type(e).__name__}".encode()


class RedisRestart(Scenario):
    name = "redis-restart"
    summary = ("Redis killed and restarted under load: short outages cost no id, a long one "
               "stops ids at the lease's end, then they resume")
    count = 20000
    seconds = 8.0
    healthy_clients = 3

    def execute(self, env):
        result = Result(self.name)
        self.redis = RedisProcess(env.tmpdir, self.name)
        daemon = checking = None
        try:
            with failures_recorded(result):
                self.redis.start()
                daemon = env.new_daemon(self.name, extra_args=lease_args(self.redis))
                checking = daemon.start()
                # The first claim on a Redis that has just started waits out
                # any lease proved before its start: 0.75 x the lease + 2 x
                # -max-clock-skew (README, When the store forgets). Load
                # starts once ids flow.
                if not wait_until(lambda: first_line_of_get(daemon.port).startswith(b"VALUE"),
                                  FIRST_ID_WAIT_S, interval=0.2):
                    raise ChaosError(f"no id {FIRST_ID_WAIT_S:g}s after the daemon started")
                checker = IdChecker(inject_duplicate=env.inject == "duplicate-id")
                ctx = Context(env, daemon, checking, checker, result)
                self.outages = 0
                self.measured_run(ctx)
                self.long_outage(ctx)
                self.stop_cleanly(ctx)
        finally:
            end_daemon(result, daemon, checking)
            self.redis.stop()
            if result.failures:
                result.log_tail += self.redis.log_tail()
        return result

    def act(self, ctx, n):
        stop = threading.Event()

        def outages():
            # One outage whatever the budget, then more while the phase lasts.
            while True:
                self.redis.stop()
                self.outages += 1
                time.sleep(SHORT_OUTAGE_S)  # whole, even when the phase ends meanwhile
                self.redis.start()
                if stop.wait(UP_BETWEEN_S) or ctx.time_left() < SHORT_OUTAGE_S + UP_BETWEEN_S:
                    return

        t = threading.Thread(target=outages, daemon=True)
        t.start()
        try:
            ran = PipelineClose().act(ctx, n)
            # The healthy clients go on until the outage is over and refreshed.
            t.join(timeout=SHORT_OUTAGE_S + 10)
            return ran
        finally:
            stop.set()
            t.join(timeout=30)
            self.redis.start()

    def check(self, ctx, before, after):
        if self.outages == 0:
            ctx.fail("no Redis outage happened during the act phase")
        if int(after.stats["lease_refresh_failures"]) == 0:
            ctx.fail("Redis was killed but no lease refresh failed")
        if after.stats["lease_state"] != "held":
            ctx.fail(f"lease_state {after.stats['lease_state']} after short outages (want held)")

    def long_outage(self, ctx):
        """Redis away longer than the lease: the daemon stops issuing at the
        lease's end, stays up, and issues again, above every id before, once
        Redis is back."""
        self.redis.stop()
        stopped = time.monotonic()
        refused = wait_until(
            lambda: first_line_of_get(ctx.port) == b"SERVER_ERROR no valid worker id lease",
            LONG_OUTAGE_S + 5, interval=0.1)
        if not refused:
            ctx.fail(f"ids still issued {LONG_OUTAGE_S + 5:g}s after Redis went "
                     f"(lease {LEASE_TTL_S}s)")
        elif time.monotonic() - stopped > LEASE_TTL_S + 2:
            ctx.fail("ids stopped later than the lease's end")
        if ctx.stats()["lease_state"] != "lost":
            ctx.fail("lease_state is not lost while Redis is away")
        ctx.checker.set_floor(ctx.checker.max_seen)
        self.redis.start()
        if not wait_until(lambda: first_line_of_get(ctx.port).startswith(b"VALUE"), 15,
                          interval=0.2):
            ctx.fail("no id after Redis came back")
        ctx.checker.record(ctx.checker.connection(), ctx.checking.get_ids((b"after",)))
        if not ctx.daemon.alive():
            raise ChaosError("the daemon died over a lost lease")
        # Losing the lease and taking it again costs no memory either.
        check_rss_back(ctx, ctx.baseline.rss, "after the long outage")


class ContendedId(Scenario):
    name = "contend-one-id"
    summary = ("two daemons for one worker id: the second is refused while the first holds "
               "it, takes it after a SIGKILL, and issues above the first")
    count = 20000
    seconds = 6.0
    healthy_clients = 3
    LOAD_S = 1.5

    def execute(self, env):
        result = Result(self.name)
        redis = RedisProcess(env.tmpdir, self.name)
        checker = IdChecker(inject_duplicate=env.inject == "duplicate-id")
        first = second = checking = None
        try:
            with failures_recorded(result):
                redis.start()
                first = env.new_daemon(f"{self.name}-a", extra_args=lease_args(redis))
                checking = first.start()
                ctx = Context(env, first, checking, checker, result)
                load = self.healthy_load(ctx, on_disconnect="ignore")
                time.sleep(max(0.5, self.LOAD_S * env.scale))
                # The id is held: a second daemon cannot take it.
                rival = env.new_daemon(f"{self.name}-rival", extra_args=lease_args(redis))
                try:
                    rival.start().close()
                    ctx.fail("a second daemon started on a worker id another holds")
                except ChaosError:
                    pass
                finally:
                    rival.kill()
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                load.stop()
                checking.close()
                first.kill()
                checker.set_floor(checker.max_seen)
                # Started again until the first holder's key has expired.
                deadline = time.monotonic() + LEASE_TTL_S + 10
                while True:
                    second = env.new_daemon(f"{self.name}-b", extra_args=lease_args(redis))
                    try:
                        checking = second.start()
                        break
                    except ChaosError:
                        second.kill()
                        if time.monotonic() > deadline:
                            raise ChaosError("no daemon took the worker id after its holder died")
                        time.sleep(0.3)
                ctx = Context(env, second, checking, checker, result)
                # Its ids wait for the fence, then come above the first's.
                if not wait_until(lambda: first_line_of_get(second.port).startswith(b"VALUE"),
                                  15, interval=0.1):
                    ctx.fail("the second holder issued no id")
                self.measured_run(ctx)
                self.stop_cleanly(ctx)
        finally:
            end_daemon(result, second, checking)
            if first is not None:
                first.kill()
            redis.stop()
        return result

    def act(self, ctx, n):
        return PipelineClose().act(ctx, n)


class LoseOneOfK(Scenario):
    """-worker-id-count K from Redis, and the middle id's key taken by
    another holder under load: that id stops issuing at its next refresh,
    the other K-1 serve on without an error, and every id stays unique and
    increasing on its connection across the switch (the generator's cursor
    moves on to the next held id inside a millisecond)."""

    name = "lose-one-of-k"
    summary = ("-worker-id-count 3 leased from Redis, one key taken by another holder under "
               "load: that id stops, the two others serve on, ids unique and increasing")
    count = 20000
    seconds = 6.0
    healthy_clients = 3
    K = 3
    LOST = WORKER_ID + 1  # the middle one: ids of both neighbours go on around it

    def execute(self, env):
        result = Result(self.name)
        self.redis = RedisProcess(env.tmpdir, self.name)
        daemon = checking = None
        try:
            with failures_recorded(result):
                self.redis.start()
                daemon = env.new_daemon(self.name, extra_args=[
                    "-worker-id", "0", "-redis", self.redis.url(), "-worker-id-count",
                    str(self.K), "-min-worker-id", str(WORKER_ID), "-max-worker-id",
                    str(WORKER_ID + self.K - 1), "-lease-ttl", f"{LEASE_TTL_S}s"])
                checking = daemon.start()
                if not wait_until(lambda: first_line_of_get(daemon.port).startswith(b"VALUE"),
                                  FIRST_ID_WAIT_S, interval=0.2):
                    raise ChaosError(f"no id {FIRST_ID_WAIT_S:g}s after the daemon started")
                if not wait_until(lambda: checking.stats().get("worker_ids_serving") ==
                                  str(self.K), FIRST_ID_WAIT_S, interval=0.2):
                    raise ChaosError(f"the daemon never served with all {self.K} worker ids")
                checker = IdChecker(inject_duplicate=env.inject == "duplicate-id",
                                    worker_ids=range(WORKER_ID, WORKER_ID + self.K))
                ctx = Context(env, daemon, checking, checker, result)
                self.taken = False
                self.measured_run(ctx)
                self.stop_cleanly(ctx)
                if self.redis.cli("GET", f"chaos:id:{self.LOST}") != "someone-else":
                    result.failures.append("the lost id's key was taken back from its holder")
        finally:
            end_daemon(result, daemon, checking)
            self.redis.stop()
            if result.failures:
                result.log_tail += self.redis.log_tail()
        return result

    def act(self, ctx, n):
        # The key changes hands while the load runs (once: the warm-up's act
        # takes it, the measured one runs with it gone).
        def take():
            time.sleep(0.3)
            self.redis.cli("SET", f"chaos:id:{self.LOST}", "someone-else", "EX", "600")
            self.taken = True

        t = None
        if not self.taken:
            t = threading.Thread(target=take, daemon=True)
            t.start()
        try:
            return PipelineClose().act(ctx, n)
        finally:
            if t is not None:
                t.join(timeout=10)

    def check(self, ctx, before, after):
        lost = f"worker:{self.LOST}:state"
        if not wait_until(lambda: ctx.stats().get(lost) == "no_lease", LEASE_TTL_S, interval=0.1):
            ctx.fail(f"{lost} is {ctx.stats().get(lost)} after its key was taken (want no_lease)")
        stats = ctx.stats()
        if stats.get("worker_ids_serving") != str(self.K - 1):
            ctx.fail(f"worker_ids_serving {stats.get('worker_ids_serving')} (want {self.K - 1})")
        for w in range(WORKER_ID, WORKER_ID + self.K):
            if w != self.LOST and stats.get(f"worker:{w}:state") != "serving":
                ctx.fail(f"worker:{w}:state is {stats.get(f'worker:{w}:state')} (want serving)")
        issued = stats.get(f"worker:{self.LOST}:ids_issued")
        ctx.checker.record(ctx.checker.connection(), ctx.checking.get_ids((b"after",)))
        if ctx.stats().get(f"worker:{self.LOST}:ids_issued") != issued:
            ctx.fail(f"worker id {self.LOST} issued ids after its lease was lost")


SCENARIOS = [RedisRestart(), ContendedId(), LoseOneOfK()]
