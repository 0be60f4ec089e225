#!/usr/bin/env python3
"""Websocket echo, side by side in one run: examples/websocket_service.rs (release) vs its Python
tomodachi twin (crates/tomodachi/tests/python/websocket_service.py).

    .venv/bin/python benches/websocket_compare.py --rust-bin $CARGO_TARGET_DIR/release/examples/websocket_service

For each round, each service (order alternating between rounds) is started pinned to core 0
(taskset) on a free loopback port, and this script, pinned to core 1, measures with aiohttp's
websocket client:

* echo: CONNS sockets on /websocket/bench, each sending a text message and awaiting its answer
  in a loop for SECONDS (after a 1 s warm-up): answers/s, and the service's CPU time per answer
  (utime+stime of its process tree over the window) - the client is one Python process, so for a
  fast service answers/s is bounded by the client; CPU µs per answer is not;
* memory: RSS of the service's process tree when idle, then with SOCKETS open websockets (each
  has been answered once): (RSS with sockets - idle RSS) / SOCKETS.

The machine is shared: before each measurement the script waits (up to --quiet-max s) for a
2 s window with the machine under 15 % busy, and it records how much CPU *other* processes used
during the echo window (`others_busy_pct`, of both cores: machine CPU minus the service's and
this script's). The summary takes the medians over the clean measurements (others under 10 %)
when each service has one, else over all, and says which.

Prints one JSON line per measurement and a summary (medians, Rust/Python ratios) as JSON and as
a markdown table. Only 127.0.0.1; stops what it starts (by PID).
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import aiohttp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY_DIR = os.path.join(ROOT, "crates", "tomodachi", "tests", "python")
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    pids = [pid]
    for p in pids:
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except OSError:
            pass
    return total


def cpu_s(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def busy_pct(window=1.0):
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]

    t1, i1 = snap()
    time.sleep(window)
    t2, i2 = snap()
    return round(100.0 * (1 - (i2 - i1) / max(1, t2 - t1)), 1)


def machine_cpu_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / TICK


def own_cpu_s():
    t = os.times()
    return t.user + t.system


def wait_quiet(max_wait):
    waited = 0.0
    while True:
        busy = busy_pct(2.0)
        if busy < 15 or waited >= max_wait:
            return busy, waited
        waited += 2.0


def start(kind, args, port):
    env = dict(os.environ, HTTP_PORT=str(port), NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    if kind == "rust":
        cmd = ["taskset", "-c", "0", args.rust_bin, "--production"]
        cwd = ROOT
    else:
        tomodachi = os.path.join(os.path.dirname(sys.executable), "tomodachi")
        cmd = ["taskset", "-c", "0", tomodachi, "run", "websocket_service.py", "--production"]
        cwd = PY_DIR
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{kind} service did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def echo(port, conns, seconds):
    url = f"http://127.0.0.1:{port}/websocket/bench"
    counts = [0] * conns
    state = {"measuring": False, "stop": False}

    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url, autoping=True) for _ in range(conns)]

        async def loop(i, ws):
            while not state["stop"]:
                await ws.send_str("hello")
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise SystemExit(f"unexpected answer {msg!r}")
                if state["measuring"]:
                    counts[i] += 1

        tasks = [asyncio.ensure_future(loop(i, ws)) for i, ws in enumerate(sockets)]
        await asyncio.sleep(1.0)
        state["measuring"] = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        state["measuring"] = False
        elapsed = time.perf_counter() - started
        state["stop"] = True
        await asyncio.gather(*tasks)
        for ws in sockets:
            await ws.close()
    return sum(counts), elapsed


async def hold(port, n, measure):
    url = f"http://127.0.0.1:{port}/websocket/bench"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = []

        async def one():
            ws = await session.ws_connect(url, autoping=True)
            await ws.send_str("x")
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise SystemExit(f"unexpected answer {msg!r}")
            sockets.append(ws)

        for batch in range(0, n, 100):
            await asyncio.gather(*(one() for _ in range(min(100, n - batch))))
        await asyncio.sleep(1.0)
        value = measure()
        for ws in sockets:
            await ws.close()
    return value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust-bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--quiet-max", type=float, default=120)
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})

    results = {"rust": [], "python": []}
    for rnd in range(args.rounds):
        order = ["rust", "python"] if rnd % 2 == 0 else ["python", "rust"]
        for kind in order:
            port = free_port()
            proc = start(kind, args, port)
            try:
                time.sleep(1)
                busy, waited = wait_quiet(args.quiet_max)
                idle = rss_kib(proc.pid)
                cpu0, machine0, own0, t0 = cpu_s(proc.pid), machine_cpu_s(), own_cpu_s(), time.time()
                answers, elapsed = asyncio.run(echo(port, args.conns, args.seconds))
                cpu = cpu_s(proc.pid) - cpu0
                others = machine_cpu_s() - machine0 - cpu - (own_cpu_s() - own0)
                others_pct = round(100.0 * others / (2 * (time.time() - t0)), 1)
                with_sockets = asyncio.run(hold(port, args.sockets, lambda: rss_kib(proc.pid)))
            finally:
                stop(proc)
            row = {
                "round": rnd,
                "service": kind,
                "answers_per_s": round(answers / elapsed),
                # the CPU window includes the 1 s warm-up and the close: a slight overestimate
                "cpu_us_per_answer": round(1e6 * cpu / max(1, answers), 1),
                "idle_rss_kib": idle,
                "rss_kib_with_sockets": with_sockets,
                "kib_per_socket": round((with_sockets - idle) / args.sockets, 2),
                "busy_pct_before": busy,
                "waited_for_quiet_s": waited,
                "others_busy_pct": others_pct,
                "loadavg": os.getloadavg(),
            }
            results[kind].append(row)
            print(json.dumps(row), flush=True)

    clean = {k: [r for r in rows if r["others_busy_pct"] < 10] for k, rows in results.items()}
    use_clean = all(clean.values())
    chosen = clean if use_clean else results

    def med(kind, key):
        return statistics.median(r[key] for r in chosen[kind])

    summary = {"conns": args.conns, "seconds": args.seconds, "sockets": args.sockets,
               "rounds": args.rounds, "nproc": os.cpu_count(),
               "medians_over": "clean" if use_clean else "all",
               "clean": {k: len(v) for k, v in clean.items()}}
    lines = ["| measure (median; %s measurements: Rust %d, Python %d) | Rust | Python tomodachi | Rust / Python |"
             % ("clean" if use_clean else "all", len(chosen["rust"]), len(chosen["python"])),
             "|---|---:|---:|---:|"]
    for key, label in [("answers_per_s", "echo answers/s (%d sockets, Python client)" % args.conns),
                       ("cpu_us_per_answer", "service CPU µs per answer"),
                       ("idle_rss_kib", "idle RSS (KiB)"),
                       ("kib_per_socket", "RSS per open websocket (KiB, %d sockets)" % args.sockets)]:
        r, p = med("rust", key), med("python", key)
        summary[key] = {"rust": r, "python": p, "ratio": round(r / p, 3) if p else None}
        lines.append(f"| {label} | {r:,} | {p:,} | {summary[key]['ratio']} |")
    print(json.dumps({"summary": summary}), flush=True)
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
