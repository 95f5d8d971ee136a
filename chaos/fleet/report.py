"""The campaign's report: report.md and report.json in the report directory,
with the daemons' and Redis servers' logs copied beside them (logs/)."""

import json
import os
import shutil

from checker import iso_real


def write(report_dir, result, analysis, timeline, daemons, fleets, workdir):
    os.makedirs(report_dir, exist_ok=True)
    logs = os.path.join(report_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    for name in os.listdir(workdir):
        src = os.path.join(workdir, name)
        if name.endswith(".log") or name == "grpc-client.log":
            shutil.copy(src, os.path.join(logs, name))
        elif name.startswith("redis-") and os.path.isdir(src):
            if os.path.exists(os.path.join(src, "redis.log")):
                shutil.copy(os.path.join(src, "redis.log"), os.path.join(logs, f"{name}.log"))
    t0 = analysis.t_start
    result["timeline"] = [
        {"fleet": e["fleet"], "kind": e["kind"], "target": e["target"],
         "start": iso_real(e["start"]), "end": iso_real(e["end"]),
         "start_s": round(e["start"] - t0, 2), "end_s": round((e["end"] or 0) - t0, 2),
         "detail": e["detail"], "notes": [f"+{t - t0:.2f}s {x}" for t, x in e["notes"]]}
        for e in timeline.entries]
    result["daemons"] = {
        d.name: {"fleet": d.fleet, "args": " ".join(os.path.basename(a) if a == d.binary else a
                                                   for a in d.args),
                 "incarnations": [{"n": i.number, "pid": i.pid, "started": iso_real(i.started),
                                   "ended": iso_real(i.ended), "exit": i.exit_status,
                                   "wall_offset_s": i.wall_offset_s,
                                   "lease_events": [[iso_real(s), k, w, m[:160]]
                                                    for s, _, k, w, m in i.events
                                                    if k in ("claim", "lost", "stop")]}
                                  for i in d.incarnations]}
        for d in daemons}
    jpath = os.path.join(report_dir, "report.json")
    with open(jpath, "w") as f:
        json.dump(result, f, indent=1, default=str)
    mpath = os.path.join(report_dir, "report.md")
    with open(mpath, "w") as f:
        f.write(markdown(result, analysis))
    return jpath, mpath


def markdown(result, analysis):
    out = [f"# Fleet campaign: {result['label']}", "",
           f"- seed {result['seed']}, binary `{os.path.basename(result['binary'])}`, "
           f"flags {result['flags']}, injection {result['inject'] or 'none'}",
           f"- setup {result.get('setup_s')} s, total {result.get('total_s')} s, "
           f"{analysis.figures.get('requests', 0)} requests, "
           f"{analysis.figures.get('ids', 0)} distinct ids",
           f"- stopped early: {result.get('stopped_early') or 'no'}", "",
           "## Checks", "", "| check | result | figure |", "|---|---|---|"]
    for c in result["checks"]:
        out.append(f"| {c['name']} | {'pass' if c['ok'] else '**FAIL**'} | {c['figure']} |")
    for c in result["checks"]:
        if not c["ok"] and c["details"]:
            out += ["", f"### {c['name']}: details", "", "```",
                    json.dumps(c["details"][:10], indent=1, default=str), "```"]
    out += ["", "## Fault timeline", "", "| start s | end s | fleet | fault | target | "
            "answered share | detail |", "|---|---|---|---|---|---|---|"]
    for f in analysis.figures.get("faults", []):
        share = "-" if f["answered_share"] is None else f"{100 * f['answered_share']:.1f}%"
        notes = "; ".join(f["notes"])
        out.append(f"| {f['start']} | {f['end']} | {f['fleet']} | {f['kind']} | {f['target']} | "
                   f"{share} | {f['detail']}{'; ' + notes if notes else ''} |")
    out += ["", "## Availability per daemon", "",
            "| daemon | fleet | requests | answered | share | ids | longest gap s | processes |",
            "|---|---|---|---|---|---|---|---|"]
    for name, a in analysis.figures.get("availability", {}).items():
        out.append(f"| {name} | {a['fleet']} | {a['requests']} | {a['answered']} | "
                   f"{100 * a['share']:.1f}% | {a['ids']} | {a['longest_gap_s']} | "
                   f"{a['incarnations']} |")
    out += ["", "## Lease states polled (/stats every 0.5 s)", "",
            "| daemon | polls | lease_state seen | last clock figures |", "|---|---|---|---|"]
    for name, st in sorted(analysis.figures.get("lease_states", {}).items()):
        seen = ", ".join(f"{k} {v}" for k, v in sorted(st["lease_state_seen"].items(),
                                                       key=lambda kv: str(kv[0])))
        out.append(f"| {name} | {st['polls']} | {seen} | {st['last']} |")
    if analysis.figures.get("duplicates_by_fault"):
        out += ["", "## Duplicates by the faults active then (1 s slack)", ""]
        for k, v in analysis.figures["duplicates_by_fault"].items():
            out.append(f"- {k}: {v['count']} ({v['first']} .. {v['last']})")
    out += ["", "## Protocols", "", "| protocol | requests | answered | ids | connections |",
            "|---|---|---|---|---|"]
    for k, v in analysis.figures.get("protocols", {}).items():
        out.append(f"| {k} | {v['requests']} | {v['answered']} | {v['ids']} | "
                   f"{v['connections']} |")
    if result.get("skipped"):
        out += ["", "## Skipped", ""] + [f"- {s}" for s in result["skipped"]]
    out.append("")
    return "\n".join(out)


def print_summary(result, analysis, paths):
    print("fleet: check                      result  figure")
    for c in result["checks"]:
        print(f"fleet: {c['name']:26} {'pass' if c['ok'] else 'FAIL':6}  {c['figure']}")
    for c in result["checks"]:
        if c["ok"] or not c["details"]:
            continue
        print(f"fleet: !!! {c['name']}:")
        for d in c["details"][:3]:
            print("fleet: !!!   " + json.dumps(d, default=str)[:1500])
    print("fleet: faults (start..end s after setup, answered share of the fleet's requests):")
    for f in analysis.figures.get("faults", []):
        share = "-" if f["answered_share"] is None else f"{100 * f['answered_share']:.0f}%"
        print(f"fleet:   {f['start']:6.1f}..{f['end']:6.1f} {f['fleet']:7} {f['kind']:17} "
              f"{f['target']:12} {share:>5}  {f['detail'][:90]}")
    print("fleet: daemon  requests  answered  ids       longest gap  processes")
    for name, a in analysis.figures.get("availability", {}).items():
        print(f"fleet:   {name:5} {a['requests']:8}  {100 * a['share']:6.1f}%  {a['ids']:8}  "
              f"{a['longest_gap_s']:8.1f}s  {a['incarnations']:5}")
    per_fleet = {}
    for a in analysis.figures.get("availability", {}).values():
        per_fleet[a["fleet"]] = per_fleet.get(a["fleet"], 0) + a["ids"]
    print("fleet: ids per fleet: " + ", ".join(f"{k} {v}" for k, v in per_fleet.items()))
    kinds = {}
    for f in analysis.figures.get("faults", []):
        kinds[f"{f['fleet']}/{f['kind']}"] = kinds.get(f"{f['fleet']}/{f['kind']}", 0) + 1
    print("fleet: faults per kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    print("fleet: protocol  " + "  ".join(
        f"{k} {v['answered']}/{v['requests']} ({v['ids']} ids, {v['connections']} conns)"
        for k, v in analysis.figures.get("protocols", {}).items()))
    print(f"fleet: report: {paths[1]} and {paths[0]}", flush=True)
