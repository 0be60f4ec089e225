#!/usr/bin/env bash
# "How cost grows" (issue 15): every run of the BENCHMARKS.md section, in one sitting, then the
# tables and plots.
#
#   benches/growth_all.sh                       # all parts
#   PARTS="scale_amqp scale_sqs" benches/growth_all.sh
#
# parts: scale_amqp (1, 2, 4 Rust processes, Rust + Python, Python alone; N_AMQP messages),
#        scale_sqs (1, 2, 4 Rust processes, Rust + Python; N_SQS messages on moto),
#        prefetch, ceiling (raw lapin), concurrency, payload, startup (benches/growth.py)
# env: TARGET (the release dir holding examples/growth_consumer, /work/target-rel/release),
#      N_AMQP (50000), N_SQS (300), RUNS (1), QUIET_MAX (s to wait for an idle machine, 120),
#      VENV (.venv: Python tomodachi 0.29, aioamqp, aiobotocore, moto), PLOT_VENV (.venv-bench: matplotlib)
# Writes benches/results/growth-<UTC stamp>/ (gitignored): env.json, quiet.jsonl, *.jsonl, logs-*/,
# summary.md; the PNGs to benches/plots/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TARGET=${TARGET:-/work/target-rel/release}
VENV=${VENV:-$ROOT/.venv}; PLOT_VENV=${PLOT_VENV:-$ROOT/.venv-bench}
PY=$VENV/bin/python
N_AMQP=${N_AMQP:-50000}; N_SQS=${N_SQS:-300}; RUNS=${RUNS:-1}; QUIET_MAX=${QUIET_MAX:-120}
PARTS=${PARTS:-scale_amqp scale_sqs prefetch ceiling concurrency payload startup}
SHARED=${SHARED:-/work/shared/bench}
OUT=${OUT:-$ROOT/benches/results/growth-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
cd "$ROOT"
[ -x "$TARGET/examples/growth_consumer" ] || { echo "build it first: cargo build --release -p tomodachi --example growth_consumer" >&2; exit 1; }
{
  echo "{\"stamp\": \"$(date -u +%FT%TZ)\", \"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\","
  echo "\"rabbitmq\": \"$(rabbitmqctl -q version 2> /dev/null || echo '?')\", \"python\": \"$($PY -c 'import sys;print(sys.version.split()[0])')\","
  echo "\"tomodachi_py\": \"$($PY -c 'import importlib.metadata as m;print(m.version("tomodachi"))')\", \"git\": \"$(git rev-parse --short HEAD)\","
  echo "\"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"parts\": \"$PARTS\", \"runs\": $RUNS}"
} > "$OUT/env.json"
quiet() {  # LABEL: whole-machine busy % before a part (the machine is shared with builds)
  echo "{\"part\": \"$1\", \"quiet\": $(python3 "$SHARED/quiet.py" --max-wait "$QUIET_MAX")}" >> "$OUT/quiet.jsonl"
  tail -n 1 "$OUT/quiet.jsonl" >&2
}
want() { [[ " $PARTS " == *" $1 "* ]]; }
if want scale_amqp; then
  quiet scale_amqp
  "$PY" benches/scale_out.py amqp --n "$N_AMQP" --runs "$RUNS" --out "$OUT/scale_out_amqp.jsonl" \
    --sets "rust rust,rust rust,rust,rust,rust rust,python python python,python"
fi
if want scale_sqs; then
  quiet scale_sqs
  "$PY" benches/scale_out.py sqs --n "$N_SQS" --runs "$RUNS" --out "$OUT/scale_out_sqs.jsonl" \
    --sets "rust rust,rust rust,rust,rust,rust rust,python python"
fi
for part in prefetch ceiling concurrency payload startup; do
  want "$part" || continue
  quiet "$part"
  "$PY" benches/growth.py "$part" --out "$OUT/$part.jsonl" $( [ "$part" = startup ] || echo --runs "$RUNS" )
done
cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg_end"
if [ -x "$PLOT_VENV/bin/python" ]; then
  "$PLOT_VENV/bin/python" benches/growth_plot.py "$OUT" benches/plots | tee "$OUT/summary.md"
else
  echo "no $PLOT_VENV (matplotlib): python3 -m venv $PLOT_VENV && $PLOT_VENV/bin/pip install matplotlib" >&2
fi
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/growth-latest"
echo "results: $OUT" >&2
