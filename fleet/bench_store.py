"""What one fleet tick costs the store: the round trip of the store function through the bridge
(redis-server + webdis on 127.0.0.1, started and stopped here), the bytes of its answer, and
Redis memory after the run.

  .venv/bin/python fleet/bench_store.py [--nodes 3,10,100] [--delta-bytes 0,2000,20000] [--ticks 20]

Every simulated node calls the function once a tick, as a node does (fleet/parts.py builds the
same path as src/fleet/protocol.rs): it stores a batch with one delta of `delta-bytes` (none
for 0: the empty batch an idle node sends) and reads what the others stored since its cursor.
Calls run one after the other on one keep-alive connection, so a round trip is the bridge's
and Redis's work plus loopback, not queueing behind other nodes. The deltas are random bytes:
the store treats batches as opaque, so their content does not change its cost.
"""

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parts  # noqa: E402


def batch(delta):
    if not delta:
        return parts.EMPTY_BATCH
    return b"DGFB\x01\x01\x00" + len(delta).to_bytes(4, "little") + delta


def next_cursor(body):
    """The cursor of a store answer (a RESP bulk string holding the packed reply)."""
    packed = body[body.index(b"\r\n") + 2:]
    n = packed[6]
    return packed[7:7 + n].decode()


def run(bridge, redis, namespace, nodes, delta_bytes, ticks):
    conn = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=10)
    cursors = {i: "0-0" for i in range(nodes)}
    seqs = {i: 0 for i in range(nodes)}
    times, answers = [], []
    for tick in range(ticks):
        for i in range(nodes):
            seqs[i] += 1
            body = batch(os.urandom(delta_bytes))
            path = parts.store_path(namespace, f"n{i}", publisher=f"p{i}", seq=seqs[i], cursor=cursors[i],
                                    max_entries=100000, max_bytes=64 << 20, store=True)
            t = time.perf_counter()
            conn.request("PUT", path, body=body, headers={"content-type": "application/octet-stream"})
            r = conn.getresponse()
            answer = r.read()
            dt = time.perf_counter() - t
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {answer[:200]!r}")
            cursors[i] = next_cursor(answer)
            if tick >= 2:  # steady state: every node has stored once and read the others
                times.append(dt * 1000)
                answers.append(len(answer))
    conn.close()
    mem = int(dict(l.split(":", 1) for l in redis.command("INFO", "memory").decode().split("\r\n") if ":" in l)["used_memory"])
    times.sort()
    return {
        "p50": statistics.median(times), "p99": times[int(0.99 * (len(times) - 1))], "mean": statistics.fmean(times),
        "answer": statistics.fmean(answers), "mem": mem,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="3,10,100")
    ap.add_argument("--delta-bytes", default="0,2000,20000")
    ap.add_argument("--ticks", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="distill-guard-store-bench-"))
    redis = parts.Redis(tmp).start()
    bridge = None
    try:
        bridge = parts.Bridge(tmp, redis.port)
        bridge.start()
        base = int(dict(l.split(":", 1) for l in redis.command("INFO", "memory").decode().split("\r\n") if ":" in l)["used_memory"])
        print(f"redis-server + webdis on 127.0.0.1, {args.ticks} ticks per row (the first two not measured); "
              f"Redis used_memory before: {base} bytes")
        print("| nodes | delta bytes | round trip p50 ms | p99 ms | mean ms | answer bytes, mean | Redis memory after, MB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n in [int(x) for x in args.nodes.split(",")]:
            for d in [int(x) for x in args.delta_bytes.split(",")]:
                ns = f"bench-{n}-{d}"
                r = run(bridge, redis, ns, n, d, args.ticks)
                print(f"| {n} | {d} | {r['p50']:.2f} | {r['p99']:.2f} | {r['mean']:.2f} | {r['answer']:.0f} | "
                      f"{(r['mem'] - base) / 1e6:.1f} |", flush=True)
                redis.command("FLUSHALL")
    finally:
        if bridge is not None:
            bridge.stop()
        redis.stop()


if __name__ == "__main__":
    main()
