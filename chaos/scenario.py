"""The shape every scenario shares: start a daemon, warm it up, take a
baseline, break things while healthy clients keep checking ids, let the
server reap, and compare with the baseline."""

import contextlib
import os
import signal
import time

from harness import (IDLE_TIMEOUT_S, IO_TIMEOUT_S, REAP_WAIT_S, ChaosError, Daemon, connect,
                     free_port, wait_until)
from healthy import HealthyLoad, IdChecker

# Memory the daemon may keep after a scenario, over its post-warm-up RSS.
RSS_GROWTH_LIMIT_KB = 2048
# The daemon gives free memory back at most once a second after connections
# close (its control loop's sweep): RSS is looked at for this long before the
# growth counts.
RSS_SETTLE_S = 3.0
# After connections closed, the daemon's sweep gives free memory back (at most
# once a second, counted in memory_trims) and each serving thread trims its
# own heap on its next sweep, every quarter of the idle timeout.
TRIM_INTERVAL_S = 1.0
SWEEP_S = IDLE_TIMEOUT_S / 4
SHUTDOWN_TIMEOUT_S = 3.0
# Connections held at once while priming: more than the act phases of the
# one-at-a-time scenarios ever have in flight (client_faults.IN_FLIGHT).
PRIME_CONNECTIONS = 128
# Shortest act phase, whatever the budget: below this the scenario proves little.
MIN_ACT_S = 1.0


class Env:
    """What the run gives every scenario."""

    def __init__(self, binary, tmpdir, scale, rng, inject):
        self.binary = binary
        self.tmpdir = tmpdir
        self.scale = scale
        self.rng = rng
        self.inject = inject

    def new_daemon(self, name, port=None, **options):
        port = port or free_port()
        log = os.path.join(self.tmpdir, f"{name}.log")
        return Daemon(self.binary, port, log, shutdown_timeout=SHUTDOWN_TIMEOUT_S, **options)


class Result:
    def __init__(self, name):
        self.name = name
        self.killed = 0
        self.ids = 0
        self.fds_before = self.fds_after = "-"
        self.sessions_after = "-"
        self.rss_before = self.rss_after = "-"
        self.failures = []
        self.log_tail = []

    @property
    def passed(self):
        return not self.failures


class Context:
    """What a scenario's act() works with."""

    def __init__(self, env, daemon, checking, checker, result):
        self.env = env
        self.daemon = daemon
        self.checking = checking
        self.checker = checker
        self.result = result
        self.rng = env.rng
        self.deadline = time.monotonic()
        # The post-warm-up Snapshot, once measured_run has taken it.
        self.baseline = None

    @property
    def port(self):
        return self.daemon.port

    def fail(self, msg):
        if msg not in self.result.failures:
            self.result.failures.append(msg)

    def time_left(self):
        return self.deadline - time.monotonic()

    def stats(self):
        return self.checking.stats()


class Snapshot:
    def __init__(self, daemon, checking):
        self.stats = checking.stats()
        self.fds = daemon.fd_count()
        self.rss = daemon.rss_kb()
        self.threads = daemon.thread_count()

    def stat(self, name):
        return int(self.stats[name])


def rss_growth_kb(ctx, baseline_kb):
    """RSS over `baseline_kb`, once it is within the limit or RSS_SETTLE_S
    has passed, whichever comes first."""
    growth = ctx.daemon.rss_kb() - baseline_kb
    deadline = time.monotonic() + RSS_SETTLE_S
    while growth >= RSS_GROWTH_LIMIT_KB and time.monotonic() < deadline:
        time.sleep(0.1)
        growth = ctx.daemon.rss_kb() - baseline_kb
    return growth


def wait_for_trim(ctx):
    """Waits until the daemon has given back what the connections closed so
    far left free: a trim counted from now on and one sweep more, or, if none
    comes, as long as one would have taken."""
    first = ctx.stats().get("memory_trims")
    if first is None:
        return  # a daemon that does not trim: nothing to wait for
    if wait_until(lambda: ctx.stats()["memory_trims"] != first, TRIM_INTERVAL_S + SWEEP_S):
        time.sleep(SWEEP_S + 0.1)


