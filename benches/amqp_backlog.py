#!/usr/bin/env python3
"""AMQP backlog drain: N JsonBase messages are published to amq.topic/bench.in while the
consumer is stopped (its durable queue exists from a first start), then the consumer starts and
drains them. Prints ONE JSON line: msgs/s over the drain (first count > 0 to count = N) and the
consumer's and RabbitMQ's CPU µs per message over the same window.

usage: amqp_backlog.py --count-url URL --n N --shared SHARED_BENCH_DIR --python PY
                       [--pid rabbitmq=PID] [--label X] -- CMD [ARGS...]
CMD must consume from the same queue on every start (a fixed service uuid or queue name).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--count-url", required=True)
ap.add_argument("--n", type=int, default=100000)
ap.add_argument("--shared", required=True)
ap.add_argument("--python", default=sys.executable)
ap.add_argument("--label", default=None)
ap.add_argument("--log", default=None)
ap.add_argument("--timeout", type=float, default=600)
ap.add_argument("--pid", action="append", default=[])
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
sys.path.insert(0, a.shared)
from _benchlib import cpu_delta, cpu_snapshot, emit, get_count, parse_pids  # noqa: E402
from benchlib import stop  # noqa: E402  (this folder's)

cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
pids = parse_pids(a.pid)
log = open(a.log, "ab") if a.log else subprocess.DEVNULL


def start():
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for _ in range(600):
        try:
            get_count(a.count_url, timeout=0.5)
            return p
        except Exception:
            time.sleep(0.05)
    p.kill()
    emit({"bench": "amqp_backlog", "label": a.label, "error": "service did not start"})
    sys.exit(1)


# 1. a first start declares and binds the queue
p = start()
time.sleep(2.0)
stop(p)
# 2. the backlog
pub = subprocess.run([a.python, os.path.join(a.shared, "amqp_publish.py"), "--n", str(a.n)],
                     capture_output=True, text=True, timeout=a.timeout)
published = json.loads(pub.stdout.strip().splitlines()[-1])
# 3. drain
t_spawn = time.monotonic()
p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
pids = dict(pids, svc=p.pid)
t_first = c_first = t_done = cpu0 = None
deadline = time.monotonic() + a.timeout
c = None
while time.monotonic() < deadline and p.poll() is None:
    try:
        c = get_count(a.count_url, timeout=1)
    except Exception:
        c = None
    now = time.monotonic()
    if c is not None and c > 0 and t_first is None:
        t_first, c_first, cpu0 = now, c, cpu_snapshot(pids)
    if c is not None and c >= a.n:
        t_done = now
        break
    time.sleep(0.02)
cpu = cpu_delta(cpu0, pids, a.n - c_first) if cpu0 and t_done else {}
code = stop(p)
res = {"bench": "amqp_backlog", "label": a.label, "n": a.n, "publish_s": published["publish_s"],
       "consumed": c, "cpu_during_run": cpu, "exit_code": code,
       "spawn_to_first_msg_s": round(t_first - t_spawn, 3) if t_first else None}
if t_done and t_done > t_first:
    res.update({"drain_s": round(t_done - t_first, 3), "msgs_per_s": round((a.n - c_first) / (t_done - t_first), 1)})
else:
    res["error"] = "did not drain the backlog"
emit(res)
