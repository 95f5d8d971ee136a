"""The nemesis: faults on a seeded schedule, and the timeline of what it did.

The schedule (kinds, order, start times, parameters) is a function of the
seed and the budget alone. Which daemon is hit is decided when the fault
fires, among the daemons that hold a lease then (sorted by name, picked with
the fault's own seeded generator).

Data-loss faults (Redis restarted empty or from a stale snapshot, FLUSHALL,
a lease key evicted, a failover to a stale replica) are made as bad as the
harness can make them: a daemon without an id is held back (one that exited
for want of a free id is simply not restarted yet; one running without an
id is SIGKILLed first: it holds nothing), the data goes right after a
holder's lease refresh went through its proxy, and the held daemon starts,
and claims at once, as soon as Redis answers again. The old holder then
keeps issuing for most of a second, until its next refresh, while the
newcomer has its id.
"""

import random
import signal
import threading
import time

import procs

# Offsets of the clock fault, in seconds (libfaketime, the daemon's wall clock).
CLOCK_BACK_S = -3
CLOCK_FORWARD_S = 5

REDIS_KINDS = ("kill", "stop", "clock", "restart-empty", "restart-stale", "flushall", "evict",
               "failover", "partition")
CLUSTER_KINDS = ("cluster-node-kill", "kill", "stop")
ETCD_KINDS = ("etcd-member-kill", "etcd-leader-change", "etcd-partition", "etcd-down", "kill",
              "stop", "clock")
FLEET_KINDS = (("redis", REDIS_KINDS), ("cluster", CLUSTER_KINDS), ("etcd", ETCD_KINDS))
ALL_KINDS = tuple(sorted({k for _, kinds in FLEET_KINDS for k in kinds}))
# Where each fleet's schedule starts (s after setup), side by side.
FLEET_START_S = {"redis": 0.0, "cluster": 2.0, "etcd": 4.0}
# etcd-member-kill: the member is down this long (past a few refreshes, so
# the daemons using it must fail over); etcd-down: every member, past the lease.
ETCD_MEMBER_DOWN_S = 4.0
ETCD_DOWN_EXTRA_S = 2.0
DATA_LOSS = ("restart-empty", "restart-stale", "flushall", "evict", "failover")
# restart-stale: the snapshot is this much older than the restart, so the
# holders' keys in it have expired (-lease-ttl 3 s) and its fences are stale.
STALE_SNAPSHOT_S = 3.3
# A daemon SIGKILLed to race waits this long before it is started again: its
# state file's reserved-ahead mark (about 1.3 s ahead) has passed by then.
RACER_SETTLE_S = 2.0
# A restarted master is down this long, across a holder's refresh.
RESTART_DOWN_S = 0.3
PARTITION_MODES = (("drop", "drop"), ("drop", "pass"), ("pass", "drop"), ("stall", "stall"),
                   ("stall", "pass"), ("pass", "stall"), ("refuse", "refuse"))


def slot_seconds(kind, ttl):
    """How long a fault of this kind takes, plus the recovery after it."""
    return {
        "kill": 7.0,
        "stop": ttl + 4.0 + 3.0,
        "clock": 28.0,
        "restart-empty": 8.0,
        "restart-stale": 12.0,
        "flushall": 7.0,
        "evict": 7.0,
        "failover": 14.0,
        "partition": ttl + 3.0 + 3.0,
        "cluster-node-kill": 11.0,
        "etcd-member-kill": 11.0,
        "etcd-leader-change": 8.0,
        "etcd-partition": ttl + 3.0 + 3.0,
        "etcd-down": ttl + ETCD_DOWN_EXTRA_S + 9.0,
    }[kind]


class Planned:
    def __init__(self, fleet, kind, at, params):
        self.fleet = fleet
        self.kind = kind
        self.at = at          # seconds after the campaign's start
        self.params = params  # dict, from the seed

    def __repr__(self):
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.params.items()) if k != "seed")
        return f"+{self.at:5.1f}s {self.fleet:7} {self.kind}{' ' + extra if extra else ''}"


def _params(rng, kind):
    p = {"seed": rng.randrange(1 << 30)}
    if kind in ("partition", "etcd-partition"):
        p["mode"] = "/".join(rng.choice(PARTITION_MODES))
    if kind == "etcd-leader-change":
        p["how"] = rng.choice(("move", "kill"))
    return p


