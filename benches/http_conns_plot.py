#!/usr/bin/env python3
"""Table and plot of `ONLY=conns benches/http_compare.sh` (issue 15): req/s, p50 and p99 of
`GET /` at 1, 64, 256 and 1 024 keep-alive connections, Python tomodachi vs this port vs bare
hyper, from one results folder's conns.jsonl (one line per implementation and level, each the
median of its wrk runs, as ../shared/bench/http_bench.sh prints it).

    python3 benches/http_conns_plot.py benches/results/<stamp> [benches/plots]

Prints a Markdown table; with matplotlib importable, also writes http_conns.png (req/s and p99
against connections, log-scaled) into the plot folder (default: the results folder).
"""
import json
import os
import sys

IMPLS = ["python", "rust", "bare-hyper"]
NAMES = {"python": "Python tomodachi 0.29", "rust": "this port (hello)", "bare-hyper": "bare hyper"}


def load(folder):
    path = os.path.join(folder, "conns.jsonl")
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[(r["impl"], r["conns"])] = r
    return rows


def med(r, key):
    """A median figure of http_bench.sh's line (`<key>_median`; None when absent)."""
    return r.get(f"{key}_median")


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}".replace(",", " ")


def main():
    folder = sys.argv[1]
    plots = sys.argv[2] if len(sys.argv) > 2 else folder
    rows = load(folder)
    levels = sorted({c for _, c in rows})
    print("#### `GET /` against the number of keep-alive connections (access log off)\n")
    print("| connections | impl | req/s | p50 ms | p99 ms | service CPU µs/req | req/s vs bare hyper | req/s vs Python |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for c in levels:
        base = rows.get(("bare-hyper", c))
        py = rows.get(("python", c))
        for impl in IMPLS:
            r = rows.get((impl, c))
            if r is None:
                continue
            rps = med(r, "rps")
            vs_hy = rps / med(base, "rps") if base and rps and med(base, "rps") else None
            vs_py = rps / med(py, "rps") if py and rps and med(py, "rps") else None
            print(f"| {c} | {NAMES[impl]} | {fmt(rps)} | {fmt(med(r, 'p50_ms'), 3)} | {fmt(med(r, 'p99_ms'), 3)} "
                  f"| {fmt(med(r, 'svc_cpu_us_per_req'), 1)} | {fmt(vs_hy, 2)} | {fmt(vs_py, 1)} |")
    errors = [(k, r.get("errors") or r.get("error")) for k, r in rows.items() if r.get("error")]
    if errors:
        print(f"\nerrors: {errors}")
    print()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no matplotlib: no plot written)\n")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for impl in IMPLS:
        xs = [c for c in levels if (impl, c) in rows]
        a.plot(xs, [med(rows[(impl, c)], "rps") for c in xs], marker="o", label=NAMES[impl])
        b.plot(xs, [med(rows[(impl, c)], "p99_ms") for c in xs], marker="o", label=NAMES[impl])
    for ax, title, unit in [(a, "requests per second", "req/s"), (b, "p99 latency", "ms")]:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(levels)
        ax.set_xticklabels([str(c) for c in levels])
        ax.set_xlabel("keep-alive connections (wrk -t1)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    a.legend()
    fig.suptitle("GET / on one pinned core, access log off")
    fig.tight_layout()
    os.makedirs(plots, exist_ok=True)
    out = os.path.join(plots, "http_conns.png")
    fig.savefig(out, dpi=110)
    print(f"plot: {out}\n")


if __name__ == "__main__":
    main()
