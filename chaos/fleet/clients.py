"""Clients of every protocol against every daemon. Each records every id it
receives with its connection, daemon, protocol, and send and receive times
(real clock, time.time()); an error reply (SERVER_ERROR, HTTP 503, a binary
error status, gRPC UNAVAILABLE) or no reply is an unanswered request, not a
failure. A malformed reply is a protocol failure. A client reconnects when
its daemon dies or restarts.

Every id goes through the Recorder at once: a duplicate is seen the moment
it arrives (the campaign may stop there), and each connection's ids must
rise strictly.
"""

import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

HOST = "127.0.0.1"
IO_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 1.0
BASE_PACE_S = 0.03      # between requests of one client, normally
BURST_PACE_S = 0.002    # while its fleet is under a data-loss fault
RECONNECT_PAUSE_S = 0.1
PROTOCOLS = ("text", "binary", "meta", "http")


class Conn:
    """One client connection (a gRPC channel counts as one per incarnation)."""
    __slots__ = ("key", "daemon", "protocol", "number", "incarnation", "opened", "last_id",
                 "ids")

    def __init__(self, key, daemon, protocol, number, incarnation, opened):
        self.key = key
        self.daemon = daemon
        self.protocol = protocol
        self.number = number
        self.incarnation = incarnation
        self.opened = opened
        self.last_id = -1
        self.ids = 0


class Recorder:
    """Everything the clients saw. requests: (conn key, t_send, t_recv,
    tuple of ids | None for unanswered, error text)."""

    def __init__(self, on_duplicate=None):
        self.lock = threading.Lock()
        self.conns = {}
        self.requests = []
        self.seen = {}          # id -> request index
        self.duplicates = []    # (id, first request index, second request index)
        self.order_violations = []  # (conn key, previous id, id, request index)
        self.malformed = []     # (conn key, time, text)
        self.on_duplicate = on_duplicate
        self._next_conn = 0

    def new_conn(self, daemon, protocol, incarnation):
        with self.lock:
            self._next_conn += 1
            key = self._next_conn
            c = Conn(key, daemon, protocol, key, incarnation, time.time())
            self.conns[key] = c
            return c

    def answered(self, conn, t_send, t_recv, ids):
        with self.lock:
            idx = len(self.requests)
            self.requests.append((conn.key, t_send, t_recv, tuple(ids), None))
            seen = self.seen
            last = conn.last_id
            dup = False
            for i in ids:
                prev = seen.setdefault(i, idx)
                if prev != idx:
                    self.duplicates.append((i, prev, idx))
                    dup = True
                if i <= last:
                    self.order_violations.append((conn.key, last, i, idx))
                last = i
            conn.last_id = last
            conn.ids += len(ids)
        if dup and self.on_duplicate:
            self.on_duplicate()

    def unanswered(self, conn_or_none, daemon, protocol, t_send, t_recv, why):
        with self.lock:
            key = conn_or_none.key if conn_or_none else self._sentinel(daemon, protocol)
            self.requests.append((key, t_send, t_recv, None, why))

    def _sentinel(self, daemon, protocol):
        # Failed connects belong to a pseudo connection per daemon and protocol.
        skey = ("down", daemon, protocol)
        c = self.conns.get(skey)
        if c is None:
            c = Conn(skey, daemon, protocol, 0, None, time.time())
            self.conns[skey] = c
        return skey

    def bad(self, conn, text):
        with self.lock:
            self.malformed.append((conn.key if conn else None, time.time(), text[:300]))


class Malformed(Exception):
    pass


class Unanswered(Exception):
    pass


def _recv_more(sock, buf, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Unanswered("no reply in time")
    sock.settimeout(remaining)
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        raise Unanswered("no reply in time")
    except OSError as e:
        raise Unanswered(f"connection lost: {type(e).__name__}")
    if not chunk:
        raise Unanswered("connection closed")
    buf += chunk


def _read_line(sock, buf, deadline):
    while True:
        nl = buf.find(b"\r\n")
        if nl >= 0:
            line = bytes(buf[:nl])
            del buf[:nl + 2]
            return line
        if len(buf) > 1 << 20:
            raise Malformed("line too long")
        _recv_more(sock, buf, deadline)


def _read_exact(sock, buf, n, deadline):
    while len(buf) < n:
        _recv_more(sock, buf, deadline)
    out = bytes(buf[:n])
    del buf[:n]
    return out


_VALUE = re.compile(rb"VALUE (\S+) 0 (\d+)")


def text_get(sock, buf, keys, deadline):
    sock.sendall(b"get " + b" ".join(keys) + b"\r\n")
    ids = []
    while True:
        line = _read_line(sock, buf, deadline)
        if line == b"END":
            return ids, None
        if line.startswith(b"SERVER_ERROR"):
            return ids, line.decode(errors="replace")
        m = _VALUE.fullmatch(line)
        if not m:
            raise Malformed(f"get: {line[:100]!r}")
        value = _read_exact(sock, buf, int(m[2]) + 2, deadline)
        if not value.endswith(b"\r\n") or not value[:-2].isdigit():
            raise Malformed(f"get value {value[:40]!r}")
        ids.append(int(value[:-2]))


def meta_get(sock, buf, n, deadline):
    sock.sendall(b"".join(b"mg k%d v\r\n" % i for i in range(n)) + b"mn\r\n")
    ids, err = [], None
    while True:
        line = _read_line(sock, buf, deadline)
        if line == b"MN":
            return ids, err
        if line.startswith(b"SERVER_ERROR"):
            err = line.decode(errors="replace")
            continue
        if line.startswith(b"VA "):
            value = _read_exact(sock, buf, int(line[3:].split()[0]) + 2, deadline)
            if not value[:-2].isdigit():
                raise Malformed(f"mg value {value[:40]!r}")
            ids.append(int(value[:-2]))
            continue
        raise Malformed(f"mg: {line[:100]!r}")


def _bin_packet(opcode, key, opaque):
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), 0, 0, 0, len(key), opaque, 0) + key


