#!/usr/bin/env python3
"""One OpenTelemetry cost measurement for benches/otel_cost.sh: a service's CPU time per HTTP
request or per AMQP message, instrumentation off or on, exporting over OTLP/HTTP to the tests'
receiver (crates/tomodachi/tests/fixtures/otlp_receiver.py). Prints ONE JSON line.

  otel_cost.py http --label L --url URL [--otel] [--duration 10s] [--warmup 2s] [--conns 64] -- CMD...
  otel_cost.py amqp --label L --url COUNT_URL --n N [--otel] -- CMD...

Both modes start the receiver (pinned to --load-cpu) and give the service the same OTEL_*
variables (traces and metrics over OTLP http/protobuf to the receiver), so off and on differ in
the instrumentation flag only; --otel means CMD carries the flag (the caller adds it) and the
run is only valid when the receiver got the spans.

http: wrk warms up, then runs --duration with --conns keep-alive connections, pinned to
--load-cpu; the service's utime+stime (/proc/<pid>/stat) is read before and after and divided by
the requests wrk reports. With --otel the "before" reading waits until the receiver holds the
warm-up's spans and the "after" reading until it holds the run's too, so the CPU of exporting
every span of the run is in the window (OTEL_BSP_MAX_QUEUE_SIZE is raised by the caller so no
span is dropped while the receiver, a Python process, lags behind).

amqp: a first start of CMD declares its queue (CMD must use a fixed service uuid), N JsonBase
messages are published to amq.topic / bench.in with the shared amqp_publish.py while it is
stopped, then CMD drains them; CPU from the first count > 0 to count = N (and, with --otel,
until the receiver holds N consumer spans), per message consumed in that window. /count is
polled every 0.1 s and excluded from tracing (OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS=count).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from benchlib import stop

TCK = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    """utime + stime of the process (all its threads, also the ones that ended) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def busy_pct(a, b):
    d = [y - x for x, y in zip(a, b)]
    return round(100 * (1 - (d[3] + d[4]) / (sum(d) or 1)), 1)


