#!/usr/bin/env python3
"""pymemcache (text protocol): get, get_many, gets. Usage: pymemcache_client.py HOST PORT."""
import sys

from pymemcache.client.base import Client

host, port = sys.argv[1], int(sys.argv[2])
client = Client((host, port), connect_timeout=2, timeout=5)
last = -1
count = 0


def check(what, raw):
    global last, count
    if raw is None:
        sys.exit(f"{what}: no id")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if not text.isdigit():
        sys.exit(f"{what}: not a decimal id: {text!r}")
    v = int(text)
    if v >= 1 << 63:
        sys.exit(f"{what}: {v} has bit 63 set")
    if v <= last:
        sys.exit(f"{what}: {v} does not increase (after {last})")
    last = v
    count += 1


check("get", client.get("a"))
many = client.get_many(["k1", "k2", "k3"])
if len(many) != 3:
    sys.exit(f"get_many: want 3 keys, got {many!r}")
for v in sorted(many.values(), key=int):
    check("get_many", v)
value, cas = client.gets("c")
check("gets", value)
if cas is None or cas.decode() != value.decode():
    sys.exit(f"gets: cas {cas!r} is not the id {value!r}")
print(f"python pymemcache: {count} ids ok")
