"""Clients that die, stall or misbehave, by the thousand, while the healthy
clients keep checking ids. Each scenario's invariants are the standard ones
(scenario.py) plus what its check() adds."""

import select
import socket
import struct
import threading
import time

from harness import (IO_TIMEOUT_S, REAP_WAIT_S, close_with_reset, connect, poll_once,
                     push_and_collect, recv_until_closed, wait_until)
from scenario import Scenario

TEN_MB = 10 * 1024 * 1024
HEALTHY_MAX = 4  # healthy clients a scenario may run beside the dying ones
LINE_TOO_LONG = b"CLIENT_ERROR line too long\r\n"


# Dying clients the server may still be tearing down while more arrive. The
# client loop outruns the server; without a window the number in flight, and
# so the heap's high-water mark and the RSS left after it, would vary from run
# to run (measured: jumps of 2-5 MB with 64 in flight, none with 8). Floods are
# max-connections' business.
IN_FLIGHT = 8


def wait_for_window(ctx, window):
    """Waits (bounded) until at most `window` dying clients' sessions are alive
    besides the checking connection and the healthy clients."""
    limit = window + 1 + HEALTHY_MAX
    if wait_until(lambda: int(ctx.stats()["live_sessions"]) <= limit, IO_TIMEOUT_S,
                  interval=0.002):
        return True
    ctx.fail(f"more than {limit} sessions still alive {IO_TIMEOUT_S:g}s after their clients went")
    return False


def one_by_one(ctx, n, client):
    """Runs `client(ctx)` n times, or until the phase's deadline."""
    ran = 0
    while ran < n and ctx.time_left() > 0:
        client(ctx)
        ran += 1
        if ran % IN_FLIGHT == 0 and not wait_for_window(ctx, IN_FLIGHT):
            break
    return ran


def in_parallel(ctx, n, workers, client):
    """Runs `client(ctx)` n times on `workers` threads, or until the deadline,
    with at most 2 * workers sessions in flight."""
    lock = threading.Lock()
    ran = [0]

    def worker():
        while ctx.time_left() > 0:
            with lock:
                if ran[0] >= n:
                    return
                ran[0] += 1
            if not wait_for_window(ctx, 2 * workers):
                return
            client(ctx)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(ctx.time_left(), 0) + IO_TIMEOUT_S * 3)
    if any(t.is_alive() for t in threads):
        ctx.fail("a dying client did not finish")
    return ran[0]


def idle_kicks_cover(ctx, before, after, what):
    kicks = after.stat("idle_kicks") - before.stat("idle_kicks")
    if kicks < ctx.result.killed:
        ctx.fail(f"idle_kicks grew by {kicks}, fewer than the {ctx.result.killed} {what}")


class HalfLine(Scenario):
    name = "half-line"
    summary = "half a text command line, then close"
    count = 200000
    PIECES = (b"get fo", b"ge", b"get a b c", b"stats sett", b"gets " + b"k" * 200,
              b"mg key v", b"set k 0 0 5", b"get a\r\nget b")

    def act(self, ctx, n):
        def client(ctx):
            with connect(ctx.port) as s:
                s.sendall(ctx.rng.choice(self.PIECES))
        return one_by_one(ctx, n, client)


class HalfBinary(Scenario):
    name = "half-binary"
    summary = "0x80 and part of a 24-byte binary header, then close"
    count = 200000

    def act(self, ctx, n):
        def client(ctx):
            header = b"\x80" + bytes([ctx.rng.choice((0x00, 0x09, 0x0A, 0x10))])
            with connect(ctx.port) as s:
                s.sendall(header + ctx.rng.randbytes(ctx.rng.randrange(0, 21)))
        return one_by_one(ctx, n, client)


