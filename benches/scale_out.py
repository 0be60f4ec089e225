#!/usr/bin/env python3
"""Scale-out on one broker queue (issue 15, "How cost grows"): K service processes compete on one
RabbitMQ queue (or one SQS queue on moto) and drain a backlog of N JsonBase messages; each
process records the ``seq`` of every message it handles, so the run proves exactly-once.

    .venv/bin/python benches/scale_out.py amqp --n 50000 --runs 2 \
        --sets "rust rust,rust rust,rust,rust,rust rust,python python python,python"
    .venv/bin/python benches/scale_out.py sqs --n 300 --runs 2 \
        --sets "rust rust,rust rust,rust,rust,rust rust,python python"

Each set is a comma-separated list of processes (``rust``: benches/fixtures/growth_consumer.rs,
release, TOMODACHI_LOGGER=disabled; ``python``: benches/growth_service.py under Python tomodachi
0.29, ``tomodachi run --production``), all with the same service and a competing queue
(AMQP ``sha256("growth.in")`` bound to amq.topic / growth.in, SQS ``bench-queue``
on a moto of its own). Per set:

1. the queue is emptied (AMQP: deleted; SQS: moto reset), a process of the first kind declares it;
2. N messages are published to it (shared/bench/amqp_publish.py or sns_publish.py, the same
   ``{"seq": i, "text": "hello"}`` data, distinct message uuids);
3. the K processes start together and drain it; each one's CPU time (its threads' run time
   from /proc/<pid>/task/*/schedstat) is counted from its first recorded message to the end
   of the drain, per message it handled in that window (RabbitMQ's and moto's CPU from
   /proc/<pid>/stat over the whole drain, per message); msgs/s are given over the whole drain (first message of
   any process to the last) and over the part where every process consumes (``all_consuming``:
   a Python process joins ~0.3 s after a Rust one, which drains ~7000 messages meanwhile);
4. 1.5 s after the last message (late duplicates would show), they are stopped; the record
   files give handled / distinct / duplicates / missing / redelivered; exactly once means
   every published message handled (missing == 0) and a duplicate only where the broker
   redelivered (duplicates <= redelivered flags; 0 and 0 without faults).

Prints one JSON line per set and writes them to --out (JSON lines). env: TARGET (release dir,
default /work/target-rel/release), SHARED (/work/shared/bench).
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from benchlib import free_port  # noqa: E402

SHARED = os.environ.get("SHARED", "/work/shared/bench")
TARGET = os.environ.get("TARGET", "/work/target-rel/release")
VENV = os.environ.get("VENV", os.path.join(ROOT, ".venv"))
PY = os.path.join(VENV, "bin", "python")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """CPU time of a process in seconds (None once it is gone): the sum of its live threads'
    ``/proc/<pid>/task/<tid>/schedstat`` run time (nanoseconds; utime + stime in
    ``/proc/<pid>/stat`` count 10 ms ticks, too coarse for a 20 ms start-up or a 0.1 s drain),
    or utime + stime where schedstat is missing. Threads that exited before the reading are
    not in the sum (the services measured here keep theirs: tokio workers, the event loop)."""
    try:
        total = 0
        tasks = os.listdir(f"/proc/{pid}/task")
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        if total:
            return total / 1e9
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return None


def cpu_ticks_s(pid):
    """utime + stime from ``/proc/<pid>/stat`` (10 ms ticks, but counting exited threads too):
    for the broker and moto, whose server spawns a thread per request."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return None


def rabbit_pid():
    out = subprocess.run(["rabbitmqctl", "eval", "list_to_integer(os:getpid())."], capture_output=True, text=True)
    digits = "".join(c for c in out.stdout if c.isdigit())
    return int(digits) if digits else None


# the benchmark's own routing key (not the other benchmarks' bench.in: runs may overlap on a
# shared RabbitMQ)
KEY = "growth.in"