def binary_get(sock, buf, n, deadline):
    """n == 1: one GetK; else n GetKQ closed by a Noop."""
    if n == 1:
        sock.sendall(_bin_packet(0x0c, b"k", 1))
        last_opaque = 1
    else:
        sock.sendall(b"".join(_bin_packet(0x0d, b"k%d" % i, i + 1) for i in range(n)) +
                     _bin_packet(0x0a, b"", n + 1))
        last_opaque = n + 1
    ids, err = [], None
    while True:
        head = _read_exact(sock, buf, 24, deadline)
        magic, opcode, keylen, extlen, _, status, bodylen, opaque, _ = \
            struct.unpack(">BBHBBHIIQ", head)
        if magic != 0x81:
            raise Malformed(f"binary magic {magic:#x}")
        body = _read_exact(sock, buf, bodylen, deadline)
        if status != 0:
            err = f"status {status:#06x} {body[extlen + keylen:][:80]!r}"
        elif opcode in (0x0c, 0x0d):
            value = body[extlen + keylen:]
            if not value.isdigit():
                raise Malformed(f"binary value {value[:40]!r}")
            ids.append(int(value))
        elif opcode != 0x0a:
            raise Malformed(f"binary opcode {opcode:#x}")
        if opaque == last_opaque:
            return ids, err


def http_get(sock, buf, n, deadline):
    path = b"/id" if n == 1 else b"/ids?n=%d" % n
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: fleet\r\n\r\n")
    status_line = _read_line(sock, buf, deadline)
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise Malformed(f"http status {status_line[:80]!r}")
    status = int(parts[1])
    length = None
    close = False
    while True:
        h = _read_line(sock, buf, deadline)
        if not h:
            break
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            close = True
    if length is None:
        raise Malformed("http reply without Content-Length")
    body = _read_exact(sock, buf, length, deadline)
    if status == 200:
        parts = body.split(b"\n")
        if not all(p.isdigit() for p in parts) or len(parts) != n:
            raise Malformed(f"http body {body[:80]!r}")
        return [int(p) for p in parts], None, close
    if status in (503, 500):
        return [], f"HTTP {status} {body[:80].decode(errors='replace').strip()}", close
    raise Malformed(f"http status {status} {body[:80]!r}")