def check_rss_back(ctx, baseline_kb, when):
    """Fails unless RSS comes back within the limit over `baseline_kb`;
    returns the RSS it settled at."""
    growth = rss_growth_kb(ctx, baseline_kb)
    if growth >= RSS_GROWTH_LIMIT_KB:
        ctx.fail(f"{when}: RSS grew by {growth} kB over the baseline of {baseline_kb} kB "
                 f"(limit {RSS_GROWTH_LIMIT_KB} kB, after {RSS_SETTLE_S:g}s for the daemon "
                 f"to give memory back)")
    return baseline_kb + growth


def prime_connections(ctx, count, request=b"version\r\n"):
    """Holds `count` connections, each having sent a request, then closes them.
    Asio keeps the per-socket state of its reactors in pools that never shrink
    and that sit wherever the heap's top was when the pool last grew; a first
    peak of concurrency during the measured phase would grow them and pin
    freed memory above them, showing as RSS growth that is no leak."""
    socks = []
    try:
        for _ in range(count):
            s = connect(ctx.port)
            s.sendall(request)
            socks.append(s)
        want = count + 1
        if not wait_until(lambda: int(ctx.stats()["live_sessions"]) >= want, IO_TIMEOUT_S):
            ctx.fail(f"priming: fewer than {want} sessions with {count} connections open")
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def failures_recorded(result):
    """A scenario's failure, or the harness losing the daemon, becomes a FAIL row."""
    try:
        yield
    except ChaosError as e:
        result.failures.append(str(e))
    except OSError as e:  # the harness itself could not talk to the daemon
        result.failures.append(f"{type(e).__name__}: {e}")


def end_daemon(result, daemon, checking):
    """Closes the checking connection and kills the daemon, keeping its log on failure."""
    if checking is not None:
        checking.close()
    if daemon is not None:
        if result.failures:
            result.log_tail = daemon.log_tail()
        daemon.kill()


