"""The fleets of a campaign.

redis fleet: a Redis master and one replica that replicates through a
harness proxy (so replication can be stalled); every daemon reaches Redis
through a proxy of its own (so one daemon can be partitioned; a failover
retargets them all). Each proxy's tap reads the daemon's commands: its claim
attempts (SET ... NX) and lease refreshes (the hold script), which the
nemesis uses to time its data-loss faults.

cluster fleet: a three-master Redis Cluster, no replicas; its daemons talk to
the nodes directly (a rediscluster:// URL listing all three).

etcd fleet: a three-member etcd cluster; every daemon reaches each member
through a proxy of its own (three per daemon, so one daemon can be cut off
from every member while the others go on); -etcd lists its three proxies.

The fleets use different namespaces and disjoint worker-id ranges, so no id
may ever appear twice across them.
"""

import json
import os
import threading
import time
import urllib.request

import procs
from procs import HOST, Daemon, EtcdCluster, FleetError, RedisCluster, RedisServer, free_port
from proxy import TapView

class Fleet:
    # Seconds between one client's requests, normally and while the fleet
    # bursts (clients.FleetClient; the gRPC client's threads likewise).
    pace_s = (0.03, 0.002)

    def __init__(self, name, ns, id_range, daemons):
        self.name = name
        self.ns = ns
        self.id_range = id_range
        self.daemons = daemons
        self.burst = threading.Event()
        self.burst_file = None

    def drop_fences(self):
        """The clock fault's step that hands an id on without its fence;
        what was done, for the timeline."""
        raise FleetError(f"the {self.name} fleet has no clock fault")

    def holders(self, issuing=False):
        """Daemons whose last stats say they hold a lease: (daemon, worker);
        issuing: and have issued ids in this process."""
        out = []
        for d in self.daemons:
            s = d.last_stats
            if d.alive() and not d.stopped and s.get("lease_state") == "held" and \
                    time.time() - d.last_stats_at < 2.0 and \
                    (not issuing or int(s.get("ids_issued", 0)) > 0):
                out.append((d, int(s.get("worker_id", 0))))
        return out

    def set_burst(self, on):
        if on:
            self.burst.set()
            if self.burst_file:
                with open(self.burst_file, "w"):
                    pass
        else:
            self.burst.clear()
            if self.burst_file:
                try:
                    os.unlink(self.burst_file)
                except FileNotFoundError:
                    pass


class RedisFleet(Fleet):
    def __init__(self, workdir, hub, binary, n_daemons, id_range, lease_ttl_s, extra_args,
                 faketime_lib, shim=None, fault=None, ns="fleetred"):
        self.workdir = workdir
        self.hub = hub
        self.master = RedisServer("a", free_port(), workdir)
        self.replica = RedisServer("b", free_port(), workdir)
        self.repl_proxy = hub.add("replication", self.master.port)
        self.proxies = {}
        daemons = []
        for i in range(1, n_daemons + 1):
            name = f"r{i}"
            proxy = hub.add(name, self.master.port, tap=True)
            # Every daemon of this fleet runs under libfaketime (offset +0 until
            # the clock fault moves one), so the fault can pick a holder.
            ft = os.path.join(workdir, f"{name}.faketime")
            with open(ft, "w") as f:
                f.write("+0\n")
            d = Daemon(name, "redis", binary, workdir,
                       ["-redis", f"redis://{HOST}:{proxy.port}/?ns={ns}"], id_range[0],
                       id_range[1], lease_ttl_s, extra_args=extra_args, faketime_file=ft,
                       faketime_lib=faketime_lib, shim=shim, fault=fault)
            self.proxies[name] = proxy
            daemons.append(d)
        super().__init__("redis", ns, id_range, daemons)
        self.replica_proc_count = 0

    def start_redis(self):
        self.master.start()
        self.start_replica()

    def start_replica(self):
        self.replica.extra = ["--replicaof", HOST, str(self.repl_proxy.port),
                              "--repl-timeout", "10", "--repl-ping-replica-period", "1"]
        self.repl_proxy.retarget(self.master.port)
        self.repl_proxy.heal()
        self.replica.start()
        self.replica_proc_count += 1

    def resync_replica_now(self):
        """After the master restarted: the replica reconnects at once rather
        than at its next once-a-second retry (REPLICAOF NO ONE, then back),
        so the daemons' WAITs can count it as soon as they could in the best
        case."""
        try:
            self.replica.command("REPLICAOF", "NO", "ONE")
            return self.replica.command("REPLICAOF", HOST, str(self.repl_proxy.port))
        except OSError as e:
            return f"replica not reached: {e}"

    def tap(self, name):
        """What the daemon's proxy saw of its Redis commands (a TapView)."""
        return self.proxies[name].tap()

    def replica_synced(self):
        """The master counts its replica online (it has acknowledged the
        sync: what WAIT needs)."""
        try:
            info = procs.redis_info(self.master.port, "replication")
        except OSError:
            return False
        return any(k.startswith("slave") and "state=online" in v for k, v in info.items())

    def wait_replica_acks(self, timeout):
        """Until the master's replica acknowledges writes (WAIT 1), as the
        daemons' fence raises need; bounded. Three in a row: right after a
        diskless full sync one WAIT can succeed and the next time out (the
        replica's first acknowledgement, then a gap until it streams)."""
        deadline = time.time() + timeout
        row = 0
        while time.time() < deadline and row < 3:
            try:
                self.master.command("SET", "fleet-harness:probe", str(time.time()), timeout=0.5)
                ok = self.master.command("WAIT", "1", "100", timeout=0.5) == "1"
            except OSError:
                ok = False
            row = row + 1 if ok else 0
            time.sleep(0.02)
        return row >= 3

    def retarget_daemons(self, port):
        for p in self.proxies.values():
            p.retarget(port)

    def promote_replica(self):
        """REPLICAOF NO ONE on the replica; the daemons' proxies now lead to
        it; it is the master from now on (the old master object becomes the
        replica slot, to be started again as a replica of it)."""
        r = self.replica.command("REPLICAOF", "NO", "ONE")
        self.retarget_daemons(self.replica.port)
        self.master, self.replica = self.replica, self.master
        self.master.extra = []  # a restart must not make it a replica again
        return r

    def stop_redis(self):
        self.master.kill()
        self.replica.kill()

    def drop_fences(self):
        return f"FLUSHALL: {self.master.command('FLUSHALL')}"


