"""The healthy side of every scenario: clients that behave, and the checker
every id they receive goes through."""

import socket
import threading
import time

from harness import IO_TIMEOUT_S, WORKER_ID, ChaosError, connect, parse_get_reply

# id layout: 41 bits ms | 10 bits worker id | 12 bits sequence
WORKER_SHIFT = 12
WORKER_MASK = 0x3FF


class IdChecker:
    """Every id seen in one scenario: unique, strictly increasing on each
    connection, of our worker id (or ids: -worker-id-count), and above `floor` (the ids issued before a
    restart) once one is set."""

    MAX_ERRORS = 5

    def __init__(self, inject_duplicate=False, worker_ids=(WORKER_ID,)):
        self.worker_ids = frozenset(worker_ids)
        self.lock = threading.Lock()
        self.seen = set()
        self.max_seen = 0
        self.floor = 0
        self.checked = 0
        self.errors = []
        self.next_conn = 0
        self.inject_duplicate = inject_duplicate

    def connection(self):
        with self.lock:
            self.next_conn += 1
            return _ConnIds(self.next_conn)

    def set_floor(self, floor):
        with self.lock:
            self.floor = floor

    def _error(self, msg):
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append(msg)

    def record(self, conn, ids):
        with self.lock:
            for i in ids:
                self._check(conn, i)
            if self.inject_duplicate and self.checked >= 100:
                # Self-test of this checker (--inject duplicate-id): a healthy
                # connection of its own "receives" an id seen before.
                self.inject_duplicate = False
                self._check(_ConnIds(0), min(self.seen))

    def _check(self, conn, i):
        if i <= conn.last:
            self._error(f"connection {conn.number}: id {i} after {conn.last}")
        if i in self.seen:
            self._error(f"duplicate id {i}")
        if i <= self.floor:
            self._error(f"id {i} not above {self.floor}, the highest before the restart")
        if (i >> WORKER_SHIFT) & WORKER_MASK not in self.worker_ids:
            self._error(f"id {i} has worker id {(i >> WORKER_SHIFT) & WORKER_MASK}")
        self.seen.add(i)
        conn.last = i
        self.max_seen = max(self.max_seen, i)
        self.checked += 1


class _ConnIds:
    def __init__(self, number):
        self.number = number
        self.last = 0


class HealthyLoad:
    """Clients that behave: pipelined multi-key gets, every id checked.

    on_disconnect says what the server closing on them means:
      "fail"     - a bug (normal scenarios)
      "graceful" - expected (SIGTERM); a partial reply or a reset is a bug
      "ignore"   - expected (SIGKILL); whatever was cut off is dropped
    """

    KEYS = (b"a", b"b", b"c")
    DEPTH = 4
    ROUNDS_PER_CONNECTION = 150
    MAX_ROUNDS = 1_000_000
    # A pause between rounds: the healthy clients are witnesses, not load, and
    # must leave the CPU to the chaos.
    PACE_S = 0.002

    def __init__(self, port, checker, clients=2, persistent=False, on_disconnect="fail"):
        self.port = port
        self.checker = checker
        self.persistent = persistent
        self.on_disconnect = on_disconnect
        self.stop_event = threading.Event()
        self.errors = []
        self.rounds = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        self.connected = threading.Barrier(clients + 1) if persistent else None

    def start(self):
        for t in self.threads:
            t.start()
        if self.connected is not None:
            # Persistent clients are in before the scenario starts flooding.
            try:
                self.connected.wait(timeout=IO_TIMEOUT_S)
            except threading.BrokenBarrierError:
                self._fail("healthy clients did not all connect")
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=IO_TIMEOUT_S * 2)
        if any(t.is_alive() for t in self.threads):
            self._fail("a healthy client did not stop")

    def _fail(self, msg):
        with self.lock:
            if len(self.errors) < 5:
                self.errors.append(msg)

    def _client(self):
        request = (b"get " + b" ".join(self.KEYS) + b"\r\n") * self.DEPTH
        first = True
        while not self.stop_event.is_set():
            try:
                sock = connect(self.port)
            except OSError as e:
                if self.on_disconnect == "fail":
                    self._fail(f"healthy client cannot connect: {e}")
                return
            if first and self.connected is not None:
                first = False
                try:
                    self.connected.wait(timeout=IO_TIMEOUT_S)
                except threading.BrokenBarrierError:
                    pass
            try:
                if not self._session(sock, request):
                    return
            finally:
                sock.close()

    def _session(self, sock, request):
        """One connection's life; False when the client should end."""
        conn = self.checker.connection()
        buf = bytearray()
        rounds = 0
        while not self.stop_event.is_set() and rounds < self.MAX_ROUNDS:
            if not self.persistent and rounds >= self.ROUNDS_PER_CONNECTION:
                return True
            try:
                sock.sendall(request)
                pos = 0
                for _ in range(self.DEPTH):
                    while True:
                        parsed = parse_get_reply(buf, self.KEYS, pos)
                        if parsed is not None:
                            break
                        chunk = sock.recv(65536)
                        if not chunk:
                            return self._disconnected(buf[pos:], "EOF")
                        buf += chunk
                    self.checker.record(conn, parsed[0])
                    pos = parsed[1]
                del buf[:pos]
                if buf:
                    raise ChaosError(f"unexpected bytes after the replies: {bytes(buf[:80])!r}")
            except (ConnectionResetError, BrokenPipeError) as e:
                return self._disconnected(buf, type(e).__name__)
            except socket.timeout:
                self._fail(f"healthy client: no reply within {IO_TIMEOUT_S:g}s")
                return False
            except (OSError, ChaosError) as e:
                self._fail(f"healthy client: {e}")
                return False
            rounds += 1
            with self.lock:
                self.rounds += 1
            self.stop_event.wait(self.PACE_S)
        return False

    def _disconnected(self, pending, how):
        if self.on_disconnect == "fail":
            self._fail(f"healthy client: server closed the connection ({how})")
        elif self.on_disconnect == "graceful":
            if how != "EOF":
                self._fail(f"healthy client: {how} during graceful shutdown")
            elif pending:
                self._fail(f"healthy client: partial reply at shutdown {bytes(pending[:80])!r}")
        return False