class FleetClient(threading.Thread):
    """One protocol against one daemon, reconnecting as needed."""

    def __init__(self, daemon, protocol, recorder, burst_event, stop_event, seed,
                 pace=(BASE_PACE_S, BURST_PACE_S)):
        super().__init__(daemon=True, name=f"client-{daemon.name}-{protocol}")
        self.pace, self.burst_pace = pace
        self.d = daemon
        self.protocol = protocol
        self.rec = recorder
        self.burst = burst_event
        self.stop = stop_event
        self.rng = random.Random(seed)
        self.sock = None
        self.conn = None
        self.buf = bytearray()

    def _port(self):
        return self.d.http_port if self.protocol == "http" else self.d.port

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.conn = None
        self.buf = bytearray()

    def _connect(self):
        s = socket.create_connection((HOST, self._port()), timeout=CONNECT_TIMEOUT_S)
        inc = self.d.current()  # after the connect: the process listening now
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.conn = self.rec.new_conn(self.d.name, self.protocol, inc.number if inc else None)

    def _size(self):
        if self.burst.is_set():
            return self.rng.choice((1, 1, 2, 4))
        return self.rng.choice((1, 1, 2, 3, 5, 10, 50))

    def run(self):
        while not self.stop.is_set():
            bursting = self.burst.is_set()
            if self.sock is None:
                t0 = time.time()
                try:
                    self._connect()
                except OSError as e:
                    self.rec.unanswered(None, self.d.name, self.protocol, t0, time.time(),
                                        f"connect: {type(e).__name__}")
                    self.stop.wait(RECONNECT_PAUSE_S)
                    continue
            n = self._size()
            t_send = time.time()
            deadline = time.monotonic() + IO_TIMEOUT_S
            close = False
            try:
                if self.protocol == "text":
                    ids, err = text_get(self.sock, self.buf,
                                        [b"k%d" % i for i in range(n)], deadline)
                elif self.protocol == "meta":
                    ids, err = meta_get(self.sock, self.buf, n, deadline)
                elif self.protocol == "binary":
                    ids, err = binary_get(self.sock, self.buf, n, deadline)
                else:
                    ids, err, close = http_get(self.sock, self.buf, n, deadline)
            except Unanswered as e:
                self.rec.unanswered(self.conn, self.d.name, self.protocol, t_send, time.time(),
                                    str(e))
                self._close()
                self.stop.wait(RECONNECT_PAUSE_S)
                continue
            except Malformed as e:
                self.rec.bad(self.conn, f"{self.d.name} {self.protocol}: {e}")
                self._close()
                continue
            except OSError as e:
                self.rec.unanswered(self.conn, self.d.name, self.protocol, t_send, time.time(),
                                    f"{type(e).__name__}")
                self._close()
                self.stop.wait(RECONNECT_PAUSE_S)
                continue
            t_recv = time.time()
            if ids:
                self.rec.answered(self.conn, t_send, t_recv, ids)
            if err or len(ids) < n:
                self.rec.unanswered(self.conn, self.d.name, self.protocol, t_send, t_recv,
                                    err or f"{len(ids)} of {n} ids")
            if close:
                self._close()
            if not bursting:
                self.stop.wait(self.pace * self.rng.uniform(0.5, 1.5))
            elif err:
                self.stop.wait(0.005)  # no lease: do not spin on refusals
            else:
                time.sleep(self.burst_pace)
        self._close()


class GrpcClients:
    """One /usr/bin/python3 process (python3-grpcio) with a channel per
    daemon; its answers come back through a file (grpc_fleet_client.py)."""

    def __init__(self, workdir, binary_dir, daemons, burst_files, seed, paces=None):
        """paces: {fleet: (normal, burst) seconds between one thread's calls}."""
        self.out = os.path.join(workdir, "grpc-ids.txt")
        self.stop_file = os.path.join(workdir, "grpc-stop")
        self.daemons = daemons
        self.proc = None
        self.generated = os.path.join(binary_dir, "generated", "python")
        self.burst_files = burst_files
        self.seed = seed
        self.paces = paces or {}
        self.offset = 0
        self.partial = b""
        self.channels = {}  # (daemon name, channel number) -> Conn per incarnation

    def available(self):
        if not os.path.isdir(self.generated):
            return f"no generated gRPC stubs at {self.generated}"
        r = subprocess.run(["/usr/bin/python3", "-c", "import grpc"], capture_output=True)
        if r.returncode != 0:
            return "/usr/bin/python3 cannot import grpc (Debian: python3-grpcio)"
        return None

    def start(self, register):
        here = os.path.dirname(os.path.abspath(__file__))
        targets = [f"{d.name}={HOST}:{d.grpc_port}={self.burst_files[d.fleet]}" +
                   ("={}={}".format(*self.paces[d.fleet]) if d.fleet in self.paces else "")
                   for d in self.daemons]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": self.generated,
               "LANG": "C"}
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(here, "grpc_fleet_client.py"), self.out,
             self.stop_file, str(self.seed)] + targets,
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(os.path.dirname(self.out), "grpc-client.log"), "wb"),
            start_new_session=True)
        register(self.proc, "grpc clients")

    def stop(self):
        if self.proc is None:
            return
        with open(self.stop_file, "w"):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def collect(self, recorder, daemons_by_name):
        """Feeds new lines of the output file to the recorder. Lines:
        'ok DAEMON CHANNEL T_SEND T_RECV ID...' or 'err DAEMON CHANNEL T_SEND T_RECV WHY'."""
        try:
            with open(self.out, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            parts = raw.decode(errors="replace").split(" ")
            if len(parts) < 5:
                continue
            kind, dname, chan, ts, tr = parts[:5]
            t_send, t_recv = float(ts), float(tr)
            d = daemons_by_name.get(dname)
            if d is None:
                continue
            if kind == "err":
                conn = self.channels.get((dname, chan))
                recorder.unanswered(conn, dname, "grpc", t_send, t_recv, " ".join(parts[5:]))
                continue
            inc = incarnation_at(d, t_send, t_recv)
            conn = self.channels.get((dname, chan))
            if conn is None or conn.incarnation != inc:
                conn = recorder.new_conn(dname, "grpc", inc)
                conn.opened = t_send
                self.channels[(dname, chan)] = conn
            ids = [int(x) for x in parts[5:] if x]
            recorder.answered(conn, t_send, t_recv, ids)


def incarnation_at(d, t_send, t_recv):
    """The incarnation of daemon d that answered a request sent at t_send and
    answered at t_recv: the last one started before the answer."""
    best = None
    for inc in d.incarnations:
        if inc.started <= t_recv:
            best = inc.number
    return best
