#!/usr/bin/env python3
"""Markdown tables (stdout) for one benches/results/amqp-<stamp>/ folder written by amqp_compare.sh.

usage: benches/amqp_summarize.py benches/results/amqp-<stamp>   (default: benches/results/amqp-latest)

- live / backlog: msgs/s, the service's and RabbitMQ's CPU µs per message (medians over runs),
  the whole machine's busy % and steal % over each run (other builds on the host show there);
  ratios of this port (`rust`) to Python tomodachi and to the raw lapin ceilings.
- callgrind: instructions per message = (total_B - total_A) / (N_B - N_A) per consumer; the same
  difference per function (exclusive and inclusive) goes to callgrind-<label>.md in the folder,
  the largest entries into the summary.
Ratios: msgs/s rust/x > 1 and CPU or instructions rust/x < 1 mean the port is ahead.
"""
import json
import os
import statistics
import sys

from benchlib import callgrind_functions

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                       "amqp-latest")
LABELS = ["python", "rust", "raw-lapin", "raw-lapin-tasks", "raw-aioamqp"]
NAMES = {
    "python": "Python tomodachi 0.29",
    "rust": "**this port**",
    "raw-lapin": "raw lapin, ack awaited inline (ceiling)",
    "raw-lapin-tasks": "raw lapin, a task per delivery (ceiling)",
    "raw-aioamqp": "raw aioamqp (baseline's ceiling)",
}


def jl(name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    return [json.loads(x) for x in open(p) if x.strip().startswith("{")]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, nd=0):
    return "–" if v is None else f"{v:,.{nd}f}".replace(",", " ")


def ratio(a, b, nd=2):
    return "–" if a is None or not b else f"{a / b:.{nd}f}"


env = json.load(open(os.path.join(d, "env.json")))
pk = env.get("packages", {})
load_end = open(os.path.join(d, "loadavg_end")).read().strip() if os.path.exists(os.path.join(d, "loadavg_end")) else "?"
print(f"### AMQP run {env['date_utc']}: {env['nproc']} cores, {env['cpu_model']}, {env['rustc']}, "
      f"port at {env['git']}, Python {env['python']} + tomodachi {pk.get('tomodachi')} (aioamqp {pk.get('aioamqp')}), "
      f"RabbitMQ {env.get('rabbitmq')}\n")
print(f"N = {env['n']}, {env['runs']} run(s) per consumer (medians), consumer on core {env['svc_cpu']}, "
      f"publisher on core {env['load_cpu']}, RabbitMQ unpinned. Load average at start {env.get('loadavg_start')}, "
      f"at end {load_end}.\n")

q = jl("quiet.jsonl")
if q:
    loud = [x for x in q if not x["quiet"]["quiet"]]
    print(f"Machine idle check before each bench: {len(q) - len(loud)}/{len(q)} quiet "
          f"(busy% over 2 s, median {statistics.median(x['quiet']['busy_pct'] for x in q)}%)"
          + (f"; NOT quiet before {', '.join(x['before'] for x in loud)}" if loud else "") + "\n")

machine = {}
for m in jl("machine.jsonl"):
    a, b = m["stat_before"], m["stat_after"]
    delta = [y - x for x, y in zip(a, b)]
    total = sum(delta[:8]) or 1
    idle = delta[3] + delta[4]
    machine.setdefault((m["mode"], m["label"]), []).append(
        (round(100.0 * (total - idle) / total, 1), round(100.0 * delta[7] / total, 1)))


def table(mode, rows, rate_key, title):
    print(f"| {title} | msgs/s | per-run msgs/s | service CPU µs/msg | RabbitMQ CPU µs/msg "
          f"| machine busy % | steal % | consumed |")
    print("|---|---:|---|---:|---:|---|---|---|")
    s = {}
    for label in LABELS:
        rs = [r for r in rows if r.get("label") == label]
        ok = [r for r in rs if "error" not in r]
        if not rs:
            continue
        if not ok:
            print(f"| {NAMES[label]} | failed: {rs[0].get('error')} | | | | | | |")
            continue
        rate = med([r.get(rate_key) for r in ok])
        svc = med([r["cpu_during_run"].get("svc", {}).get("cpu_us_per_msg") for r in ok])
        rmq = med([r["cpu_during_run"].get("rabbitmq", {}).get("cpu_us_per_msg") for r in ok])
        s[label] = (rate, svc, rmq)
        mach = machine.get((mode, label), [])
        print(f"| {NAMES[label]} | {fmt(rate)} | {', '.join(fmt(r.get(rate_key)) for r in ok)} | {fmt(svc, 1)} "
              f"| {fmt(rmq, 1)} | {', '.join(str(x[0]) for x in mach)} | {', '.join(str(x[1]) for x in mach)} "
              f"| {', '.join(str(r.get('consumed')) for r in rs)} |")
    print()
    if "rust" in s:
        r = s["rust"]
        for other in ["python", "raw-lapin", "raw-lapin-tasks", "raw-aioamqp"]:
            if other in s:
                o = s[other]
                print(f"- rust / {other}: msgs/s {ratio(r[0], o[0])}×, service CPU per message {ratio(r[1], o[1])}×, "
                      f"RabbitMQ CPU per message {ratio(r[2], o[2])}×")
        print()


