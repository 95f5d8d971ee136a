"""The gRPC clients of a fleet campaign, one process run by Debian's
/usr/bin/python3 (python3-grpcio) with the build's generated stubs on
PYTHONPATH; a thread and a channel per daemon.

    grpc_fleet_client.py OUT STOPFILE SEED NAME=HOST:PORT=BURSTFILE[=PACE=BURSTPACE] ...

Each answer is appended to OUT as one line in one write():
    ok NAME CHANNEL T_SEND T_RECV ID ID ...
    err NAME CHANNEL T_SEND T_RECV CODE
(times are time.time()). A channel is replaced after an error, so CHANNEL
numbers a connection. Pace: a call every ~30 ms (PACE s), every 2 ms
(BURSTPACE s) while BURSTFILE exists (its fleet is under a data-loss fault).
Ends when STOPFILE exists.
"""

import os
import random
import sys
import threading
import time

import grpc  # noqa: E402

import katsubushi_pb2 as pb  # noqa: E402
import katsubushi_pb2_grpc as pb_grpc  # noqa: E402

TIMEOUT_S = 2.0
PACE_S = 0.03
OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
           ("grpc.min_reconnect_backoff_ms", 100),
           ("grpc.max_reconnect_backoff_ms", 500),
           ("grpc.enable_retries", 0)]


def worker(name, target, burst_file, out_fd, stop_file, seed, pace=PACE_S, burst_pace=0.002):
    rng = random.Random(seed)
    chan_no = 0
    channel = None
    stub = None
    while not os.path.exists(stop_file):
        if channel is None:
            chan_no += 1
            channel = grpc.insecure_channel(target, options=OPTIONS)
            stub = pb_grpc.GeneratorStub(channel)
        bursting = os.path.exists(burst_file)
        n = rng.choice((0, 1, 1, 2, 4)) if bursting else rng.choice((0, 1, 2, 5, 10, 50))
        t_send = time.time()
        try:
            if n == 0:
                ids = [stub.Fetch(pb.FetchRequest(), timeout=TIMEOUT_S).id]
            else:
                ids = list(stub.FetchMulti(pb.FetchMultiRequest(n=n), timeout=TIMEOUT_S).ids)
            line = f"ok {name} {chan_no} {t_send:.6f} {time.time():.6f} " + \
                " ".join(map(str, ids)) + "\n"
        except grpc.RpcError as e:
            line = f"err {name} {chan_no} {t_send:.6f} {time.time():.6f} {e.code().name}\n"
            channel.close()
            channel = None
            time.sleep(0.1)
        os.write(out_fd, line.encode())
        time.sleep(pace * rng.uniform(0.5, 1.5) if not bursting else burst_pace)
    if channel is not None:
        channel.close()


def main():
    out, stop_file, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    threads = []
    for i, spec in enumerate(sys.argv[4:]):
        name, target, burst, *pace = spec.split("=")
        t = threading.Thread(target=worker, args=(name, target, burst, fd, stop_file, seed + i,
                                                  *map(float, pace)), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=600)
    os._exit(0)  # not sys.exit: grpcio's teardown at exit can block


if __name__ == "__main__":
    main()
