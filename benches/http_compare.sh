#!/usr/bin/env bash
# Side-by-side HTTP benchmark: Python tomodachi 0.29 vs this port vs a bare hyper server, in one
# sitting, with the shared baseline's scripts (../shared/bench: http_bench.sh, startup_bench.py,
# shutdown_bench.py, quiet.py; they only read their arguments and print JSON lines).
#
#   benches/http_compare.sh                     # full run (~15 min on 2 idle cores)
#   RUNS=1 DURATION=3s WARMUP=1s STARTUP_RUNS=2 SHUTDOWN_RUNS=1 QUIET_MAX=0 QUIET_MAX_EACH=0 \
#     benches/http_compare.sh                   # quick dry run
#
# Writes benches/results/<UTC stamp>/ (benches/results/latest points at it):
#   env.json, http.jsonl, startup.jsonl, shutdown.jsonl, quiet.jsonl, logs/, summary.md
# Services run pinned to core $SVC_CPU (0), wrk and the other load generators to $LOAD_CPU (1).
# Everything listens on and talks to 127.0.0.1 only.
#
# env: RUNS (wrk runs per configuration, 3), DURATION (10s), WARMUP (2s), CONNS (64),
#      STARTUP_RUNS (5), STARTUP_IDLE (s before reading RSS, 3), SHUTDOWN_RUNS (3),
#      PY_LOOP (asyncio), WITH_AIOHTTP (1: also the bare aiohttp anchor), SKIP_BUILD (0),
#      QUIET_MAX (s to wait for an idle machine before the first bench, 900), QUIET_MAX_EACH (180),
#      ONLY (subset of "http startup shutdown conns"; conns is not in the default: req/s, p50 and p99
#      at CONN_LEVELS ("1 64 256 1024") keep-alive connections, benches/http_conns_plot.py makes
#      its table and plot), OUT (results folder), SHARED (../shared/bench),
#      VENV (.venv-bench at the repository root: Python tomodachi from SHARED/requirements.txt)
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # as in the baseline; the Python anchors are run from SHARED
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared/bench}
[ -x "$SHARED/http_bench.sh" ] || SHARED=/work/shared/bench
VENV=${VENV:-$ROOT/.venv-bench}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benches/results/$STAMP}
SVC_CPU=${SVC_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
RUNS=${RUNS:-3}; DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-2s}; CONNS=${CONNS:-64}
STARTUP_RUNS=${STARTUP_RUNS:-5}; STARTUP_IDLE=${STARTUP_IDLE:-3}; SHUTDOWN_RUNS=${SHUTDOWN_RUNS:-3}
PY_LOOP=${PY_LOOP:-asyncio}; WITH_AIOHTTP=${WITH_AIOHTTP:-1}; SKIP_BUILD=${SKIP_BUILD:-0}
QUIET_MAX=${QUIET_MAX:-900}; QUIET_MAX_EACH=${QUIET_MAX_EACH:-180}
ONLY=${ONLY:-"http startup shutdown"}
export RUNS DURATION WARMUP CONNS
want() { [[ " $ONLY " == *" $1 "* ]]; }

