"""Memory under abuse, with the daemon as production runs it (no allocator
settings in its environment): ten storms in a row on one daemon, each
followed by RSS back near its baseline, and every connection the daemon
allows held by a client that pipelines big gets and never reads, against
the worst case the README gives."""

import socket
import time

from client_faults import flood_until_stalled, one_by_one, reset_after_first_bytes
from harness import (HOST, IO_TIMEOUT_S, REAP_WAIT_S, THREADS, ChaosError, close_with_reset,
                     connect, parse_get_reply, wait_until)
from scenario import RSS_GROWTH_LIMIT_KB, Scenario, check_rss_back

KIB = 1024
DEFAULT_MAX_LINE_BYTES = 64 * KIB
MAX_OUTPUT_BYTES = 64 * KIB  # config::kMaxOutputBytes
READ_BYTES = 64 * KIB  # config::kThreadReadBufferBytes


def big_get_line(max_line_bytes):
    """A get of as many one-byte keys as fit a line of max_line_bytes."""
    keys = (max_line_bytes - len(b"get\r\n")) // 2
    return b"get" + b" a" * keys + b"\r\n"


def small_window_client(port):
    """A connection whose receive window is small, so replies it never reads
    wait in the daemon (where the formula counts them) rather than in the
    kernel's buffers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(IO_TIMEOUT_S)
    s.connect((HOST, port))
    return s


def push_more(socks, chunk, sent):
    """One non-blocking write to each socket that takes it, going on in
    `chunk` where `sent[i]` bytes left off (so no line is cut short): the
    held clients keep their requests coming whenever the daemon reads."""
    view = memoryview(chunk)
    for i, s in enumerate(socks):
        try:
            sent[i] += s.send(view[sent[i] % len(view):])
        except OSError:
            pass  # full (the usual case), or reset: the checks judge the daemon


class Storms(Scenario):
    name = "storms"
    summary = "ten storms of dying, flooding and huge-line clients in a row on one daemon"
    seconds = 24.0
    STORMS = 10
    # Persistent, so between storms the daemon's sessions and fds are exactly
    # the baseline's plus these.
    persistent_healthy = True

    def counts(self, scale):
        # The warm-up is one storm; the measured phase always ten, each
        # shorter with a smaller budget.
        return 1, self.STORMS

    def act(self, ctx, n):
        if n < self.STORMS:  # the warm-up: one storm, which primes the allocator
            self.storm(ctx, time.monotonic() + max(ctx.time_left(), 1.0))
            return 1
        ran = 0
        per_storm = max(ctx.time_left(), self.STORMS * 0.5) / self.STORMS
        base = ctx.baseline
        # Besides the storm's clients: the checking connection (in the
        # baseline) and the healthy clients, which run through the storms.
        calm = base.stat("live_sessions") + self.healthy_clients
        calm_fds = base.fds + self.healthy_clients
        growths = []
        for i in range(self.STORMS):
            ran += self.storm(ctx, time.monotonic() + per_storm)

            def reaped():
                s = ctx.stats()
                return (int(s["live_sessions"]) == calm and int(s["curr_connections"]) == calm
                        and ctx.daemon.fd_count() == calm_fds)
            if not wait_until(reaped, REAP_WAIT_S, interval=0.05):
                s = ctx.stats()
                ctx.fail(f"storm {i + 1}: not back to {calm} sessions and {calm_fds} fds within "
                         f"{REAP_WAIT_S:g}s: live_sessions={s['live_sessions']} "
                         f"curr_connections={s['curr_connections']} fds={ctx.daemon.fd_count()}")
            growths.append(check_rss_back(ctx, base.rss, f"storm {i + 1}") - base.rss)
            if ctx.result.failures:
                break
        print(f"chaos: storms: RSS over the baseline of {base.rss} kB after each storm (kB): "
              f"{' '.join(map(str, growths))}", flush=True)
        return ran

    def storm(self, ctx, until):
        """One storm: until `until`, rounds of pipelines closed unread, resets
        mid-reply, huge get lines never read, and a burst of connections."""
        line = big_get_line(DEFAULT_MAX_LINE_BYTES)
        ran = 0
        while time.monotonic() < until and not ctx.result.failures:
            ctx.deadline = min(until, time.monotonic() + 0.2)

            def pipeline(ctx):
                with connect(ctx.port) as s:
                    s.sendall(b"get a b\r\n" * ctx.rng.randrange(50, 400))
            ran += one_by_one(ctx, 40, pipeline)
            ran += one_by_one(ctx, 8, lambda ctx: reset_after_first_bytes(
                ctx, self.name, b"get a b c d\r\n" * 200, lambda first: True))
            # Huge lines, never read: each pins an in-progress get and its
            # capped output until the reset.
            flooders = [connect(ctx.port) for _ in range(4)]
            try:
                flood_until_stalled(flooders, line * 4, 4 * len(line), 0.2)
            finally:
                for s in flooders:
                    close_with_reset(s)
            ran += len(flooders)
            burst = [connect(ctx.port) for _ in range(64)]
            for s in burst:
                s.close()
            ran += len(burst)
        ctx.deadline = until
        return ran


class HoldMaxConnections(Scenario):
    name = "hold-max-connections"
    summary = "every allowed connection pipelines big gets and never reads; RSS under the formula"
    MAX_CONNECTIONS = 200
    max_connections = MAX_CONNECTIONS
    # Clients that take no reply for an idle period are reaped (idle_kicks):
    # the held ones must stay for the whole hold.
    daemon_args = ("-idle-timeout", "60s")
    # Persistent, so they never take a slot a held client needs.
    persistent_healthy = True
    # The checking connection, the healthy clients and one probe take the
    # slots the held clients leave.
    HELD = MAX_CONNECTIONS - 1 - Scenario.healthy_clients - 1
    count = HELD
    min_count = HELD
    # The warm-up is a whole hold too: the measured one starts from a daemon
    # that has been through one.
    warmup_fraction = 1.0
    seconds = 6.0
    # Held this long once every held client is at its limit: the daemon has
    # stopped issuing them ids (fewer than STEADY_IDS_PER_S, 1% of the
    # generator's 4096 a millisecond; the healthy clients take about 10 000),
    # which the kernel's socket buffers delay by seconds.
    HOLD_S = 2.0
    STEADY_IDS_PER_S = 40_000
    SEND_CAP = 8 * 1024 * 1024
    # A fresh client's stats and get each answer within this while they are held.
    PROBE_WITHIN_S = 2.0
    GET_WITHIN_S = 8.0

    def measured_run(self, ctx):
        # The formula counts from the daemon's RSS before any client came.
        self.start_rss_kb = ctx.daemon.rss_kb()
        self.held_rss_kb = 0
        self.slowest_stats_s = self.slowest_get_s = 0.0
        self.probes = 0
        self.steady_after_s = 0.0
        super().measured_run(ctx)

    def worst_case_kb(self):
        """The README's formula (section Memory): what the daemon may hold at most,
        RSS at start + max-connections x (1.25 x (max-line-bytes + 128 KiB) + 16 KiB)
        + threads x 128 KiB."""
        per_connection = 5 * (DEFAULT_MAX_LINE_BYTES + READ_BYTES + MAX_OUTPUT_BYTES) // 4 + 16 * KIB
        return self.start_rss_kb + (self.MAX_CONNECTIONS * per_connection
                                    + THREADS * 128 * KIB) // KIB

    def act(self, ctx, n):
        line = big_get_line(DEFAULT_MAX_LINE_BYTES)
        held = [small_window_client(ctx.port) for _ in range(n)]
        try:
            sent = flood_until_stalled(held, line, self.SEND_CAP, 0.5)
            # All of them stalled: the daemon stopped reading them. They keep
            # pushing whenever it reads again.
            stalled = time.monotonic()
            end = None
            ids, at = int(ctx.stats()["ids_issued"]), stalled
            while not ctx.result.failures:
                push_more(held, line, sent)
                self.held_rss_kb = max(self.held_rss_kb, ctx.daemon.rss_kb())
                self.probe(ctx)
                time.sleep(0.1)
                now_ids, now = int(ctx.stats()["ids_issued"]), time.monotonic()
                if end is None and (now_ids - ids) / (now - at) < self.STEADY_IDS_PER_S:
                    end = now + self.HOLD_S
                    self.steady_after_s = max(self.steady_after_s, now - stalled)
                ids, at = now_ids, now
                if end is not None and now >= end:
                    break
                if end is None and now - stalled > IO_TIMEOUT_S:
                    ctx.fail(f"the held clients still got ids {IO_TIMEOUT_S:g}s after they "
                             f"stalled (over {self.STEADY_IDS_PER_S} a second)")
                    break
            self.held_rss_kb = max(self.held_rss_kb, ctx.daemon.rss_kb())
            # The probe's connection may still count; every held one must.
            still = int(ctx.stats()["curr_connections"]) - 1 - self.healthy_clients
            if still < n:
                ctx.fail(f"only {still} of {n} held clients still connected after the hold")
        finally:
            for s in held:
                close_with_reset(s)
        return n

    def probe(self, ctx):
        """While they are held, a fresh client's stats and get answer. The
        daemon's ids are all taken meanwhile (the held gets use the
        generator's 4096 a millisecond): the get says whether a newcomer gets
        its share."""
        want = self.MAX_CONNECTIONS - 1
        # The last probe's slot is free before the next takes it, or the
        # daemon would rightly refuse the next.
        if not wait_until(lambda: int(ctx.stats()["curr_connections"]) <= want, IO_TIMEOUT_S):
            ctx.fail(f"probe: more than {want} connections {IO_TIMEOUT_S:g}s after the last probe")
            return
        self.probes += 1
        try:
            with connect(ctx.port) as s:
                took, _ = timed_request(s, b"stats\r\n", lambda buf: buf.endswith(b"END\r\n"))
                self.slowest_stats_s = max(self.slowest_stats_s, took)
                if took > self.PROBE_WITHIN_S:
                    ctx.fail(f"probe: stats took {took:.2f}s with every connection held "
                             f"(limit {self.PROBE_WITHIN_S:g}s)")
                took, reply = timed_request(
                    s, b"get probe\r\n", lambda buf: parse_get_reply(buf, (b"probe",)) is not None)
                ctx.checker.record(ctx.checker.connection(),
                                   parse_get_reply(reply, (b"probe",))[0])
                self.slowest_get_s = max(self.slowest_get_s, took)
                # Ids are shared in no order while the held gets use every millisecond
                # (no fairness between waiting connections): printed, bounded only by
                # GET_WITHIN_S, not the 2 s stats bound.
                if took > self.GET_WITHIN_S:
                    ctx.fail(f"probe: a fresh client's get took {took:.2f}s with every "
                             f"connection held (limit {self.GET_WITHIN_S:g}s)")
        except (OSError, ChaosError) as e:
            ctx.fail(f"probe: {e}")

    def check(self, ctx, before, after):
        limit = self.worst_case_kb()
        peak = ctx.daemon.peak_rss_kb()
        per_conn = (peak - self.start_rss_kb) / self.HELD
        print(f"chaos: hold-max-connections: {self.HELD} clients held, at their limits after "
              f"at most {self.steady_after_s:.1f}s, then {self.HOLD_S:g}s; RSS at "
              f"start {self.start_rss_kb} kB, after the warm-up hold {before.rss} kB, held "
              f"{self.held_rss_kb} kB, peak (VmHWM) {peak} kB ({per_conn:.0f} kB over the start "
              f"per held client); worst case {limit} kB = {self.start_rss_kb} kB + "
              f"{self.MAX_CONNECTIONS} x (1.25 x ({DEFAULT_MAX_LINE_BYTES // KIB} + "
              f"{(READ_BYTES + MAX_OUTPUT_BYTES) // KIB}) + 16) KiB + {THREADS} x 128 KiB; "
              f"{self.probes} probes, slowest stats {self.slowest_stats_s * 1000:.0f} ms, "
              f"slowest get {self.slowest_get_s * 1000:.0f} ms", flush=True)
        if self.probes == 0:
            ctx.fail("no probe ran while the clients were held")
        # The baseline comes after one hold: what that hold left must have
        # come back too, not only what the measured one did.
        if before.rss - self.start_rss_kb >= RSS_GROWTH_LIMIT_KB:
            ctx.fail(f"RSS {before.rss} kB after the warm-up hold, {before.rss - self.start_rss_kb}"
                     f" kB over the {self.start_rss_kb} kB at start (limit {RSS_GROWTH_LIMIT_KB} kB)")
        if self.held_rss_kb > limit:
            ctx.fail(f"RSS {self.held_rss_kb} kB while held, over the worst case of {limit} kB")
        if peak > limit:
            ctx.fail(f"peak RSS {peak} kB over the worst case of {limit} kB")


def timed_request(sock, request, complete):
    """Sends `request`, reads until complete(reply); returns the seconds taken
    and the reply."""
    start = time.monotonic()
    sock.sendall(request)
    buf = b""
    while not complete(buf):
        chunk = sock.recv(65536)
        if not chunk:
            raise ChaosError(f"closed by the daemon after {request!r}, got {buf[:60]!r}")
        buf += chunk
    return time.monotonic() - start, buf


SCENARIOS = [Storms(), HoldMaxConnections()]