def reset_amqp(prefix=KEY):
    """Deletes this benchmark's competing queues: those named ``sha256(routing key)`` bound to
    amq.topic with a routing key ``prefix`` or ``prefix.*``."""
    out = subprocess.run(["rabbitmqctl", "list_bindings", "source_name", "destination_name", "routing_key",
                          "destination_kind", "--formatter", "json"], capture_output=True, text=True)
    try:
        bindings = json.loads(out.stdout)
    except ValueError:
        return
    queues = {b["destination_name"] for b in bindings
              if b["source_name"] == "amq.topic" and b["destination_kind"] == "queue"
              and (b["routing_key"] == prefix or b["routing_key"].startswith(prefix + "."))
              and b["destination_name"] == hashlib.sha256(b["routing_key"].encode()).hexdigest()}
    if not queues:
        return
    # one AMQP connection for all of them (a rabbitmqctl call takes about a second each)
    script = (
        "import asyncio, sys, aioamqp\n"
        "async def main():\n"
        "    transport, protocol = await aioamqp.connect(host='127.0.0.1', port=5672)\n"
        "    channel = await protocol.channel()\n"
        "    for q in sys.argv[1:]:\n"
        "        await channel.queue_delete(q)\n"
        "    await protocol.close()\n"
        "    transport.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([PY, "-c", script, *sorted(queues)], capture_output=True, timeout=120)


class Consumer:
    """One service process with its record and ready files."""

    def __init__(self, kind, workdir, index, env, logdir):
        self.kind, self.index = kind, index
        self.record = os.path.join(workdir, f"{kind}-{index}.ids")
        self.ready = os.path.join(workdir, f"{kind}-{index}.ready")
        for p in (self.record, self.ready):
            if os.path.exists(p):
                os.remove(p)
        e = dict(os.environ, GROWTH_RECORD=self.record, GROWTH_READY=self.ready, **env)
        if kind == "rust":
            e["TOMODACHI_LOGGER"] = "disabled"
            cmd = [os.path.join(TARGET, "examples", "growth_consumer"), "--production"]
        elif kind == "python":
            cmd = [os.path.join(VENV, "bin", "tomodachi"), "run", "--production", "benches/growth_service.py"]
        else:
            raise SystemExit(f"unknown consumer kind {kind}")
        if env.get("GROWTH_CONFIG"):
            cmd += ["-c", env["GROWTH_CONFIG"]]
        self.log = open(os.path.join(logdir, f"{kind}-{index}.log"), "ab")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.offset = 0
        self.lines = 0
        self.partial = b""
        self.t_first = self.cpu_first = None
        self.lines_first = 0
        self.lines_all = 0

    def poll_lines(self):
        """Reads what the record file gained since the last call; returns the line count."""
        try:
            with open(self.record, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return self.lines
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        return self.lines

    def is_ready(self):
        return os.path.exists(self.ready)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code

    def records(self):
        out = []
        if os.path.exists(self.record):
            with open(self.record) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        out.append((int(parts[0]), int(parts[1])))
        return out


def wait_ready(consumers, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(c.is_ready() for c in consumers):
            return True
        if any(c.proc.poll() is not None for c in consumers):
            return False
        time.sleep(0.01)
    return False


def drain(consumers, n, timeout, extra_pids=None):
    """Polls the record files until ``n`` lines in total; per consumer, CPU from its first line."""
    extra_pids = extra_pids or {}
    extra_cpu0 = {}
    t_first = None
    total_first = 0
    t_all = [None]
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        total = 0
        now = time.monotonic()
        for c in consumers:
            lines = c.poll_lines()
            if lines > 0 and c.t_first is None:
                c.t_first, c.cpu_first, c.lines_first = now, cpu_s(c.proc.pid), lines
            total += lines
        if total > 0 and t_first is None:
            t_first, total_first = now, total
            extra_cpu0 = {k: cpu_ticks_s(p) for k, p in extra_pids.items()}
        if t_all[0] is None and all(c.t_first is not None for c in consumers):
            # from here on every process consumes (the slower starters join late)
            t_all[0] = now
            for c in consumers:
                c.lines_all = c.lines
        if total >= n:
            break
        if all(c.proc.poll() is not None for c in consumers):
            break
        time.sleep(0.02)
    t_done = time.monotonic()
    cpu_end = {c.index: cpu_s(c.proc.pid) for c in consumers}
    extra = {k: (cpu_ticks_s(p) - extra_cpu0[k]) if extra_cpu0.get(k) is not None else None
             for k, p in extra_pids.items()}
    return t_first, total_first, t_done, total, cpu_end, extra, t_all[0]


def verify(consumers, n):
    seen = {}
    flagged = 0
    per = []
    for c in consumers:
        recs = c.records()
        per.append(len(recs))
        for seq, flag in recs:
            seen[seq] = seen.get(seq, 0) + 1
            flagged += 1 if flag else 0
    handled = sum(per)
    distinct = len(seen)
    missing = sum(1 for i in range(n) if i not in seen)
    unknown = sum(1 for s in seen if not 0 <= s < n)
    return {"handled": handled, "distinct": distinct, "duplicates": handled - distinct,
            "missing": missing, "unexpected_ids": unknown, "redelivered_flags": flagged}


def exactly_once(r):
    """Every published message handled, none unknown, and a message handled twice only if the
    broker redelivered it (its record carries the redelivered / receive-count flag)."""
    return (r["distinct"] == r["n"] and r["missing"] == 0 and r["unexpected_ids"] == 0
            and r["duplicates"] <= r["redelivered_flags"])


def publish_amqp(n, publisher=None, key=KEY):
    """shared/bench/amqp_publish.py, or ``publisher`` (a command line without ``--n``)."""
    cmd = publisher or [PY, os.path.join(SHARED, "amqp_publish.py")]
    out = subprocess.run([*cmd, "--n", str(n), "--routing-key", key],
                         capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def publish_sqs(n, endpoint):
    out = subprocess.run([PY, os.path.join(SHARED, "sns_publish.py"), "--n", str(n), "--endpoint", endpoint],
                         capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Moto:
    def __init__(self, logdir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(logdir, "moto.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(VENV, "bin", "moto_server"), "-H", "127.0.0.1", "-p",
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        import urllib.request
        for _ in range(200):
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=0.5).close()
                return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("moto did not come up")

    def reset(self):
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"),
                               timeout=10).close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_set(transport, kinds, n, workdir, logdir, moto=None, rabbit=None, env=None, timeout=600,
            publisher=None):
    env = dict(env or {})
    env["GROWTH_TRANSPORT"] = transport
    env["GROWTH_ROUTING_KEY"] = KEY
    if moto:
        env["AWS_ENDPOINT"] = moto.endpoint
        moto.reset()
    else:
        reset_amqp()
    # 1. declare the queue (and the topic) with one process of the first kind
    first = Consumer(kinds[0], workdir, "declare", env, logdir)
    if not wait_ready([first]):
        first.stop()
        return {"error": "the declaring process did not start"}
    first.stop()
    if transport == "sqs":
        # its last ReceiveMessage long poll (20 s) stays open inside moto after the process is
        # gone and would take a message of the backlog for the visibility timeout (30 s)
        time.sleep(21)
    # 2. the backlog
    if moto:
        pub = publish_sqs(n, moto.endpoint)
    else:
        pub = publish_amqp(n, publisher)
    # 3. K processes drain it
    consumers = [Consumer(k, workdir, i, env, logdir) for i, k in enumerate(kinds)]
    extra = {}
    if rabbit:
        extra["rabbitmq"] = rabbit
    if moto:
        extra["moto"] = moto.proc.pid
    t_first, total_first, t_done, total, cpu_end, extra_cpu, t_all = drain(consumers, n, timeout, extra)
    # drain() counted to the last line; lines polled after it are late duplicates, if any
    lines_done = {c.index: c.lines for c in consumers}
    time.sleep(1.5)
    for c in consumers:
        c.poll_lines()
    codes = [c.stop() for c in consumers]
    check = verify(consumers, n)
    window = (t_done - t_first) if t_first else None
    procs = []
    for c, code in zip(consumers, codes):
        after_first = c.lines - c.lines_first if c.t_first else 0
        cpu = (cpu_end[c.index] - c.cpu_first) if c.t_first and cpu_end[c.index] is not None else None
        procs.append({
            "kind": c.kind, "handled": c.lines, "exit_code": code,
            "spawn_to_first_msg_s": round(c.t_first - c.t_spawn, 3) if c.t_first else None,
            "msgs_per_s": round(c.lines / window, 1) if window else None,
            "all_consuming_handled": lines_done[c.index] - c.lines_all if t_all else None,
            "all_consuming_msgs_per_s": (round((lines_done[c.index] - c.lines_all) / (t_done - t_all), 1)
                                         if t_all and t_done > t_all else None),
            "cpu_us_per_msg": round(cpu * 1e6 / after_first, 1) if cpu is not None and after_first > 0 else None,
        })
    res = {"transport": transport, "set": kinds, "k": len(kinds), "n": n, "published": pub.get("published"),
           "bytes_per_msg": pub.get("bytes_per_msg"), "publish_s": pub.get("publish_s"),
           "drain_s": round(window, 3) if window else None,
           "msgs_per_s": round((total - total_first) / window, 1) if window else None,
           "all_consuming_s": round(t_done - t_all, 3) if t_all else None,
           "all_consuming_msgs_per_s": (round(sum(lines_done[c.index] - c.lines_all for c in consumers) / (t_done - t_all), 1)
                                        if t_all and t_done > t_all else None),
           "processes": procs, **check}
    for k, v in extra_cpu.items():
        if v is not None and total - total_first > 0:
            res[f"{k}_cpu_us_per_msg"] = round(v * 1e6 / (total - total_first), 1)
    # a duplicate needs a redelivery; a redelivery without a duplicate is a delivery that
    # reached nobody's handler (e.g. a receive that answered a closed connection)
    res["exactly_once"] = exactly_once(res)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("transport", choices=["amqp", "sqs"])
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--sets", default="rust rust,rust rust,rust,rust,rust rust,python")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    n = a.n or (20000 if a.transport == "amqp" else 300)
    sets = [s.split(",") for s in a.sets.split()]
    out_dir = os.path.dirname(a.out) if a.out else tempfile.mkdtemp(prefix="scale-out-")
    os.makedirs(out_dir or ".", exist_ok=True)
    logdir = os.path.join(out_dir or ".", f"logs-{a.transport}")
    os.makedirs(logdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="scale-out-ids-")
    moto = Moto(logdir) if a.transport == "sqs" else None
    rabbit = rabbit_pid() if a.transport == "amqp" else None
    try:
        for run in range(a.runs):
            for kinds in sets:
                res = run_set(a.transport, kinds, n, workdir, logdir, moto=moto, rabbit=rabbit, timeout=a.timeout)
                res["run"] = run + 1
                res["loadavg"] = open("/proc/loadavg").read().split()[:3]
                line = json.dumps(res)
                print(line, flush=True)
                if a.out:
                    with open(a.out, "a") as f:
                        f.write(line + "\n")
    finally:
        if moto:
            moto.stop()
        else:
            reset_amqp()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
