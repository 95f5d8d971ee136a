#!/usr/bin/env python3
"""Python grpcio with the stubs the build generates (PYTHONPATH = the build's
generated/python): go-katsubushi's Generator and Stats services, and server
reflection asked the way grpcurl asks it.

Usage: grpc_client.py HOST:PORT DAEMON_PID WORKER_ID

Run it while no other client talks to the daemon: it checks that cmd_get
grows by exactly the ids it fetched.
"""
import sys
import time

import grpc
from google.protobuf import descriptor_pb2

import grpc_reflection_pb2 as reflection_pb2
import grpc_reflection_pb2_grpc as reflection_grpc
import katsubushi_pb2 as pb
import katsubushi_pb2_grpc as pb_grpc

TIMEOUT_S = 5
MAX_FETCH_MULTI = 1000
# id layout: 41 bits ms | 10 bits worker id | 12 bits sequence
WORKER_SHIFT, WORKER_MASK = 12, 0x3FF
FD = descriptor_pb2.FieldDescriptorProto
# go-katsubushi's proto/main.proto: StatsResponse's fields, numbers and types.
STATS_FIELDS = {
    "pid": (1, FD.TYPE_INT32), "uptime": (2, FD.TYPE_INT64), "time": (3, FD.TYPE_INT64),
    "version": (4, FD.TYPE_STRING), "curr_connections": (5, FD.TYPE_INT64),
    "total_connections": (6, FD.TYPE_INT64), "cmd_get": (7, FD.TYPE_INT64),
    "get_hits": (8, FD.TYPE_INT64), "get_misses": (9, FD.TYPE_INT64),
}
# Each wire type as proto3 encodes the field types above (0 varint, 2 bytes).
WIRE_TYPE = {FD.TYPE_INT32: 0, FD.TYPE_INT64: 0, FD.TYPE_STRING: 2}
SERVICES = {"katsubushi.Generator", "katsubushi.Stats", "grpc.reflection.v1alpha.ServerReflection"}


def fail(msg):
    sys.exit(f"grpc: {msg}")


target, daemon_pid, worker_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
channel = grpc.insecure_channel(target)
try:
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
except grpc.FutureTimeoutError:
    fail(f"no gRPC connection to {target} within {TIMEOUT_S}s")
generator = pb_grpc.GeneratorStub(channel)
stats = pb_grpc.StatsStub(channel)
last = -1
fetched = 0


def check_ids(what, ids, want):
    """`ids` are `want` valid ids of our worker, each above every id before."""
    global last, fetched
    if len(ids) != want:
        fail(f"{what}: {len(ids)} ids, want {want}")
    for v in ids:
        if not 0 < v < 1 << 63:
            fail(f"{what}: {v} is not an id (0 or bit 63 set)")
        if (v >> WORKER_SHIFT) & WORKER_MASK != worker_id:
            fail(f"{what}: {v} has worker id {(v >> WORKER_SHIFT) & WORKER_MASK}, want {worker_id}")
        if v <= last:
            fail(f"{what}: {v} does not increase (after {last})")
        last = v
    fetched += len(ids)


def varint(buf, pos):
    value = shift = 0
    while True:
        if pos >= len(buf):
            fail("Stats.Get: truncated varint in the response")
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def wire_fields(buf):
    """{field number: wire type} of a serialized message, read off the wire:
    what go-katsubushi's stubs would decode, whatever our stubs say."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = varint(buf, pos)
        elif wire == 2:
            size, pos = varint(buf, pos)
            pos += size
        else:
            fail(f"Stats.Get: field {number} has wire type {wire}")
        fields[number] = wire
    if pos != len(buf):
        fail("Stats.Get: the response ends inside a field")
    return fields


# Raw bytes, so the fields on the wire are checked, not only what parsing kept.
get_stats_raw = channel.unary_unary("/katsubushi.Stats/Get",
                                    request_serializer=pb.StatsRequest.SerializeToString)


def get_stats():
    raw = get_stats_raw(pb.StatsRequest(), timeout=TIMEOUT_S)
    expected = {n: WIRE_TYPE[t] for n, t in STATS_FIELDS.values()}
    for number, wire in wire_fields(raw).items():
        if expected.get(number) != wire:
            fail(f"Stats.Get: field {number} with wire type {wire} is not go-katsubushi's")
    s = pb.StatsResponse.FromString(raw)
    now = time.time()
    if s.pid != daemon_pid:
        fail(f"Stats.Get: pid {s.pid}, the daemon is {daemon_pid}")
    if not s.version:
        fail("Stats.Get: empty version")
    if abs(s.time - now) > 5:
        fail(f"Stats.Get: time {s.time}, now is {now:.0f}")
    if not 0 <= s.uptime <= now - process_start(daemon_pid) + 2:
        fail(f"Stats.Get: uptime {s.uptime} is not the daemon's")
    if s.curr_connections < 1:
        fail(f"Stats.Get: curr_connections {s.curr_connections} with this client connected")
    if s.total_connections < s.curr_connections:
        fail(f"Stats.Get: total_connections {s.total_connections} < "
             f"curr_connections {s.curr_connections}")
    # Every id asked for is a hit or a miss (no request is in flight meanwhile).
    if s.get_misses < 0 or s.cmd_get != s.get_hits + s.get_misses:
        fail(f"Stats.Get: cmd_get {s.cmd_get} is not get_hits {s.get_hits} + "
             f"get_misses {s.get_misses}")
    return s


def process_start(pid):
    """The process's start time, seconds since the epoch, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    return boot + ticks / 100  # USER_HZ, 100 on Linux


before = get_stats()

