#!/usr/bin/env bash
# Side-by-side static files benchmark, in one sitting: the Rust example `static_service`
# (`#[http_static]`) vs a bare tower-http ServeDir server (benches/fixtures/bare_serve_dir.rs,
# the ceiling: same runtime flavour, release profile, chunk size) vs Python tomodachi 0.29
# (`@http_static`, crates/tomodachi/tests/python/static_service.py), each serving the same small
# and large file under /static/. Load with the shared baseline's http_bench.sh (wrk).
#
#   benches/static_compare.sh                                  # full run (~8 min on 2 idle cores)
#   RUNS=1 DURATION=3s WARMUP=1s QUIET_MAX=0 QUIET_MAX_EACH=0 benches/static_compare.sh   # dry run
#
# Writes benches/results/static-<UTC stamp>/: env.json, static.jsonl (one http_bench.sh line per
# service, file and keep-alive setting), quiet.jsonl, logs/, summary.md (req/s, MB/s, ratios).
# Services run pinned to core $SVC_CPU (0), wrk to $LOAD_CPU (1); everything on 127.0.0.1.
#
# env: RUNS (3), DURATION (10s), WARMUP (2s), CONNS (64), LARGE_MIB (size of the large file, 10),
#      CONFIGS ("keepalive close"), SKIP_BUILD (0), QUIET_MAX (900), QUIET_MAX_EACH (180),
#      OUT, SHARED (../shared/bench), VENV (.venv-bench, else .venv: Python tomodachi)
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared/bench}
[ -x "$SHARED/http_bench.sh" ] || SHARED=/work/shared/bench
VENV=${VENV:-$ROOT/.venv-bench}
[ -x "$VENV/bin/tomodachi" ] || VENV=$ROOT/.venv
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benches/results/static-$STAMP}
SVC_CPU=${SVC_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
RUNS=${RUNS:-3}; DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-2s}; CONNS=${CONNS:-64}
LARGE_MIB=${LARGE_MIB:-10}; CONFIGS=${CONFIGS:-"keepalive close"}; SKIP_BUILD=${SKIP_BUILD:-0}
QUIET_MAX=${QUIET_MAX:-900}; QUIET_MAX_EACH=${QUIET_MAX_EACH:-180}
export RUNS DURATION WARMUP CONNS