def reset_after_first_bytes(ctx, name, payload, first_ok):
    """One client: sends `payload` through a small receive buffer (so the
    server is mid-reply), reads a few bytes, checks them, closes with RST."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(IO_TIMEOUT_S)
    try:
        s.connect(("127.0.0.1", ctx.port))
        s.sendall(payload)
        first = s.recv(ctx.rng.randrange(1, 200))
        if not first:
            ctx.fail(f"{name}: connection closed before any reply")
        elif not first_ok(first):
            ctx.fail(f"{name}: reply starts {first[:40]!r}")
    except socket.timeout:
        ctx.fail(f"{name}: no reply within {IO_TIMEOUT_S:g}s")
    finally:
        close_with_reset(s)


def binary_get(opcode, key, opaque=0):
    """A memcached binary request packet for a get-family opcode."""
    header = struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), 0, 0, 0, len(key), opaque, 0)
    return header + key


class HalfBinaryPacket(Scenario):
    prime_request = binary_get(0x0A, b"")
    name = "half-binary-pkt"
    summary = "whole binary gets, then a header announcing a body and part of it, then close"
    count = 150000

    def act(self, ctx, n):
        def client(ctx):
            body_len = ctx.rng.randrange(1, 250)
            torn = struct.pack(">BBHBBHIIQ", 0x80, 0x00, body_len, 0, 0, 0, body_len, 7, 0)
            whole = b"".join(binary_get(0x0D, b"k%d" % i, i) for i in range(ctx.rng.randrange(0, 4)))
            with connect(ctx.port) as s:
                s.sendall(whole + torn + b"k" * ctx.rng.randrange(0, body_len))
        return one_by_one(ctx, n, client)


class BinaryResetMidReply(Scenario):
    prime_request = binary_get(0x0A, b"")
    name = "binary-rst-reply"
    summary = "a big GetKQ batch closed by Noop, read a little, close with RST"
    count = 60000
    BATCH = b"".join(binary_get(0x0D, b"key%03d" % i, i) for i in range(400)) + bytes(
        [0x80, 0x0A]) + bytes(22)

    def act(self, ctx, n):
        return one_by_one(ctx, n, lambda ctx: reset_after_first_bytes(
            ctx, self.name, self.BATCH, lambda first: first[0] == 0x81))


class HalfHttpRequest(Scenario):
    prime_request = b"GET /id HTTP/1.1\r\nHost: x\r\n\r\n"
    name = "half-http"
    summary = "whole HTTP requests, then half a request line or half the headers, then close"
    count = 150000
    PIECES = (b"GET /id HTT", b"GET /ids?n=10 HTTP/1.1\r\nHost: x\r\nAcc",
              b"GET /stats HTTP/1.1\r\n", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r",
              b"POST /id HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")

    def act(self, ctx, n):
        def client(ctx):
            whole = b"GET /id HTTP/1.1\r\nHost: x\r\n\r\n" * ctx.rng.randrange(0, 3)
            with connect(ctx.port) as s:
                s.sendall(whole + ctx.rng.choice(self.PIECES))
        return one_by_one(ctx, n, client)


class HttpKeepAliveReset(Scenario):
    prime_request = b"GET /id HTTP/1.1\r\nHost: x\r\n\r\n"
    name = "http-keepalive-rst"
    summary = "keep-alive connection, several /ids?n=1000, read part of a response, RST"
    count = 40000
    REQUEST = b"GET /ids?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n"

    def act(self, ctx, n):
        return one_by_one(ctx, n, lambda ctx: reset_after_first_bytes(
            ctx, self.name, self.REQUEST * ctx.rng.randrange(1, 6),
            lambda first: b"HTTP/1.1 200".startswith(first[:12])))


class PipelineClose(Scenario):
    name = "pipeline-close"
    summary = "hundreds of pipelined gets, then close before reading"
    count = 150000

    def act(self, ctx, n):
        def client(ctx):
            with connect(ctx.port) as s:
                s.sendall(b"get a\r\n" * ctx.rng.randrange(100, 600))
        return one_by_one(ctx, n, client)


class ResetMidReply(Scenario):
    name = "rst-mid-reply"
    summary = "big pipeline, read a little of the reply, close with RST"
    count = 80000
    PIPELINE = b"get a b c d\r\n" * 300  # ~40 kB of replies

    def act(self, ctx, n):
        return one_by_one(ctx, n, lambda ctx: reset_after_first_bytes(
            ctx, self.name, self.PIPELINE, lambda first: True))


class RandomBytes(Scenario):
    name = "random-bytes"
    summary = "random bytes and command soup; close, half-close and read, or RST"
    count = 150000
    TOKENS = (b"get ", b"gets ", b"k", b" ", b"\r\n", b"\n", b"\r", b"set k 0 0 5\r\n", b"hello",
              b"stats", b" settings", b"quit", b"\x00", b"\x80", b"\xff", b"mg ", b"mn", b" v",
              b"version", b"verbosity 1", b"x" * 300, b"GET /id HTTP/1.1\r\n",
              b"set k 0 0 99999999999\r\n", b"noreply", b"-1", b"18446744073709551616")

    def payload(self, rng):
        kind = rng.randrange(3)
        if kind == 0:
            return rng.randbytes(rng.randrange(1, 2048))
        if kind == 1:
            alphabet = b"abcgets 0123456789\r\n"
            return bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 512)))
        return b"".join(rng.choice(self.TOKENS) for _ in range(rng.randrange(1, 40)))

    def act(self, ctx, n):
        def client(ctx):
            data = self.payload(ctx.rng)
            ending = ctx.rng.randrange(3)
            s = connect(ctx.port)
            try:
                s.sendall(data)
                if ending == 1:
                    # We are done talking: the server must answer and close.
                    s.shutdown(socket.SHUT_WR)
                    _, closed = recv_until_closed(s, time.monotonic() + IO_TIMEOUT_S, limit=1 << 26)
                    if not closed:
                        ctx.fail(f"random-bytes: still open {IO_TIMEOUT_S:g}s after our "
                                 f"half-close; sent {data[:60]!r}")
            except (ConnectionResetError, BrokenPipeError):
                pass  # the server may close on garbage before we finish sending
            finally:
                if ending == 2:
                    close_with_reset(s)
                else:
                    s.close()
        return one_by_one(ctx, n, client)


class HttpHugeHeader(Scenario):
    name = "http-huge-header"
    summary = "HTTP request with a 64 kB - 1 MB header on the memcached port"
    count = 30000

    def act(self, ctx, n):
        filler = b"h" * (1 << 20)

        def client(ctx):
            size = ctx.rng.randrange(64 * 1024, 1 << 20)
            request = (b"GET /id HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       b"X-Chaos: " + filler[:size] + b"\r\n\r\n")
            with connect(ctx.port) as s:
                got, _, closed = push_and_collect(s, request, time.monotonic() + IO_TIMEOUT_S)
            if not got.startswith(b"HTTP/1.1 "):
                ctx.fail(f"http-huge-header: not an HTTP answer: {got[:60]!r}")
            elif not closed:
                ctx.fail("http-huge-header: connection still open after the answer")
        return one_by_one(ctx, n, client)


class LongLine(Scenario):
    name = "10mb-line"
    summary = "a 10 MB line with no newline, 4 clients at a time"
    count = 12000
    min_count = 4
    PARALLEL = 4
    # The peak RSS over the post-warm-up RSS: 4 clients buffering their line
    # would pass 40 MB, bounded ones need well under 1 MB each.
    PEAK_GROWTH_LIMIT_KB = 16 * 1024

    def act(self, ctx, n):
        line = b"a" * TEN_MB

        def client(ctx):
            with connect(ctx.port) as s:
                got, _, closed = push_and_collect(s, line, time.monotonic() + IO_TIMEOUT_S)
            if got != LINE_TOO_LONG:
                ctx.fail(f"10mb-line: want {LINE_TOO_LONG!r}, got {got[:60]!r}")
            elif not closed:
                ctx.fail("10mb-line: connection not closed after CLIENT_ERROR")
        return in_parallel(ctx, n, self.PARALLEL, client)

    def check(self, ctx, before, after):
        peak = ctx.daemon.peak_rss_kb() - before.rss
        if peak >= self.PEAK_GROWTH_LIMIT_KB:
            ctx.fail(f"peak RSS {peak} kB over baseline (limit {self.PEAK_GROWTH_LIMIT_KB} kB)")


class Silent(Scenario):
    name = "silent"
    summary = "connect and say nothing; the idle timeout must reap them"
    count = 2000
    min_count = 250
    WAVE = 250
    persistent_healthy = True
    warmup_fraction = 0.25
    seconds = 16.0

    def act(self, ctx, n):
        ran = 0
        while ran < n and ctx.time_left() > 0:
            wave = [connect(ctx.port) for _ in range(min(self.WAVE, n - ran))]
            ran += len(wave)
            await_reaped(ctx, wave, self.name)
        return ran

    def check(self, ctx, before, after):
        idle_kicks_cover(ctx, before, after, "silent clients")


class Slowloris(Scenario):
    name = "slowloris"
    summary = "a few dozen clients sending one byte a second, never a whole line"
    count = 108
    min_count = 36
    WAVE = 36
    warmup_fraction = 0.34
    seconds = 12.0

    def act(self, ctx, n):
        ran = 0
        while ran < n and ctx.time_left() > 0:
            wave = [connect(ctx.port) for _ in range(min(self.WAVE, n - ran))]
            ran += len(wave)
            await_reaped(ctx, wave, self.name, trickle=True)
        return ran

    def check(self, ctx, before, after):
        idle_kicks_cover(ctx, before, after, "slowloris clients")


def await_reaped(ctx, socks, name, trickle=False):
    """Waits until the server has closed every socket (EOF or reset), sending
    one byte a second on each if `trickle`. Fails for any it kept past the
    reap deadline, or that got a reply."""
    open_socks = {s.fileno(): s for s in socks}
    for s in socks:
        s.setblocking(False)  # a socket with a timeout waits even with MSG_DONTWAIT
    poller = select.poll()
    for fd in open_socks:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + REAP_WAIT_S
    next_byte = time.monotonic()
    try:
        while open_socks and time.monotonic() < deadline:
            if trickle and time.monotonic() >= next_byte:
                next_byte += 1.0
                for s in open_socks.values():
                    try:
                        s.send(b"g", socket.MSG_DONTWAIT)
                    except OSError:
                        pass  # closed under us: the read below sees it
            for fd, _ in poller.poll(200):
                s = open_socks[fd]
                try:
                    data = s.recv(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    ctx.fail(f"{name}: server replied {data[:40]!r} to an incomplete line")
                poller.unregister(fd)
                del open_socks[fd]
        if open_socks:
            ctx.fail(f"{name}: {len(open_socks)} of {len(socks)} clients not reaped within "
                     f"{REAP_WAIT_S:g}s")
    finally:
        for s in socks:
            s.close()


class Backpressure(Scenario):
    name = "backpressure"
    summary = "deep pipeline, never read: the server must stop reading, then reap"
    count = 24
    min_count = 8
    WAVE = 8
    warmup_fraction = 0.34
    seconds = 12.0
    # A server that kept reading would take all of this (and owe ~400 MB of
    # replies per client); one that stops takes what socket buffers hold.
    SEND_CAP = 32 * 1024 * 1024
    STALL_S = 1.0
    # Each client may pin ~1 MB of output (kMaxOutputBytes) plus slack.
    PEAK_PER_CLIENT_KB = 4 * 1024
    PEAK_SLACK_KB = 16 * 1024

    def act(self, ctx, n):
        chunk = b"get a b c d e f g h\r\n" * 10000
        ran = 0
        while ran < n and ctx.time_left() > 0:
            kicks = int(ctx.stats()["idle_kicks"])
            wave = [connect(ctx.port) for _ in range(min(self.WAVE, n - ran))]
            ran += len(wave)
            try:
                sent = flood_until_stalled(wave, chunk, self.SEND_CAP, self.STALL_S)
                for total in sent:
                    if total >= self.SEND_CAP:
                        ctx.fail(f"backpressure: server read all {total} bytes of a client "
                                 "that never reads")
                target = kicks + len(wave)
                deadline = time.monotonic() + REAP_WAIT_S
                while int(ctx.stats()["idle_kicks"]) < target and time.monotonic() < deadline:
                    time.sleep(0.1)
                if int(ctx.stats()["idle_kicks"]) < target:
                    ctx.fail(f"backpressure: clients not reaped within {REAP_WAIT_S:g}s")
            finally:
                for s in wave:
                    close_with_reset(s)
        return ran

    def check(self, ctx, before, after):
        idle_kicks_cover(ctx, before, after, "non-reading clients")
        peak = ctx.daemon.peak_rss_kb() - before.rss
        limit = self.WAVE * self.PEAK_PER_CLIENT_KB + self.PEAK_SLACK_KB
        if peak >= limit:
            ctx.fail(f"peak RSS {peak} kB over baseline (limit {limit} kB)")


def flood_until_stalled(socks, chunk, cap, stall_s):
    """Writes `chunk` round-robin to every socket until each has taken `cap`
    bytes or made no progress for stall_s. Returns bytes sent per socket."""
    sent = [0] * len(socks)
    last_progress = [time.monotonic()] * len(socks)
    view = memoryview(chunk)
    for s in socks:
        s.setblocking(False)
    active = set(range(len(socks)))
    hard_deadline = time.monotonic() + 60
    while active and time.monotonic() < hard_deadline:
        for i in list(active):
            now = time.monotonic()
            if sent[i] >= cap or now - last_progress[i] >= stall_s:
                active.discard(i)
                continue
            _, writable = poll_once(socks[i], read=False, write=True, timeout=0.01)
            if not writable:
                continue
            try:
                n = socks[i].send(view[sent[i] % len(view):])
            except BlockingIOError:
                continue
            except OSError:
                active.discard(i)
                continue
            if n:
                sent[i] += n
                last_progress[i] = time.monotonic()
    return sent


SCENARIOS = [HalfLine(), HalfBinary(), HalfBinaryPacket(), BinaryResetMidReply(), HalfHttpRequest(),
             HttpKeepAliveReset(), PipelineClose(), ResetMidReply(), Silent(), Slowloris(),
             LongLine(), RandomBytes(), HttpHugeHeader(), Backpressure()]