class Scenario:
    name = ""
    summary = ""
    # The act phase runs dying clients until `count` have run or `seconds` are
    # up, both at scale 1 (chaos/run picks the scale from --budget); the
    # warm-up does a fraction of it at the same pace, which is what primes the
    # allocator.
    count = 1000
    seconds = 15.0
    warmup_fraction = 0.25
    min_count = 1
    max_connections = None
    nofile = None
    # More daemon flags; a flag given again overrides the harness's.
    daemon_args = ()
    # Serve gRPC on a free loopback port too (-grpc-port).
    grpc = False
    healthy_clients = 2
    persistent_healthy = False
    prime_count = PRIME_CONNECTIONS
    # What each primed connection sends: the protocol the scenario stresses,
    # so its per-session memory is at its high-water mark before the baseline.
    prime_request = b"version\r\n"

    def act(self, ctx, n):
        """Runs up to n dying clients before ctx.deadline; returns how many ran."""
        raise NotImplementedError

    def check(self, ctx, before, after):
        """Scenario-specific assertions on the stats around the act phase."""

    def counts(self, scale):
        n = max(self.min_count, round(self.count * scale))
        warm = max(self.min_count, round(n * self.warmup_fraction))
        return warm, n

    def execute(self, env):
        result = Result(self.name)
        daemon = env.new_daemon(self.name, max_connections=self.max_connections,
                                nofile=self.nofile, extra_args=self.daemon_args,
                                grpc_port=free_port() if self.grpc else None)
        checking = None
        try:
            with failures_recorded(result):
                checking = daemon.start()
                checker = IdChecker(inject_duplicate=env.inject == "duplicate-id")
                ctx = Context(env, daemon, checking, checker, result)
                self.measured_run(ctx)
                self.stop_cleanly(ctx)
        finally:
            end_daemon(result, daemon, checking)
        return result

    # The standard flow, in steps the server-fault scenarios reuse.

    def healthy_load(self, ctx, on_disconnect="fail"):
        return HealthyLoad(ctx.port, ctx.checker, clients=self.healthy_clients,
                           persistent=self.persistent_healthy,
                           on_disconnect=on_disconnect).start()

    def run_phase(self, ctx, n, seconds):
        load = self.healthy_load(ctx)
        ctx.deadline = time.monotonic() + seconds
        try:
            ran = self.act(ctx, n)
        finally:
            load.stop()
        for e in load.errors:
            ctx.fail(e)
        return ran

    def measured_run(self, ctx):
        env, result = ctx.env, ctx.result
        warm, n = self.counts(env.scale)
        act_s = max(MIN_ACT_S, self.seconds * env.scale)
        # Warm-up: the same harm on a small scale, so both worker threads have
        # their reactors and the allocator its caches before the baseline.
        self.run_phase(ctx, warm, max(MIN_ACT_S, act_s * self.warmup_fraction))
        if self.prime_count:
            prime_connections(ctx, self.prime_count, self.prime_request)
        self.settle(ctx)
        # The baseline is what the daemon keeps, not what it is about to give back.
        wait_for_trim(ctx)
        before = ctx.baseline = Snapshot(ctx.daemon, ctx.checking)
        result.fds_before, result.rss_before = before.fds, before.rss

        result.killed += self.run_phase(ctx, n, act_s)

        after = self.settle(ctx, before.fds)
        result.fds_after, result.rss_after = after.fds, after.rss
        result.sessions_after = after.stat("live_sessions")
        self.check_invariants(ctx, before, after)

    def settle(self, ctx, fds=None):
        """Waits (bounded) until only the checking connection is left and, if
        given, the fd count is back to `fds`; failing that, says what is left."""
        def settled():
            s = ctx.stats()
            return (s["live_sessions"] == "1" and s["curr_connections"] == "1" and
                    (fds is None or ctx.daemon.fd_count() == fds))
        if not wait_until(settled, REAP_WAIT_S, interval=0.1):
            s = ctx.stats()
            ctx.fail(f"not reaped within {REAP_WAIT_S:g}s: live_sessions={s['live_sessions']} "
                     f"curr_connections={s['curr_connections']} fds={ctx.daemon.fd_count()}"
                     + (f" (baseline {fds})" if fds is not None else ""))
        return Snapshot(ctx.daemon, ctx.checking)

    def check_invariants(self, ctx, before, after):
        if after.fds != before.fds:
            ctx.fail(f"fd leak: {before.fds} open before, {after.fds} after")
        for stat in ("live_sessions", "curr_connections"):
            if after.stat(stat) != before.stat(stat):
                ctx.fail(f"{stat} {before.stat(stat)} before, {after.stat(stat)} after")
        after.rss = check_rss_back(ctx, before.rss, "after the act")
        ctx.result.rss_after = after.rss
        ctx.checking_conn_ids = ctx.checker.connection()
        ctx.checker.record(ctx.checking_conn_ids, ctx.checking.get_ids((b"last",)))
        self.check(ctx, before, after)
        self.collect_ids(ctx)

    def collect_ids(self, ctx):
        ctx.result.ids = ctx.checker.checked
        for e in ctx.checker.errors:
            ctx.fail(e)
        if ctx.checker.checked == 0:
            ctx.fail("no id was checked")

    def stop_cleanly(self, ctx):
        """The scenario's daemon must still shut down cleanly: exit 0 on SIGTERM."""
        ctx.checking.close()
        ctx.daemon.send_signal(signal.SIGTERM)
        rc = ctx.daemon.wait(SHUTDOWN_TIMEOUT_S + 5)
        if rc != 0:
            ctx.fail(f"exit status {rc} after SIGTERM (want 0)")