def _seeded_order(rng, kinds, skip):
    """`kinds` shuffled by `rng` (all of them, so the draws do not depend on
    `skip`), then those in `skip` left out."""
    order = list(kinds)
    rng.shuffle(order)
    return [k for k in order if k not in skip]


def plan_campaign(seed, window_s, ttl, fleets=("redis", "cluster", "etcd"), skip=()):
    """Every kind once per fleet in a seeded order, then more of them drawn
    at random while the window lasts. Returns [Planned] sorted by time.
    The redis and cluster fleets draw from one generator, as before the etcd
    fleet came; the etcd fleet from one of its own, so that its plan is the
    same with or without the others."""
    rng = random.Random(seed)
    out = []
    if "redis" in fleets:
        first = _seeded_order(rng, REDIS_KINDS, skip)
        t = 0.0
        for kind in first:
            out.append(Planned("redis", kind, t, _params(rng, kind)))
            t += slot_seconds(kind, ttl)
        extras = [k for k in ("restart-empty", "restart-stale", "flushall", "evict", "failover",
                              "partition", "kill", "stop") if k not in skip]
        while extras:
            kind = rng.choice(extras)
            if t + slot_seconds(kind, ttl) > window_s:
                break
            out.append(Planned("redis", kind, t, _params(rng, kind)))
            t += slot_seconds(kind, ttl)
    cluster_kinds = [k for k in CLUSTER_KINDS if k not in skip]
    if "cluster" in fleets and cluster_kinds:
        first = _seeded_order(rng, CLUSTER_KINDS, skip)
        t = 2.0
        for kind in first:
            out.append(Planned("cluster", kind, t, _params(rng, kind)))
            t += slot_seconds(kind, ttl) + 4.0
        while True:
            kind = rng.choice(cluster_kinds)
            if t + slot_seconds(kind, ttl) > window_s:
                break
            out.append(Planned("cluster", kind, t, _params(rng, kind)))
            t += slot_seconds(kind, ttl) + 4.0
    etcd_kinds = [k for k in ETCD_KINDS if k not in skip]
    if "etcd" in fleets and etcd_kinds:
        erng = random.Random(f"etcd-{seed}")
        first = _seeded_order(erng, ETCD_KINDS, skip)
        t = FLEET_START_S["etcd"]
        for kind in first:
            out.append(Planned("etcd", kind, t, _params(erng, kind)))
            t += slot_seconds(kind, ttl)
        extras = [k for k in etcd_kinds if k != "clock"]
        while extras:
            kind = erng.choice(extras)
            if t + slot_seconds(kind, ttl) > window_s:
                break
            out.append(Planned("etcd", kind, t, _params(erng, kind)))
            t += slot_seconds(kind, ttl)
    return sorted(out, key=lambda p: p.at)


def plan_only(kinds, seed, ttl, fleets):
    """The given kinds in the given order (each on every fleet it applies to)."""
    rng = random.Random(seed)
    out = []
    t = dict(FLEET_START_S)
    for kind in kinds:
        for fleet, allowed in FLEET_KINDS:
            if fleet in fleets and kind in allowed:
                out.append(Planned(fleet, kind, t[fleet], _params(rng, kind)))
                t[fleet] += slot_seconds(kind, ttl)
    return sorted(out, key=lambda p: p.at)


def plan_injection(inject, seed, ttl):
    """Short schedules that can expose one disabled protection."""
    rng = random.Random(seed)
    out = []
    t = 0.0
    if inject == "no-fresh-wait":
        kinds = ["flushall", "restart-empty", "flushall", "restart-empty", "flushall"]
    elif inject == "no-fence":
        kinds = ["evict"] * 5
    elif inject == "no-gate":
        kinds = ["partition", "partition"]
    elif inject == "etcd-no-gate":
        kinds = ["etcd-partition", "etcd-partition"]
    else:
        raise ValueError(inject)
    for kind in kinds:
        p = _params(rng, kind)
        if kind in ("partition", "etcd-partition"):
            p["mode"] = "drop/drop"
            p["extra_s"] = 4.0
        out.append(Planned("etcd" if kind.startswith("etcd-") else "redis", kind, t, p))
        t += slot_seconds(kind, ttl) - 2.0
    return out


