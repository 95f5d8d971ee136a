"""Processes of a fleet campaign: Redis servers (a master and its replica, a
three-node Cluster), a three-member etcd cluster, the daemons, and a
supervisor that restarts an exited daemon after RESTART_DELAY_S as systemd's
Restart=on-failure would.

Every process starts in a session (so a process group) of its own and is
registered; kill_everything() SIGKILLs every group still registered, SIGCONT
first for any we stopped. Only 127.0.0.1 is used.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime

HOST = "127.0.0.1"
RESTART_DELAY_S = 1.0
REDIS_START_S = 5.0
# Redis TIME and the daemons' clocks are compared to this epoch in ids.
ID_EPOCH_MS = 1420070400000

_REGISTRY = {}  # pid -> description
_REG_LOCK = threading.Lock()


class FleetError(Exception):
    """A fleet could not be set up or driven; the message says what."""


def register(proc, what):
    with _REG_LOCK:
        _REGISTRY[proc.pid] = what


def unregister(pid):
    with _REG_LOCK:
        _REGISTRY.pop(pid, None)


def kill_group(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)  # start_new_session: the group id is the pid
    except (ProcessLookupError, PermissionError):
        pass


def end_process(proc, sig=signal.SIGKILL):
    """Signals a registered process's group, waits up to 5 s for it and
    forgets it; None, for the caller's handle."""
    if proc is None:
        return None
    kill_group(proc.pid, sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    unregister(proc.pid)
    return None


def kill_everything():
    with _REG_LOCK:
        pids = list(_REGISTRY)
    for pid in pids:
        kill_group(pid, signal.SIGCONT)
        kill_group(pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except (ChildProcessError, OSError):
            pass
        unregister(pid)


def remove_faketime_shm(pids):
    """libfaketime leaves a shared memory segment and a semaphore per
    process in /dev/shm when the process is killed: those of our pids go."""
    for pid in pids:
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            try:
                os.unlink(os.path.join("/dev/shm", name))
            except OSError:
                pass


def spawn(args, what, env=None, stdout=subprocess.DEVNULL, cwd=None):
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
    register(proc, what)
    return proc


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


# Ports we bind again after a restart must not be handed meanwhile to an
# outgoing connection as its local port: they come from below the kernel's
# ephemeral range (32768-60999 by default), and never twice in a run.
PORT_LO, PORT_HI = 10000, 32000
_TAKEN = set()
_PORT_RNG = random.Random()


def free_port(span=0):
    """A port (and port + span, when span) free now, below the ephemeral
    range, not handed out before in this run."""
    lo, hi = PORT_LO, PORT_HI - span
    for _ in range(5000):
        p = _PORT_RNG.randrange(lo, hi)
        if p in _TAKEN or (span and p + span in _TAKEN):
            continue
        if port_free(p) and (not span or port_free(p + span)):
            _TAKEN.add(p)
            if span:
                _TAKEN.add(p + span)
            return p
    raise FleetError("no free loopback port below the ephemeral range")


def cluster_ports(rng, n):
    """n ports whose cluster bus ports (port + 10000) are free too."""
    return [free_port(span=10000) for _ in range(n)]


def resp_command(port, *args, timeout=2.0):
    """One Redis command over a fresh connection; the reply decoded roughly
    (status/error/int as str, bulk as str, arrays as lists)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        return "ERR:" + rest.decode()
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise OSError(f"bad reply {line!r}")


def redis_info(port, section):
    text = resp_command(port, "INFO", section) or ""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


class RedisServer:
    """One redis-server without persistence on a loopback port."""

    def __init__(self, name, port, workdir, extra=()):
        if shutil.which("redis-server") is None:
            raise FleetError("redis-server is not installed (Debian: redis-server)")
        self.name = name
        self.port = port
        self.dir = os.path.join(workdir, f"redis-{name}")
        os.makedirs(self.dir, exist_ok=True)
        self.extra = list(extra)
        self.proc = None

    def args(self):
        return ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no",
                "--logfile", os.path.join(self.dir, "redis.log"),
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--repl-diskless-load", "disabled"] + self.extra

    def start(self, wait=True, keep_data=False):
        """keep_data: load the dump.rdb a SAVE left (restarted from a
        snapshot); otherwise it is removed first and the server starts empty
        (a replica's full sync leaves one too)."""
        if not keep_data:
            try:
                os.unlink(os.path.join(self.dir, "dump.rdb"))
            except FileNotFoundError:
                pass
        deadline = time.monotonic() + REDIS_START_S
        while True:
            self.proc = spawn(self.args(), f"redis {self.name}")
            if not wait:
                return
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self.answers():
                    return
                time.sleep(0.01)
            self.kill()
            if time.monotonic() >= deadline:
                raise FleetError(f"redis {self.name} did not start on port {self.port}")
            time.sleep(0.1)  # the port may be held a moment after a kill

    def answers(self):
        try:
            return resp_command(self.port, "PING", timeout=0.5) == "PONG"
        except OSError:
            return False

    def kill(self):
        self.proc = end_process(self.proc)

    def command(self, *args, timeout=2.0):
        return resp_command(self.port, *args, timeout=timeout)

    def log_tail(self, n=10):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []


class RedisCluster:
    """Three masters, no replicas; a node killed comes back with its
    nodes.conf (its slots) and no data."""

    def __init__(self, workdir, ports):
        self.nodes = [RedisServer(f"cluster-{p}", p, workdir, extra=[
            "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{p}.conf",
            "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "yes"])
            for p in ports]

    def start(self):
        for n in self.nodes:
            n.start()
        args = ["redis-cli", "--cluster", "create"] + [f"{HOST}:{n.port}" for n in self.nodes] + \
            ["--cluster-yes"]
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise FleetError("redis-cli --cluster create failed: " +
                             (r.stdout + r.stderr).decode(errors="replace")[-400:])
        if not self.wait_ok(15):
            raise FleetError("the Redis Cluster did not reach cluster_state:ok")

    def state_ok(self):
        try:
            return all(redis_info_cluster(n.port).get("cluster_state") == "ok"
                       for n in self.nodes if n.proc is not None)
        except OSError:
            return False

    def wait_ok(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state_ok():
                return True
            time.sleep(0.1)
        return False

    def url(self, ns):
        return "rediscluster://" + ",".join(f"{HOST}:{n.port}" for n in self.nodes) + f"?ns={ns}"

    def kill(self):
        for n in self.nodes:
            n.kill()


def redis_info_cluster(port):
    text = resp_command(port, "CLUSTER", "INFO", timeout=1.0) or ""
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


# --- etcd ---

ETCD_START_S = 15.0


def etcd_missing():
    """The etcd tools the etcd fleet needs that are not on PATH."""
    return [b for b in ("etcd", "etcdctl") if shutil.which(b) is None]


def etcd_flags():
    """Which optional flags this etcd lists in its --help."""
    try:
        r = subprocess.run(["etcd", "--help"], capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        text = (r.stdout + r.stderr).decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    return {"unsafe-no-fsync": "--unsafe-no-fsync" in text}


def etcd_gateway(port, path, body=None, timeout=1.0):
    """One call to a member's JSON gateway (POST /v3/...), or GET of a plain
    path (/health): the decoded reply. Raises OSError when the member does
    not answer, or ValueError."""
    import urllib.request
    url = f"http://{HOST}:{port}{path}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    import base64
    return base64.b64decode(text).decode(errors="replace")


class EtcdMember:
    """One etcd member on loopback; killed, it keeps its data directory and
    comes back on the same ports."""

    def __init__(self, cluster, name, workdir):
        self.cluster = cluster
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.dir = os.path.join(workdir, f"etcd-{name}")
        self.log_path = os.path.join(workdir, f"etcd-{name}.log")
        self.proc = None
        self.member_id = None  # decimal string, from its status
        self.starts = 0

    @property
    def client_url(self):
        return f"http://{HOST}:{self.client_port}"

    @property
    def peer_url(self):
        return f"http://{HOST}:{self.peer_port}"

    def args(self):
        a = ["etcd", "--name", self.name, "--data-dir", self.dir,
             "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
             "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
             "--initial-cluster", self.cluster.initial_cluster(),
             "--initial-cluster-state", "new",
             "--initial-cluster-token", self.cluster.token,
             "--heartbeat-interval", "50", "--election-timeout", "500"]
        if self.cluster.no_fsync:
            a.append("--unsafe-no-fsync")
        return a

    def spawn(self):
        with open(self.log_path, "ab") as log:
            self.proc = spawn(self.args(), f"etcd {self.name}", stdout=log)
        self.starts += 1

    def status(self, timeout=0.5):
        """Its Maintenance.Status (header.member_id, leader, raftTerm), or None."""
        if self.proc is None:
            return None
        try:
            s = etcd_gateway(self.client_port, "/v3/maintenance/status", {}, timeout=timeout)
        except (OSError, ValueError):
            return None
        self.member_id = s.get("header", {}).get("member_id", self.member_id)
        return s

    def healthy(self, timeout=0.5):
        if self.proc is None:
            return False
        try:
            return etcd_gateway(self.client_port, "/health", timeout=timeout).get(
                "health") == "true"
        except (OSError, ValueError):
            return False

    def kill(self, sig=signal.SIGKILL):
        self.proc = end_process(self.proc, sig)

    def log_tail(self, n=10):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []


class EtcdCluster:
    """Three etcd members (Debian's etcd-server), quick elections
    (--heartbeat-interval 50 --election-timeout 500), each in a data dir of
    its own under the campaign's temp dir, logs to files there."""

    def __init__(self, workdir, n=3, no_fsync=False):
        missing = etcd_missing()
        if missing:
            raise FleetError(f"{' and '.join(missing)} not installed (Debian: etcd-server, "
                             "etcd-client)")
        self.no_fsync = no_fsync
        self.token = f"katsubushi-fleet-{os.getpid()}-{_PORT_RNG.randrange(1 << 30)}"
        self.members = [EtcdMember(self, f"m{i}", workdir) for i in range(1, n + 1)]

    def initial_cluster(self):
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def start(self):
        for m in self.members:
            m.spawn()
        if not self.wait_healthy(ETCD_START_S, every=True):
            raise FleetError("etcd did not elect a leader within "
                             f"{ETCD_START_S:g}s: " + " | ".join(
                                 f"{m.name}: {' / '.join(m.log_tail(2))}" for m in self.members))
        for m in self.members:
            m.status()

    def start_member(self, m, timeout=10.0):
        """Starts a stopped member again (its data kept); True once it
        answers as healthy (a leader known to it), bounded."""
        if m.proc is None:
            m.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if m.proc.poll() is not None:
                return False
            if m.healthy():
                return True
            time.sleep(0.05)
        return False

    def wait_healthy(self, timeout, every=False):
        """Until one running member (every: each) says healthy, bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = [m.healthy() for m in self.members if m.proc is not None]
            if up and (all(up) if every else any(up)):
                return True
            time.sleep(0.05)
        return False

    def leader(self):
        """The member that leads now, or None."""
        ids = {}
        lead = None
        for m in self.members:
            s = m.status()
            if s is None:
                continue
            ids[s["header"]["member_id"]] = m
            if s.get("leader") not in (None, "0"):
                lead = s["leader"]
        return ids.get(lead) if lead else None

    def endpoints(self, running_only=True):
        return ",".join(m.client_url for m in self.members
                        if m.proc is not None or not running_only)

    def etcdctl(self, *args, timeout=10.0, endpoints=None):
        env = dict(os.environ, ETCDCTL_API="3")
        r = subprocess.run(["etcdctl", "--endpoints", endpoints or self.endpoints(),
                            "--dial-timeout", "2s", "--command-timeout", "5s"] + list(args),
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           env=env)
        out = (r.stdout + r.stderr).decode(errors="replace").strip()
        if r.returncode != 0:
            raise FleetError(f"etcdctl {' '.join(args)}: {out[-300:]}")
        return out

    def move_leader(self, target):
        """etcdctl move-leader to `target` (sent to the leader); its output."""
        lead = self.leader()
        if lead is None:
            raise FleetError("no etcd leader to move")
        if target.member_id is None:
            target.status()
        return self.etcdctl("move-leader", f"{int(target.member_id):x}",
                            endpoints=lead.client_url)

    def get_prefix(self, prefix, timeout=1.0):
        """{key: (value, lease)} of every key under prefix, through the
        first member that answers (linearizable); None when none does."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        for m in self.members:
            if m.proc is None:
                continue
            try:
                r = etcd_gateway(m.client_port, "/v3/kv/range",
                                 {"key": b64(prefix), "range_end": b64(end)}, timeout=timeout)
            except (OSError, ValueError):
                continue
            return {unb64(kv["key"]): (unb64(kv.get("value", "")), int(kv.get("lease", 0)))
                    for kv in r.get("kvs", [])}
        return None

    def kill(self):
        for m in self.members:
            m.kill()


# --- daemons ---

_CLAIM = re.compile(r"worker id (\d+) claimed")
_LOST = re.compile(r"worker id (\d+): lease lost|worker id lease lost")
_RELEASED = re.compile(r"worker id (\d+) released|worker id (\d+): not released")
_STOPPING = re.compile(r"^shutting down")


def parse_log_time(text):
    """ms since the Unix epoch of a log line's "time" (its clock, fake or not)."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


class Incarnation:
    """One process of a daemon, from spawn to exit."""

    def __init__(self, number, pid, started, wall_offset_s):
        self.number = number
        self.pid = pid
        self.started = started  # real time.time() at spawn
        self.ended = None       # real time the supervisor saw it gone
        self.exit_status = None
        self.wall_offset_s = wall_offset_s  # libfaketime offset at spawn
        self.events = []        # (stamp_real, own_ms, kind, worker, msg)
        self.first_ready = None
        self.terminated = None  # real time the harness sent it SIGTERM (a clean stop)


class Daemon:
    """A daemon of a fleet: its ports and flags stay the same across
    restarts; each process is an Incarnation."""

    def __init__(self, name, fleet, binary, workdir, store_args, min_id, max_id, lease_ttl_s,
                 extra_args=(), env_extra=None, faketime_file=None, faketime_lib=None,
                 shim=None, fault=None):
        """store_args: the lease store's flags (["-redis", URL] or
        ["-etcd", URLS, "-etcd-prefix", P])."""
        self.name = name
        self.fleet = fleet
        self.binary = binary
        self.port = free_port()
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.state_file = os.path.join(workdir, f"{name}.state")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.args = [binary, "-worker-id", "0"] + list(store_args) + [
            "-min-worker-id", str(min_id), "-max-worker-id", str(max_id),
            "-lease-ttl", f"{lease_ttl_s}s", "-state-file", self.state_file,
            "-port", str(self.port), "-http-port", str(self.http_port),
            "-grpc-port", str(self.grpc_port), "-threads", "1",
            "-log-format", "json", "-idle-timeout", "30s",
            "-shutdown-timeout", "1s"] + list(extra_args)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
        preload = []
        self.faketime_file = faketime_file
        if faketime_file:
            preload.append(faketime_lib)
            self.env.update({"FAKETIME_TIMESTAMP_FILE": faketime_file, "FAKETIME_NO_CACHE": "1",
                             "FAKETIME_DONT_FAKE_MONOTONIC": "1", "DONT_FAKE_MONOTONIC": "1",
                             "FAKETIME_DONT_RESET": "1"})
        if shim:
            preload.append(shim)
            self.env["KATSUBUSHI_FAULT"] = fault
        if preload:
            self.env["LD_PRELOAD"] = ":".join(preload)
        self.env.update(env_extra or {})
        self.proc = None
        self.incarnations = []
        self.lock = threading.Lock()
        self.hold_down_until = 0.0   # real time before which the supervisor does not restart
        self.next_start_at = None    # real time the supervisor means to start it
        self.stopped = False         # SIGSTOPped by a fault
        self.wall_offset_s = 0       # what the faketime file says now
        self.offset_history = [(0.0, 0)]  # (real time, offset s) for the faketime daemon
        self.last_stats = {}
        self.last_stats_at = 0.0
        self._log = open(self.log_path, "a", encoding="utf-8")

    # -- process --
    def spawn(self):
        with self.lock:
            inc = None
            # Read before the fork: on a loaded machine this thread may run
            # again only after the new process has answered requests, and an
            # answer must never look older than the process that gave it
            # (clients.incarnation_at; a 30-minute run misattributed 8 gRPC
            # answers to the incarnation before).
            spawned_at = time.time()
            proc = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            register(proc, f"daemon {self.name}")
            inc = Incarnation(len(self.incarnations) + 1, proc.pid, spawned_at, self.wall_offset_s)
            self.incarnations.append(inc)
            self.proc = proc
            self.stopped = False
            self.next_start_at = None
        t = threading.Thread(target=self._read_log, args=(proc, inc), daemon=True,
                             name=f"log-{self.name}-{inc.number}")
        t.start()
        return inc

    def current(self):
        with self.lock:
            return self.incarnations[-1] if self.incarnations else None

    def alive(self):
        p = self.proc
        return p is not None and p.poll() is None

    def signal(self, sig):
        p = self.proc
        if p is not None and p.poll() is None:
            kill_group(p.pid, sig)
            if sig == signal.SIGTERM:
                inc = self.current()
                if inc is not None and inc.terminated is None:
                    inc.terminated = time.time()
            if sig == signal.SIGSTOP:
                self.stopped = True
            elif sig in (signal.SIGCONT, signal.SIGKILL):
                self.stopped = False
            return True
        return False

    def reap(self):
        """Called by the supervisor: notes an exit. True when it had exited."""
        p = self.proc
        if p is None or p.poll() is None:
            return False
        with self.lock:
            inc = self.incarnations[-1]
            if inc.ended is None:
                inc.ended = time.time()
                inc.exit_status = p.returncode
            unregister(p.pid)
            self.proc = None
        return True

    def _read_log(self, proc, inc):
        for raw in proc.stdout:  # ends at the process's exit
            stamp = time.time()
            line = raw.decode(errors="replace").rstrip("\n")
            try:
                self._log.write(f"{stamp:.3f} #{inc.number} {line}\n")
                self._log.flush()
            except (OSError, ValueError):
                pass
            try:
                rec = json.loads(line)
                msg = rec.get("msg", "")
                own = parse_log_time(rec["time"])
            except (ValueError, KeyError, TypeError):
                continue
            kind = worker = None
            m = _CLAIM.search(msg)
            if m:
                kind, worker = "claim", int(m[1])
            elif _LOST.search(msg):
                kind = "lost"
            elif _RELEASED.search(msg) or _STOPPING.search(msg):
                kind = "stop"
            elif "paus" in msg.lower() or "wait" in msg.lower() or "skew" in msg.lower() \
                    or rec.get("level") in ("warning", "error"):
                kind = "note"
            if kind:
                inc.events.append((stamp, own, kind, worker, msg))
        try:
            proc.stdout.close()
        except OSError:
            pass

    def set_wall_offset(self, seconds):
        """Rewrites the libfaketime file (this daemon's wall clock)."""
        if not self.faketime_file:
            raise FleetError(f"{self.name} does not run under libfaketime")
        tmp = self.faketime_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{seconds:+d}\n")
        os.replace(tmp, self.faketime_file)
        self.wall_offset_s = seconds
        self.offset_history.append((time.time(), seconds))

    def close_log(self):
        try:
            self._log.close()
        except OSError:
            pass


class Supervisor:
    """Restarts an exited daemon after RESTART_DELAY_S (Restart=on-failure;
    a SIGKILL counts as a failure too), same port, same state file."""

    def __init__(self, daemons):
        self.daemons = daemons
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self.restarts = 0

    def start(self):
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(0.02):
            now = time.time()
            for d in self.daemons:
                if d.proc is not None:
                    if not d.reap():
                        continue
                    d.next_start_at = max(now + RESTART_DELAY_S, d.hold_down_until)
                if d.next_start_at is None:
                    d.next_start_at = max(now + RESTART_DELAY_S, d.hold_down_until)
                if now >= max(d.next_start_at, d.hold_down_until):
                    try:
                        d.spawn()
                        self.restarts += 1
                    except OSError:
                        d.next_start_at = now + RESTART_DELAY_S

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
