#!/usr/bin/env python3
"""The fleet demo (scripts/fleet-demo.sh runs it): redis-server with the store function, webdis
in front of it (FCALL only, from 127.0.0.1), a demo origin and three Envoy nodes whose filter
config is a watched file (ECDS), all on 127.0.0.1. Prints requests to try and where to watch
the fleet counts; Ctrl-C stops everything.

usage: demo.py [--policy FILE] [--namespace NAME] [--base-port N]
Ports: Envoy nodes on base+0..2 (admin base+10..12), webdis base+20, Redis base+21, origin
base+22 (base 10000 by default). Standard library only.
"""

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import parts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default=str(parts.ROOT / "filters" / "default.json"))
    ap.add_argument("--namespace", default="demo")
    ap.add_argument("--base-port", type=int, default=10000)
    args = ap.parse_args()
    policy = json.loads(Path(args.policy).read_text()) if args.policy else {}
    # Every node logs its campaign report and stores its tracker snapshot for the fleet's every 10 s.
    config = json.dumps({**policy, "envoy": {"fleet": {"namespace": args.namespace}, "campaigns": {"interval_s": 10}}})
    base = args.base_port
    tmp = Path(tempfile.mkdtemp(prefix="distill-guard-fleet-"))
    running = []

    def stop(*_):
        for p in reversed(running):
            try:
                p.stop()
            except Exception:  # noqa: BLE001  (stop what can be stopped)
                pass
        print(f"\nstopped. logs and configs: {tmp}", file=sys.stderr)
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        redis = parts.Redis(tmp, port=base + 21)
        running.append(redis.start())
        bridge = parts.Bridge(tmp, redis.port, port=base + 20)
        running.append(bridge.start())
        origin = subprocess.Popen([sys.executable, str(parts.ENVOY_DIR / "demo_origin.py"), "--port", str(base + 22),
                                   "--record", str(tmp / "requests.jsonl")], stdout=subprocess.DEVNULL)
        running.append(type("Origin", (), {"stop": lambda self: parts.stop_process(origin)})())
        envoys = []
        for i, name in enumerate(["node-a", "node-b", "node-c"]):
            e = parts.FleetEnvoy(tmp, name, base + 22, bridge.port, config, base_id=base + 100 + i, port=base + i,
                                 admin_port=base + 10 + i, failure_policy="FAIL_RELOAD")
            running.append(e.start())
            envoys.append(e)
    except Exception as exc:  # noqa: BLE001
        print(f"fleet demo: {exc}", file=sys.stderr)
        stop()
    a, b, c = (e.port for e in envoys)
    print(f"""
distill-guard fleet demo: three Envoy nodes syncing through Redis (store {redis.port}, bridge {bridge.port}),
namespace {args.namespace!r}, policy {args.policy}. Work dir: {tmp}

A campaign spread over the nodes (60 accounts from one prefix, 127.0.0.0/24, round-robin; two requests
each: clusters count returning accounts), then a probe on each node (tagged: cluster.accounts_per_prefix):
  for i in $(seq 1 60); do p=$(( {a} + i % 3 )); for r in 1 2; do
      curl -s -o /dev/null -H "x-api-key: camp-$i" http://127.0.0.1:$p/v1/models; done; done; sleep 3
  for p in {a} {b} {c}; do curl -s -H 'x-api-key: probe' http://127.0.0.1:$p/v1/models | grep -o '"x-distill-[a-z]*", "[^"]*"'; done

Watch the fleet counts (per node: deltas published, merged, refused, failed round trips, bytes; the fleet's
distinct active accounts):
  curl -s http://127.0.0.1:{envoys[0].admin_port}/stats?filter=distill_guard.sync
  redis-cli -p {redis.port} XLEN 'distill_guard:{{{args.namespace}}}:log'
  redis-cli -p {redis.port} MEMORY USAGE 'distill_guard:{{{args.namespace}}}:log'
  redis-cli -p {redis.port} XINFO STREAM 'distill_guard:{{{args.namespace}}}:log'
The fleet's campaign report: each node logs its own every 10 s (`distill-guard: campaign {{...}}` lines)
and stores its campaign tracker snapshot in the store; every node's merged (a campaign no node saw enough
of alone is listed with all its accounts; with the default policy the campaign above is not flagged
enough to group, and the report counts its requests only):
  curl -s -X PUT -o {tmp}/campaigns.raw 'http://127.0.0.1:{bridge.port}{parts.campaigns_path(args.namespace)}'
  target/release/distill-guard campaigns --fleet {tmp}/campaigns.raw
Try an outage: kill $(pgrep -f 'redis-server 127.0.0.1:{redis.port}'): requests keep working, each node logs
one line; the demo does not restart Redis (run: redis-server {redis.conf} &, then load the function:
redis-cli -p {redis.port} FUNCTION LOAD REPLACE "$(cat fleet/distill_guard.lua)").
Push a policy to a node without a restart: write a new {envoys[0].ecds_path.name} next to {envoys[0].ecds_path} and mv it over.
Logs: {tmp}/envoy-node-*/envoy.log. Ctrl-C stops everything.
""")
    while True:
        for e in envoys:
            if e.proc.poll() is not None:
                print(f"envoy {e.name} exited; see {e.log_path}", file=sys.stderr)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
