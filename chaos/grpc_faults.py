"""gRPC clients that die: real grpcio client processes (the stubs the build
generates) SIGKILLed at random moments, mid-call, mid-stream or before they
are connected, with bare TCP clients that leave half an HTTP/2 preface or
garbage on the gRPC port. The daemon hands gRPC connections to gRPC's own
threads and counts them only until its sweep sees gRPC closed them, so this
is where a leaked connection, fd or gRPC thread would show."""

import os
import select
import signal
import subprocess
import time

from harness import HOST, IO_TIMEOUT_S, THREADS, ChaosError, wait_until
from scenario import Scenario

# Debian's Python, with python3-grpcio and python3-protobuf; the runner's own
# Python needs neither.
PYTHON = "/usr/bin/python3"
CLIENT = os.path.join(os.path.dirname(os.path.realpath(__file__)), "grpc_client.py")
MODES = ("multi", "single", "mixed")
RAW_KINDS = ("half-preface", "preface-half-frame", "garbage", "silent")
CLIENTS_PER_ROUND = (3, 5)
# Clients a round gives an open reflection stream. Each open stream holds one
# of gRPC's threads (a synchronous server's handler waits on the stream), and
# the daemon gives gRPC -threads + 2 of them, one always polling: with the
# harness's 2 threads a third held stream would leave none spare, and a fourth
# is refused (RESOURCE_EXHAUSTED, "Server Threadpool Exhausted").
MAX_HELD_STREAMS = 2
# After a client says it is connected it is killed within this long.
KILL_WITHIN_S = 0.6
# This share of the clients is killed this soon after it starts, ready or not:
# during Python's start-up, the TCP connect or the HTTP/2 handshake.
EARLY_KILL_SHARE = 0.2
EARLY_KILL_WITHIN_S = 0.15
# A client not connected by then has failed.
READY_WAIT_S = IO_TIMEOUT_S
# gRPC closes a dead client's connection as soon as it reads the close; the
# daemon's sweep (every idle-timeout / 4, 0.5 s here) then gives back its slot
# in curr_connections. Slack for a loaded box on top.
GRPC_REAP_S = 3.0
# After the act the daemon's threads, counted by name (/proc/PID/task/*/comm),
# must come back within this long to what they were at the baseline (taken
# after a warm-up with the same clients), except in gRPC's own pools:
THREAD_SETTLE_S = 5.0
# - gRPC's executors (grpc_core::Executor, "default-executor" and
#   "resolver-executor" cut to 15 bytes) start one thread each and add one
#   whenever a queue is more than 2 closures deep, up to 2 x the cores gRPC
#   sees, and keep them until the server stops. Which round first queues that
#   deep is chance (measured: the default executor went from 1 to 2 or 3
#   threads after 13 to 16 rounds in 2 of 4 runs of 25 rounds, never after).
EXECUTOR_THREADS = ("default-executo", "resolver-execut")
# - the synchronous server's pool ("grpcpp_sync_server") keeps 1 to MAX_POLLERS
#   (the daemon's setting) polling threads when idle, and a second one ends
#   only after gRPC's 10 s completion-queue timeout: longer than this
#   scenario's budget. Idle, it may be at either; a handler thread that never
#   ended would not show in the count anyway (it can pass for a poller), so
#   the capacity probe below looks for those.
SYNC_SERVER_THREADS = "grpcpp_sync_ser"
MAX_POLLERS = 2
# The capacity probe: reflection streams held open at once after the act. The
# daemon gives gRPC -threads + 2 threads (harness.THREADS = 2), one of them
# always polling, and each open stream holds one: 3 fit, a 4th is refused
# with RESOURCE_EXHAUSTED, and so would be the 3rd if a thread of a killed
# client's call had never come back (measured: a stream held by a live client
# makes it fail in 5 of 5 tries, 0 of 20 without).
PROBE_STREAMS = THREADS + 1


def executor_cap(pid):
    """gRPC's executor thread cap: gpr_cpu_num_cores() is the affinity count."""
    return 2 * max(1, len(os.sched_getaffinity(pid)))


def threads_by_name(pid):
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue  # ended meanwhile
        names[name] = names.get(name, 0) + 1
    return names


def threads_over(before, after, cap):
    """The thread names of `after` over what the baseline `before` allows, as text."""
    over = []
    for name, n in sorted(after.items()):
        allowed = before.get(name, 0)
        if name in EXECUTOR_THREADS:
            allowed = max(allowed, cap)
        elif name == SYNC_SERVER_THREADS:
            allowed = max(allowed, MAX_POLLERS)
        if n > allowed:
            over.append(f"{name} {before.get(name, 0)} -> {n}")
    return ", ".join(over)