mkdir -p "$OUT/logs"
log() { echo "[http_compare $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
. "$ROOT/benches/lib.sh"

# ------------------------------------------------------------------ cleanup: stop what we started
declare -A SVC_PIDS=()
descendants() {  # PID -> every descendant pid (children first-level, then theirs)
  local p c
  for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$p"; descendants "$p"
  done
}
cleanup() {
  local name pid
  for name in "${!SVC_PIDS[@]}"; do svc_stop "$name" || true; done
  # anything a bench script left behind (e.g. after Ctrl-C): only our own descendants, by pid
  for pid in $(descendants $$); do
    [ "$pid" = "$BASHPID" ] && continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ prerequisites
need=()
for p in wrk hyperfine curl util-linux; do dpkg -s "$p" > /dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get update -q > "$OUT/logs/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >> "$OUT/logs/apt.log" 2>&1
fi
if ! "$VENV/bin/python" -c 'import tomodachi, uvloop' 2> /dev/null; then
  log "creating $VENV (pip install -r $SHARED/requirements.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip > "$OUT/logs/pip.log" 2>&1
  "$VENV/bin/pip" install -q -r "$SHARED/requirements.txt" >> "$OUT/logs/pip.log" 2>&1
fi
PY=$VENV/bin/python
TOMO=$VENV/bin/tomodachi
EX=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
if [ "$SKIP_BUILD" != 1 ]; then
  log "cargo build --release --example hello --example bare_hyper_hello --example sleepy_sheep"
  (cd "$ROOT" && cargo build --release --example hello --example bare_hyper_hello --example sleepy_sheep) \
    > "$OUT/logs/cargo-build.log" 2>&1 || { tail -30 "$OUT/logs/cargo-build.log" >&2; exit 1; }
fi

# ------------------------------------------------------------------ facts about this run
{
  echo "{"
  env_json_common
  echo "\"python\": \"$($PY -c 'import sys;print(sys.version.split()[0])')\","
  echo "\"python_env\": {\"PYTHONDONTWRITEBYTECODE\": \"${PYTHONDONTWRITEBYTECODE:-}\", \"PYTHONUNBUFFERED\": \"${PYTHONUNBUFFERED:-}\"},"
  echo "\"packages\": $($PY -c '
import json, importlib.metadata as m
print(json.dumps({p: m.version(p) for p in ["tomodachi", "aiohttp", "uvloop"]}))'),"
  echo "\"wrk\": \"$(wrk -v 2>&1 | head -1 | awk '{print $2}')\","
  echo "\"wrk_args\": {\"runs\": $RUNS, \"duration\": \"$DURATION\", \"warmup\": \"$WARMUP\", \"connections\": $CONNS},"
  echo "\"py_loop\": \"$PY_LOOP\", \"svc_cpu\": $SVC_CPU, \"load_cpu\": $LOAD_CPU"
  echo "}"
} > "$OUT/env.json"
python3 -m json.tool "$OUT/env.json" > /dev/null
log "results -> $OUT"


# ------------------------------------------------------------------ services
svc_start() {  # NAME URL CMD... (pinned to SVC_CPU; sets SVC_PID)
  local name=$1 url=$2; shift 2
  if curl -fs -o /dev/null --max-time 1 "$url"; then log "ERROR: $url answers before $name started"; return 1; fi
  taskset -c "$SVC_CPU" "$@" > "$OUT/logs/$name.log" 2>&1 < /dev/null &
  local pid=$!
  SVC_PIDS[$name]=$pid
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null --max-time 1 "$url" && { SVC_PID=$pid; log "started $name (pid $pid)"; return 0; }
    kill -0 "$pid" 2> /dev/null || { log "ERROR: $name exited during startup"; tail -20 "$OUT/logs/$name.log" >&2; return 1; }
    sleep 0.1
  done
  log "ERROR: $name not ready after 60 s"; return 1
}
svc_stop() {  # NAME: SIGTERM, wait (SIGKILL after 30 s), exit code -> logs/NAME.exit
  local name=$1 pid rc=0 f
  pid=${SVC_PIDS[$name]:-}
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2> /dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2> /dev/null && { log "WARN: $name ignored SIGTERM for 30 s, SIGKILL"; kill -KILL "$pid"; }
  fi
  wait "$pid" 2> /dev/null || rc=$?
  unset "SVC_PIDS[$name]"
  echo "$rc" > "$OUT/logs/$name.exit"
  # access-logged runs write ~100 MB; keep the head and tail only
  f="$OUT/logs/$name.log"
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 1000000 ]; then
    { head -n 50 "$f"; echo "... [$(wc -l < "$f") lines, cut by http_compare.sh] ..."; tail -n 50 "$f"; } > "$f.cut"
    mv "$f.cut" "$f"
  fi
  log "stopped $name (exit $rc)"
}
http_cfg() {  # LABEL URL CMD...
  local label=$1 url=$2 name; shift 2
  name=$(printf '%s' "$label" | tr -c 'A-Za-z0-9_.-' _)
  if ! svc_start "$name" "$url" "$@"; then
    echo "{\"bench\":\"http\",\"label\":\"$label\",\"error\":\"service did not start\"}" >> "$OUT/http.jsonl"
    svc_stop "$name"; return 0
  fi
  quiet "http-$label"
  SVC_PID=$SVC_PID RAW_DIR="$OUT/logs" WRK_CPU=$LOAD_CPU "$SHARED/http_bench.sh" "$url" "$label" >> "$OUT/http.jsonl" \
    || log "WARN: http_bench.sh failed for $label"
  log "http: $(tail -1 "$OUT/http.jsonl" | cut -c1-160)"
  svc_stop "$name"
}

# upstream's `tomodachi run` only takes service files relative to the working directory, so the
# benches run from SHARED (as its run_all.sh does)
cd "$SHARED"
PY_HELLO=py/hello.py
PY_URL=http://127.0.0.1:9702/
RS_URL=http://127.0.0.1:9802/
HY_URL=http://127.0.0.1:9803/
AIO_URL=http://127.0.0.1:9703/

# ------------------------------------------------------------------ HTTP throughput
# label = IMPL:CONFIG; summarize.py pairs python:X with rust:X and bare-hyper:{close,keepalive}
if want http; then
  for cfg in "accesslog-close 1 0" "noaccesslog-close 0 0" "accesslog-keepalive 1 5" "noaccesslog-keepalive 0 5"; do
    read -r c alog ka <<< "$cfg"
    http_cfg "python:$c" "$PY_URL" env HTTP_ACCESS_LOG="$alog" HTTP_KEEPALIVE_TIMEOUT="$ka" \
      "$TOMO" run "$PY_HELLO" --production --loop "$PY_LOOP"
    http_cfg "rust:$c" "$RS_URL" env HTTP_ACCESS_LOG="$alog" HTTP_KEEPALIVE_TIMEOUT="$ka" \
      "$EX/hello" --production
  done
  http_cfg "bare-hyper:keepalive" "$HY_URL" "$EX/bare_hyper_hello"
  http_cfg "bare-hyper:close" "$HY_URL" "$EX/bare_hyper_hello" --no-keepalive
  if [ "$WITH_AIOHTTP" = 1 ]; then
    http_cfg "bare-aiohttp:keepalive" "$AIO_URL" "$PY" py/raw_aiohttp_hello.py --loop "$PY_LOOP"
    http_cfg "bare-aiohttp:close" "$AIO_URL" "$PY" py/raw_aiohttp_hello.py --loop "$PY_LOOP" --no-keepalive
  fi
fi

# ------------------------------------------------------------------ connections (issue 15)
# req/s, p50 and p99 at 1, 64, 256 and 1 024 keep-alive connections (access log off), each
# implementation in turn at each level: `ONLY=conns`, levels from CONN_LEVELS; lines go to
# conns.jsonl, the table and plot come from benches/http_conns_plot.py
if want conns; then
  ulimit -n 65536 2> /dev/null || ulimit -n "$(ulimit -Hn)"
  for c in ${CONN_LEVELS:-1 64 256 1024}; do
    for impl in python rust bare-hyper; do
      case $impl in
        python) url=$PY_URL; cmd=(env HTTP_ACCESS_LOG=0 HTTP_KEEPALIVE_TIMEOUT=5 "$TOMO" run "$PY_HELLO" --production --loop "$PY_LOOP") ;;
        rust) url=$RS_URL; cmd=(env HTTP_ACCESS_LOG=0 HTTP_KEEPALIVE_TIMEOUT=5 "$EX/hello" --production) ;;
        bare-hyper) url=$HY_URL; cmd=("$EX/bare_hyper_hello") ;;
      esac
      name="conns-$impl-$c"
      svc_start "$name" "$url" "${cmd[@]}" || { svc_stop "$name"; continue; }
      quiet "conns-$impl-$c"
      # wrk needs one thread per connection at least (-t <= -c)
      CONNS=$c THREADS=1 SVC_PID=$SVC_PID RAW_DIR="$OUT/logs" WRK_CPU=$LOAD_CPU "$SHARED/http_bench.sh" "$url" "$impl:c$c" \
        | sed "s/^{/{\"impl\":\"$impl\",\"conns\":$c,/" >> "$OUT/conns.jsonl" || log "WARN: http_bench.sh failed for $name"
      log "conns: $(tail -1 "$OUT/conns.jsonl" | cut -c1-200)"
      svc_stop "$name"
    done
  done
