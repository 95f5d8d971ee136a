"""Plumbing shared by the chaos scenarios: the daemon under test, the checking
connection, socket helpers and the parser of `get` replies.

Everything here talks to 127.0.0.1 only, and every wait has a deadline.
"""

import os
import re
import resource
import select
import signal
import socket
import subprocess
import threading
import time

HOST = "127.0.0.1"
WORKER_ID = 1
IDLE_TIMEOUT_S = 2.0
THREADS = 2
# How long the server may take to reap what a scenario left behind: one idle
# period, its one-second linger after a half-close, and slack for a loaded box.
REAP_WAIT_S = IDLE_TIMEOUT_S + 5.0
START_WAIT_S = 10.0
IO_TIMEOUT_S = 10.0
# The checking connection sends a command this often so -idle-timeout never
# reaps it: only a complete command resets the idle timer.
KEEPALIVE_S = 0.5

# The daemon runs exactly as in production: nothing is added to its
# environment (no allocator tunables). It gives memory back by itself (see
# the README's Memory section); the scenarios check that it does.
DAEMON_ENV = {}

class ChaosError(Exception):
    """A broken invariant or an unexpected answer; the message says which."""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def connect(port, timeout=IO_TIMEOUT_S):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def close_with_reset(sock):
    """Close so the kernel sends RST instead of FIN (SO_LINGER on, 0 s)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


def poll_once(sock, read=True, write=False, timeout=0.5):
    """(readable, writable) for one socket; poll, not select, so fd numbers
    above FD_SETSIZE are fine."""
    p = select.poll()
    p.register(sock, (select.POLLIN if read else 0) | (select.POLLOUT if write else 0))
    events = p.poll(max(0, int(timeout * 1000)))
    mask = events[0][1] if events else 0
    readable = bool(mask & (select.POLLIN | select.POLLHUP | select.POLLERR))
    writable = bool(mask & (select.POLLOUT | select.POLLERR))
    return readable, writable


def recv_until_closed(sock, deadline, limit=1 << 20):
    """Reads what the peer still sends until it closes (EOF or reset) or the
    deadline passes. Returns (bytes, closed_by_peer)."""
    got = bytearray()
    while time.monotonic() < deadline and len(got) < limit:
        readable, _ = poll_once(sock, timeout=min(0.5, deadline - time.monotonic()))
        if not readable:
            continue
        try:
            chunk = sock.recv(65536, socket.MSG_DONTWAIT)
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got), True
        except BlockingIOError:
            continue
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), False


def push_and_collect(sock, payload, deadline):
    """Sends `payload` while reading whatever comes back, until the peer
    closes or the deadline. Returns (received, bytes_sent, closed_by_peer)."""
    sock.setblocking(False)
    view = memoryview(payload)
    sent = 0
    got = bytearray()
    while time.monotonic() < deadline:
        readable, writable = poll_once(sock, write=sent < len(view))
        if readable:
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                chunk = None
            except (ConnectionResetError, BrokenPipeError):
                return bytes(got), sent, True
            if chunk == b"":
                return bytes(got), sent, True
            if chunk:
                got += chunk
        if writable and sent < len(view):
            try:
                sent += sock.send(view[sent:sent + 262144])
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                # Replies sent before the reset are still queued for us.
                rest, _ = recv_until_closed(sock, min(deadline, time.monotonic() + 1.0))
                return bytes(got) + rest, sent, True
    return bytes(got), sent, False


class Daemon:
    """One katsubushi process on a loopback port, logging to a file."""

    def __init__(self, binary, port, log_path, max_connections=None, nofile=None,
                 shutdown_timeout=None, extra_args=(), extra_env=None, grpc_port=None):
        self.binary = binary
        self.extra_env = dict(extra_env or {})
        self.port = port
        self.grpc_port = grpc_port  # -grpc-port, or None for no gRPC
        self.log_path = log_path
        self.nofile = nofile
        self.args = [binary, "-worker-id", str(WORKER_ID), "-port", str(port),
                     "-idle-timeout", f"{IDLE_TIMEOUT_S:g}s", "-threads", str(THREADS)]
        if max_connections is not None:
            self.args += ["-max-connections", str(max_connections)]
        if shutdown_timeout is not None:
            self.args += ["-shutdown-timeout", f"{shutdown_timeout:g}s"]
        if grpc_port is not None:
            self.args += ["-grpc-port", str(grpc_port)]
        self.args += list(extra_args)
        self.proc = None

    def start(self):
        """Starts the process and returns the checking connection, made as
        soon as the port answers."""
        limit = self.nofile

        def lower_fd_limit():  # runs in the child between fork and exec
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        log = open(self.log_path, "ab")
        try:
            # A session of its own: a Ctrl-C at the terminal reaches only us,
            # and we decide how the daemon ends.
            self.proc = subprocess.Popen(
                self.args, env={**os.environ, **DAEMON_ENV, **self.extra_env},
                stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=lower_fd_limit if limit else None)
        finally:
            log.close()
        _LIVE.add(self)
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ChaosError(f"daemon exited at start with {self.proc.returncode}")
            try:
                return CheckingClient(self.port)
            except OSError:
                time.sleep(0.02)
        raise ChaosError(f"daemon not answering on port {self.port} after {START_WAIT_S:g}s")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def thread_count(self):
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def status_kb(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise ChaosError(f"no {field} in /proc/{self.pid}/status")

    def rss_kb(self):
        return self.status_kb("VmRSS")

    def peak_rss_kb(self):
        return self.status_kb("VmHWM")

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        _LIVE.discard(self)

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


_LIVE = set()


def kill_all_daemons():
    for d in list(_LIVE):
        try:
            d.kill()
        except Exception:  # cleanup must go on whatever one process did
            pass


class CheckingClient:
    """The one connection a scenario keeps open to read `stats` and to prove
    at the end that a plain `get` still answers."""

    def __init__(self, port):
        self.sock = connect(port, timeout=IO_TIMEOUT_S)
        self.lock = threading.Lock()
        self.buf = bytearray()
        self.stop = threading.Event()
        self.keepalive = threading.Thread(target=self._keepalive, daemon=True)
        self.keepalive.start()

    def _keepalive(self):
        while not self.stop.wait(KEEPALIVE_S):
            try:
                self.request(b"version\r\n", b"\r\n")
            except (OSError, ChaosError):
                return

    def request(self, line, terminator):
        with self.lock:
            self.sock.sendall(line)
            deadline = time.monotonic() + IO_TIMEOUT_S
            while True:
                end = self.buf.find(terminator)
                if end >= 0:
                    reply = bytes(self.buf[:end + len(terminator)])
                    del self.buf[:end + len(terminator)]
                    return reply
                if time.monotonic() > deadline:
                    raise ChaosError(f"checking connection: no reply to {line!r}")
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ChaosError(f"checking connection closed by the server after {line!r}")
                self.buf += chunk

    def stats(self):
        reply = self.request(b"stats\r\n", b"END\r\n")
        out = {}
        for line in reply.decode().split("\r\n"):
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out

    def get_ids(self, keys=(b"a",)):
        reply = self.request(b"get " + b" ".join(keys) + b"\r\n", b"END\r\n")
        parsed = parse_get_reply(reply, keys)
        if parsed is None or parsed[1] != len(reply):
            raise ChaosError(f"plain get: bad reply {reply[:200]!r}")
        return parsed[0]

    def close(self):
        self.stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.keepalive.join(timeout=IO_TIMEOUT_S)


_VALUE = re.compile(rb"VALUE (\S+) 0 (\d+)")


def parse_get_reply(buf, keys, pos=0):
    """One text `get` reply for `keys` at buf[pos:]: (ids, end) when complete,
    None when more bytes are needed; ChaosError when it is malformed."""
    ids = []
    for key in keys:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None
        m = _VALUE.fullmatch(buf, pos, nl)
        if not m or m[1] != key:
            raise ChaosError(f"malformed get reply line {bytes(buf[pos:nl])[:120]!r}")
        n = int(m[2])
        start = nl + 2
        if len(buf) < start + n + 2:
            return None
        value = bytes(buf[start:start + n])
        if not value.isdigit() or buf[start + n:start + n + 2] != b"\r\n":
            raise ChaosError(f"malformed id {value[:40]!r}")
        ids.append(int(value))
        pos = start + n + 2
    tail = bytes(buf[pos:pos + 5])
    if tail != b"END\r\n"[:len(tail)]:
        raise ChaosError(f"expected END, got {tail!r}")
    if len(tail) < 5:
        return None
    return ids, pos + 5


def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP all end the run through cleanup. SIGINT too:
    a shell starting us in the background would have left it ignored."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