class ClusterFleet(Fleet):
    def __init__(self, workdir, binary, ports, n_daemons, id_range, lease_ttl_s, extra_args,
                 shim=None, fault=None, ns="fleetclu"):
        self.cluster = RedisCluster(workdir, ports)
        daemons = [Daemon(f"c{i}", "cluster", binary, workdir, ["-redis", self.cluster.url(ns)],
                          id_range[0], id_range[1], lease_ttl_s, extra_args=extra_args,
                          shim=shim, fault=fault)
                   for i in range(1, n_daemons + 1)]
        super().__init__("cluster", ns, id_range, daemons)

    def start_redis(self):
        self.cluster.start()

    def stop_redis(self):
        self.cluster.kill()


class EtcdFleet(Fleet):
    """Three etcd members; daemons e1..eN, each reaching every member
    through a proxy of its own (named e1-m1, e1-m2, ...), tapped so the
    nemesis sees when its lease traffic flows and to which member. Every
    daemon runs under libfaketime like the redis fleet's (the clock fault)."""

    # Fewer requests than the Redis fleets: three fleets share two cores.
    pace_s = (0.06, 0.004)
    # etcd keeps every acknowledged write: the clock fault hands an id on
    # with its fence (see drop_fences).
    keeps_fences = True

    def __init__(self, workdir, hub, binary, n_daemons, id_range, lease_ttl_s, extra_args,
                 faketime_lib, no_fsync=False, prefix="fleetetcd/", shim=None, fault=None):
        self.cluster = EtcdCluster(workdir, 3, no_fsync=no_fsync)
        self.prefix = prefix
        self.proxies = {}  # daemon name -> [proxy to member 1, 2, 3]
        daemons = []
        for i in range(1, n_daemons + 1):
            name = f"e{i}"
            proxies = [hub.add(f"{name}-{m.name}", m.client_port, tap=True)
                       for m in self.cluster.members]
            ft = os.path.join(workdir, f"{name}.faketime")
            with open(ft, "w") as f:
                f.write("+0\n")
            urls = ",".join(f"http://{HOST}:{p.port}" for p in proxies)
            d = Daemon(name, "etcd", binary, workdir, ["-etcd", urls, "-etcd-prefix", prefix],
                       id_range[0], id_range[1], lease_ttl_s, extra_args=extra_args,
                       faketime_file=ft, faketime_lib=faketime_lib, shim=shim, fault=fault)
            self.proxies[name] = proxies
            daemons.append(d)
        super().__init__("etcd", prefix, id_range, daemons)
        self.fences = {}  # worker id -> [(real time the read was sent, fence, lease)]

    def start_redis(self):
        self.cluster.start()

    def stop_redis(self):
        self.cluster.kill()

    def taps(self, name):
        """[(member, TapView)] of the daemon's proxies."""
        out = []
        for m, p in zip(self.cluster.members, self.proxies[name]):
            t = p.tap()
            if t is not None:
                out.append((m, t))
        return out

    def tap(self, name):
        """The daemon's etcd traffic over its three proxies as one TapView
        (its bursts: a lease refresh is a keep-alive and a fence raise, about
        once a second, on whichever member it uses). No claims: a claim is a
        transaction like a fence raise."""
        taps = [t for _, t in self.taps(name)]
        if not taps:
            return None
        last = max(taps, key=lambda t: t.last_any)
        return TapView({"claims": [], "burst_start": last.burst_start,
                        "last_any": last.last_any})

    def member_in_use(self, name):
        """The member the daemon's last etcd bytes went to, or None."""
        taps = self.taps(name)
        if not taps:
            return None
        m, t = max(taps, key=lambda mt: mt[1].last_any)
        return m if t.last_any > 0 else None

    def cut_off(self, name, c2s, s2c):
        """Every proxy of the daemon: c2s/s2c modes, or refuse."""
        for p in self.proxies[name]:
            if c2s == "refuse":
                p.refuse(True)
            else:
                p.set_mode(c2s=c2s, s2c=s2c)

    def heal(self, name):
        for p in self.proxies[name]:
            p.heal()

    def drop_fences(self):
        # etcd keeps every acknowledged write: deleting the fence would be a
        # fault etcd does not have (a claim that finds no fence issues at
        # once). The next holder finds the fence the daemon ahead raised.
        return "fence kept (etcd keeps acknowledged writes): the next holder finds it ahead"

    def poll_fences(self, timeout=0.4, keep=True):
        """The fences now ({prefix}hwm/N: value and lease), kept per worker
        id (keep) with the time the read was sent; None when no member
        answers."""
        sent = time.time()
        kv = self.cluster.get_prefix(self.prefix + "hwm/", timeout=timeout)
        if kv is None:
            return None
        out = {}
        for k, (v, lease) in kv.items():
            try:
                w = int(k.rsplit("/", 1)[1])
                out[w] = (int(v), lease)
            except ValueError:
                out[k] = (v, lease)
                continue
            if keep:
                self.fences.setdefault(w, []).append((sent, int(v), lease))
        return out