mkdir -p "$OUT/logs"
log() { echo "[static_compare $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
. "$ROOT/benches/lib.sh"

SVC_PID=""
stop_svc() {
  [ -n "$SVC_PID" ] || return 0
  kill -TERM "$SVC_PID" 2> /dev/null || true
  for _ in $(seq 1 300); do kill -0 "$SVC_PID" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$SVC_PID" 2> /dev/null || true
  wait "$SVC_PID" 2> /dev/null || true
  SVC_PID=""
}
trap stop_svc EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need=()
for p in wrk curl util-linux; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get update -q > "$OUT/logs/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >> "$OUT/logs/apt.log" 2>&1
fi
PY=$VENV/bin/python
TOMO=$VENV/bin/tomodachi
EX=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
if [ "$SKIP_BUILD" != 1 ]; then
  # both only serve HTTP: built without the AMQP and AWS transports (their code is not on the
  # HTTP path; the build is much shorter)
  log "cargo build --release -p tomodachi --no-default-features --features http,macros --example static_service --example bare_serve_dir"
  (cd "$ROOT" && cargo build --release -p tomodachi --no-default-features --features http,macros \
    --example static_service --example bare_serve_dir) \
    > "$OUT/logs/cargo-build.log" 2>&1 || { tail -30 "$OUT/logs/cargo-build.log" >&2; exit 1; }
fi

# the served folder: the example's small text file and a large generated file (not committed)
FILES=$OUT/files
mkdir -p "$FILES/examples/public"
cp "$ROOT/examples/public/hello.txt" "$FILES/examples/public/small.txt"
head -c $((LARGE_MIB * 1024 * 1024)) /dev/urandom > "$FILES/examples/public/large.bin"
cp "$ROOT/crates/tomodachi/tests/python/static_service.py" "$FILES/"
SMALL_BYTES=$(stat -c %s "$FILES/examples/public/small.txt")
LARGE_BYTES=$(stat -c %s "$FILES/examples/public/large.bin")

{
  echo "{"
  env_json_common
  echo "\"python\": \"$($PY -c 'import sys;print(sys.version.split()[0])')\","
  echo "\"packages\": $($PY -c '
import json, importlib.metadata as m
print(json.dumps({p: m.version(p) for p in ["tomodachi", "aiohttp"]}))'),"
  echo "\"wrk\": \"$(wrk -v 2>&1 | head -1 | awk '{print $2}')\","
  echo "\"wrk_args\": {\"runs\": $RUNS, \"duration\": \"$DURATION\", \"warmup\": \"$WARMUP\", \"connections\": $CONNS},"
  echo "\"files\": {\"small\": $SMALL_BYTES, \"large\": $LARGE_BYTES},"
  echo "\"svc_cpu\": $SVC_CPU, \"load_cpu\": $LOAD_CPU"
  echo "}"
} > "$OUT/env.json"
python3 -m json.tool "$OUT/env.json" > /dev/null
log "results -> $OUT"

start_svc() {  # NAME URL CMD... (in $FILES, pinned to SVC_CPU)
  local name=$1 url=$2; shift 2
  if curl -fs -o /dev/null --max-time 1 "$url"; then log "ERROR: $url answers before $name started"; return 1; fi
  (cd "$FILES" && exec taskset -c "$SVC_CPU" "$@") > "$OUT/logs/$name.log" 2>&1 < /dev/null &
  SVC_PID=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null --max-time 1 "$url" && { log "started $name (pid $SVC_PID)"; return 0; }
    kill -0 "$SVC_PID" 2> /dev/null || { log "ERROR: $name exited"; tail -20 "$OUT/logs/$name.log" >&2; return 1; }
    sleep 0.1
  done
  log "ERROR: $name not ready after 60 s"; return 1
}

bench() {  # IMPL CONFIG PORT CMD...
  local impl=$1 cfg=$2 port=$3 file label; shift 3
  start_svc "$impl-$cfg" "http://127.0.0.1:$port/static/small.txt" "$@" || { stop_svc; return 0; }
  for file in small large; do
    label="$impl:$file:$cfg"
    quiet "static-$label"
    local ext=txt; [ "$file" = large ] && ext=bin
    SVC_PID=$SVC_PID RAW_DIR="$OUT/logs" WRK_CPU=$LOAD_CPU \
      "$SHARED/http_bench.sh" "http://127.0.0.1:$port/static/$file.$ext" "$label" >> "$OUT/static.jsonl" \
      || log "WARN: http_bench.sh failed for $label"
    log "$(tail -1 "$OUT/static.jsonl" | cut -c1-150)"
  done
  stop_svc
}

for cfg in $CONFIGS; do
  ka=0; [ "$cfg" = keepalive ] && ka=5
  nk=--no-keepalive; [ "$cfg" = keepalive ] && nk=
  bench python "$cfg" 9702 env STATIC_DIR="$FILES/examples/public" HTTP_PORT=9702 HTTP_ACCESS_LOG=0 \
    HTTP_KEEPALIVE_TIMEOUT=$ka "$TOMO" run static_service.py --production
  bench rust "$cfg" 9802 env HTTP_PORT=9802 HTTP_ACCESS_LOG=0 HTTP_KEEPALIVE_TIMEOUT=$ka \
    "$EX/static_service" --production
  # shellcheck disable=SC2086
  bench bare-serve-dir "$cfg" 9804 env HTTP_PORT=9804 "$EX/bare_serve_dir" examples/public $nk
done
rm -f "$FILES/examples/public/large.bin"

python3 - "$OUT" "$SMALL_BYTES" "$LARGE_BYTES" > "$OUT/summary.md" <<'PY'
import json, sys
out, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(f"{out}/static.jsonl") if l.strip()]
by = {r["label"]: r for r in rows if "rps_median" in r}
size = {"small": small, "large": large}
print(f"files: small {small} B, large {large / 2**20:.0f} MiB; req/s median of the runs; MB/s = req/s x size / 10^6\n")
print("| file | keep-alive | python req/s (MB/s) | rust req/s (MB/s) | bare ServeDir req/s (MB/s) | rust / python | rust / bare ServeDir | rust µs CPU/req | bare µs CPU/req |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg in ("keepalive", "close"):
    for f in ("small", "large"):
        p, r, b = (by.get(f"{i}:{f}:{cfg}") for i in ("python", "rust", "bare-serve-dir"))
        if not r:
            continue
        rps = lambda x: x["rps_median"] if x else None
        fmt = lambda v: f"{v:,.0f} ({v * size[f] / 1e6:,.1f})" if v is not None else "–"
        ratio = lambda a, c: f"{a / c:.2f}" if a and c else "–"
        cpu = lambda x: f"{x['svc_cpu_us_per_req_median']}" if x and x.get("svc_cpu_us_per_req_median") else "–"
        print(f"| {f} | {'on' if cfg == 'keepalive' else 'off'} | {fmt(rps(p))} | {fmt(rps(r))} | {fmt(rps(b))} | "
              f"{ratio(rps(r), rps(p))} | {ratio(rps(r), rps(b))} | {cpu(r)} | {cpu(b)} |")
bad = [r["label"] for r in rows if any(x.get("non_2xx") or any((x.get("socket_errors") or {}).values()) for x in r.get("runs", []))]
if bad:
    print(f"\nruns with non-2xx answers or socket errors: {', '.join(bad)}")
PY
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/static-latest" 2> /dev/null || true
cat "$OUT/summary.md"
log "done: $OUT/summary.md"