live = jl("amqp.jsonl")
if live:
    print("#### Live: the consumer runs while `amqp_bench.py` publishes\n")
    pubs = [r.get("publish_msgs_per_s") for r in live if r.get("publish_msgs_per_s")]
    if pubs:
        print(f"Publisher rate (aioamqp, core {env['load_cpu']}): {fmt(min(pubs))}–{fmt(max(pubs))} msgs/s.\n")
    table("live", live, "msgs_per_s", "consumer (live)")
back = jl("amqp_backlog.jsonl")
if back:
    print("#### Backlog: N messages published first, then drained\n")
    table("backlog", back, "msgs_per_s", "consumer (backlog)")

# ------------------------------------------------------------------ callgrind


ins = jl("instructions.jsonl")
per_msg = {}
if ins:
    print("#### Instructions per message (callgrind)\n")
    print("| consumer | N_A | instructions | N_B | instructions | **instructions / message** |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in LABELS:
        r = sorted((i for i in ins if i["label"] == label and i.get("instructions")), key=lambda i: i["n"])
        if len(r) < 2:
            continue
        a, b = r[0], r[-1]
        per = (b["instructions"] - a["instructions"]) / (b["n"] - a["n"])
        per_msg[label] = (per, a, b)
        short = [x for x in (a, b) if x.get("consumed", x["n"]) < x["n"]]
        print(f"| {NAMES[label]} | {a['n']} | {fmt(a['instructions'])} | {b['n']} | {fmt(b['instructions'])} "
              f"| **{fmt(per)}**{' (not all consumed!)' if short else ''} |")
    print()
    if "rust" in per_msg:
        for other in ["raw-lapin", "raw-lapin-tasks"]:
            if other in per_msg:
                print(f"- rust / {other}: {ratio(per_msg['rust'][0], per_msg[other][0])}× the instructions per "
                      f"message (+{fmt(per_msg['rust'][0] - per_msg[other][0])})")
        print()

    def diff(label, kind):
        _, a, b = per_msg[label]
        fa = callgrind_functions(os.path.join(d, f"callgrind.{label}.{a['n']}.out.{kind}.txt"))
        fb = callgrind_functions(os.path.join(d, f"callgrind.{label}.{b['n']}.out.{kind}.txt"))
        dn = b["n"] - a["n"]
        return sorted(((fb.get(k, 0) - fa.get(k, 0)) / dn, k) for k in set(fa) | set(fb))[::-1]

    for label in per_msg:
        total = per_msg[label][0]
        excl, incl = diff(label, "excl"), diff(label, "incl")
        with open(os.path.join(d, f"callgrind-{label}.md"), "w") as f:
            f.write(f"# {label}: instructions per message by function ({fmt(total)} in all)\n\n")
            for kind, rows in [("exclusive (self)", excl), ("inclusive (with callees)", incl)]:
                f.write(f"## {kind}\n\n| instr/msg | share | function |\n|---:|---:|---|\n")
                for v, k in rows[:80]:
                    f.write(f"| {fmt(v)} | {100 * v / total:.1f} % | `{k[:200]}` |\n")
                f.write("\n")
        if label == "rust":
            print(f"Largest self costs per message, {label} (all in `callgrind-{label}.md`):\n")
            print("| instr/msg | share | function |\n|---:|---:|---|")
            for v, k in excl[:15]:
                print(f"| {fmt(v)} | {100 * v / total:.1f} % | `{k[:140]}` |")
            print()
            print(f"tomodachi's own functions, inclusive (with what they call), {label}:\n")
            print("| instr/msg | share | function |\n|---:|---:|---|")
            for v, k in [x for x in incl if "tomodachi::" in x[1] and x[0] > 0.005 * total][:20]:
                print(f"| {fmt(v)} | {100 * v / total:.1f} % | `{k[:140]}` |")
            print()