fi

# ------------------------------------------------------------------ startup + idle RSS
startup() {  # LABEL URL CMD...
  local label=$1 url=$2 dir; shift 2
  dir="$OUT/logs/startup-$(printf '%s' "$label" | tr -c 'A-Za-z0-9_.-' _)"
  mkdir -p "$dir"
  quiet "startup-$label"
  "$PY" "$SHARED/startup_bench.py" --url "$url" --runs "$STARTUP_RUNS" --idle "$STARTUP_IDLE" --label "$label" \
    --log-dir "$dir" -- taskset -c "$SVC_CPU" "$@" >> "$OUT/startup.jsonl" || log "WARN: startup_bench.py failed for $label"
  log "startup: $(tail -1 "$OUT/startup.jsonl" | cut -c1-160)"
}
if want startup; then
  startup "python:hello" "$PY_URL" "$TOMO" run "$PY_HELLO" --production --loop "$PY_LOOP"
  startup "rust:hello" "$RS_URL" "$EX/hello" --production
  startup "bare-hyper:hello" "$HY_URL" "$EX/bare_hyper_hello"
fi

# ------------------------------------------------------------------ graceful shutdown
shutdown_cfg() {  # LABEL URL CMD...
  local label=$1 url=$2 dir; shift 2
  dir="$OUT/logs/shutdown-$(printf '%s' "$label" | tr -c 'A-Za-z0-9_.-' _)"
  mkdir -p "$dir"
  quiet "shutdown-$label"
  "$PY" "$SHARED/shutdown_bench.py" --url "$url" --n 50 --delay 0.1 --runs "$SHUTDOWN_RUNS" --label "$label" \
    --log-dir "$dir" -- taskset -c "$SVC_CPU" "$@" >> "$OUT/shutdown.jsonl" || log "WARN: shutdown_bench.py failed for $label"
  log "shutdown: $(tail -1 "$OUT/shutdown.jsonl" | cut -c1-160)"
}
if want shutdown; then
  shutdown_cfg "python:sheep" http://127.0.0.1:9701/sheep "$TOMO" run py/sheep.py --production --loop "$PY_LOOP"
  shutdown_cfg "rust:sleepy_sheep" http://127.0.0.1:9801/sheep env HTTP_PORT=9801 "$EX/sleepy_sheep" --production
fi

python3 "$ROOT/benches/summarize.py" "$OUT" > "$OUT/summary.md"
[ -s "$OUT/conns.jsonl" ] && "$PY" "$ROOT/benches/http_conns_plot.py" "$OUT" >> "$OUT/summary.md"
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/latest" 2> /dev/null || true
cat "$OUT/summary.md"
log "done: $OUT/summary.md"
