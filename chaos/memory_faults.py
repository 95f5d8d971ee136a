"""Memory under abuse, with the daemon as production runs it (no allocator
settings in its environment): ten storms in a row on one daemon, each
followed by RSS back near its baseline, and every connection the daemon
allows held by a client that pipelines big gets and never reads, against
the worst case the README gives."""

import socket
import time

from client_faults import flood_until_stalled, one_by_one, reset_after_first_bytes
from harness import IO_TIMEOUT_S, REAP_WAIT_S, THREADS, close_with_reset, connect, wait_until
from scenario import RSS_GROWTH_LIMIT_KB, RSS_SETTLE_S, Scenario, Snapshot, rss_growth_kb

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
    s.connect(("127.0.0.1", port))
    return s


class Storms(Scenario):
    name = "storms"
    summary = "ten storms of dying, flooding and huge-line clients in a row on one daemon"
    seconds = 24.0
    STORMS = 10

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
        baseline = Snapshot(ctx.daemon, ctx.checking)
        worst = 0
        # Besides the storm's clients: the checking connection and the
        # healthy clients, which keep running through the storms.
        calm = 1 + self.healthy_clients
        for i in range(self.STORMS):
            ran += self.storm(ctx, time.monotonic() + per_storm)
            if not wait_until(lambda: int(ctx.stats()["live_sessions"]) <= calm, REAP_WAIT_S,
                              interval=0.05):
                ctx.fail(f"storm {i + 1}: sessions not reaped within {REAP_WAIT_S:g}s")
            growth = rss_growth_kb(ctx, baseline.rss)
            worst = max(worst, growth)
            if growth >= RSS_GROWTH_LIMIT_KB:
                ctx.fail(f"storm {i + 1}: RSS {growth} kB over the baseline "
                         f"(limit {RSS_GROWTH_LIMIT_KB} kB after {RSS_SETTLE_S:g}s)")
        print(f"chaos: storms: RSS after each of {self.STORMS} storms at most {worst} kB "
              f"over the baseline of {baseline.rss} kB", flush=True)
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
    # The checking connection, the healthy clients and one probe take the rest.
    HELD = MAX_CONNECTIONS - 4
    count = HELD
    min_count = HELD
    warmup_fraction = 1.0
    seconds = 6.0
    HOLD_S = 3.0
    SEND_CAP = 8 * 1024 * 1024
    PROBE_WITHIN_S = 2.0

    def worst_case_kb(self, baseline_kb):
        """The README's formula (section Memory): what the daemon may hold at most."""
        per_connection = 5 * (DEFAULT_MAX_LINE_BYTES + READ_BYTES + MAX_OUTPUT_BYTES) // 4 + 16 * KIB
        return baseline_kb + (self.MAX_CONNECTIONS * per_connection + THREADS * 128 * KIB) // KIB

    def act(self, ctx, n):
        line = big_get_line(DEFAULT_MAX_LINE_BYTES)
        held = [small_window_client(ctx.port) for _ in range(n)]
        try:
            flood_until_stalled(held, line, self.SEND_CAP, 0.5)
            # Every one of them stalled: the daemon stopped reading them.
            end = time.monotonic() + self.HOLD_S
            while time.monotonic() < end:
                self.probe(ctx)
                time.sleep(0.2)
            self.peak_held_kb = max(getattr(self, "peak_held_kb", 0), ctx.daemon.rss_kb())
        finally:
            for s in held:
                close_with_reset(s)
        return n

    def probe(self, ctx):
        """While they are held, stats answer at once, and another client gets
        an id. The id may wait: the held gets use the generator's whole
        4096 ids a millisecond meanwhile, and connections share it in no
        particular order. Its latency is printed, not judged."""
        start = time.monotonic()
        ctx.stats()
        took = time.monotonic() - start
        self.slowest_stats_s = max(getattr(self, "slowest_stats_s", 0.0), took)
        if took > self.PROBE_WITHIN_S:
            ctx.fail(f"probe: stats took {took:.2f}s with every connection held "
                     f"(limit {self.PROBE_WITHIN_S:g}s)")
        start = time.monotonic()
        got = b""
        try:
            with socket.create_connection(("127.0.0.1", ctx.port), timeout=IO_TIMEOUT_S) as s:
                s.sendall(b"get probe\r\n")
                while got.count(b"\r\n") < 3 and not got.startswith((b"SERVER_ERROR",
                                                                      b"CLIENT_ERROR")):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
        except OSError as e:
            ctx.fail(f"probe: {e}")
            return
        self.slowest_probe_s = max(getattr(self, "slowest_probe_s", 0.0),
                                   time.monotonic() - start)
        if not got.startswith(b"VALUE probe 0 ") or not got.endswith(b"END\r\n"):
            ctx.fail(f"probe: want an id, got {got[:60]!r}")

    def check(self, ctx, before, after):
        limit = self.worst_case_kb(before.rss)
        peak = ctx.daemon.peak_rss_kb()
        held = getattr(self, "peak_held_kb", 0)
        print(f"chaos: hold-max-connections: {self.HELD} clients held; RSS held {held} kB, "
              f"peak {peak} kB, worst case {limit} kB = {before.rss} kB + "
              f"{self.MAX_CONNECTIONS} x (1.25 x ({DEFAULT_MAX_LINE_BYTES // KIB} + "
              f"{(READ_BYTES + MAX_OUTPUT_BYTES) // KIB}) + 16) KiB + {THREADS} x 128 KiB; "
              f"slowest stats {getattr(self, 'slowest_stats_s', 0.0) * 1000:.0f} ms, slowest "
              f"get of a fresh client {getattr(self, 'slowest_probe_s', 0.0) * 1000:.0f} ms",
              flush=True)
        if peak > limit:
            ctx.fail(f"peak RSS {peak} kB over the worst case of {limit} kB")


SCENARIOS = [Storms(), HoldMaxConnections()]
