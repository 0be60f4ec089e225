#!/usr/bin/env python3
"""How AMQP cost grows (issue 15) with the prefetch, the handler concurrency and the payload
size, and how start-up time and memory grow with the number of handlers. Uses the scale-out
machinery (benches/scale_out.py): one service process drains a backlog of N messages on a
competing queue, recording each ``seq``; CPU µs per message (its threads' run time,
/proc/<pid>/task/*/schedstat) from its first message to the last.

    .venv/bin/python benches/growth.py prefetch  --out R/prefetch.jsonl   # 1 10 100 1000
    .venv/bin/python benches/growth.py concurrency --out R/concurrency.jsonl
    .venv/bin/python benches/growth.py payload   --out R/payload.jsonl
    .venv/bin/python benches/growth.py startup   --out R/startup.jsonl

prefetch     ``amqp.qos.queue_prefetch_count`` = ``global_prefetch_count`` = P (a -c config
             file), N = --n (20000) messages of 411 bytes (shared/bench/amqp_publish.py);
concurrency  the handler awaits a 1 ms sleep; serial (``AmqpSubscription::serial``, upstream's
             one at a time) vs concurrent up to the prefetch (100), N = 3000;
payload      data text of 100 B, 10 kB, 1 MB (raw JSON) and 1 MB as ``base64_gzip_json``
             (benches/growth_publish.py), N = 20000 / 5000 / 100 / 100;
startup      1, 10, 100 AMQP handlers (a queue each) and 100 schedules: spawn -> the
             ``started_service`` hook (the GROWTH_READY file), CPU time to that point, and VmRSS
             after 2 s idle; Rust (growth_consumer) and Python tomodachi (benches/growth_service.py),
             --runs each (median).
ceiling      the raw lapin consumer (benches/fixtures/raw_lapin_consumer.rs, one delivery at a
             time and --tasks) on its own queue and routing key, N = --n, for the prefetch-100 row.
--kinds "rust python" runs Python tomodachi too (prefetch / concurrency / payload: rust only by
default).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_out as so  # noqa: E402
from benchlib import status_kib  # noqa: E402


def emit(out, res):
    res["loadavg"] = open("/proc/loadavg").read().split()[:3]
    line = json.dumps(res)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


def config(workdir, prefetch):
    path = os.path.join(workdir, f"prefetch-{prefetch}.json")
    with open(path, "w") as f:
        json.dump({"options": {"amqp": {"qos": {"queue_prefetch_count": prefetch,
                                                "global_prefetch_count": prefetch}}}}, f)
    return path


def drain_runs(a, workdir, logdir, rabbit, variants):
    """variants: (label dict, n, env, publisher)"""
    for run in range(a.runs):
        for kind in a.kinds.split():
            for label, n, env, publisher in variants:
                res = so.run_set("amqp", [kind], n, workdir, logdir, rabbit=rabbit, env=env, publisher=publisher)
                res.update(label)
                res["kind"], res["run"] = kind, run + 1
                emit(a.out, res)


def startup(a, workdir, logdir):
    shapes = [("amqp", 1, 0), ("amqp", 10, 0), ("amqp", 100, 0), ("none", 0, 100)]
    for kind in a.kinds.split():
        for transport, handlers, schedules in shapes:
            rows = []
            so.reset_amqp()
            for run in range(a.runs):
                env = {"GROWTH_TRANSPORT": transport, "GROWTH_ROUTING_KEY": so.KEY, "GROWTH_HANDLERS": str(handlers),
                       "GROWTH_SCHEDULES": str(schedules)}
                c = so.Consumer(kind, workdir, f"startup-{run}", env, logdir)
                ok = so.wait_ready([c], timeout=300)
                t_ready = time.monotonic() - c.t_spawn
                cpu_ready = so.cpu_s(c.proc.pid)
                time.sleep(2.0)
                rss = status_kib(c.proc.pid, "VmRSS") if c.proc.poll() is None else None
                code = c.stop()
                rows.append({"ready_ms": round(t_ready * 1000, 1) if ok else None,
                             "cpu_ms_to_ready": round(cpu_ready * 1000, 1) if ok and cpu_ready is not None else None,
                             "rss_kib": rss, "exit_code": code})
            good = [r for r in rows if r["ready_ms"] is not None]
            med = (lambda k: statistics.median([r[k] for r in good if r[k] is not None]) if good else None)
            emit(a.out, {"bench": "startup", "kind": kind, "transport": transport, "handlers": handlers,
                         "schedules": schedules, "runs": rows, "ready_ms": med("ready_ms"),
                         "cpu_ms_to_ready": med("cpu_ms_to_ready"), "rss_kib": med("rss_kib")})
    so.reset_amqp()


def ceiling(a, workdir, logdir):
    """The raw lapin consumer (benches/fixtures/raw_lapin_consumer.rs: prefetch 100 + 400 global,
    parse, count, ack) draining the same 411-byte backlog: the floor of CPU per message without
    a framework, for the prefetch table's 100 row."""
    import urllib.request
    rabbit = so.rabbit_pid()
    queue, key = "growth-raw-lapin", "growth.raw"
    for run in range(a.runs):
        for label, extra in (("raw-lapin", []), ("raw-lapin-tasks", ["--tasks"])):
            port = so.free_port()
            url = f"http://127.0.0.1:{port}/count"
            cmd = [os.path.join(so.TARGET, "examples", "raw_lapin_consumer"), "--port", str(port), *extra]
            env = dict(os.environ, QUEUE=queue, ROUTING_KEY=key)
            log = open(os.path.join(logdir, f"{label}.log"), "ab")

            def count():
                with urllib.request.urlopen(url, timeout=1) as r:
                    return int(r.read().decode().strip() or 0)

            def start():
                p = so.subprocess.Popen(cmd, env=env, stdout=log, stderr=so.subprocess.STDOUT)
                for _ in range(500):
                    try:
                        count()
                        return p
                    except Exception:
                        time.sleep(0.02)
                raise SystemExit(f"{label} did not start")

            p = start()
            time.sleep(1.0)  # declared and bound
            p.send_signal(so.signal.SIGTERM)
            p.wait(30)
            pub = so.publish_amqp(a.n, [so.PY, os.path.join(so.SHARED, "amqp_publish.py")], key=key)
            p = start()
            t_first = c_first = cpu0 = r0 = None
            c = 0
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                c = count()
                now = time.monotonic()
                if c > 0 and t_first is None:
                    t_first, c_first, cpu0, r0 = now, c, so.cpu_s(p.pid), so.cpu_ticks_s(rabbit)
                if c >= a.n:
                    break
                time.sleep(0.02)
            t_done = time.monotonic()
            cpu, rcpu = so.cpu_s(p.pid) - cpu0, so.cpu_ticks_s(rabbit) - r0
            p.send_signal(so.signal.SIGTERM)
            p.wait(30)
            log.close()
            done = c - c_first
            emit(a.out, {"bench": "ceiling", "kind": label, "run": run + 1, "n": a.n, "consumed": c,
                         "bytes_per_msg": pub.get("bytes_per_msg"),
                         "msgs_per_s": round(done / (t_done - t_first), 1),
                         "cpu_us_per_msg": round(cpu * 1e6 / done, 1),
                         "rabbitmq_cpu_us_per_msg": round(rcpu * 1e6 / done, 1)})
    so.subprocess.run([so.PY, "-c", "import asyncio, aioamqp\n"
                       "async def m():\n"
                       "    t, p = await aioamqp.connect(host='127.0.0.1', port=5672)\n"
                       "    c = await p.channel()\n"
                       f"    await c.queue_delete('{queue}')\n"
                       "    await p.close()\n"
                       "    t.close()\n"
                       "asyncio.run(m())\n"], capture_output=True, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["prefetch", "concurrency", "payload", "startup", "ceiling"])
    ap.add_argument("--kinds", default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    a.kinds = a.kinds or ("rust python" if a.what == "startup" else "rust")
    a.runs = a.runs or (3 if a.what == "startup" else 1)
    workdir = tempfile.mkdtemp(prefix="growth-")
    logdir = os.path.join(os.path.dirname(a.out) if a.out else workdir, f"logs-{a.what}")
    os.makedirs(logdir, exist_ok=True)
    if a.what == "startup":
        return startup(a, workdir, logdir)
    if a.what == "ceiling":
        return ceiling(a, workdir, logdir)
    rabbit = so.rabbit_pid()
    if a.what == "prefetch":
        variants = [({"bench": "prefetch", "prefetch": p}, a.n, {"GROWTH_CONFIG": config(workdir, p)}, None)
                    for p in (1, 10, 100, 1000)]
    elif a.what == "concurrency":
        variants = [({"bench": "concurrency", "serial": s, "handler_ms": 1, "prefetch": 100}, 3000,
                     {"GROWTH_SERIAL": "1" if s else "0", "GROWTH_HANDLER_MS": "1"}, None) for s in (True, False)]
    else:
        pub = [so.PY, os.path.join(so.ROOT, "benches", "growth_publish.py")]
        variants = [({"bench": "payload", "size": size, "encoding": enc}, n, {},
                     pub + ["--size", str(size), "--encoding", enc])
                    for size, enc, n in ((100, "raw", 20000), (10000, "raw", 5000), (1000000, "raw", 100),
                                         (1000000, "base64_gzip_json", 100))]
    try:
        drain_runs(a, workdir, logdir, rabbit, variants)
    finally:
        so.reset_amqp()


if __name__ == "__main__":
    main()