class FencePoller(threading.Thread):
    """Every POLL_S the etcd fleet's fences (straight from a member, not
    through the daemons' proxies), for the check that they only rise."""
    POLL_S = 0.5

    def __init__(self, fleet, stop_event):
        super().__init__(daemon=True, name="fence-poller")
        self.fleet = fleet
        self.stop = stop_event

    def run(self):
        while not self.stop.wait(self.POLL_S):
            try:
                self.fleet.poll_fences()
            except (OSError, ValueError, KeyError):
                pass


class StatsPoller(threading.Thread):
    """Every POLL_S each live, unstopped daemon's /stats: lease_state,
    worker_id and the rest, kept as a timeline per daemon."""
    POLL_S = 0.5

    def __init__(self, daemons, stop_event):
        super().__init__(daemon=True, name="stats-poller")
        self.daemons = daemons
        self.stop = stop_event
        self.history = {d.name: [] for d in daemons}

    def poll_one(self, d):
        if not d.alive() or d.stopped:
            return
        try:
            with urllib.request.urlopen(f"http://{HOST}:{d.http_port}/stats", timeout=0.4) as r:
                s = json.loads(r.read())
        except (OSError, ValueError):
            return
        now = time.time()
        d.last_stats = s
        d.last_stats_at = now
        inc = d.current()
        self.history[d.name].append((now, inc.number if inc else None, s.get("lease_state"),
                                     s.get("worker_id"), {k: s[k] for k in s if k in (
                                         "clock_synced", "clock_max_error_us",
                                         "store_clock_skew_ms", "lease_changes",
                                         "ids_issued")}))

    def run(self):
        while not self.stop.wait(self.POLL_S):
            for d in self.daemons:
                if self.stop.is_set():
                    return
                self.poll_one(d)


def wait_fleet_serving(fleet, timeout):
    """Until every worker id of the fleet's range is held (stats), bounded."""
    want = fleet.id_range[1] - fleet.id_range[0] + 1
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len({w for _, w in fleet.holders(issuing=True)}) >= want:
            return True
        time.sleep(0.1)
    return False


def check_setup(binary):
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise FleetError(f"no daemon binary at {binary}")
