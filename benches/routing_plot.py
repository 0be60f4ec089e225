#!/usr/bin/env python3
"""Draws how the cost of a request grows with the number of routes (issue 15), from
criterion's estimates of ``cargo bench -p tomodachi --bench routing``.

    # the scan (upstream's one-by-one order) as one baseline, the index as another:
    #   set INDEXED_FROM to usize::MAX in crates/tomodachi/src/http/router.rs, then
    cargo bench -p tomodachi --bench routing -- --save-baseline scan
    #   restore it, then
    cargo bench -p tomodachi --bench routing -- --save-baseline index
    .venv/bin/python benches/routing_plot.py [target/criterion] [benches/plots/routing.png]

Needs matplotlib (``.venv/bin/pip install matplotlib``). Prints the medians as a Markdown table
and writes the PNG: microseconds per request against routes, one line per case and baseline.
"""

import json
import os
import sys

CASES = ["first", "middle", "last", "none"]
ROUTES = [1, 10, 100, 1000]
BASELINES = ["scan", "index"]


def median_us(root, case, routes, baseline):
    path = os.path.join(root, "routing", case, str(routes), baseline, "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1000.0


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    out = sys.argv[2] if len(sys.argv) > 2 else "benches/plots/routing.png"
    table = {(c, n, b): median_us(root, c, n, b) for c in CASES for n in ROUTES for b in BASELINES}

    print("| request matches | " + " | ".join(f"{n} routes: scan / index" for n in ROUTES) + " |")
    print("|---|" + "---:|" * len(ROUTES))
    for case in CASES:
        cells = []
        for n in ROUTES:
            s, i = table[(case, n, "scan")], table[(case, n, "index")]
            cells.append(f"{s:.2f} / {i:.2f}" if s is not None and i is not None else "-")
        print(f"| {case} | " + " | ".join(cells) + " |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    colors = {"first": "tab:blue", "middle": "tab:orange", "last": "tab:green", "none": "tab:red"}
    for case in CASES:
        for baseline, style in (("scan", "--"), ("index", "-")):
            ys = [table[(case, n, baseline)] for n in ROUTES]
            if all(y is not None for y in ys):
                ax.plot(ROUTES, ys, style, marker="o", color=colors[case],
                        label=f"{case} ({'one by one' if baseline == 'scan' else 'index'})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("regex routes")
    ax.set_ylabel("µs per request (criterion median, in-process)")
    ax.set_title("Routing cost vs number of routes")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
