#!/usr/bin/env python3
"""Markdown summary of a benches/otel_cost.sh results folder (usage: otel_cost_summary.py DIR)."""
import json
import os
import statistics
import sys

from benchlib import callgrind_functions

d = sys.argv[1]


def jl(name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    return [json.loads(x) for x in open(p) if x.strip()]


def fmt(v, nd=0):
    return "–" if v is None else f"{v:,.{nd}f}"


BUILDS = {"off": "without the feature", "otel": "feature compiled in, not enabled",
          "ws": "workspace build (feature compiled in, not enabled)", "on": "`--opentelemetry-instrument`"}

# ------------------------------------------------------------------ callgrind, off
ch = [r for r in jl("callgrind_http.jsonl") if "label" in r]
if ch:
    print("#### Instructions per HTTP request (callgrind, keep-alive, one connection)\n")
    print("| build | `hello` (access log off) | vs off | `hello-log` (access log on) | vs off |")
    print("|---|---:|---:|---:|---:|")
    per = {(r["build"], r["label"]): r["per_request"] for r in ch}
    for b in ["off", "otel", "ws"]:
        cells = []
        for label in ["hello", "hello-log"]:
            v, base = per.get((b, label)), per.get(("off", label))
            cells += [fmt(v), f"{100 * (v - base) / base:+.2f} %" if v and base and b != "off" else ""]
        if any(cells):
            print(f"| {b}: {BUILDS[b]} | " + " | ".join(cells) + " |")
    if ("on", "hello-otel") in per:
        v, base = per[("on", "hello-otel")], per.get(("otel", "hello"))
        extra = f"{100 * (v - base) / base:+.1f} % (+{fmt(v - base)})" if base else ""
        print(f"| on: {BUILDS['on']} (exporting) | {fmt(v)} | {extra} vs otel | | |")
    if ("ceiling", "bare-hyper-otel") in per and ("ceiling", "bare-hyper") in per:
        v, base = per[("ceiling", "bare-hyper-otel")], per[("ceiling", "bare-hyper")]
        print(f"| the ceiling: bare hyper {fmt(base)}, traced and metered on the opentelemetry crates (exporting) "
              f"| {fmt(v)} | +{fmt(v - base)} vs bare hyper | | |")
        if ("on", "hello-otel") in per and ("otel", "hello") in per:
            ours = per[("on", "hello-otel")] - per[("otel", "hello")]
            print(f"\nThe on-cost against the ceiling's: {fmt(ours)} / {fmt(v - base)} = {ours / (v - base):.2f}×")
    print()
    spans = [r for r in jl("callgrind_http.jsonl") if "callgrind_on_spans" in r]
    if spans:
        print(f"Spans the receiver got from the callgrind \"on\" runs: {spans[-1]['callgrind_on_spans']}\n")

ca = [r for r in jl("callgrind_amqp.jsonl") if "label" in r]
if ca:
    print("#### Instructions per AMQP message (callgrind, consumer `amqp_count`)\n")
    print("| build | N_A | N_B | consumed | instructions / message | vs off |")
    print("|---|---:|---:|---|---:|---:|")
    pm = {}
    for b in ["off", "otel", "ws", "on"]:
        r = sorted((x for x in ca if x["build"] == b and x.get("instructions")), key=lambda x: x["n"])
        if len(r) < 2:
            continue
        a, z = r[0], r[-1]
        pm[b] = (z["instructions"] - a["instructions"]) / (z["n"] - a["n"])
        ok = all(x.get("consumed", 0) >= x["n"] for x in (a, z))
        vs = f"{100 * (pm[b] - pm['off']) / pm['off']:+.2f} %" if b != "off" and "off" in pm else ""
        print(f"| {b}: {BUILDS[b]} | {a['n']} | {z['n']} | {'all' if ok else 'NOT ALL'} | {fmt(pm[b])} | {vs} |")
    if "on" in pm and "otel" in pm:
        print(f"\n`TOMODACHI_OPENTELEMETRY_INSTRUMENT=1` (exporting): {fmt(pm['on'])} per message, "
              f"+{fmt(pm['on'] - pm['otel'])} against the otel build off")
    spans = [r for r in jl("callgrind_amqp.jsonl") if "callgrind_on_spans" in r]
    if spans:
        print(f"\nSpans the receiver got from the AMQP callgrind \"on\" runs: {spans[-1]['callgrind_on_spans']}")
    print()

# ------------------------------------------------------------------ callgrind, where "on" goes


def per_function(folder, label, kind):
    r = [x for x in ch if x["label"] == label]
    if not r:
        return None
    a, b = r[0]["n_a"], r[0]["n_b"]
    fa = callgrind_functions(os.path.join(d, "callgrind", folder, f"callgrind.{label}.{a}.out.{kind}.txt"))
    fb = callgrind_functions(os.path.join(d, "callgrind", folder, f"callgrind.{label}.{b}.out.{kind}.txt"))
    if not fa or not fb:
        return None
    return {k: (fb.get(k, 0) - fa.get(k, 0)) / (b - a) for k in set(fa) | set(fb)}


for b in ["otel", "ws"]:
    on = per_function(f"{b}-http", "hello", "excl")
    off = per_function("off-http", "hello", "excl")
    if on is None or off is None:
        continue
    diff = sorted(((on.get(k, 0) - off.get(k, 0), k) for k in set(on) | set(off)), reverse=True)
    print(f"#### `hello`, {b} − off, instructions per request by function (self cost; the 12 largest each way)\n")
    print("| instr/request | function |\n|---:|---|")
    for v, k in diff[:12] + [("…", "")] + diff[-12:]:
        print(f"| {v if isinstance(v, str) else fmt(v)} | `{k[:150]}` |")
    print()

for kind, title in [("excl", "self cost"), ("incl", "inclusive (with callees)")]:
    on = per_function("on-http", "hello-otel", kind)
    off = per_function("otel-http", "hello", kind)
    if on is None or off is None:
        continue
    diff = sorted(((on.get(k, 0) - off.get(k, 0), k) for k in set(on) | set(off)), reverse=True)
    rows = diff[:25] if kind == "excl" else [x for x in diff if "tomodachi" in x[1] or "opentelemetry" in x[1]][:25]
    print(f"#### Instructions per request, on − off, by function ({title}; largest first)\n")
    print("| instr/request | function |\n|---:|---|")
    for v, k in rows:
        print(f"| {fmt(v)} | `{k[:150]}` |")
    print()

# ------------------------------------------------------------------ side by side
for mode, unit, key in [("http", "request", "cpu_us_per_req"), ("amqp", "message", "cpu_us_per_msg")]:
    rows = jl(f"{mode}.jsonl")
    if not rows:
        continue
    print(f"#### CPU µs per {unit} ({mode}), instrumentation off vs on, median of the runs\n")
    print(f"| service | off | on | **overhead (on − off)** | runs (off / on) | on runs with every span | spans (on, median) | "
          f"{'req/s' if mode == 'http' else 'msgs/s'} off / on (median) |")
    print("|---|---:|---:|---:|---|---|---:|---|")
    over = {}
    for impl in ["rust", "python", "ceiling"]:
        off = [r for r in rows if r["label"] == f"{impl}:otel=0" and key in r]
        on = [r for r in rows if r["label"] == f"{impl}:otel=1" and key in r]
        if not off or not on:
            continue
        mo, mn = statistics.median(r[key] for r in off), statistics.median(r[key] for r in on)
        over[impl] = mn - mo
        rate = "rps" if mode == "http" else "msgs_per_s"
        print(f"| {impl} | {mo:.2f} | {mn:.2f} | **{mn - mo:+.2f}** | "
              f"{', '.join(f'{r[key]:.2f}' for r in off)} / {', '.join(f'{r[key]:.2f}' for r in on)} | "
              f"{sum(r['valid'] for r in on)} of {len(on)} | "
              f"{statistics.median(r['spans_total'] for r in on):,.0f} of {statistics.median(r['spans_expected'] for r in on):,.0f} | "
              f"{statistics.median(r[rate] for r in off):,.0f} / {statistics.median(r[rate] for r in on):,.0f} |")
    if "rust" in over and "python" in over and over["rust"] > 0:
        print(f"\nPython's overhead / Rust's: {over['python'] / over['rust']:.1f}×")
    bad = [r["label"] for r in rows if not r.get("valid")]
    if bad:
        print(f"\nINVALID runs (off: a span arrived; on: spans missing): {bad}")
    busy = [r.get("machine_busy_pct") for r in rows]
    print(f"\nwhole-machine busy % during the windows: {busy}\n")

q = jl("quiet.jsonl")
if q:
    loud = [x["before"] for x in q if not x["quiet"]["quiet"]]
    print(f"Quiet check: {len(q) - len(loud)} of {len(q)} benches started on a quiet machine"
          + (f"; not quiet before: {', '.join(loud)}" if loud else "") + "\n")
