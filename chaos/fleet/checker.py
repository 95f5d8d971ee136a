"""The checker: one pass over everything the clients received, the daemons'
own lease timelines and the fault timeline.

Checks (each one line of the summary):
  no duplicate id        no id reached two requests, across both fleets
  no shared millisecond  no two processes (daemon incarnations) issued ids with
                         the same worker id in the same millisecond (the first
                         id of a millisecond has sequence 0 on every issuer, so
                         this is a duplicate whether or not both were seen)
  ids rise per connection
  worker id held         every id's worker id (bits 12..21) was held by the
                         process that gave it when it gave it, by that
                         process's own log, in its own clock (see held_intervals)
  worker id in range     every id's worker id is in its fleet's range
  replies well formed
  daemons exit when told
                         no daemon process that held a worker id ended but by
                         the harness's SIGKILL or after its SIGTERM (no exit
                         over a lost lease, no crash)
  etcd fences cover the ids
                         (etcd fleet) each {prefix}hwm/N read every 0.5 s and
                         once after every daemon died is at or above every id
                         of worker id N received before that read, and is on
                         no etcd lease
Availability (answered share per daemon and per fault, longest gap) is
reported, not gated.
"""

import bisect
import signal
import statistics
import time
from datetime import datetime, timezone

from procs import ID_EPOCH_MS

# A log line is written just before the lease it reports takes effect (a
# claim) or stops (a loss), on the same clock the generator stamps ids with,
# to the millisecond; this covers the truncation and the wall clock drifting
# from the monotonic one the generator counts with.
SLACK_MS = 50
# An incarnation whose ids sit this far from the expected clock offset gets
# its offset from its ids instead (a daemon that re-reads the wall clock).
OFFSET_TRUST_MS = 500
DETAIL_LIMIT = 20


def decode(i):
    ts = (i >> 22) + ID_EPOCH_MS
    return {"id": i, "time": iso_ms(ts), "timestamp_ms": ts,
            "worker_id": (i >> 12) & 0x3FF, "sequence": i & 0xFFF}


