"""The healthy side of every scenario: clients that behave, and the checker
every id they receive goes through."""

import socket
import threading

from harness import IO_TIMEOUT_S, WORKER_ID, ChaosError, connect, parse_get_reply

# id layout: 41 bits ms | 10 bits worker id | 12 bits sequence
WORKER_SHIFT = 12
WORKER_MASK = 0x3FF


class IdChecker:
    """Every id seen in one scenario: unique, strictly increasing on each
    connection, of our worker id, and above `floor` (the ids issued before a
    restart) once one is set."""

    MAX_ERRORS = 5

    def __init__(self, inject_duplicate=False):
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
        if (i >> WORKER_SHIFT) & WORKER_MASK != WORKER_ID:
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