class Receiver:
    """The OTLP receiver on the load core; counts the span lines it has written so far."""

    def __init__(self, python, script, out, cpu):
        self.out = out
        for f in (out, out + ".metrics", out + ".logs"):
            if os.path.exists(f):
                os.remove(f)
        self.p = subprocess.Popen(["taskset", "-c", str(cpu), python, script, out],
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.port = int(self.p.stdout.readline().strip())
        self.offset = 0
        self.count = 0

    def spans(self):
        """Span lines written so far (read incrementally)."""
        try:
            with open(self.out, "rb") as f:
                f.seek(self.offset)
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    self.offset += len(chunk)
                    self.count += chunk.count(b"\n")
        except FileNotFoundError:
            pass
        return self.count

    def wait(self, target, timeout, settle=8.0):
        """Until `target` spans arrived, or `settle` s without a new one, or `timeout`."""
        t0 = time.monotonic()
        last, last_t = self.spans(), t0
        while self.spans() < target and time.monotonic() - t0 < timeout:
            if self.count != last:
                last, last_t = self.count, time.monotonic()
            elif time.monotonic() - last_t > settle:
                break
            time.sleep(0.1)
        return round(time.monotonic() - t0, 2)

    def metrics(self):
        try:
            with open(self.out + ".metrics", "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def stop(self, keep):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        spans = self.spans()
        kinds = {}
        names = {}
        try:
            with open(self.out) as f:
                for line in f:
                    s = json.loads(line)
                    kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
                    if len(names) < 5 or s["name"] in names:
                        names[s["name"]] = names.get(s["name"], 0) + 1
        except FileNotFoundError:
            pass
        metrics = self.metrics()
        if not keep and os.path.exists(self.out):
            os.remove(self.out)
        return {"spans_total": spans, "span_kinds": kinds, "span_names": names, "metric_lines": metrics}


def get(url, timeout=1.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode().strip()


def start(cmd, env, log, url, pause=0.05, tries=1200):
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    probes = 0
    for _ in range(tries):
        if p.poll() is not None:
            raise SystemExit(f"{cmd} exited with {p.returncode} during start-up")
        try:
            probes += 1
            get(url, timeout=0.5)
            return p, 1  # the one probe that got an answer (and a span)
        except Exception:
            time.sleep(pause)
    p.kill()
    raise SystemExit(f"{cmd} did not answer {url}")


def wrk(a, url, duration, latency=False):
    cmd = ["taskset", "-c", str(a.load_cpu), "wrk", "-t1", f"-c{a.conns}", f"-d{duration}"]
    out = subprocess.run(cmd + (["--latency"] if latency else []) + [url], capture_output=True, text=True).stdout
    r = {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
         "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(map(int, m.groups())) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx"] = int(m.group(1)) if m else 0
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["http", "amqp"])
    ap.add_argument("--label", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--otel", action="store_true")
    ap.add_argument("--receiver", required=True)
    ap.add_argument("--receiver-python", required=True)
    ap.add_argument("--out", required=True, help="folder for the receiver's files and the service log")
    ap.add_argument("--keep-spans", action="store_true")
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--warmup", default="2s")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--shared", default="/work/shared/bench")
    ap.add_argument("--publisher-python", default=sys.executable)
    ap.add_argument("--span-timeout", type=float, default=300)
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("the service's command comes after --")
    cut = argv.index("--")
    a = ap.parse_args(argv[:cut])
    cmd = argv[cut + 1:]
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", a.label)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, f"{tag}.log"), "ab")
    rec = Receiver(a.receiver_python, a.receiver, os.path.join(a.out, f"{tag}.spans.jsonl"), a.load_cpu)
    env = dict(os.environ,
               OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp", OTEL_LOGS_EXPORTER="none",
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
               OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{rec.port}")
    res = {"bench": f"otel_{a.mode}", "label": a.label, "otel": a.otel}
    try:
        if a.mode == "http":
            res.update(http(a, cmd, env, log, rec))
        else:
            res.update(amqp(a, cmd, env, log, rec))
    finally:
        res.update(rec.stop(a.keep_spans))
    if a.otel:
        res["valid"] = res["spans_total"] >= res["spans_expected"]
    else:
        res["valid"] = res["spans_total"] == 0
    print(json.dumps(res), flush=True)


def http(a, cmd, env, log, rec):
    p, probes = start(cmd, env, log, a.url)
    try:
        warm = wrk(a, a.url, a.warmup)
        expected = probes + warm["requests"]
        waited0 = rec.wait(expected, a.span_timeout) if a.otel else 0
        time.sleep(0.5)
        m0, c0, t0 = machine(), ticks(p.pid), time.monotonic()
        run = wrk(a, a.url, a.duration, latency=True)
        expected += run["requests"]
        waited1 = rec.wait(expected, a.span_timeout) if a.otel else 0
        c1, t1, m1 = ticks(p.pid), time.monotonic(), machine()
    finally:
        code = stop(p)
    cpu_s = (c1 - c0) / TCK
    return {"requests": run["requests"], "rps": run["rps"], "socket_errors": run["socket_errors"],
            "non_2xx": run["non_2xx"], "warmup_requests": warm["requests"], "cpu_s": round(cpu_s, 2),
            "cpu_us_per_req": round(1e6 * cpu_s / run["requests"], 2), "window_s": round(t1 - t0, 2),
            "span_wait_s": [waited0, waited1], "spans_expected": expected,
            "machine_busy_pct": busy_pct(m0, m1), "exit_code": code}


def amqp(a, cmd, env, log, rec):
    env = dict(env, OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS="count")
    # 1. a first start declares and binds the queue
    p, _ = start(cmd, env, log, a.url)
    time.sleep(2.0)
    stop(p)
    before = rec.spans()
    # 2. the backlog
    pub = subprocess.run(["taskset", "-c", str(a.load_cpu), a.publisher_python,
                          os.path.join(a.shared, "amqp_publish.py"), "--n", str(a.n)],
                         capture_output=True, text=True, timeout=600)
    published = json.loads(pub.stdout.strip().splitlines()[-1])
    # 3. the drain
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    c_first = c = cpu0 = t_first = t_done = None
    deadline = time.monotonic() + 900
    moved, last = time.monotonic(), None
    try:
        while time.monotonic() < deadline and p.poll() is None:
            try:
                c = int(get(a.url))
            except Exception:
                c = None
            if c != last:
                moved, last = time.monotonic(), c
            elif time.monotonic() - moved > 60:
                break  # stuck (e.g. the queue was deleted by someone else's reset on the shared broker)
            if c is not None and c > 0 and cpu0 is None:
                cpu0, c_first, t_first, m0 = ticks(p.pid), c, time.monotonic(), machine()
            if c is not None and c >= a.n:
                t_done = time.monotonic()
                break
            time.sleep(0.1)
        if t_done is None:
            raise SystemExit(f"{a.label}: did not drain the backlog (count {c})")
        expected = before + a.n
        waited = rec.wait(expected, a.span_timeout) if a.otel else 0
        cpu1, t1, m1 = ticks(p.pid), time.monotonic(), machine()
    finally:
        code = stop(p)
    n = a.n - c_first
    cpu_s = (cpu1 - cpu0) / TCK
    return {"n": a.n, "publish_s": published["publish_s"], "consumed_in_window": n, "count_first": c_first,
            "drain_s": round(t_done - t_first, 2), "msgs_per_s": round(n / (t_done - t_first), 1),
            "cpu_s": round(cpu_s, 2), "cpu_us_per_msg": round(1e6 * cpu_s / n, 2), "window_s": round(t1 - t_first, 2),
            "span_wait_s": waited, "spans_expected": expected, "machine_busy_pct": busy_pct(m0, m1),
            "exit_code": code}


if __name__ == "__main__":
    main()