def iso_ms(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_real(t):
    return iso_ms(int(t * 1000)) if t else "-"


def offset_at(daemon, t_real):
    """The libfaketime offset (s) in effect at real time t (0 for daemons
    that run on the real clock)."""
    off = 0
    for at, o in daemon.offset_history:
        if at <= t_real:
            off = o
        else:
            break
    return off


def held_intervals(daemon, inc, id_offset_ms):
    """[(worker, start_ms, end_ms)] of one incarnation in its id clock.

    The daemon logs in its wall clock (libfaketime's, for the clock
    daemon); it stamps ids with the wall clock read at its start plus the
    monotonic time since (so a wall-clock step after start does not move
    its ids). A log time is turned into the id clock by taking away the wall
    offset in effect when the line was written (the harness stamps each line
    as it reads it) and adding the incarnation's id-clock offset."""
    out = []
    cur = None

    def frame(stamp, own_ms):
        return own_ms - 1000 * offset_at(daemon, stamp) + id_offset_ms

    for stamp, own_ms, kind, worker, _ in inc.events:
        t = frame(stamp, own_ms)
        if kind == "claim":
            if cur:
                out.append((cur[0], cur[1], t))
            cur = (worker, t)
        elif kind in ("lost", "stop"):
            if cur:
                out.append((cur[0], cur[1], t))
            cur = None
    if cur:
        end = inc.ended if inc.ended else time.time()
        out.append((cur[0], cur[1], int(end * 1000) + id_offset_ms))
    return out


class Check:
    def __init__(self, name, ok, figure, details=None):
        self.name = name
        self.ok = ok
        self.figure = figure
        self.details = details or []

    def as_dict(self):
        return {"name": self.name, "ok": self.ok, "figure": self.figure, "details": self.details}


class Analysis:
    def __init__(self, recorder, daemons, fleets, timeline, t_start, t_end):
        self.rec = recorder
        self.daemons = {d.name: d for d in daemons}
        self.fleets = fleets
        self.timeline = timeline
        self.t_start = t_start
        self.t_end = t_end
        self.checks = []
        self.figures = {}
        self.id_offsets = {}

    # --- helpers ---
    def sighting(self, idx, the_id):
        key, t_send, t_recv, ids, _ = self.rec.requests[idx]
        c = self.rec.conns[key]
        return {"daemon": c.daemon, "incarnation": c.incarnation, "protocol": c.protocol,
                "connection": c.number, "sent": iso_real(t_send), "received": iso_real(t_recv),
                "received_unix": round(t_recv, 3), "batch": len(ids),
                "faults_active": [f"{e['fleet']}/{e['kind']} on {e['target']}"
                                  for e in self.timeline.active_at(t_recv)],
                **decode(the_id)}

    def answered(self):
        for idx, (key, t_send, t_recv, ids, _) in enumerate(self.rec.requests):
            if ids:
                yield idx, self.rec.conns[key], t_send, t_recv, ids

    # --- checks ---
    def run(self):
        self.check_duplicates()
        self.check_shared_ms()
        self.check_order()
        self.check_held()
        self.check_range()
        self.check_malformed()
        self.check_exits()
        self.availability()
        return self.checks

    def check_duplicates(self):
        dups = self.rec.duplicates
        details = []
        for the_id, a, b in dups[:DETAIL_LIMIT]:
            details.append({"id": the_id, "first": self.sighting(a, the_id),
                            "second": self.sighting(b, the_id)})
        times = sorted(self.rec.requests[b][2] for _, _, b in dups)
        fig = f"{len(dups)} duplicate ids"
        if dups:
            fig += f", first at {iso_real(times[0])}, last at {iso_real(times[-1])}"
        by_fault = {}
        for _, _, b in dups:
            t = self.rec.requests[b][2]
            fleet = self.daemons[self.rec.conns[self.rec.requests[b][0]].daemon].fleet
            active = [f"{e['fleet']}/{e['kind']}@+{e['start'] - self.t_start:.1f}s"
                      for e in self.timeline.active_at(t, slack=1.0) if e["fleet"] == fleet]
            k = ", ".join(active) or "no fault active"
            by_fault.setdefault(k, [0, t, t])
            by_fault[k][0] += 1
            by_fault[k][1] = min(by_fault[k][1], t)
            by_fault[k][2] = max(by_fault[k][2], t)
        self.figures["duplicates_by_fault"] = {
            k: {"count": n, "first": iso_real(a), "last": iso_real(b)}
            for k, (n, a, b) in sorted(by_fault.items(), key=lambda kv: kv[1][1])}
        if len(by_fault) > 0:
            fig += "; during " + "; ".join(f"{k}: {n}" for k, (n, _, _) in
                                            sorted(by_fault.items(), key=lambda kv: kv[1][1]))
        self.figures["duplicates"] = len(dups)
        self.checks.append(Check("no duplicate id", not dups, fig, details))

    def check_shared_ms(self):
        owner = {}
        clashes = {}
        for idx, c, _, _, ids in self.answered():
            who = (c.daemon, c.incarnation)
            for k in {i >> 12 for i in ids}:
                prev = owner.setdefault(k, (who, idx))
                if prev[0] != who:
                    pair = (k, tuple(sorted((prev[0], who), key=str)))
                    if pair not in clashes:
                        clashes[pair] = (prev[1], idx)
        details = []
        for (k, _), (a, b) in list(clashes.items())[:DETAIL_LIMIT]:
            ia = next(i for i in self.rec.requests[a][3] if i >> 12 == k)
            ib = next(i for i in self.rec.requests[b][3] if i >> 12 == k)
            details.append({"worker_id": k & 0x3FF, "millisecond": iso_ms((k >> 10) + ID_EPOCH_MS),
                            "first": self.sighting(a, ia), "second": self.sighting(b, ib)})
        self.figures["shared_ms"] = len(clashes)
        self.figures["distinct_ms"] = len(owner)
        self.checks.append(Check("no shared millisecond", not clashes,
                                 f"{len(clashes)} (worker id, ms) issued by two processes, of "
                                 f"{len(owner)}", details))

    def check_order(self):
        v = self.rec.order_violations
        details = [{"connection": str(k), "previous": decode(p), "then": decode(i),
                    "daemon": self.rec.conns[k].daemon, "protocol": self.rec.conns[k].protocol}
                   for k, p, i, _ in v[:DETAIL_LIMIT]]
        self.checks.append(Check("ids rise per connection", not v,
                                 f"{len(v)} ids not above their connection's previous", details))

    def incarnation_offsets(self):
        """id-clock offset (ms) per (daemon, incarnation): libfaketime's
        offset at its start, unless its ids say otherwise."""
        samples = {}
        for idx, c, t_send, t_recv, ids in self.answered():
            ts = (ids[0] >> 22) + ID_EPOCH_MS
            samples.setdefault((c.daemon, c.incarnation), []).append(
                ts - (t_send + t_recv) * 500)
        out = {}
        notes = []
        for d in self.daemons.values():
            for inc in d.incarnations:
                expected = 1000 * inc.wall_offset_s
                got = samples.get((d.name, inc.number))
                off = expected
                if got and len(got) >= 5:
                    med = statistics.median(got)
                    if abs(med - expected) > OFFSET_TRUST_MS:
                        off = int(round(med))
                        notes.append(f"{d.name}#{inc.number}: ids {med:+.0f} ms off the real "
                                     f"clock, its wall offset at start was {expected:+d} ms")
                out[(d.name, inc.number)] = off
        self.id_offsets = out
        return notes

    def check_held(self):
        notes = self.incarnation_offsets()
        intervals = {}
        for d in self.daemons.values():
            for inc in d.incarnations:
                by_worker = {}
                for w, a, b in held_intervals(d, inc, self.id_offsets[(d.name, inc.number)]):
                    by_worker.setdefault(w, []).append((a, b))
                for w in by_worker:
                    by_worker[w].sort()
                intervals[(d.name, inc.number)] = by_worker
        bad = []
        count = 0
        for idx, c, _, _, ids in self.answered():
            table = intervals.get((c.daemon, c.incarnation), {})
            run_start = 0
            for j in range(1, len(ids) + 1):
                if j < len(ids) and (ids[j] >> 12) & 0x3FF == (ids[run_start] >> 12) & 0x3FF:
                    continue
                w = (ids[run_start] >> 12) & 0x3FF
                lo = (ids[run_start] >> 22) + ID_EPOCH_MS
                hi = (ids[j - 1] >> 22) + ID_EPOCH_MS
                spans = table.get(w, [])
                k = bisect.bisect_right(spans, (lo + SLACK_MS, float("inf"))) - 1
                ok = k >= 0 and spans[k][0] - SLACK_MS <= lo and hi <= spans[k][1] + SLACK_MS
                count += 1
                if not ok:
                    bad.append((idx, ids[run_start], ids[j - 1], spans))
                run_start = j
        details = []
        for idx, first, last, spans in bad[:DETAIL_LIMIT]:
            s = self.sighting(idx, first)
            s["last_of_run"] = decode(last)
            s["held_spans_of_that_worker"] = [f"{iso_ms(a)}..{iso_ms(b)}" for a, b in spans[:8]]
            details.append(s)
        if notes:
            details.append({"clock_notes": notes})
        self.figures["held_violations"] = len(bad)
        self.checks.append(Check("worker id held", not bad,
                                 f"{len(bad)} of {count} id runs outside a lease their process "
                                 f"held (slack {SLACK_MS} ms)", details))

    def check_range(self):
        ranges = {f.name: f.id_range for f in self.fleets}
        bad = []
        for idx, c, _, _, ids in self.answered():
            lo, hi = ranges[self.daemons[c.daemon].fleet]
            for i in ids:
                w = (i >> 12) & 0x3FF
                if not lo <= w <= hi:
                    bad.append(self.sighting(idx, i))
                    break
        self.checks.append(Check("worker id in range", not bad,
                                 f"{len(bad)} requests with an id outside the fleet's range",
                                 bad[:DETAIL_LIMIT]))

    def check_exits(self):
        """Every process that claimed a worker id ended by the harness's
        SIGKILL, or after its SIGTERM: a daemon never exits over a lost
        lease (it keeps claiming), and never crashes."""
        claimed = 0
        bad = []
        for d in self.daemons.values():
            for inc in d.incarnations:
                if not any(k == "claim" for _, _, k, _, _ in inc.events):
                    continue
                claimed += 1
                st = inc.exit_status
                if st is None or st == -signal.SIGKILL or inc.terminated is not None:
                    continue
                bad.append({"daemon": d.name, "incarnation": inc.number, "pid": inc.pid,
                            "fleet": d.fleet, "exit_status": st,
                            "started": iso_real(inc.started), "ended": iso_real(inc.ended),
                            "last_events": [f"{iso_real(t)} {k} {m[:200]}"
                                            for t, _, k, _, m in inc.events[-6:]]})
        self.checks.append(Check("daemons exit when told", not bad,
                                 f"{len(bad)} of {claimed} processes that held a worker id "
                                 "exited by themselves", bad[:DETAIL_LIMIT]))

    def check_etcd_fences(self, fleet, final):
        """Each fence read (every 0.5 s, and `final` once every daemon had
        died) against the ids of its worker id received before the read was
        sent: none may be above it (a holder raises the fence before it
        issues below it, and drops it on release to its last id, never
        below). A fence must be on no etcd lease (it outlives its holder)."""
        names = {d.name for d in fleet.daemons}
        by_worker = {}  # worker -> [(t_recv, ts, request index, id)]
        for idx, c, _, t_recv, ids in self.answered():
            if c.daemon not in names:
                continue
            top = {}
            for i in ids:
                w = (i >> 12) & 0x3FF
                if i >> 22 > top.get(w, (-1, 0))[0]:
                    top[w] = (i >> 22, i)
            for w, (ts, i) in top.items():
                by_worker.setdefault(w, []).append((t_recv, ts, idx, i))
        bad, figs = [], []
        reads = 0
        lo, hi = fleet.id_range
        for w in range(lo, hi + 1):
            seen = sorted(by_worker.get(w, []))
            polls = sorted(fleet.fences.get(w, []))
            if final and w in final:
                polls.append((float("inf"), final[w][0], final[w][1]))
            elif final is not None and seen:
                bad.append({"worker_id": w, "what": "no fence at the end, after "
                            f"{len(seen)} answers with ids of this worker id"})
            reads += len(polls)
            k = 0
            best = None  # (ts, idx, id) the highest received so far
            worst = None
            for t_sent, fence, lease in polls:
                while k < len(seen) and seen[k][0] < t_sent:
                    if best is None or seen[k][1] > best[0]:
                        best = seen[k][1:]
                    k += 1
                if lease:
                    bad.append({"worker_id": w, "fence": fence, "read": iso_real(t_sent),
                                "what": f"the fence is on etcd lease {lease}"})
                if best is not None and best[0] > fence:
                    if worst is None or best[0] - fence > worst[0]:
                        worst = (best[0] - fence, t_sent, fence, best)
            if worst is not None:
                above, t_sent, fence, (ts, idx, i) = worst
                s = self.sighting(idx, i)
                bad.append({"worker_id": w, "fence": fence, "fence_time": iso_ms(
                    fence + ID_EPOCH_MS), "read": "final" if t_sent == float("inf") else
                    iso_real(t_sent), "id_above_it_by_ms": above, "id": s})
            top = max((x[1] for x in seen), default=None)
            end = final.get(w) if final else None
            figs.append(f"{w}: " + (f"final fence {iso_ms(end[0] + ID_EPOCH_MS)}, "
                                    f"{end[0] - top:+d} ms from its highest id"
                                    if end and top is not None else
                                    f"final fence {end[0] if end else 'not read'}"))
        fig = f"{len(bad)} violations; {reads} reads; " + "; ".join(figs)
        if final is None:
            fig += " (the final read failed: etcd did not answer)"
        self.checks.append(Check("etcd fences cover the ids", not bad and final is not None,
                                 fig, bad[:DETAIL_LIMIT]))

    def check_malformed(self):
        m = self.rec.malformed
        self.checks.append(Check("replies well formed", not m, f"{len(m)} malformed replies",
                                 [{"connection": str(k), "at": iso_real(t), "what": w}
                                  for k, t, w in m[:DETAIL_LIMIT]]))

    def lease_states(self, history):
        """From the polled /stats: how often each lease_state was seen per
        daemon (paused is the fixed daemon's clock-skew stop), and the
        clock figures it reported last."""
        out = {}
        for name, rows in history.items():
            counts = {}
            for _, _, state, _, _ in rows:
                counts[state] = counts.get(state, 0) + 1
            last = rows[-1][4] if rows else {}
            out[name] = {"polls": len(rows), "lease_state_seen": counts, "last": last}
        self.figures["lease_states"] = out

    def availability(self):
        per = {}
        protos = {}
        for key, t_send, t_recv, ids, _ in self.rec.requests:
            c = self.rec.conns[key]
            pr = protos.setdefault(c.protocol, {"requests": 0, "answered": 0, "ids": 0,
                                                "connections": set()})
            pr["requests"] += 1
            pr["connections"].add(key)
            if ids:
                pr["answered"] += 1
                pr["ids"] += len(ids)
            d = c.daemon
            a = per.setdefault(d, {"requests": 0, "answered": 0, "ids": 0, "times": []})
            a["requests"] += 1
            if ids:
                a["answered"] += 1
                a["ids"] += len(ids)
                a["times"].append(t_recv)
        daemons = {}
        for name in sorted(self.daemons):
            a = per.get(name, {"requests": 0, "answered": 0, "ids": 0, "times": []})
            times = sorted(a["times"])
            edges = [self.t_start] + times + [self.t_end]
            gap = max((b - x for x, b in zip(edges, edges[1:])), default=0.0)
            d = self.daemons[name]
            daemons[name] = {
                "fleet": d.fleet, "requests": a["requests"], "answered": a["answered"],
                "share": round(a["answered"] / a["requests"], 4) if a["requests"] else 0.0,
                "ids": a["ids"], "longest_gap_s": round(gap, 2),
                "incarnations": len(d.incarnations),
                "exits": sum(1 for i in d.incarnations if i.exit_status not in (None,)),
            }
        faults = []
        fleet_of = {n: d.fleet for n, d in self.daemons.items()}
        for e in self.timeline.entries:
            end = e["end"] or self.t_end
            n = ok = 0
            for key, t_send, t_recv, ids, _ in self.rec.requests:
                if e["start"] <= t_send <= end and fleet_of[self.rec.conns[key].daemon] == e["fleet"]:
                    n += 1
                    ok += 1 if ids else 0
            faults.append({"fleet": e["fleet"], "kind": e["kind"], "target": e["target"],
                           "start": round(e["start"] - self.t_start, 2),
                           "end": round(end - self.t_start, 2),
                           "requests": n, "answered_share": round(ok / n, 4) if n else None,
                           "detail": e["detail"],
                           "notes": [f"+{t - self.t_start:.2f}s {x}" for t, x in e["notes"]]})
        self.figures["availability"] = daemons
        self.figures["protocols"] = {k: {"requests": v["requests"], "answered": v["answered"],
                                         "ids": v["ids"], "connections": len(v["connections"])}
                                     for k, v in sorted(protos.items())}
        self.figures["faults"] = faults
        self.figures["requests"] = len(self.rec.requests)
        self.figures["ids"] = len(self.rec.seen)