r = generator.Fetch(pb.FetchRequest(), timeout=TIMEOUT_S)
check_ids("Fetch", [r.id], 1)
r = generator.Fetch(pb.FetchRequest(), timeout=TIMEOUT_S)
check_ids("Fetch (again)", [r.id], 1)
for n, want in ((0, 1), (1, 1), (10, 10), (MAX_FETCH_MULTI, MAX_FETCH_MULTI)):
    r = generator.FetchMulti(pb.FetchMultiRequest(n=n), timeout=TIMEOUT_S)
    check_ids(f"FetchMulti n={n}", list(r.ids), want)

try:
    r = generator.FetchMulti(pb.FetchMultiRequest(n=MAX_FETCH_MULTI + 1), timeout=TIMEOUT_S)
    fail(f"FetchMulti n={MAX_FETCH_MULTI + 1}: {len(r.ids)} ids, want INVALID_ARGUMENT")
except grpc.RpcError as e:
    if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
        fail(f"FetchMulti n={MAX_FETCH_MULTI + 1}: {e.code()}, want INVALID_ARGUMENT")
    if str(MAX_FETCH_MULTI) not in (e.details() or ""):
        fail(f"FetchMulti n={MAX_FETCH_MULTI + 1}: {e.details()!r} does not name {MAX_FETCH_MULTI}")

after = get_stats()
for name in ("cmd_get", "get_hits"):
    grew = getattr(after, name) - getattr(before, name)
    if grew != fetched:
        fail(f"Stats.Get: {name} grew by {grew}, {fetched} ids were fetched")
if after.get_misses != before.get_misses:
    fail(f"Stats.Get: get_misses grew by {after.get_misses - before.get_misses} with no miss")
if after.total_connections < before.total_connections:
    fail("Stats.Get: total_connections went down")
if after.uptime < before.uptime:
    fail("Stats.Get: uptime went down")

# Reflection, as grpcurl does it: one stream, list the services, then ask for
# the file defining a symbol and for that file by name.
requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="katsubushi.Generator"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="katsubushi.NoSuchThing")]
responses = list(reflection_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
    iter(requests), timeout=TIMEOUT_S))
if len(responses) != len(requests):
    fail(f"reflection: {len(responses)} responses to {len(requests)} requests")
listed, by_symbol, unknown = responses
if listed.WhichOneof("message_response") != "list_services_response":
    fail(f"reflection list_services: {listed.WhichOneof('message_response')}")
names = {s.name for s in listed.list_services_response.service}
if not SERVICES <= names:
    fail(f"reflection list_services: {sorted(names)} lacks {sorted(SERVICES - names)}")
if unknown.WhichOneof("message_response") != "error_response":
    fail("reflection: an unknown symbol did not get an error_response")


def file_descriptor(response, what):
    if response.WhichOneof("message_response") != "file_descriptor_response":
        fail(f"reflection {what}: {response.WhichOneof('message_response')}")
    files = [descriptor_pb2.FileDescriptorProto.FromString(b)
             for b in response.file_descriptor_response.file_descriptor_proto]
    ours = [f for f in files if f.package == "katsubushi"]
    if len(ours) != 1:
        fail(f"reflection {what}: {len(ours)} files of package katsubushi in "
             f"{[f.name for f in files]}")
    return ours[0]


fd = file_descriptor(by_symbol, "file_containing_symbol katsubushi.Generator")
by_name = list(reflection_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
    iter([reflection_pb2.ServerReflectionRequest(file_by_filename=fd.name)]), timeout=TIMEOUT_S))
if len(by_name) != 1 or file_descriptor(by_name[0], f"file_by_filename {fd.name}") != fd:
    fail(f"reflection file_by_filename {fd.name}: not the file file_containing_symbol gave")

services = {s.name: s for s in fd.service}
want_methods = {
    "Generator": {"Fetch": ("FetchRequest", "FetchResponse"),
                  "FetchMulti": ("FetchMultiRequest", "FetchMultiResponse")},
    "Stats": {"Get": ("StatsRequest", "StatsResponse")},
}
if set(services) != set(want_methods):
    fail(f"reflection: services {sorted(services)}, want {sorted(want_methods)}")
for service, methods in want_methods.items():
    got = {m.name: m for m in services[service].method}
    if set(got) != set(methods):
        fail(f"reflection: {service} has {sorted(got)}, want {sorted(methods)}")
    for name, (req, resp) in methods.items():
        m = got[name]
        types = (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
        if types != (f".katsubushi.{req}", f".katsubushi.{resp}", False, False):
            fail(f"reflection: {service}.{name} is {types}")

messages = {m.name: m for m in fd.message_type}


def fields_of(name):
    if name not in messages:
        fail(f"reflection: no message {name} in {sorted(messages)}")
    return {f.name: (f.number, f.type, f.label) for f in messages[name].field}


OPTIONAL, REPEATED = FD.LABEL_OPTIONAL, FD.LABEL_REPEATED
want_fields = {
    "FetchRequest": {},
    "FetchResponse": {"id": (1, FD.TYPE_UINT64, OPTIONAL)},
    "FetchMultiRequest": {"n": (1, FD.TYPE_UINT32, OPTIONAL)},
    "FetchMultiResponse": {"ids": (1, FD.TYPE_UINT64, REPEATED)},
    "StatsRequest": {},
    "StatsResponse": {k: (n, t, OPTIONAL) for k, (n, t) in STATS_FIELDS.items()},
}
for name, fields in want_fields.items():
    got = fields_of(name)
    if got != fields:
        fail(f"reflection: message {name} has fields {got}, want {fields}")

channel.close()
print(f"python grpc: {fetched} ids ok, Stats.Get ok, reflection lists {len(names)} services "
      f"and describes {fd.name}")