class StreamingLoad:
    """Clients that keep requests in flight: on each connection a writer
    thread sends pipelined gets without waiting for their replies, up to
    WINDOW unanswered, while a reader thread parses the replies.

    The window is far more than the server can write ahead, so at almost any
    moment it is blocked on a write with requests it has not read yet. A
    server that just closes such a socket resets it (Linux sends RST when
    unread bytes are dropped), which a graceful stop - answer what was read,
    flush, half-close, drain - never does. The client's small receive buffer
    and MSS slow the growth of the server's send buffer (Linux sizes it from
    the peer's MSS and the congestion window): measured 1.5 MB after seconds
    instead of the 4 MB limit at once.

    end_writes() stops the writers (call it once SIGTERM is sent): the daemon
    drains a lingering client for a bounded time and number of bytes only,
    and a client still writing past that may be reset by contract."""

    KEYS = (b"a", b"b", b"c")
    BATCH = 100
    # 660 kB of requests: 6.4 MB of replies, more than the server's output
    # (one 16 kB read's worth of replies) and both socket buffers can hold
    # even with a 4 MB send buffer, and well under the 1 MB the daemon drains
    # from a lingering client.
    WINDOW = 60000
    RCVBUF = 16384
    MSS = 1024
    # The reader's pace until SIGTERM: it keeps the server's writes blocked
    # and the ids to check to some 50k a second.
    READ_BYTES = 8192
    PACE_S = 0.005

    def __init__(self, port, checker, clients=2):
        self.checker = checker
        self.writing = True
        self.streams = []
        try:
            for _ in range(clients):
                self.streams.append(_Stream(self, port))
        except OSError:
            self.close()
            raise

    def start(self):
        for s in self.streams:
            s.start()
        return self

    def end_writes(self):
        self.writing = False
        for s in self.streams:
            with s.cond:
                s.cond.notify_all()

    def finish(self):
        """Waits for every stream's end and returns what went wrong."""
        errors = []
        for s in self.streams:
            errors += s.finish()
        return errors

    def close(self):
        for s in self.streams:
            s.sock.close()


class _Stream:
    def __init__(self, load, port):
        self.load = load
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, load.RCVBUF)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, load.MSS)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(IO_TIMEOUT_S)
        self.sock.connect(("127.0.0.1", port))
        self.conn = load.checker.connection()
        self.cond = threading.Condition()
        self.sent = 0  # requests handed to sendall, counted before it returns
        self.answered = 0
        self.ended = None  # how the reply stream ended: "EOF" or the error
        self.errors = []
        self.request = (b"get " + b" ".join(load.KEYS) + b"\r\n") * load.BATCH
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._read, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def _write(self):
        load = self.load
        while True:
            with self.cond:
                while (load.writing and self.ended is None and
                       self.sent - self.answered + load.BATCH > load.WINDOW):
                    self.cond.wait()
                if not load.writing or self.ended is not None:
                    return
                self.sent += load.BATCH
            try:
                self.sock.sendall(self.request)
            except OSError:
                # The server stopped reading or closed: expected at shutdown;
                # only what the reader sees decides.
                return

    def _read(self):
        buf = bytearray()
        try:
            while True:
                if self.load.writing:
                    time.sleep(self.load.PACE_S)
                    chunk = self.sock.recv(self.load.READ_BYTES)
                else:
                    chunk = self.sock.recv(65536)
                if not chunk:
                    if buf:
                        self._error(f"torn reply before EOF: {bytes(buf[:80])!r}")
                    self._end("EOF")
                    try:  # our end too, so the server's linger need not wait it out
                        self.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                buf += chunk
                pos = 0
                answered = 0
                while True:
                    parsed = parse_get_reply(buf, self.load.KEYS, pos)
                    if parsed is None:
                        break
                    self.load.checker.record(self.conn, parsed[0])
                    pos = parsed[1]
                    answered += 1
                del buf[:pos]
                with self.cond:
                    self.answered += answered
                    if self.answered > self.sent:
                        raise ChaosError(f"{self.answered} replies to {self.sent} requests")
                    self.cond.notify_all()
        except (ConnectionResetError, BrokenPipeError) as e:
            # The server dropped the connection with requests in it; what it
            # had already sent is ours, but nothing may be cut short.
            self._error(f"{type(e).__name__} on read after {self.answered} replies"
                        + (f", torn reply {bytes(buf[:60])!r}" if buf else ""))
            self._end(type(e).__name__)
        except socket.timeout:
            self._error(f"no reply and no EOF within {IO_TIMEOUT_S:g}s")
            self._end("timeout")
        except (OSError, ChaosError) as e:
            self._error(str(e))
            self._end(type(e).__name__)

    def _end(self, how):
        with self.cond:
            self.ended = how
            self.cond.notify_all()

    def _error(self, msg):
        self.errors.append(f"streaming client {self.conn.number}: {msg}")

    def finish(self):
        for t in self.threads:
            t.join(timeout=IO_TIMEOUT_S * 2)
        if any(t.is_alive() for t in self.threads):
            self._error("did not stop")
        if self.answered == 0 and not self.errors:
            self._error("no reply before the stream ended")
        return self.errors
