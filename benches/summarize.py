#!/usr/bin/env python3
"""Markdown tables (stdout) for one benches/results/<stamp>/ folder written by http_compare.sh.

usage: benches/summarize.py benches/results/<stamp>   (default: benches/results/latest)

HTTP labels are IMPL:CONFIG. Each python:CONFIG is paired with rust:CONFIG, and both with the
bare hyper server of the same keep-alive mode (bare-hyper:close / bare-hyper:keepalive; it has
no access log, so the access-log rows include the cost of logging in the ratio).
Ratios: req/s rust/python > 1 and CPU µs/req rust/python < 1 mean the port is ahead.
"""
import json
import os
import statistics
import sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "latest")


def jl(name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    return [json.loads(x) for x in open(p) if x.strip().startswith("{")]


def fmt(v, nd=0):
    if v is None:
        return "–"
    return f"{v:.{nd}f}"


def ratio(a, b, nd=2):
    if a is None or b is None or not b:
        return "–"
    return f"{a / b:.{nd}f}"


env = json.load(open(os.path.join(d, "env.json")))
w = env.get("wrk_args", {})
print(f"### Run {env['date_utc']}: {env['nproc']} cores, {env['cpu_model']}, {env['rustc']}, "
      f"port at {env['git']}, Python {env['python']} + tomodachi {env['packages']['tomodachi']} "
      f"(`--loop {env['py_loop']}`)\n")
print(f"wrk -t1 -c{w.get('connections')} -d{w.get('duration')} (+{w.get('warmup')} warm-up), "
      f"{w.get('runs')} run(s) per configuration, medians; service on core {env['svc_cpu']}, "
      f"wrk on core {env['load_cpu']}.\n")

q = jl("quiet.jsonl")
if q:
    loud = [x for x in q if not x["quiet"]["quiet"]]
    print(f"Machine idle check before each bench: {len(q) - len(loud)}/{len(q)} quiet "
          f"(busy% over 2 s, median {statistics.median(x['quiet']['busy_pct'] for x in q)}%)"
          + (f"; NOT quiet before {len(loud)}" if loud else "") + "\n")

h = {r["label"]: r for r in jl("http.jsonl")}


def get(label, key):
    r = h.get(label)
    return None if r is None or "error" in r else r.get(key)


CONFIGS = [
    ("accesslog-close", "access log on, keep-alive off (upstream default)", "close"),
    ("noaccesslog-close", "access log off, keep-alive off", "close"),
    ("accesslog-keepalive", "access log on, keep-alive 5 s", "keepalive"),
    ("noaccesslog-keepalive", "access log off, keep-alive 5 s", "keepalive"),
]
if h:
    print("| HTTP `GET /` configuration | req/s python | req/s rust | req/s bare hyper | "
          "rust/python | rust/bare hyper | p99 ms py / rust / hyper | "
          "CPU µs/req py / rust / hyper | CPU rust/python | CPU rust/bare hyper |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for cfg, desc, ka in CONFIGS:
        py, rs, hy = f"python:{cfg}", f"rust:{cfg}", f"bare-hyper:{ka}"
        if py not in h and rs not in h:
            continue
        rps = [get(x, "rps_median") for x in (py, rs, hy)]
        p99 = [get(x, "p99_ms_median") for x in (py, rs, hy)]
        cpu = [get(x, "svc_cpu_us_per_req_median") for x in (py, rs, hy)]
        print(f"| {desc} | {fmt(rps[0])} | {fmt(rps[1])} | {fmt(rps[2])} | {ratio(rps[1], rps[0])} | "
              f"{ratio(rps[1], rps[2])} | {' / '.join(fmt(x, 1) for x in p99)} | "
              f"{' / '.join(fmt(x, 1) for x in cpu)} | {ratio(cpu[1], cpu[0])} | {ratio(cpu[1], cpu[2])} |")
    print()

    print("| every HTTP run (label) | req/s median | spread % | p50 ms | p99 ms | per-run req/s | "
          "svc CPU µs/req | svc core util % per run | steal % per run | machine busy % per run | errors |")
    print("|---|---:|---:|---:|---:|---|---:|---|---|---|---|")
    for label, r in h.items():
        if "error" in r:
            print(f"| {label} | ERROR: {r['error']} | | | | | | | | | |")
            continue
        errs = []
        for x in r["runs"]:
            se = x.get("socket_errors") or {}
            if (se and sum(se.values())) or x.get("non_2xx"):
                errs.append(f"sock {se} non2xx {x.get('non_2xx')}")
        runs = r["runs"]
        print(f"| {label} | {r['rps_median']:.0f} | {r['rps_spread_pct']} | {r['p50_ms_median']} | "
              f"{r['p99_ms_median']} | {', '.join('%.0f' % x['rps'] for x in runs)} | "
              f"{r.get('svc_cpu_us_per_req_median')} | {', '.join(str(x.get('svc_cpu_util_pct')) for x in runs)} | "
              f"{', '.join(str(x.get('steal_pct')) for x in runs)} | "
              f"{', '.join(str(x.get('machine_busy_pct')) for x in runs)} | {'; '.join(errs) or '0'} |")
    print()

st = jl("startup.jsonl")
if st:
    print("| startup (spawn → first 200 on `GET /`) | median ms | min ms | idle RSS KB (median) | "
          "SIGTERM→exit ms | exit codes | runs ok |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for r in st:
        if "error" in r:
            print(f"| {r.get('label', '?')} | ERROR: {r['error']} | | | | | |")
            continue
        print(f"| {r['label']} | {fmt(r['startup_ms_median'], 1)} | {fmt(r['startup_ms_min'], 1)} | "
              f"{fmt(r['idle_rss_kb_median'])} | {fmt(r['sigterm_exit_ms_median'], 1)} | {r['exit_codes']} | "
              f"{r['runs_ok']}/{len(r['runs'])} |")
    by = {r.get("label"): r for r in st}
    py, rs = by.get("python:hello"), by.get("rust:hello")
    if py and rs and "error" not in py and "error" not in rs:
        print(f"\nrust/python: startup {ratio(rs['startup_ms_median'], py['startup_ms_median'], 3)}, "
              f"idle RSS {ratio(rs['idle_rss_kb_median'], py['idle_rss_kb_median'], 3)}")
    print()

sd = jl("shutdown.jsonl")
if sd:
    print("| graceful shutdown (50 × `POST /sheep`, SIGTERM +100 ms) | 200s per run | SIGTERM→exit ms per run | "
          "last response after SIGTERM ms | late request (+50 ms) | exit codes |")
    print("|---|---|---|---|---|---|")
    for r in sd:
        if "error" in r:
            print(f"| {r.get('label', '?')} | ERROR: {r['error']} | | | | |")
            continue
        runs = [x for x in r["runs"] if "ok_200" in x]
        bad = [x for x in r["runs"] if "ok_200" not in x]
        print(f"| {r['label']} | {', '.join('%s/%s' % (x['ok_200'], r['n']) for x in runs)}"
              f"{' (+%d failed runs)' % len(bad) if bad else ''} | "
              f"{', '.join(str(x['sigterm_to_exit_ms']) for x in runs)} | "
              f"{', '.join(str(x['last_response_after_sigterm_ms']) for x in runs)} | "
              f"{runs[0]['late_request'] if runs else ''} | {r['exit_codes']} |")
    print()