class Timeline:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def begin(self, fleet, kind, target, detail=""):
        e = {"fleet": fleet, "kind": kind, "target": target, "start": time.time(), "end": None,
             "detail": detail, "notes": []}
        with self.lock:
            self.entries.append(e)
        print(f"fleet: {time.strftime('%H:%M:%S')} fault {kind} on {fleet}/{target} begins"
              f"{': ' + detail if detail else ''}", flush=True)
        return e

    def note(self, e, text):
        e["notes"].append((time.time(), text))

    def end(self, e):
        e["end"] = time.time()
        print(f"fleet: {time.strftime('%H:%M:%S')} fault {e['kind']} on {e['fleet']}/"
              f"{e['target']} ends ({e['end'] - e['start']:.1f}s)", flush=True)

    def active_at(self, t, slack=0.0):
        with self.lock:
            return [e for e in self.entries
                    if e["start"] - slack <= t <= (e["end"] or time.time()) + slack]


class Nemesis:
    def __init__(self, fleets, timeline, ttl, abort, supervisor):
        self.fleets = fleets  # name -> Fleet
        self.timeline = timeline
        self.ttl = ttl
        self.abort = abort
        self.supervisor = supervisor
        self.skipped = []

    # --- helpers ---
    def sleep(self, s):
        """False when the campaign is being cut short."""
        return not self.abort.wait(max(0.0, s))

    def pick_holder(self, fleet, rng, prefer=None):
        holders = sorted(fleet.holders(), key=lambda h: h[0].name)
        if prefer is not None:
            for d, w in holders:
                if d is prefer:
                    return d, w
        if not holders:
            live = sorted((d for d in fleet.daemons if d.alive() and not d.stopped),
                          key=lambda d: d.name)
            if not live:
                return None, None
            return rng.choice(live), None
        return rng.choice(holders)

    def hold_racers(self, fleet):
        """Every daemon without an id, held back (not restarted) so the
        harness starts them when the data is lost: they claim at once when
        they start. Those that exited for want of an id are simply not
        restarted yet; those running without an id (claiming on their
        backoff) are SIGKILLed (they hold nothing) RACER_SETTLE_S before, so
        that the mark their state file reserved ahead has passed when they
        start again. ([daemons], how)."""
        deadline = time.time() + 0.3
        while time.time() < deadline:  # one restarted just now exits within ms
            holding = {d.name for d, _ in fleet.holders()}
            if not any(d.alive() and d.name not in holding and
                       time.time() - d.current().started < 0.5 for d in fleet.daemons):
                break
            time.sleep(0.02)
        holding = {d.name for d, _ in fleet.holders()}
        held, how, killed = [], [], False
        for d in sorted(fleet.daemons, key=lambda d: d.name):
            if d.name in holding or d.stopped:
                continue
            if d.proc is None:
                d.hold_down_until = time.time() + 30.0
                held.append(d)
                how.append(f"{d.name} (exited, no id) held back")
            elif d.alive() and time.time() - d.last_stats_at < 2.0 and \
                    d.last_stats.get("lease_state") != "held":
                d.hold_down_until = time.time() + 30.0
                d.signal(signal.SIGKILL)
                killed = True
                held.append(d)
                how.append(f"{d.name} (running, no id) SIGKILLed and held back")
        if killed:
            self.sleep(RACER_SETTLE_S)
        return held, ", ".join(how)

    def claimer_due(self, fleet, lo, hi, now):
        """A daemon running without an id whose next claim (on its backoff:
        2, 4, 5, 5 s, as its proxy saw them) falls in [now+lo, now+hi]."""
        holding = {d.name for d, _ in fleet.holders()}
        for d in sorted(fleet.daemons, key=lambda d: d.name):
            if d.name in holding or d.stopped or not d.alive():
                continue
            tap = self.tap(fleet, d.name)
            if tap is None:
                continue
            if len(tap.claims) < 2 or now - tap.claims[-1] > 6:
                continue
            gap = tap.claims[-1] - tap.claims[-2]
            nxt = tap.claims[-1] + min(max(2 * gap, 1.0), 5.0)
            if lo <= nxt - now <= hi:
                return f"{d.name} claims again in {nxt - now:.2f}s (its backoff)"
        return None

    def wait_claimer(self, fleet, lo, hi, max_wait=5.5):
        """Until a running claimer is due (see claimer_due), preferring a
        moment right after a holder's refresh; bounded."""
        deadline = time.time() + max_wait
        while time.time() < deadline and not self.abort.is_set():
            now = time.time()
            due = self.claimer_due(fleet, lo, hi, now)
            if due:
                fresh = [d.name for d, _ in fleet.holders()
                         if (t := self.tap(fleet, d.name)) and t.just_refreshed(now)]
                if fresh or deadline - now < 2.0:
                    return f"{due}; {', '.join(fresh) or 'no holder'} just refreshed"
            time.sleep(0.005)
        return "untargeted (no daemon without an id)"

    @staticmethod
    def tap(fleet, name):
        """What a daemon's proxy saw of its Redis commands, or None."""
        return fleet.tap(name) if hasattr(fleet, "tap") else None

    def wait_refreshed(self, fleet, max_wait=1.6):
        """Until a holder's lease refresh has just gone through its proxy
        (its key and its fence are written; its next refresh is a second
        away); bounded."""
        deadline = time.time() + max_wait
        while time.time() < deadline and not self.abort.is_set():
            now = time.time()
            fresh = [d.name for d, _ in fleet.holders()
                     if (t := self.tap(fleet, d.name)) and t.just_refreshed(now)]
            if fresh:
                return f"{', '.join(fresh)} just refreshed"
            time.sleep(0.005)
        return "no refresh seen"

    def wait_refresh_due(self, fleet, max_wait=1.6, only=None):
        """Until a holder's (only: that daemon's) next lease refresh is due
        in about 80 ms (a refresh a second after the last burst its proxy
        saw); bounded. A Redis restarted now makes that refresh fail, so the
        holder goes on under its lease until its end, 2.25 s after its last
        refresh."""
        deadline = time.time() + max_wait
        while time.time() < deadline and not self.abort.is_set():
            now = time.time()
            for d, _ in fleet.holders():
                if only is not None and d is not only:
                    continue
                tap = self.tap(fleet, d.name)
                if tap and now - tap.last_any > 0.03 and \
                        0.05 <= tap.burst_start + 1.0 - now <= 0.12:
                    return f"{d.name}'s refresh due in {1000 * (tap.burst_start + 1.0 - now):.0f} ms"
            time.sleep(0.003)
        return "no refresh due seen"

    def release_racers(self, racers):
        for r in racers:
            r.hold_down_until = 0.0
            r.next_start_at = time.time()

    # --- the faults ---
    def run(self, planned, t0):
        fleet = self.fleets[planned.fleet]
        rng = random.Random(planned.params["seed"])
        fn = getattr(self, "f_" + planned.kind.replace("-", "_"))
        fn(fleet, rng, planned.params)

    def _burst(self, fleet, on):
        fleet.set_burst(on)

    def f_kill(self, fleet, rng, p):
        d, w = self.pick_holder(fleet, rng)
        if d is None:
            return
        e = self.timeline.begin(fleet.name, "kill", d.name, f"SIGKILL (worker id {w})")
        old = d.current()
        d.signal(signal.SIGKILL)
        deadline = time.time() + 6.0
        while time.time() < deadline and self.sleep(0.1):
            cur = d.current()
            if cur is not old and cur.ended is None and d.last_stats_at > cur.started:
                break
        self.timeline.end(e)

    def f_stop(self, fleet, rng, p):
        d, w = self.pick_holder(fleet, rng)
        if d is None:
            return
        hold = self.ttl + 4.0
        e = self.timeline.begin(fleet.name, "stop", d.name,
                                f"SIGSTOP for {hold:g}s (worker id {w})")
        d.signal(signal.SIGSTOP)
        try:
            self.sleep(hold)
        finally:
            d.signal(signal.SIGCONT)
        self.timeline.end(e)

    def f_partition(self, fleet, rng, p):
        d, w = self.pick_holder(fleet, rng)
        if d is None:
            return
        proxy = fleet.proxies[d.name]
        c2s, s2c = p["mode"].split("/")
        hold = self.ttl + p.get("extra_s", 3.0)
        e = self.timeline.begin(fleet.name, "partition", d.name,
                                f"{d.name}<->Redis c2s {c2s}, s2c {s2c} for {hold:g}s "
                                f"(worker id {w})")
        try:
            if c2s == "refuse":
                proxy.refuse(True)
            else:
                proxy.set_mode(c2s=c2s, s2c=s2c)
            self._burst(fleet, True)
            self.sleep(hold)
        finally:
            proxy.heal()
            self._burst(fleet, False)
        self.timeline.end(e)

    def f_clock(self, fleet, rng, p):
        """One daemon's wall clock (libfaketime) stepped back, then forward.
        The daemon reads the wall clock at its start and counts on with the
        monotonic clock, so each step is seen live (logs, the clock checks)
        and then by a restart. Forward, the harness also gives the id back
        to the daemon ahead (the others that wait for an id are held down
        while it restarts), lets it issue, then loses the id's fence
        (FLUSHALL) and kills it, so the id goes to a daemon on the right
        clock: without a clock check at the claim and the fresh-claim wait,
        that one reaches the milliseconds the daemon ahead already used."""
        d, w = self.pick_holder(fleet, rng)
        if d is None:
            return
        fence = "with its fence" if getattr(fleet, "keeps_fences", False) else "without a fence"
        e = self.timeline.begin(fleet.name, "clock", d.name,
                                f"wall clock {CLOCK_BACK_S:+d}s (live, then a restart), then "
                                f"{CLOCK_FORWARD_S:+d}s (live, a restart, its id handed on "
                                f"{fence}), then back to 0 (worker id {w})")
        others = [o for o in fleet.daemons if o is not d]
        stepped = [d]
        paused = []
        try:
            d.set_wall_offset(CLOCK_BACK_S)
            self.timeline.note(e, f"offset {CLOCK_BACK_S:+d}s")
            if not self.sleep(2.0):
                return
            d.signal(signal.SIGKILL)
            self.timeline.note(e, f"SIGKILL: restarts with its clock {CLOCK_BACK_S:+d}s")
            if not self.sleep(3.0):
                return
            # Forward: on whichever daemon holds an id now.
            d2, w2 = self.pick_holder(fleet, rng)
            if d2 is not None and d2 is not d:
                stepped.append(d2)
                d = d2
                others = [o for o in fleet.daemons if o is not d]
            d.set_wall_offset(CLOCK_FORWARD_S)
            self.timeline.note(e, f"offset {CLOCK_FORWARD_S:+d}s on {d.name} (worker id {w2})")
            if not self.sleep(2.0):
                return
            self._burst(fleet, True)
            holding = {x.name for x, _ in fleet.holders()}
            for o in others:
                o.hold_down_until = time.time() + 8.0
                if o.alive() and not o.stopped and o.name not in holding:
                    o.signal(signal.SIGSTOP)  # claiming while running: held too
                    paused.append(o)
            before = d.current()
            d.signal(signal.SIGCONT)
            d.signal(signal.SIGTERM)  # a clean stop gives its id back
            self.timeline.note(e, f"SIGTERM: restarts with its clock {CLOCK_FORWARD_S:+d}s "
                               "while the daemons without an id are held down (not restarted, "
                               f"or SIGSTOPped: {', '.join(o.name for o in paused) or 'none'})")
            deadline = time.time() + 7.0
            held = None
            while time.time() < deadline and self.sleep(0.1):
                cur = d.current()
                s = d.last_stats
                if cur is not before and cur.ended is None and \
                        d.last_stats_at > cur.started + 0.2 and \
                        s.get("lease_state") == "held" and int(s.get("ids_issued", 0)) > 0:
                    held = int(s.get("worker_id", 0))
                    break
            for o in others:
                o.hold_down_until = 0.0
            for o in paused:
                o.signal(signal.SIGCONT)
            if held is None:
                self.timeline.note(e, f"{d.name} did not issue ids with its clock "
                                   f"{CLOCK_FORWARD_S:+d}s within 7s")
                self.sleep(2.0)
                return
            self.timeline.note(e, f"{d.name} issues ids as worker id {held}, "
                               f"{CLOCK_FORWARD_S:+d}s ahead")
            if not self.sleep(1.5):
                return
            d.hold_down_until = time.time() + 8.0
            dropped = fleet.drop_fences()
            d.signal(signal.SIGKILL)
            self.timeline.note(e, f"{dropped}; SIGKILL {d.name}: worker id {held} goes on "
                               f"{fence}")
            self.sleep(CLOCK_FORWARD_S + 1.5)
        finally:
            self._burst(fleet, False)
            for o in fleet.daemons:
                o.hold_down_until = 0.0
            for o in paused:
                o.signal(signal.SIGCONT)
            for x in stepped:
                x.set_wall_offset(0)
            self.timeline.note(e, "offset +0s")
            self.sleep(1.0)
            for x in stepped:
                x.signal(signal.SIGCONT)
                x.signal(signal.SIGKILL)
            self.timeline.note(e, f"SIGKILL {', '.join(x.name for x in stepped)}: restart with "
                               "the clock right")
            self.sleep(2.0)
            self.timeline.end(e)

    def _data_loss(self, fleet, kind, act, observe=4.0, synced=False, during_refresh=False):
        """The worst moment the harness can make (see the module doc). With
        daemons that exited for want of an id: they are held back, the data
        goes right after a holder's refresh, and they start (and claim at
        once) as soon as Redis answers again (with synced: and its replica
        acknowledges writes, so their WAITs succeed). Else, with a daemon
        running without an id: the data goes just before its next claim."""
        self._burst(fleet, True)
        e = None
        racers = []
        try:
            racers, how = self.hold_racers(fleet)
            if racers:
                why = f"{how}; " + (self.wait_refresh_due(fleet) if during_refresh
                                    else self.wait_refreshed(fleet))
            else:
                why = self.wait_claimer(fleet, 0.45 if synced else 0.1, 0.7 if synced else 0.35)
            e = self.timeline.begin(fleet.name, kind, "redis", why)
            t = time.time()
            detail = act()
            if detail:
                self.timeline.note(e, detail)
            if synced:
                acked = fleet.wait_replica_acks(1.5)
                self.timeline.note(e, f"replica {'acknowledges writes' if acked else 'not in sync'}"
                                   f" {1000 * (time.time() - t):.0f} ms after")
            self.release_racers(racers)
            if racers:
                self.timeline.note(e, f"{', '.join(r.name for r in racers)} started "
                                   f"{1000 * (time.time() - t):.0f} ms after the data went")
            racers = []
            self.sleep(observe)
        finally:
            self.release_racers(racers)
            self._burst(fleet, False)
            if e is not None:
                self.timeline.end(e)

    def f_flushall(self, fleet, rng, p):
        self._data_loss(fleet, "flushall",
                        lambda: f"FLUSHALL: {fleet.master.command('FLUSHALL')}")

    def f_restart_empty(self, fleet, rng, p):
        def act():
            fleet.master.kill()
            self.sleep(RESTART_DOWN_S)
            fleet.master.start()
            resync = fleet.resync_replica_now()
            return (f"master {fleet.master.port} down {RESTART_DOWN_S:g}s, restarted empty; "
                    f"replica resyncs at once ({resync})")
        self._data_loss(fleet, "restart-empty", act, synced=True, during_refresh=True)

    def f_restart_stale(self, fleet, rng, p):
        """Redis restarted from its own snapshot, taken STALE_SNAPSHOT_S
        before: as after a crash with RDB snapshots, or an AOF not synced on
        every write. The leases in it have expired; its fences are behind the
        marks the holders reserved since."""
        saved = fleet.master.command("SAVE")
        t_saved = time.time()
        self.sleep(STALE_SNAPSHOT_S)

        def act():
            fleet.master.kill()
            self.sleep(RESTART_DOWN_S)
            fleet.master.start(keep_data=True)
            resync = fleet.resync_replica_now()
            return (f"master {fleet.master.port} down {RESTART_DOWN_S:g}s, restarted from its "
                    f"snapshot of {time.time() - t_saved:.1f}s before ({saved}); replica "
                    f"resyncs at once ({resync})")
        self._data_loss(fleet, "restart-stale", act, synced=True, during_refresh=True)

    def f_evict(self, fleet, rng, p):
        def act():
            holders = sorted(fleet.holders(), key=lambda h: -fleet.tap(h[0].name).burst_start)
            if not holders:
                return "no holder"
            d, w = holders[0]
            n = fleet.master.command("DEL", f"{fleet.ns}:id:{w}")
            return f"DEL {fleet.ns}:id:{w} (held by {d.name}): {n}; its fence kept"
        self._data_loss(fleet, "evict", act)

    def f_failover(self, fleet, rng, p):
        e = self.timeline.begin(fleet.name, "failover", "redis",
                                "replication stalled, writes go on, master killed, the stale "
                                "replica promoted")
        self._burst(fleet, True)
        racers = []
        try:
            fleet.repl_proxy.set_mode(c2s="stall", s2c="stall")
            self.timeline.note(e, "replication stalled")
            self.sleep(2.6)  # more than two refresh intervals of writes the replica misses
            racers, how = self.hold_racers(fleet)
            why = self.wait_refreshed(fleet) if racers else \
                self.wait_claimer(fleet, 0.1, 0.3, max_wait=3.0)
            old = fleet.master
            old.kill()
            reply = fleet.promote_replica()
            self.release_racers(racers)
            self.timeline.note(e, f"master {old.port} SIGKILLed, REPLICAOF NO ONE on "
                               f"{fleet.master.port} ({reply}), proxies retargeted; "
                               f"{how + ', started now; ' if racers else ''}{why}")
            racers = []
            self.sleep(3.0)
        finally:
            self.release_racers(racers)
            self._burst(fleet, False)
            try:
                if fleet.master.proc is None:
                    fleet.master.start()
                fleet.start_replica()
                deadline = time.time() + 6.0
                while time.time() < deadline and not fleet.replica_synced():
                    time.sleep(0.1)
                self.timeline.note(e, f"new replica {fleet.replica.port} "
                                   f"{'in sync' if fleet.replica_synced() else 'not in sync yet'}")
            except procs.FleetError as err:
                self.timeline.note(e, f"replica not restarted: {err}")
        self.timeline.end(e)

    # --- etcd ---
    def f_etcd_member_kill(self, fleet, rng, p):
        """The member a holder's lease traffic goes to (by its proxies; else
        one at random) SIGKILLed about 80 ms before that holder's refresh is
        due, down ETCD_MEMBER_DOWN_S, then started again with its data: the
        daemons must fail over to another member within the call timeout."""
        cluster = fleet.cluster
        d, w = self.pick_holder(fleet, rng)
        member = fleet.member_in_use(d.name) if d is not None else None
        if member is not None and member.proc is not None:
            why = f"{d.name}'s (worker id {w}) etcd traffic goes to it; " + \
                self.wait_refresh_due(fleet, only=d)
        else:
            member = rng.choice([m for m in cluster.members if m.proc is not None])
            why = "picked at random"
        lead = cluster.leader()
        e = self.timeline.begin(
            fleet.name, "etcd-member-kill", member.name,
            f"SIGKILL {member.name}{' (the leader)' if member is lead else ''}, down "
            f"{ETCD_MEMBER_DOWN_S:g}s, started again with its data; {why}")
        self._burst(fleet, True)
        try:
            member.kill()
            t = time.time()
            self.sleep(ETCD_MEMBER_DOWN_S)
        finally:
            ok = cluster.start_member(member, 10.0)
            self._burst(fleet, False)
            self.timeline.note(e, f"{member.name} {'serves' if ok else 'does not serve'} "
                               f"{time.time() - t:.1f}s after the kill")
        self.sleep(3.0)
        self.timeline.end(e)

    def _wait_leader(self, cluster, timeout, not_member=None):
        """The leader once there is one (other than not_member), bounded."""
        deadline = time.time() + timeout
        while time.time() < deadline and not self.abort.is_set():
            lead = cluster.leader()
            if lead is not None and lead is not not_member:
                return lead
            time.sleep(0.05)
        return None

    def f_etcd_leader_change(self, fleet, rng, p):
        """The leader changes about 80 ms before a holder's refresh is due:
        moved to another member (etcdctl move-leader), or SIGKILLed (down 2 s,
        then started again with its data)."""
        cluster = fleet.cluster
        lead = self._wait_leader(cluster, 3.0)
        if lead is None:
            raise procs.FleetError("no etcd leader to change")
        others = [m for m in cluster.members if m is not lead and m.proc is not None]
        due = self.wait_refresh_due(fleet)
        if p.get("how") == "move" and others:
            target = rng.choice(others)
            e = self.timeline.begin(fleet.name, "etcd-leader-change",
                                    f"{lead.name}->{target.name}",
                                    f"etcdctl move-leader {lead.name} -> {target.name}; {due}")
            self._burst(fleet, True)
            try:
                t = time.time()
                out = cluster.move_leader(target)
                now = self._wait_leader(cluster, 3.0, not_member=lead)
                self.timeline.note(e, f"{out.splitlines()[-1] if out else 'moved'}; leader "
                                   f"{now.name if now else 'none'} {time.time() - t:.2f}s after")
                self.sleep(3.0)
            finally:
                self._burst(fleet, False)
        else:
            e = self.timeline.begin(fleet.name, "etcd-leader-change", lead.name,
                                    f"SIGKILL the leader {lead.name}, down 2s, started again "
                                    f"with its data; {due}")
            self._burst(fleet, True)
            try:
                t = time.time()
                lead.kill()
                now = self._wait_leader(cluster, 2.0, not_member=lead)
                self.timeline.note(e, f"new leader {now.name if now else 'none'} "
                                   f"{time.time() - t:.2f}s after")
                self.sleep(max(0.0, 2.0 - (time.time() - t)))
            finally:
                ok = cluster.start_member(lead, 10.0)
                self.timeline.note(e, f"{lead.name} {'serves' if ok else 'does not serve'} again")
                self.sleep(1.0)
                self._burst(fleet, False)
        self.sleep(2.0)
        self.timeline.end(e)

    def f_etcd_partition(self, fleet, rng, p):
        """One holder cut off from every etcd member through its proxies, for
        the lease + 3 s; the other daemons reach etcd as before."""
        d, w = self.pick_holder(fleet, rng)
        if d is None:
            return
        c2s, s2c = p["mode"].split("/")
        hold = self.ttl + p.get("extra_s", 3.0)
        e = self.timeline.begin(fleet.name, "etcd-partition", d.name,
                                f"{d.name}<->every etcd member c2s {c2s}, s2c {s2c} for "
                                f"{hold:g}s (worker id {w})")
        try:
            fleet.cut_off(d.name, c2s, s2c)
            self._burst(fleet, True)
            self.sleep(hold)
        finally:
            fleet.heal(d.name)
            self._burst(fleet, False)
        self.timeline.end(e)

    def f_etcd_down(self, fleet, rng, p):
        """Every member SIGKILLed right after a holder's refresh and kept down
        past the lease, then started again with its data. The daemons
        without an id are held back (as for the Redis data-loss faults) and
        started as soon as etcd answers again, so they claim while the old
        holders' keys are still there (a new leader renews every lease)."""
        cluster = fleet.cluster
        down = self.ttl + ETCD_DOWN_EXTRA_S
        self._burst(fleet, True)
        e = None
        racers = []
        try:
            racers, how = self.hold_racers(fleet)
            why = self.wait_refreshed(fleet)
            e = self.timeline.begin(fleet.name, "etcd-down", "etcd",
                                    f"every member SIGKILLed, down {down:g}s, started again "
                                    f"with its data; {how + '; ' if how else ''}{why}")
            for m in cluster.members:
                m.kill()
            self.sleep(down)
            for m in cluster.members:
                if m.proc is None:
                    m.spawn()
            t = time.time()
            ok = cluster.wait_healthy(10.0)
            self.release_racers(racers)
            started = f"; {', '.join(r.name for r in racers)} started" if racers else ""
            self.timeline.note(e, f"etcd {'answers' if ok else 'does not answer'} "
                               f"{1000 * (time.time() - t):.0f} ms after the restart{started}")
            racers = []
            self.sleep(4.0)
        finally:
            self.release_racers(racers)
            for m in cluster.members:
                if m.proc is None:
                    cluster.start_member(m, 10.0)
            self._burst(fleet, False)
            if e is not None:
                self.timeline.end(e)

    def f_cluster_node_kill(self, fleet, rng, p):
        node = rng.choice(fleet.cluster.nodes)
        e = self.timeline.begin(fleet.name, "cluster-node-kill", f"node {node.port}",
                                "SIGKILL, down 3s (past the node timeout), restarted with its "
                                "nodes.conf and no data")
        self._burst(fleet, True)
        try:
            node.kill()
            self.sleep(3.0)
        finally:
            node.start()
            ok = fleet.cluster.wait_ok(10.0)
            self._burst(fleet, False)
            self.timeline.note(e, "cluster_state ok" if ok else "cluster_state not ok after 10s")
        self.timeline.end(e)


class Scheduler:
    """Runs one fleet's planned faults in order, each at its time (or at once
    when late); none starts past `last_start`."""

    def __init__(self, nemesis, planned, t0, last_end, abort):
        self.nemesis = nemesis
        self.planned = planned
        self.t0 = t0
        self.last_end = last_end
        self.abort = abort
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True, name="scheduler")

    def start(self):
        self.thread.start()

    def _run(self):
        for p in self.planned:
            if self.abort.is_set():
                self.nemesis.skipped.append((p, "campaign cut short"))
                continue
            wait = self.t0 + p.at - time.time()
            if wait > 0 and self.abort.wait(wait):
                self.nemesis.skipped.append((p, "campaign cut short"))
                continue
            if time.time() + slot_seconds(p.kind, self.nemesis.ttl) * 0.7 > self.last_end:
                self.nemesis.skipped.append((p, "out of budget"))
                continue
            try:
                self.nemesis.run(p, self.t0)
            except Exception as e:  # a fault that could not be done is reported
                self.errors.append(f"{p.kind} on {p.fleet}: {type(e).__name__}: {e}")
                print(f"fleet: fault {p.kind} failed: {type(e).__name__}: {e}", flush=True)

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()
