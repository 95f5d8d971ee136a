"""Faults on the server's side: signals under load, a restart after SIGKILL,
more connections than -max-connections, and fewer fds than connections."""

import glob
import os
import signal
import socket
import time

from client_faults import PipelineClose
from harness import (IDLE_TIMEOUT_S, IO_TIMEOUT_S, REAP_WAIT_S, ChaosError,
                     close_with_reset, connect, wait_until)
from healthy import HealthyLoad, IdChecker, StreamingLoad
from scenario import (SHUTDOWN_TIMEOUT_S, Context, Result, Scenario, end_daemon,
                      failures_recorded)

TOO_MANY = b"SERVER_ERROR too many open connections\r\n"


class SigtermUnderLoad(Scenario):
    name = "sigterm"
    summary = "SIGTERM while healthy, streaming, silent and non-reading clients are connected"
    CYCLES = 3  # shutdowns at scale 1
    healthy_clients = 4
    STREAMING = 2
    SILENT = 20
    LOAD_S = 2.0

    def execute(self, env):
        result = Result(self.name)
        checker = IdChecker(inject_duplicate=env.inject == "duplicate-id")
        cycles = max(1, round(self.CYCLES * env.scale))
        for cycle in range(cycles):
            daemon = env.new_daemon(f"{self.name}-{cycle}")
            checking, extra, streams = None, [], None
            try:
                with failures_recorded(result):
                    checking = daemon.start()
                    ctx = Context(env, daemon, checking, checker, result)
                    if cycle == 0:
                        # Touch both workers so the fd baseline is the steady one.
                        warm = HealthyLoad(ctx.port, checker, clients=2).start()
                        time.sleep(0.3)
                        warm.stop()
                        before = self.settle(ctx)
                        result.fds_before, result.rss_before = before.fds, before.rss
                    load = self.healthy_load(ctx, on_disconnect="graceful")
                    # Requests always in flight: the server holds some it has not
                    # read when the signal comes, so a stop that just closes resets.
                    streams = StreamingLoad(ctx.port, checker, clients=self.STREAMING).start()
                    extra = [connect(ctx.port) for _ in range(self.SILENT)]
                    # One client that never reads: shutdown must not wait on it forever.
                    hog = connect(ctx.port)
                    hog.setblocking(False)
                    try:
                        hog.send(b"get a b c d e f g h\r\n" * 200000)
                    except BlockingIOError:
                        pass
                    extra.append(hog)
                    time.sleep(max(0.5, self.LOAD_S * env.scale))
                    daemon.send_signal(signal.SIGTERM)
                    streams.end_writes()
                    rc = daemon.wait(SHUTDOWN_TIMEOUT_S + 5)
                    if rc is None:
                        daemon.kill()  # so the clients below see their end
                    load.stop()
                    for e in load.errors + streams.finish():
                        ctx.fail(e)
                    result.killed += self.healthy_clients + self.STREAMING + len(extra)
                    if rc is None:
                        ctx.fail(f"still running {SHUTDOWN_TIMEOUT_S + 5:g}s after SIGTERM")
                    elif rc != 0:
                        ctx.fail(f"exit status {rc} after SIGTERM (want 0)")
                    if load.rounds == 0:
                        ctx.fail("the healthy clients completed no request before SIGTERM")
            finally:
                for s in extra:
                    close_with_reset(s)
                if streams is not None:
                    streams.close()
                end_daemon(result, daemon, checking)
            if result.failures:
                break
        result.ids = checker.checked
        result.failures += [e for e in checker.errors if e not in result.failures]
        return result


# Each restart sets the daemon's wall clock this much further back (libfaketime
# preloaded into the daemon; its monotonic clock stays real).
CLOCK_STEP_BACK_S = 2


def clock_set_back(seconds):
    """The environment that runs the daemon `seconds` behind the real clock."""
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not libs:
        raise ChaosError("libfaketime is not installed (Debian: faketime)")
    return {"LD_PRELOAD": libs[0], "FAKETIME": f"-{seconds}s", "DONT_FAKE_MONOTONIC": "1"}


class SigkillRestart(Scenario):
    name = "sigkill-restart"
    summary = ("SIGKILL under load, restart with the clock set back and -state-file: "
               "ids after > ids before")
    KILLS = 3  # at scale 1
    # The measured run after the last restart: clients dropping pipelines.
    count = 20000
    seconds = 6.0
    healthy_clients = 4
    LOAD_S = 1.5

    def execute(self, env):
        result = Result(self.name)
        checker = IdChecker(inject_duplicate=env.inject == "duplicate-id")
        port = None
        # Every restart shares one reservation file and starts with its clock
        # further behind: ids must stay above those before the SIGKILL without
        # the wall clock having moved on.
        extra = ["-state-file", os.path.join(env.tmpdir, "sigkill.state")]
        kills = max(1, round(self.KILLS * env.scale))
        daemon = checking = None
        try:
            with failures_recorded(result):
                for k in range(kills + 1):
                    daemon = env.new_daemon(f"{self.name}-{k}", port=port, extra_args=extra,
                                            extra_env=clock_set_back(k * CLOCK_STEP_BACK_S))
                    port = daemon.port
                    checker.set_floor(checker.max_seen)
                    checking = daemon.start()
                    ctx = Context(env, daemon, checking, checker, result)
                    if k > 0:
                        # The clock is behind the mark: ids are refused until it
                        # passes (stats served meanwhile), then come above it.
                        if int(checking.stats().get("clock_waits", 0)) < 1:
                            ctx.fail(f"restart {k}: the clock set back was not behind the mark")
                        if not wait_until(lambda: LowFdLimit.fresh_get(ctx), REAP_WAIT_S,
                                          interval=0.2):
                            ctx.fail(f"restart {k}: no id after waiting for the clock")
                            break
                    if k == kills:
                        break  # the last one gets the standard measured run
                    load = self.healthy_load(ctx, on_disconnect="ignore")
                    time.sleep(max(0.5, self.LOAD_S * env.scale))
                    daemon.send_signal(signal.SIGKILL)
                    daemon.wait(10)
                    load.stop()
                    checking.close()
                    daemon.kill()
                    result.killed += self.healthy_clients + 1
                    if load.rounds == 0:
                        ctx.fail("the healthy clients completed no request before SIGKILL")
                self.measured_run(ctx)
                self.stop_cleanly(ctx)
        finally:
            end_daemon(result, daemon, checking)
        return result

    def act(self, ctx, n):
        return PipelineClose().act(ctx, n)


