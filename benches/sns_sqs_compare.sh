#!/usr/bin/env bash
# Side-by-side SNS+SQS benchmark against the moto emulator: Python tomodachi 0.29
# (../shared/bench/py/sns_sqs_echo.py) vs this port (benches/fixtures/sns_sqs_count.rs), with the shared
# baseline's sns_sqs_bench.py in backlog mode (N messages pre-published to `bench-topic`, then the
# service drains `bench-queue`: ReceiveMessage + DeleteMessage against moto, publishing excluded)
# and in live mode (publisher and consumer at once; moto's Publish bounds the rate).
#
#   benches/sns_sqs_compare.sh                       # N=300 backlog + N=200 live, 2 runs each
#   N=100 LIVE_N=50 RUNS=1 benches/sns_sqs_compare.sh   # quick
#
# moto is the bottleneck in msgs/s; the figure that shows the framework is the service's CPU
# time per message (/proc/<pid>/stat over the drain window). Results: benches/results/<stamp>/.
# env: N (300), LIVE_N (200), RUNS (2), MOTO_PORT (5000), VENV (.venv: tomodachi, moto),
#      SHARED (../shared/bench), SKIP_BUILD (0), SVC_CPU (0)
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared/bench}
[ -f "$SHARED/sns_sqs_bench.py" ] || SHARED=/work/shared/bench
VENV=${VENV:-$ROOT/.venv}
N=${N:-300}; LIVE_N=${LIVE_N:-200}; RUNS=${RUNS:-2}; MOTO_PORT=${MOTO_PORT:-5000}
SVC_CPU=${SVC_CPU:-0}; SKIP_BUILD=${SKIP_BUILD:-0}
ENDPOINT="http://127.0.0.1:$MOTO_PORT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benches/results/sns-$STAMP}
mkdir -p "$OUT/logs"
log() { echo "[sns_sqs_compare $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

if [ ! -x "$VENV/bin/tomodachi" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  log "preparing $VENV (scripts/test-env.sh)"
  # shellcheck source=../scripts/test-env.sh
  . "$ROOT/scripts/test-env.sh"
fi

MOTO_PID=""
cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
}
trap cleanup EXIT

moto_up() { curl -s -o /dev/null "$ENDPOINT/moto-api/"; }
if moto_up; then
  log "moto already answers on $ENDPOINT: resetting it"
  curl -s -X POST "$ENDPOINT/moto-api/reset" >/dev/null
  MOTO_PID_EXISTING=$(pgrep -f "moto_server.*-p $MOTO_PORT" | head -1 || true)
else
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$OUT/logs/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do moto_up && break; sleep 0.2; done
  moto_up || { log "moto did not come up"; exit 1; }
fi
MOTO=${MOTO_PID:-${MOTO_PID_EXISTING:-}}
log "moto pid $MOTO on $ENDPOINT"

if [ "$SKIP_BUILD" != 1 ]; then
  log "cargo build --release --example sns_sqs_count"
  (cd "$ROOT" && cargo build --release -q -p tomodachi --example sns_sqs_count)
fi
RUST_BIN="$ROOT/target/release/examples/sns_sqs_count"

# upstream's `tomodachi run` takes service files relative to the working directory
py_cmd=(env -C "$SHARED" HTTP_PORT=9705 AWS_ENDPOINT="$ENDPOINT" taskset -c "$SVC_CPU"
        "$VENV/bin/tomodachi" run --production py/sns_sqs_echo.py)
rs_cmd=(env HTTP_PORT=9715 AWS_ENDPOINT="$ENDPOINT" TOMODACHI_LOGGER=disabled
        taskset -c "$SVC_CPU" "$RUST_BIN" --production)

# Start a service once (creates the topic, bench-queue and the subscription), wait for /count.
warm() {
  local url=$1; shift
  "$@" >"$OUT/logs/warm.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 150); do curl -s -o /dev/null "$url" && break; sleep 0.2; done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench() {  # label url mode n -- cmd
  local label=$1 url=$2 mode=$3 n=$4; shift 5
  local args=(--count-url "$url" --n "$n" --endpoint "$ENDPOINT" --python "$VENV/bin/python"
              --label "$label" --publisher-cpu 1)
  [ -n "$MOTO" ] && args+=(--pid "moto=$MOTO")
  if [ "$mode" = backlog ]; then
    "$VENV/bin/python" "$SHARED/sns_sqs_bench.py" --mode backlog --queue bench-queue "${args[@]}" \
      --log "$OUT/logs/$label.log" -- "$@" | tee -a "$OUT/sns_sqs.jsonl"
  else
    "$@" >>"$OUT/logs/$label.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 150); do curl -s -o /dev/null "$url" && break; sleep 0.2; done
    "$VENV/bin/python" "$SHARED/sns_sqs_bench.py" "${args[@]}" --pid "svc=$pid" \
      | tee -a "$OUT/sns_sqs.jsonl"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

log "creating bench-topic / bench-queue"
warm http://127.0.0.1:9705/count "${py_cmd[@]}"
warm http://127.0.0.1:9715/count "${rs_cmd[@]}"

for run in $(seq 1 "$RUNS"); do
  log "backlog run $run: python"
  bench "python-backlog" http://127.0.0.1:9705/count backlog "$N" -- "${py_cmd[@]}"
  log "backlog run $run: rust"
  bench "rust-backlog" http://127.0.0.1:9715/count backlog "$N" -- "${rs_cmd[@]}"
done
for run in $(seq 1 "$RUNS"); do
  log "live run $run: python"
  bench "python-live" http://127.0.0.1:9705/count live "$LIVE_N" -- "${py_cmd[@]}"
  log "live run $run: rust"
  bench "rust-live" http://127.0.0.1:9715/count live "$LIVE_N" -- "${rs_cmd[@]}"
done

"$VENV/bin/python" - "$OUT/sns_sqs.jsonl" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None
print("| run | mode | N | msgs/s (median) | service CPU µs/msg | moto CPU µs/msg | runs |")
print("|---|---|---:|---:|---:|---:|---:|")
summary = {}
for label in ["python-backlog", "rust-backlog", "python-live", "rust-live"]:
    rs = [r for r in rows if r.get("label") == label and "error" not in r]
    if not rs:
        print(f"| {label} | – | – | failed | – | – | 0 |"); continue
    svc = med([r["cpu_during_run"].get("svc", {}).get("cpu_us_per_msg") for r in rs])
    moto = med([r["cpu_during_run"].get("moto", {}).get("cpu_us_per_msg") for r in rs])
    rate = med([r.get("msgs_per_s") for r in rs])
    summary[label] = (rate, svc)
    print(f"| {label} | {rs[0]['mode']} | {rs[0]['n']} | {rate} | {svc} | {moto} | {len(rs)} |")
for mode in ["backlog", "live"]:
    p, r = summary.get(f"python-{mode}"), summary.get(f"rust-{mode}")
    if p and r and p[1] and r[1]:
        print(f"\n{mode}: Python / Rust service CPU per message = {p[1] / r[1]:.1f}x; "
              f"msgs/s Rust / Python = {(r[0] or 0) / (p[0] or 1):.2f}x")
PY
log "results in $OUT"