class _Client:
    def __init__(self, ctx, number, argv, describe):
        self.describe = describe
        self.killed_ready = False
        self.ready_at = None
        self.kill_at = None
        self.delay = 0.0  # from "ready" to the kill
        self.out = os.path.join(ctx.env.tmpdir, f"grpc-client-{number}.ids")
        self.err = os.path.join(ctx.env.tmpdir, f"grpc-client-{number}.err")
        stubs = os.path.join(os.path.dirname(ctx.env.binary), "generated", "python")
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, CLIENT, f"{HOST}:{ctx.daemon.grpc_port}", self.out, *argv],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                env={**os.environ, "PYTHONPATH": stubs}, start_new_session=True)

    def errors(self):
        try:
            with open(self.err, "rb") as f:
                return " ".join(f.read().decode(errors="replace").split())[-300:]
        except OSError:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=IO_TIMEOUT_S)
        self.proc.stdout.close()

    def cleanup(self):
        for path in (self.out, self.err):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


class GrpcClientKilled(Scenario):
    name = "grpc-client-killed"
    summary = ("gRPC clients (FetchMulti, Fetch, open reflection streams) and half HTTP/2 "
               "prefaces SIGKILLed at random moments")
    grpc = True
    # Persistent: then curr_connections - live_sessions is the gRPC
    # connections alone, which every round must bring back to 0.
    persistent_healthy = True
    count = 100000  # client processes; the time decides
    seconds = 20.0
    min_count = 1
    # The warm-up runs at least one whole round: gRPC's threads, pollers and
    # buffers are at their steady state before the baseline.
    warmup_fraction = 0.25

    def __init__(self):
        self.numbered = 0
        self.grpc_ids = 0
        self.rounds = 0
        self.killed_mid_run = 0

    def act(self, ctx, n):
        if ctx.baseline is not None:  # the measured phase: count it alone
            self.__init__()
            self.baseline_threads = threads_by_name(ctx.daemon.pid)
        if not os.access(PYTHON, os.X_OK):
            raise ChaosError(f"{PYTHON} is missing (Debian: python3-grpcio)")
        stubs = os.path.join(os.path.dirname(ctx.env.binary), "generated", "python")
        if not os.path.isfile(os.path.join(stubs, "katsubushi_pb2_grpc.py")):
            raise ChaosError(f"no generated Python stubs beside the binary ({stubs}); build them")
        ran = 0
        while ran < n and ctx.time_left() > 0:
            ran += self.round(ctx)
        return ran

    def round(self, ctx):
        """Starts 3-5 clients and a raw one, kills them all, checks their ids
        and that gRPC gave back every connection."""
        rng = ctx.rng
        self.rounds += 1
        plans = []
        held = rng.randint(1, MAX_HELD_STREAMS)
        for i in range(rng.randint(*CLIENTS_PER_ROUND)):
            mode = rng.choice(MODES)
            hold = ["--hold-reflection"] if i < held else []
            plans.append(([mode, str(rng.randrange(1 << 32)), *hold],
                          f"{mode}{' holding a reflection stream' if hold else ''}"))
        kind = rng.choice(RAW_KINDS)
        plans.append((["raw", kind, str(rng.randrange(1 << 32))], f"raw {kind}"))
        delays = [(rng.random() < EARLY_KILL_SHARE, rng.uniform(0, KILL_WITHIN_S),
                   rng.uniform(0, EARLY_KILL_WITHIN_S)) for _ in plans]
        clients = []
        try:
            started = time.monotonic()
            for (argv, describe), (early, delay, early_delay) in zip(plans, delays):
                self.numbered += 1
                c = _Client(ctx, self.numbered, argv, describe)
                c.delay = delay
                if early:
                    c.kill_at = started + early_delay
                clients.append(c)
            self.kill_all(ctx, clients, started)
            for c in clients:
                self.collect(ctx, c)
        finally:
            for c in clients:
                c.kill()
                c.cleanup()
        self.await_grpc_reaped(ctx)
        return len(clients)

    def kill_all(self, ctx, clients, started):
        """Kills every client at its planned moment: a random time after it
        said "ready", or, for the early ones, after it started."""
        waiting = list(clients)
        while waiting:
            now = time.monotonic()
            poller = select.poll()
            by_fd = {}
            for c in waiting:
                if c.ready_at is None:
                    poller.register(c.proc.stdout, select.POLLIN)
                    by_fd[c.proc.stdout.fileno()] = c
            next_kill = min((c.kill_at for c in waiting if c.kill_at), default=now + 0.05)
            for fd, _ in poller.poll(max(0, min(0.05, next_kill - now)) * 1000):
                c = by_fd[fd]
                line = c.proc.stdout.readline()
                if line == b"ready\n":
                    c.ready_at = time.monotonic()
                    if c.kill_at is None:
                        c.kill_at = c.ready_at + c.delay
                else:  # EOF: it is ending by itself; collect() reports how
                    try:
                        c.proc.wait(timeout=IO_TIMEOUT_S)
                    except subprocess.TimeoutExpired:
                        pass
                    c.kill_at = time.monotonic()
            now = time.monotonic()
            for c in list(waiting):
                if c.kill_at is None and now - started > READY_WAIT_S:
                    ctx.fail(f"gRPC client ({c.describe}) not connected within "
                             f"{READY_WAIT_S:g}s: {c.errors()}")
                    c.kill_at = now
                if c.kill_at is not None and now >= c.kill_at:
                    if c.proc.poll() is None:  # else it ended by itself: collect() says so
                        c.proc.send_signal(signal.SIGKILL)
                        c.killed_ready = c.ready_at is not None
                    waiting.remove(c)

    def collect(self, ctx, c):
        """Reads the ids a killed client wrote: each answer's count, then the
        ids through the scenario's checker as one connection's."""
        c.kill()
        if c.proc.returncode != -signal.SIGKILL:
            ctx.fail(f"gRPC client ({c.describe}) ended with status {c.proc.returncode}: "
                     f"{c.errors()}")
        if c.killed_ready:
            self.killed_mid_run += 1
        try:
            with open(c.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        conn = ctx.checker.connection()
        for line in data.split(b"\n")[:-1]:  # past the last newline: torn by the kill
            want, *ids = map(int, line.split())
            if len(ids) != want:
                ctx.fail(f"gRPC client ({c.describe}): {len(ids)} ids where {want} were asked")
            ctx.checker.record(conn, ids)
            self.grpc_ids += len(ids)

    def await_grpc_reaped(self, ctx):
        def grpc_connections():
            s = ctx.stats()
            return int(s["curr_connections"]) - int(s["live_sessions"])
        if not wait_until(lambda: grpc_connections() == 0, GRPC_REAP_S, interval=0.05):
            ctx.fail(f"round {self.rounds}: {grpc_connections()} gRPC connections still counted "
                     f"{GRPC_REAP_S:g}s after their clients were killed")

    def check(self, ctx, before, after):
        pid, cap = ctx.daemon.pid, executor_cap(ctx.daemon.pid)
        if not wait_until(lambda: not threads_over(self.baseline_threads, threads_by_name(pid),
                                                   cap), THREAD_SETTLE_S, interval=0.1):
            ctx.fail(f"threads over the baseline {THREAD_SETTLE_S:g}s after the act: "
                     f"{threads_over(self.baseline_threads, threads_by_name(pid), cap)} "
                     f"(executors may grow to {cap}, the sync server's pollers to "
                     f"{MAX_POLLERS})")
        settled = threads_by_name(pid)
        grown = [f"{name} {self.baseline_threads.get(name, 0)} -> {n}"
                 for name, n in sorted(settled.items()) if n > self.baseline_threads.get(name, 0)]
        self.probe(ctx)
        if self.killed_mid_run == 0 or self.grpc_ids == 0:
            ctx.fail(f"no gRPC client was killed while fetching ({self.killed_mid_run} killed "
                     f"after connecting, {self.grpc_ids} gRPC ids)")
        print(f"chaos: {self.name}: {self.rounds} rounds, {self.numbered} clients killed "
              f"({self.killed_mid_run} after connecting), {self.grpc_ids} gRPC ids; threads "
              f"{before.threads} at the baseline, {sum(settled.values())} after"
              f"{' (' + ', '.join(grown) + ')' if grown else ''}; fds "
              f"{before.fds}/{after.fds}; RSS {before.rss}/{after.rss} kB", flush=True)

    def probe(self, ctx):
        """A fresh gRPC client still gets ids and stats that count it, and
        PROBE_STREAMS reflection streams at once."""
        try:
            out = subprocess.run(
                [PYTHON, CLIENT, f"{HOST}:{ctx.daemon.grpc_port}", "-", "probe",
                 str(PROBE_STREAMS)],
                capture_output=True, timeout=IO_TIMEOUT_S * 2,
                env={**os.environ, "PYTHONPATH": os.path.join(
                    os.path.dirname(ctx.env.binary), "generated", "python")})
        except subprocess.TimeoutExpired:
            ctx.fail(f"gRPC probe: no answer within {IO_TIMEOUT_S * 2:g}s")
            return
        lines = dict(line.split(" ", 1) for line in out.stdout.decode().splitlines()
                     if " " in line)
        if out.returncode != 0 or "ids" not in lines:
            ctx.fail(f"gRPC probe failed ({out.returncode}): "
                     f"{' '.join(out.stderr.decode(errors='replace').split())[-300:]}")
            return
        ids = [int(i) for i in lines["ids"].split()]
        if len(ids) != 1001:
            ctx.fail(f"gRPC probe: {len(ids)} ids, want 1 + 1000")
        ctx.checker.record(ctx.checker.connection(), ids)
        if lines.get("streams") != str(PROBE_STREAMS):
            ctx.fail(f"gRPC probe: {PROBE_STREAMS} reflection streams at once not served")
        if int(lines.get("curr_connections", "0")) < 2:
            ctx.fail(f"gRPC probe: curr_connections {lines.get('curr_connections')} with the "
                     "checking connection and the probe connected")


SCENARIOS = [GrpcClientKilled()]