class ConnectionFlood(Scenario):
    name = "max-connections"
    summary = "waves of 200 connections against -max-connections 64"
    count = 40000
    min_count = 200
    max_connections = 64
    healthy_clients = 4
    persistent_healthy = True
    prime_count = 0  # its warm-up waves fill every slot already
    WAVE = 200

    def act(self, ctx, n):
        ran = 0
        rejected_total = 0
        before = ctx.stats()
        expected_open = 1 + self.healthy_clients
        while ran < n and ctx.time_left() > 0:
            if not wait_until(lambda: ctx.stats()["curr_connections"] == str(expected_open),
                              REAP_WAIT_S):
                ctx.fail(f"max-connections: curr_connections not back to {expected_open}")
                break
            base = ctx.stats()
            size = self.WAVE
            socks = [connect(ctx.port) for _ in range(size)]
            ran += size
            try:
                target = int(base["total_connections"]) + size
                if not wait_until(lambda: int(ctx.stats()["total_connections"]) >= target,
                                  IO_TIMEOUT_S):
                    ctx.fail("max-connections: the server did not accept the whole wave")
                want = max(0, size - (self.max_connections - expected_open))
                got = classify_flood(ctx, socks, want)
                rejected_total += got
                if got != want:
                    ctx.fail(f"max-connections: {got} of {size} refused, want {want}")
            finally:
                for s in socks:
                    s.close()
        counted = int(ctx.stats()["rejected_connections"]) - int(before["rejected_connections"])
        if counted != rejected_total:
            ctx.fail(f"rejected_connections grew by {counted}, clients saw {rejected_total}")
        return ran


def classify_flood(ctx, socks, want):
    """Counts the sockets that got exactly TOO_MANY and a close; the others
    must have got nothing. Sweeps until `want` are seen or a short deadline."""
    started = time.monotonic()
    for s in socks:
        s.setblocking(False)  # a socket with a timeout waits even with MSG_DONTWAIT
    got = {i: bytearray() for i in range(len(socks))}
    closed = set()
    errors = {}
    deadline = time.monotonic() + IO_TIMEOUT_S
    while True:
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                while True:
                    chunk = s.recv(4096, socket.MSG_DONTWAIT)
                    if not chunk:
                        closed.add(i)
                        break
                    got[i] += chunk
            except BlockingIOError:
                pass
            except OSError as e:
                closed.add(i)
                errors[i] = e
        refused = [i for i in closed if got[i] == TOO_MANY]
        if len(refused) >= want or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for i, data in got.items():
        if data and data != TOO_MANY:
            ctx.fail(f"max-connections: a flood client got {bytes(data[:60])!r}")
        elif i in closed and not data and time.monotonic() - started < IDLE_TIMEOUT_S:
            # Accepted ones may be reaped by the idle timeout, but not sooner.
            ctx.fail(f"max-connections: a flood client was closed without the refusal line "
                     f"({errors.get(i, 'EOF')})")
    return len(refused)


class LowFdLimit(Scenario):
    name = "low-fd-limit"
    summary = "daemon under RLIMIT_NOFILE 64 flooded with 150 connections"
    count = 3000
    min_count = 150
    nofile = 64
    healthy_clients = 4
    persistent_healthy = True
    prime_count = 0  # its warm-up waves take every fd already
    WAVE = 150
    HOLD_S = 0.5

    def act(self, ctx, n):
        ran = 0
        while ran < n and ctx.time_left() > 0:
            size = self.WAVE  # a whole wave, or it may not reach the limit
            socks = [connect(ctx.port) for _ in range(size)]
            ran += size
            try:
                if not wait_until(lambda: ctx.daemon.fd_count() >= self.nofile, IO_TIMEOUT_S):
                    ctx.fail(f"low-fd-limit: the flood never took the daemon to {self.nofile} fds")
                time.sleep(self.HOLD_S)  # let accept fail with EMFILE a few times
                # Existing connections are still served while accept fails.
                ctx.checker.record(ctx.checker.connection(), ctx.checking.get_ids())
            finally:
                for s in socks:
                    s.close()
            if not wait_until(lambda: self.fresh_get(ctx), REAP_WAIT_S, interval=0.2):
                ctx.fail("low-fd-limit: no new connection served after the flood ended")
        return ran

    @staticmethod
    def fresh_get(ctx):
        try:
            with connect(ctx.port, timeout=1.0) as s:
                s.sendall(b"get fresh\r\n")
                reply = b""
                while not reply.endswith(b"END\r\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    reply += chunk
                return reply.startswith(b"VALUE fresh 0 ")
        except OSError:
            return False


SCENARIOS = [SigtermUnderLoad(), SigkillRestart(), ConnectionFlood(), LowFdLimit()]
