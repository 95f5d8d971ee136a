"""A loopback TCP proxy the harness controls: one per daemon (its only way to
Redis) and one for the replication link. One thread drives every proxy with
poll(); the other threads change a proxy's behaviour through calls that run
on that thread.

Per direction (c2s: client to upstream, s2c: upstream to client):
  pass   bytes flow.
  drop   bytes are read and thrown away (a blackhole: the sender's writes
         succeed, nothing arrives). A connection that lost bytes is reset when
         the direction passes again: its stream is torn, as TCP would have
         ended it after its retransmissions timed out.
  stall  nothing is read (nor written), so the kernel's buffers fill and the
         sender blocks; on pass the bytes flow again, late.
A connection accepted while c2s is not pass is not connected upstream until it
is (the SYN would not have got through).
Actions: reset (RST both sides of every connection), refuse (reset every new
connection at once while on), retarget (new upstream for new connections; the
existing ones are reset).

A tap sees every chunk going c2s before it is forwarded (the harness reads the
daemons' Redis commands to time its faults); it runs on the proxy thread and
must be quick.
"""

import errno
import os
import select
import socket
import struct
import threading
import time

HOST = "127.0.0.1"
BUFFER_CAP = 256 * 1024  # per direction, then the proxy stops reading
CALL_TIMEOUT_S = 5.0
LINGER_RST = struct.pack("ii", 1, 0)
MODES = ("pass", "drop", "stall")


def _rst_close(sock):
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Pair:
    __slots__ = ("client", "upstream", "connecting", "bufs", "eof", "tainted", "proxy", "shut")

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.connecting = False
        self.bufs = {"c2s": bytearray(), "s2c": bytearray()}
        self.eof = {"c2s": False, "s2c": False}  # the source half-closed
        self.shut = {"c2s": False, "s2c": False}  # we passed the half-close on
        self.tainted = {"c2s": False, "s2c": False}  # bytes were dropped


class Proxy:
    """Listens on a free loopback port; forwards to HOST:upstream_port."""

    def __init__(self, hub, name, upstream_port, tap=None):
        self.hub = hub
        self.name = name
        self.upstream_port = upstream_port
        self.tap = tap
        self.mode = {"c2s": "pass", "s2c": "pass"}
        self.refusing = False
        self.pairs = []
        self.accepted = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

    # --- controls (any thread) ---
    def set_mode(self, c2s=None, s2c=None):
        def apply():
            for d, m in (("c2s", c2s), ("s2c", s2c)):
                if m is None:
                    continue
                if m not in MODES:
                    raise ValueError(m)
                self.mode[d] = m
            self.hub._heal_tainted(self)
        self.hub.call(apply)

    def heal(self):
        def apply():
            self.refusing = False
            self.mode = {"c2s": "pass", "s2c": "pass"}
            self.hub._heal_tainted(self)
        self.hub.call(apply)

    def reset(self):
        self.hub.call(lambda: self.hub._reset_all(self))

    def refuse(self, on):
        def apply():
            self.refusing = bool(on)
            if on:
                self.hub._reset_all(self)
        self.hub.call(apply)

    def retarget(self, upstream_port):
        def apply():
            self.upstream_port = upstream_port
            self.hub._reset_all(self)
        self.hub.call(apply)

    def describe(self):
        return (f"{self.name}: c2s {self.mode['c2s']}, s2c {self.mode['s2c']}"
                f"{', refusing' if self.refusing else ''} -> {self.upstream_port}")


