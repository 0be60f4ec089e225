#!/usr/bin/env python3
"""Tables and plots of the "how cost grows" runs (issue 15) in one results folder
(benches/growth_all.sh writes it): scale_out_amqp.jsonl, scale_out_sqs.jsonl (benches/scale_out.py),
prefetch.jsonl, concurrency.jsonl, payload.jsonl, startup.jsonl, ceiling.jsonl (benches/growth.py).

    .venv-bench/bin/python benches/growth_plot.py benches/results/growth-latest [benches/plots]

Prints the Markdown tables (medians over runs) and writes growth_scale_out.png,
growth_prefetch.png, growth_payload.png and growth_startup.png. Needs matplotlib
(``python3 -m venv .venv-bench && .venv-bench/bin/pip install matplotlib``).
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_out import exactly_once  # noqa: E402


def load(root, name):
    path = os.path.join(root, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "-"
    return f"{x:,.{nd}f}"


def group(rows, key):
    out = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


def scale_out_table(rows, title):
    print(f"\n**{title}**\n")
    print("| processes | N | msgs/s: whole drain / all consuming | per process: handled, msgs/s while all consume, CPU µs/msg | handled | duplicates | redelivered | missing | exactly once | broker CPU µs/msg |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---:|")
    for key, rs in group(rows, lambda r: " + ".join(r["set"])).items():
        for r in rs:
            per = "; ".join(f"{p['kind']}: {p['handled']}, {fmt(p.get('all_consuming_msgs_per_s'))}/s, "
                            f"{fmt(p['cpu_us_per_msg'], 1)} µs" for p in r["processes"])
            broker = r.get("rabbitmq_cpu_us_per_msg", r.get("moto_cpu_us_per_msg"))
            print(f"| {key} | {r['n']} | {fmt(r['msgs_per_s'])} / {fmt(r.get('all_consuming_msgs_per_s'))} | {per} | {r['handled']} | {r['duplicates']} | "
                  f"{r['redelivered_flags']} | {r['missing']} | {'yes' if exactly_once(r) else 'NO'} | {fmt(broker, 1)} |")


def mean_cpu(r):
    """CPU µs per message over all processes of a run (weighted by messages)."""
    num = den = 0.0
    for p in r["processes"]:
        if p["cpu_us_per_msg"] is not None:
            num += p["cpu_us_per_msg"] * p["handled"]
            den += p["handled"]
    return num / den if den else None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "benches/results/growth-latest"
    plots = sys.argv[2] if len(sys.argv) > 2 else "benches/plots"
    amqp, sqs = load(root, "scale_out_amqp.jsonl"), load(root, "scale_out_sqs.jsonl")
    prefetch, conc = load(root, "prefetch.jsonl"), load(root, "concurrency.jsonl")
    payload, startup = load(root, "payload.jsonl"), load(root, "startup.jsonl")

    if amqp:
        scale_out_table(amqp, "Scale-out on one RabbitMQ queue")
    if sqs:
        scale_out_table(sqs, "Scale-out on one SQS queue (moto)")
    if prefetch:
        print("\n**AMQP prefetch (one process)**\n")
        print("| prefetch | N | msgs/s | service CPU µs/msg | RabbitMQ CPU µs/msg | exactly once |")
        print("|---:|---:|---:|---:|---:|---|")
        for p, rs in group(prefetch, lambda r: (r["kind"], r["prefetch"])).items():
            print(f"| {p[1]} ({p[0]}) | {rs[0]['n']} | {fmt(med(r['msgs_per_s'] for r in rs))} | "
                  f"{fmt(med(mean_cpu(r) for r in rs), 1)} | {fmt(med(r.get('rabbitmq_cpu_us_per_msg') for r in rs), 1)} | "
                  f"{'yes' if all(exactly_once(r) for r in rs) else 'NO'} |")
    ceiling = load(root, "ceiling.jsonl")
    if ceiling:
        print("\n**Raw lapin ceiling (prefetch 100 + 400 global, parse, count, ack; no framework)**\n")
        print("| consumer | N | msgs/s | consumer CPU µs/msg | RabbitMQ CPU µs/msg |")
        print("|---|---:|---:|---:|---:|")
        for k, rs in group(ceiling, lambda r: r["kind"]).items():
            print(f"| {k} | {rs[0]['n']} | {fmt(med(r['msgs_per_s'] for r in rs))} | "
                  f"{fmt(med(r['cpu_us_per_msg'] for r in rs), 1)} | {fmt(med(r['rabbitmq_cpu_us_per_msg'] for r in rs), 1)} |")
    if conc:
        print("\n**AMQP handler concurrency (the handler awaits 1 ms; prefetch 100)**\n")
        print("| dispatch | N | msgs/s | service CPU µs/msg | exactly once |")
        print("|---|---:|---:|---:|---|")
        for p, rs in group(conc, lambda r: (r["kind"], r["serial"])).items():
            name = "serial (one at a time)" if p[1] else "concurrent (up to the prefetch)"
            print(f"| {name} ({p[0]}) | {rs[0]['n']} | {fmt(med(r['msgs_per_s'] for r in rs))} | "
                  f"{fmt(med(mean_cpu(r) for r in rs), 1)} | {'yes' if all(exactly_once(r) for r in rs) else 'NO'} |")
    if payload:
        print("\n**AMQP payload size (one process, prefetch 100)**\n")
        print("| data | body bytes | N | msgs/s | MB/s | service CPU µs/msg | RabbitMQ CPU µs/msg | exactly once |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for p, rs in group(payload, lambda r: (r["kind"], r["size"], r["encoding"])).items():
            rate = med(r["msgs_per_s"] for r in rs)
            mb = rate * rs[0]["bytes_per_msg"] / 1e6 if rate else None
            print(f"| {p[1]:,} B {p[2]} ({p[0]}) | {rs[0]['bytes_per_msg']:,} | {rs[0]['n']} | {fmt(rate)} | {fmt(mb, 1)} | "
                  f"{fmt(med(mean_cpu(r) for r in rs), 1)} | {fmt(med(r.get('rabbitmq_cpu_us_per_msg') for r in rs), 1)} | "
                  f"{'yes' if all(exactly_once(r) for r in rs) else 'NO'} |")
    if startup:
        print("\n**Start-up time and memory vs number of handlers (median of runs)**\n")
        print("| service | spawn -> started_service (ms) | CPU to started (ms) | RSS after 2 s idle (MiB) |")
        print("|---|---:|---:|---:|")
        for r in startup:
            what = f"{r['handlers']} AMQP handlers" if r["transport"] == "amqp" else f"{r['schedules']} schedules"
            print(f"| {r['kind']}: {what} | {fmt(r['ready_ms'])} | {fmt(r['cpu_ms_to_ready'])} | "
                  f"{fmt(r['rss_kib'] / 1024 if r['rss_kib'] else None, 1)} |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(plots, exist_ok=True)

    def save(fig, name):
        fig.tight_layout()
        path = os.path.join(plots, name)
        fig.savefig(path)
        plt.close(fig)
        print(f"wrote {path}")

    if amqp or sqs:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        for rows, name, color in ((amqp, "RabbitMQ", "tab:blue"), (sqs, "SQS (moto)", "tab:orange")):
            rust = [r for r in rows if set(r["set"]) == {"rust"}]
            ks = sorted({r["k"] for r in rust})
            if not ks:
                continue
            rate = [med(r["msgs_per_s"] for r in rust if r["k"] == k) for k in ks]
            cpu = [med(mean_cpu(r) for r in rust if r["k"] == k) for k in ks]
            axes[0].plot(ks, rate, marker="o", color=color, label=f"{name}: all processes")
            axes[0].plot(ks, [x / k if x else None for x, k in zip(rate, ks)], "--", marker="o", color=color,
                         label=f"{name}: per process")
            axes[1].plot(ks, cpu, marker="o", color=color, label=name)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("Rust service processes on one queue")
        axes[0].set_ylabel("msgs/s (backlog drain)")
        axes[0].set_xticks([1, 2, 4])
        axes[0].legend(fontsize=7)
        axes[1].set_yscale("log")
        axes[1].set_xlabel("Rust service processes on one queue")
        axes[1].set_ylabel("service CPU µs per message")
        axes[1].set_xticks([1, 2, 4])
        axes[1].legend(fontsize=7)
        for ax in axes:
            ax.grid(True, which="both", alpha=0.3)
        fig.suptitle("Scale-out: K processes competing on one queue (2-core machine)")
        save(fig, "growth_scale_out.png")
    if prefetch:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        ax2 = ax.twinx()
        for kind, color in (("rust", "tab:blue"), ("python", "tab:green")):
            rows = [r for r in prefetch if r["kind"] == kind]
            ps = sorted({r["prefetch"] for r in rows})
            if not ps:
                continue
            rate = [med(r["msgs_per_s"] for r in rows if r["prefetch"] == p) for p in ps]
            cpu = [med(mean_cpu(r) for r in rows if r["prefetch"] == p) for p in ps]
            ax.plot(ps, rate, marker="o", color=color, label=f"{kind}: msgs/s")
            ax2.plot(ps, cpu, "--", marker="s", color=color, label=f"{kind}: service CPU µs/msg")
        rust = [r for r in prefetch if r["kind"] == "rust"]
        ps = sorted({r["prefetch"] for r in rust})
        ax2.plot(ps, [med(r.get("rabbitmq_cpu_us_per_msg") for r in rust if r["prefetch"] == p) for p in ps], ":",
                 marker="s", color="tab:gray", label="RabbitMQ CPU µs/msg (rust runs)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax2.set_yscale("log")
        ax.set_xlabel("amqp.qos.queue_prefetch_count (= global)")
        ax.set_ylabel("msgs/s (solid)")
        ax2.set_ylabel("CPU µs per message (dashed)")
        ax.legend(fontsize=7, loc="upper left")
        ax2.legend(fontsize=7, loc="lower right")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title("AMQP drain vs prefetch (one process)")
        save(fig, "growth_prefetch.png")
    if payload:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        for kind, color in (("rust", "tab:blue"), ("python", "tab:green")):
            rows = [r for r in payload if r["kind"] == kind]
            for enc in ("raw", "base64_gzip_json"):
                sel = sorted({r["size"] for r in rows if r["encoding"] == enc})
                if not sel:
                    continue
                cpu = [med(mean_cpu(r) for r in rows if r["size"] == s and r["encoding"] == enc) for s in sel]
                ax.plot(sel, cpu, linestyle="-" if enc == "raw" else "none", color=color,
                        marker="o" if enc == "raw" else "*", markersize=6 if enc == "raw" else 12,
                        label=f"{kind}: {enc}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("data text bytes")
        ax.set_ylabel("service CPU µs per message")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title("AMQP cost vs payload size (one process, prefetch 100)")
        save(fig, "growth_payload.png")
    if startup:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        for kind, color in (("rust", "tab:blue"), ("python", "tab:green")):
            rs = sorted((r for r in startup if r["kind"] == kind and r["transport"] == "amqp"), key=lambda r: r["handlers"])
            if not rs:
                continue
            hs = [r["handlers"] for r in rs]
            axes[0].plot(hs, [r["ready_ms"] for r in rs], marker="o", color=color, label=f"{kind}: wall ms")
            axes[0].plot(hs, [r["cpu_ms_to_ready"] for r in rs], "--", marker="o", color=color, label=f"{kind}: CPU ms")
            axes[1].plot(hs, [r["rss_kib"] / 1024 if r["rss_kib"] else None for r in rs], marker="o", color=color,
                         label=kind)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("AMQP handlers (a queue each)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        axes[0].set_yscale("log")
        axes[0].set_ylabel("spawn -> started_service (ms)")
        axes[1].set_ylabel("RSS after 2 s idle (MiB)")
        fig.suptitle("Start-up vs number of handlers")
        save(fig, "growth_startup.png")


if __name__ == "__main__":
    main()
