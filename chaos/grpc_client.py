"""One gRPC client process of the grpc-client-killed scenario, run by Debian's
/usr/bin/python3 (python3-grpcio) with the build's generated stubs on
PYTHONPATH. It runs until it is killed; the scenario kills it.

    grpc_client.py HOST:PORT OUT MODE SEED [--hold-reflection]
    grpc_client.py HOST:PORT - raw KIND SEED
    grpc_client.py HOST:PORT - probe

MODE is what it calls in a loop: multi (FetchMulti n=1000), single (Fetch) or
mixed (FetchMulti with n of 0, 1, 10 or 1000, and Fetch). Each answer is
appended to OUT as one line, "<ids wanted> <id> <id> ...", in one write(), so
a kill leaves at most the last line torn (it has no newline). With
--hold-reflection it first opens a reflection stream, asks list_services,
reads the answer and keeps the stream open, asking again now and then, while
it fetches. It prints "ready" once connected (and the stream is open), and on
any RPC error prints it to stderr and exits 3.

raw: a bare TCP connection that sends KIND (half-preface, preface-half-frame,
garbage or nothing), prints "ready" and waits to be killed.

probe: one Fetch, one FetchMulti(1000) and one Stats.Get; prints the ids and
curr_connections, one per line ("ids ...", "curr_connections N").
"""

import os
import queue
import random
import socket
import sys
import threading
import time

TIMEOUT_S = 10
MAX_FETCH_MULTI = 1000
# A pause after each FetchMulti(1000): it keeps the ids the scenario checks to
# a few hundred thousand a second at most; Fetch loops run unpaced.
MULTI_PACE_S = 0.01
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# A SETTINGS frame header announcing 18 bytes of payload.
SETTINGS_HEADER = b"\x00\x00\x12\x04\x00\x00\x00\x00\x00"


def raw(target, kind, seed):
    rng = random.Random(seed)
    host, port = target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    if kind == "half-preface":
        s.sendall(PREFACE[:rng.randrange(1, len(PREFACE))])
    elif kind == "preface-half-frame":
        s.sendall(PREFACE + SETTINGS_HEADER + b"\x00" * rng.randrange(0, 18))
    elif kind == "garbage":
        s.sendall(rng.randbytes(rng.randrange(1, 4096)))
    print("ready", flush=True)
    while True:
        time.sleep(60)


def hold_streams(channel, count, reflection_pb2, reflection_grpc):
    """Opens `count` reflection streams on `channel` and has each answer once
    while all are open: each holds one of the server's handler threads."""
    stub = reflection_grpc.ServerReflectionStub(channel)
    queues, streams = [], []

    def requests(q):
        while (item := q.get()) is not None:
            yield item

    try:
        for _ in range(count):
            q = queue.Queue()
            q.put(reflection_pb2.ServerReflectionRequest(list_services=""))
            queues.append(q)
            streams.append(stub.ServerReflectionInfo(requests(q), timeout=TIMEOUT_S))
            next(streams[-1])
    except BaseException:
        for stream in streams:
            stream.cancel()  # or the channel's teardown at exit waits for them
        raise
    finally:
        for q in queues:
            q.put(None)
    for stream in streams:
        for _ in stream:
            pass


def main():
    target, out, mode = sys.argv[1:4]
    if mode == "raw":
        return raw(target, sys.argv[4], int(sys.argv[5]))

    import grpc  # noqa: E402 (raw clients start fast without it)

    import grpc_reflection_pb2 as reflection_pb2
    import grpc_reflection_pb2_grpc as reflection_grpc
    import katsubushi_pb2 as pb
    import katsubushi_pb2_grpc as pb_grpc

    channel = grpc.insecure_channel(target)
    generator = pb_grpc.GeneratorStub(channel)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
        if mode == "probe":
            ids = [generator.Fetch(pb.FetchRequest(), timeout=TIMEOUT_S).id]
            ids += generator.FetchMulti(pb.FetchMultiRequest(n=MAX_FETCH_MULTI),
                                        timeout=TIMEOUT_S).ids
            stats = pb_grpc.StatsStub(channel).Get(pb.StatsRequest(), timeout=TIMEOUT_S)
            print("ids", *ids)
            print("curr_connections", stats.curr_connections, flush=True)
            if len(sys.argv) > 4:
                hold_streams(channel, int(sys.argv[4]), reflection_pb2, reflection_grpc)
                print("streams", sys.argv[4], flush=True)
            return 0

        rng = random.Random(int(sys.argv[4]))
        asks = None
        if "--hold-reflection" in sys.argv:
            asks = queue.Queue()

            def requests():
                while True:
                    yield asks.get()

            asks.put(reflection_pb2.ServerReflectionRequest(list_services=""))
            stream = reflection_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                requests())
            listed = next(stream)
            names = {s.name for s in listed.list_services_response.service}
            if "katsubushi.Generator" not in names:
                raise RuntimeError(f"reflection lists {sorted(names)}")

            def ask_now_and_then():
                # The stream stays open, with a request now and then.
                pace = random.Random(rng.random())
                try:
                    while True:
                        time.sleep(pace.uniform(0.05, 0.3))
                        asks.put(reflection_pb2.ServerReflectionRequest(
                            file_containing_symbol="katsubushi.Generator"))
                        if next(stream).WhichOneof("message_response") != \
                                "file_descriptor_response":
                            raise RuntimeError("reflection: no file for katsubushi.Generator")
                except (grpc.RpcError, RuntimeError) as e:
                    print(f"reflection stream: {e.code() if isinstance(e, grpc.RpcError) else ''}"
                          f" {e.details() if isinstance(e, grpc.RpcError) else e}",
                          file=sys.stderr, flush=True)
                    os._exit(3)

            threading.Thread(target=ask_now_and_then, daemon=True).start()

        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        print("ready", flush=True)
        while True:
            choice = mode if mode != "mixed" else rng.choice(("single", 0, 1, 10, 1000))
            if choice == "single":
                want, ids = 1, [generator.Fetch(pb.FetchRequest(), timeout=TIMEOUT_S).id]
            else:
                n = MAX_FETCH_MULTI if choice == "multi" else choice
                want = max(n, 1)
                ids = generator.FetchMulti(pb.FetchMultiRequest(n=n), timeout=TIMEOUT_S).ids
            os.write(fd, (" ".join(map(str, (want, *ids))) + "\n").encode())
            if want == MAX_FETCH_MULTI:
                time.sleep(MULTI_PACE_S)
    except grpc.RpcError as e:
        print(f"{mode}: {e.code()} {e.details()}", file=sys.stderr, flush=True)
        return 3
    except (grpc.FutureTimeoutError, RuntimeError) as e:
        print(f"{mode}: {type(e).__name__} {e}", file=sys.stderr, flush=True)
        return 3


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    # Not sys.exit: grpcio's channel teardown at interpreter exit can block on
    # a call the server refused while others were open.
    os._exit(status or 0)