class ProxyHub:
    def __init__(self):
        self.proxies = []
        self._calls = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="proxy-hub", daemon=True)
        self._thread.start()

    def add(self, name, upstream_port, tap=None):
        p = Proxy(self, name, upstream_port, tap)
        self.call(lambda: self.proxies.append(p))
        return p

    def call(self, fn):
        """Runs fn on the proxy thread and waits for it (bounded)."""
        done = threading.Event()
        box = {}

        def wrapped():
            try:
                box["v"] = fn()
            except Exception as e:  # handed back to the caller
                box["e"] = e
            finally:
                done.set()
        with self._lock:
            self._calls.append(wrapped)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass
        if not done.wait(CALL_TIMEOUT_S):
            raise RuntimeError("proxy thread did not answer")
        if "e" in box:
            raise box["e"]
        return box.get("v")

    def stop(self):
        self._stop = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._thread.join(timeout=CALL_TIMEOUT_S)
        for p in self.proxies:
            self._reset_all(p)
            try:
                p.listener.close()
            except OSError:
                pass
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # --- proxy thread only ---
    def _reset_all(self, proxy):
        for pair in list(proxy.pairs):
            self._drop_pair(pair)

    def _drop_pair(self, pair):
        _rst_close(pair.client)
        _rst_close(pair.upstream)
        pair.client = pair.upstream = None
        if pair in pair.proxy.pairs:
            pair.proxy.pairs.remove(pair)

    def _heal_tainted(self, proxy):
        for pair in list(proxy.pairs):
            if any(pair.tainted[d] and proxy.mode[d] == "pass" for d in ("c2s", "s2c")):
                self._drop_pair(pair)

    def _connect_upstream(self, pair):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex((HOST, pair.proxy.upstream_port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self._drop_pair(pair)
            return
        pair.upstream = s
        pair.connecting = err != 0

    def _ends(self, pair, d):
        return (pair.client, pair.upstream) if d == "c2s" else (pair.upstream, pair.client)

    def _interest(self):
        """fd -> (events, handler) for this round."""
        out = {}

        def want(sock, ev, handler):
            fd = sock.fileno()
            cur = out.get(fd)
            if cur:
                out[fd] = (cur[0] | ev, cur[1] + [(ev, handler)])
            else:
                out[fd] = (ev, [(ev, handler)])

        out[self._wake_r] = (select.POLLIN, [(select.POLLIN, ("wake",))])
        for p in self.proxies:
            want(p.listener, select.POLLIN, ("accept", p))
            for pair in p.pairs:
                if pair.upstream is None and p.mode["c2s"] == "pass" and not pair.eof["c2s"]:
                    self._connect_upstream(pair)
                    if pair.client is None:
                        continue
                if pair.connecting:
                    want(pair.upstream, select.POLLOUT, ("connected", pair))
                    # A client may still be dropped/stalled meanwhile.
                for d in ("c2s", "s2c"):
                    src, dst = self._ends(pair, d)
                    mode = p.mode[d]
                    buf = pair.bufs[d]
                    if mode == "stall":
                        continue
                    if src is not None and not pair.eof[d] and not pair.connecting \
                            and (mode == "drop" or len(buf) < BUFFER_CAP) \
                            and not (d == "s2c" and pair.upstream is None):
                        want(src, select.POLLIN, ("read", pair, d))
                    elif src is not None and d == "c2s" and pair.upstream is None \
                            and mode == "drop" and not pair.eof[d]:
                        want(src, select.POLLIN, ("read", pair, d))
                    if mode == "pass" and dst is not None and not pair.connecting and buf:
                        want(dst, select.POLLOUT, ("write", pair, d))
        return out

    def _loop(self):
        while not self._stop:
            with self._lock:
                calls, self._calls = self._calls, []
            for fn in calls:
                fn()
            interest = self._interest()
            poller = select.poll()
            for fd, (ev, _) in interest.items():
                poller.register(fd, ev)
            try:
                events = poller.poll(200)
            except InterruptedError:
                continue
            for fd, mask in events:
                entry = interest.get(fd)
                if not entry:
                    continue
                for ev, handler in entry[1]:
                    if not (mask & (ev | select.POLLERR | select.POLLHUP | select.POLLNVAL)):
                        continue
                    try:
                        self._handle(handler, mask)
                    except OSError:
                        pass

    def _handle(self, handler, mask):
        kind = handler[0]
        if kind == "wake":
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
            return
        if kind == "accept":
            p = handler[1]
            for _ in range(16):
                try:
                    c, _ = p.listener.accept()
                except (BlockingIOError, InterruptedError):
                    return
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                p.accepted += 1
                if p.refusing:
                    _rst_close(c)
                    continue
                pair = _Pair(p, c)
                p.pairs.append(pair)
                if p.mode["c2s"] == "pass":
                    self._connect_upstream(pair)
            return
        pair = handler[1]
        if pair.client is None:
            return  # dropped earlier this round
        if kind == "connected":
            err = pair.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._drop_pair(pair)
            else:
                pair.connecting = False
            return
        d = handler[2]
        src, dst = self._ends(pair, d)
        if kind == "read":
            try:
                chunk = src.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop_pair(pair)  # a reset: pass it on as one
                return
            if not chunk:
                pair.eof[d] = True
                self._maybe_shut(pair, d)
                return
            if pair.proxy.mode[d] == "drop":
                pair.tainted[d] = True
                return
            if d == "c2s" and pair.proxy.tap is not None:
                try:
                    pair.proxy.tap(chunk)
                except Exception:
                    pass
            pair.bufs[d] += chunk
        elif kind == "write":
            buf = pair.bufs[d]
            try:
                n = dst.send(buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop_pair(pair)
                return
            del buf[:n]
            self._maybe_shut(pair, d)

    def _maybe_shut(self, pair, d):
        if not pair.eof[d] or pair.bufs[d] or pair.shut[d]:
            return
        _, dst = self._ends(pair, d)
        if dst is None:
            self._drop_pair(pair)
            return
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        pair.shut[d] = True
        if pair.shut["c2s"] and pair.shut["s2c"]:
            try:
                pair.client.close()
                pair.upstream.close()
            except OSError:
                pass
            pair.client = pair.upstream = None
            pair.proxy.pairs.remove(pair)


class Tap:
    """Reads one daemon's Redis commands off its proxy: its claim attempts
    (SET ... NX), and the bursts of commands a lease refresh is (the hold,
    the fence raise, WAIT: a burst is what comes after 200 ms of silence)."""

    def __init__(self):
        self.claims = []  # times of SET NX rounds (the last 16)
        self.burst_start = 0.0
        self.last_any = 0.0

    def __call__(self, chunk):
        now = time.time()
        if now - self.last_any > 0.2:
            self.burst_start = now
        self.last_any = now
        if b"\r\nSET\r\n" in chunk and b"\r\nNX\r\n" in chunk:
            if not self.claims or now - self.claims[-1] > 0.05:
                self.claims = (self.claims + [now])[-16:]

    def state(self):
        return {"claims": list(self.claims), "burst_start": self.burst_start,
                "last_any": self.last_any}


class TapView:
    """The harness's copy of a Tap's state, fetched from the proxy process."""

    def __init__(self, state):
        self.claims = state["claims"]
        self.burst_start = state["burst_start"]
        self.last_any = state["last_any"]

    def just_refreshed(self, now):
        """A refresh went through in the last 0.35 s and is over (30 ms of
        silence since): its hold and its fence are written."""
        return now - self.burst_start < 0.35 and now - self.last_any > 0.03


def _serve(conn):
    """The proxy process: a ProxyHub driven by requests on `conn`."""
    hub = ProxyHub()
    proxies, taps = {}, {}
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            break
        op, name, args = req
        try:
            if op == "add":
                tap = Tap() if args[1] else None
                p = hub.add(name, args[0], tap=tap)
                proxies[name], taps[name] = p, tap
                out = p.port
            elif op == "mode":
                out = proxies[name].set_mode(c2s=args[0], s2c=args[1])
            elif op == "heal":
                out = proxies[name].heal()
            elif op == "reset":
                out = proxies[name].reset()
            elif op == "refuse":
                out = proxies[name].refuse(args[0])
            elif op == "retarget":
                out = proxies[name].retarget(args[0])
            elif op == "tap":
                out = taps[name].state() if taps.get(name) else None
            elif op == "stop":
                hub.stop()
                conn.send(("ok", None))
                break
            else:
                raise ValueError(op)
            conn.send(("ok", out))
        except Exception as e:  # handed back
            conn.send(("err", f"{type(e).__name__}: {e}"))
    os._exit(0)


class ProxyProcess:
    """The proxies in a process of their own (forked before any thread is
    started): the harness's client threads contend for the interpreter lock,
    which would delay the daemons' Redis traffic through a proxy thread by
    tens of milliseconds and fail their calls and WAITs."""

    def __init__(self):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="proxies")
        self.proc.start()
        child.close()
        self._lock = threading.Lock()

    def call(self, op, name=None, *args):
        with self._lock:
            self._conn.send((op, name, args))
            if not self._conn.poll(CALL_TIMEOUT_S * 2):
                raise RuntimeError(f"proxy process did not answer {op}")
            kind, out = self._conn.recv()
        if kind == "err":
            raise RuntimeError(f"proxy {name}: {out}")
        return out

    def add(self, name, upstream_port, tap=False):
        return RemoteProxy(self, name, self.call("add", name, upstream_port, tap), upstream_port)

    def stop(self):
        try:
            self.call("stop")
        except (RuntimeError, OSError, EOFError):
            pass
        self.proc.join(timeout=CALL_TIMEOUT_S)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=CALL_TIMEOUT_S)


class RemoteProxy:
    def __init__(self, owner, name, port, upstream_port):
        self.owner = owner
        self.name = name
        self.port = port
        self.upstream_port = upstream_port

    def set_mode(self, c2s=None, s2c=None):
        self.owner.call("mode", self.name, c2s, s2c)

    def heal(self):
        self.owner.call("heal", self.name)

    def reset(self):
        self.owner.call("reset", self.name)

    def refuse(self, on):
        self.owner.call("refuse", self.name, on)

    def retarget(self, upstream_port):
        self.upstream_port = upstream_port
        self.owner.call("retarget", self.name, upstream_port)

    def tap(self):
        state = self.owner.call("tap", self.name)
        return TapView(state) if state else None


def _self_test():
    """python3 proxy.py: a quick check against an echo server."""
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(8)
    port = srv.getsockname()[1]

    def echo():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return

            def serve(c=c):
                while True:
                    try:
                        b = c.recv(65536)
                    except OSError:
                        return
                    if not b:
                        c.close()
                        return
                    c.sendall(b)
            threading.Thread(target=serve, daemon=True).start()
    threading.Thread(target=echo, daemon=True).start()
    hub = ProxyHub()
    seen = []
    p = hub.add("t", port, tap=seen.append)
    c = socket.create_connection((HOST, p.port), timeout=2)
    c.sendall(b"hello")
    assert c.recv(100) == b"hello"
    p.set_mode(s2c="stall")
    c.sendall(b"late")
    c.settimeout(0.3)
    try:
        c.recv(100)
        raise AssertionError("stall let bytes through")
    except socket.timeout:
        pass
    p.set_mode(s2c="pass")
    c.settimeout(2)
    assert c.recv(100) == b"late"
    p.set_mode(c2s="drop")
    c.sendall(b"gone")
    time.sleep(0.2)
    p.set_mode(c2s="pass")  # tainted: reset
    try:
        got = c.recv(100)
        assert got == b"", got
    except ConnectionResetError:
        pass
    c2 = socket.create_connection((HOST, p.port), timeout=2)
    p.refuse(True)
    try:
        c2.sendall(b"x")
        assert c2.recv(10) == b""
    except ConnectionResetError:
        pass
    p.refuse(False)
    c3 = socket.create_connection((HOST, p.port), timeout=2)
    c3.sendall(b"again")
    assert c3.recv(100) == b"again"
    assert b"".join(seen).startswith(b"hello")
    hub.stop()
    pp = ProxyProcess()
    rp = pp.add("r", port, tap=True)
    c4 = socket.create_connection((HOST, rp.port), timeout=2)
    c4.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nNX\r\n")
    assert c4.recv(100).startswith(b"*3")
    rp.set_mode(s2c="stall")
    rp.heal()
    assert len(rp.tap().claims) == 1
    pp.stop()
    srv.close()
    print("proxy: ok")


if __name__ == "__main__":
    _self_test()
