#!/usr/bin/env bash
# Side-by-side AMQP benchmark on the local RabbitMQ, in one sitting, with the shared baseline's
# scripts (../shared/bench: amqp_bench.py, amqp_publish.py, rabbit_reset.sh, quiet.py; they only
# read their arguments and print JSON lines):
#
#   python       Python tomodachi 0.29, shared/bench/py/amqp_echo.py (`tomodachi run --production`)
#   rust         this port, benches/fixtures/amqp_count.rs (release, TOMODACHI_LOGGER=disabled --production)
#   raw-lapin    plain lapin, benches/fixtures/raw_lapin_consumer.rs: one delivery at a time, the ack
#                awaited inline (as the Python raw consumer); the ceiling without a framework
#   raw-lapin-tasks  the same with one tokio task per delivery (concurrent up to the prefetch,
#                as this port dispatches): the like-for-like ceiling for `rust`
#   raw-aioamqp  plain aioamqp, shared/bench/amqp_raw_consumer.py (the baseline's ceiling)
#   raw-lapin-otel  raw-lapin-tasks with each delivery traced and metered on the opentelemetry
#                crates (--otel): the ceiling of the instrumentation's cost (not in the default
#                CONSUMERS; benches/otel_cost.sh runs it beside `rust` instrumented)
#
# Each consumes N JsonBase messages (411 bytes) on amq.topic / bench.in.
#   live     the shared amqp_bench.py publishes while the consumer runs (its publisher pinned to
#            core $LOAD_CPU, the consumer to core $SVC_CPU, RabbitMQ unpinned);
#   backlog  N messages are published to the consumer's stopped queue first, then it drains them
#            (benches/amqp_backlog.py; the tomodachi services get a fixed uuid from a -c file so
#            they find their queue again).
# msgs/s of the fast consumers is mostly the broker's and the publisher's on 2 cores; the
# service's CPU time per message (/proc/<pid>/stat over the run) and, with CALLGRIND=1,
# instructions per message show the framework:
#   CALLGRIND=1  runs `rust`, `raw-lapin`, `raw-lapin-tasks` and `raw-lapin-otel` under valgrind --tool=callgrind
#            twice, with N_A and N_B messages (published by amqp_publish.py, the count polled once
#            a second); instructions/message = (total_B - total_A) / (N_B - N_A), so start-up and
#            shutdown cancel out. benches/amqp_summarize.py also writes the per-message
#            difference per function (exclusive and inclusive) to callgrind-<label>.md.
#
#   benches/amqp_compare.sh                          # N=100000, 1 run each, live + backlog
#   N=20000 RUNS=3 benches/amqp_compare.sh
#   CALLGRIND=1 MODES= benches/amqp_compare.sh       # only the instruction counts
#   MODES=backlog benches/amqp_compare.sh            # only the backlog drain
#
# Writes benches/results/amqp-<UTC stamp>/: env.json, amqp.jsonl (live), amqp_backlog.jsonl,
# machine.jsonl (whole-machine busy % and steal % over each run), quiet.jsonl,
# instructions.jsonl, callgrind.*.out, logs/, summary.md (benches/amqp_summarize.py).
#
# env: N (100000), RUNS (1), MODES ("live backlog"), CALLGRIND (0), N_A (2000), N_B (7000),
#      CONSUMERS ("python rust raw-lapin raw-lapin-tasks raw-aioamqp"), SVC_CPU (0), LOAD_CPU (1),
#      QUIET_MAX (s to wait for an idle machine before the first bench, 900), QUIET_MAX_EACH (180),
#      SKIP_BUILD (0), OUT (results folder), SHARED (../shared/bench),
#      VENV (.venv-bench at the repository root: Python tomodachi from SHARED/requirements.txt)
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # as in the baseline; the Python services run from SHARED
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared/bench}
[ -f "$SHARED/amqp_bench.py" ] || SHARED=/work/shared/bench
VENV=${VENV:-$ROOT/.venv-bench}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benches/results/amqp-$STAMP}
N=${N:-100000}; RUNS=${RUNS:-1}; MODES=${MODES-live backlog}
CALLGRIND=${CALLGRIND:-0}; N_A=${N_A:-2000}; N_B=${N_B:-7000}
CONSUMERS=${CONSUMERS:-python rust raw-lapin raw-lapin-tasks raw-aioamqp}
SVC_CPU=${SVC_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}; SKIP_BUILD=${SKIP_BUILD:-0}
QUIET_MAX=${QUIET_MAX:-900}; QUIET_MAX_EACH=${QUIET_MAX_EACH:-180}
want() { [[ " $1 " == *" $2 "* ]]; }

mkdir -p "$OUT/logs"
log() { echo "[amqp_compare $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
. "$ROOT/benches/lib.sh"

# ------------------------------------------------------------------ cleanup: stop what we started
SVC_PID=""
stop_svc() {  # SIGTERM the running service (SIGKILL after 60 s) and reap it
  local pid=$SVC_PID
  [ -n "$pid" ] || return 0
  SVC_PID=""
  if kill -0 "$pid" 2> /dev/null; then
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 1 600); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2> /dev/null && { log "WARN: pid $pid ignored SIGTERM for 60 s, SIGKILL"; kill -KILL "$pid"; }
  fi
  wait "$pid" 2> /dev/null || true
}
trap stop_svc EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ prerequisites
if ! "$VENV/bin/python" -c 'import tomodachi, aioamqp' 2> /dev/null; then
  log "creating $VENV (pip install -r $SHARED/requirements.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip > "$OUT/logs/pip.log" 2>&1
  "$VENV/bin/pip" install -q -r "$SHARED/requirements.txt" >> "$OUT/logs/pip.log" 2>&1
fi
PY=$VENV/bin/python
TOMO=$VENV/bin/tomodachi
if ! rabbitmqctl -q status > /dev/null 2>&1; then
  log "starting rabbitmq-server -detached"
  rabbitmq-server -detached
  for _ in $(seq 1 120); do rabbitmqctl -q status > /dev/null 2>&1 && break; sleep 1; done
fi
for _ in $(seq 1 60); do (exec 3<> /dev/tcp/127.0.0.1/5672) 2> /dev/null && break; sleep 1; done
# the Erlang VM's pid (beam.smp), as reported by the node itself (as the shared setup.sh does)
RABBIT=$(rabbitmqctl eval 'list_to_integer(os:getpid()).' 2> /dev/null | tr -dc '0-9')
[ -n "$RABBIT" ] || { log "ERROR: RabbitMQ is not running"; exit 1; }
log "rabbitmq pid $RABBIT"
if [ "$CALLGRIND" = 1 ] && ! command -v valgrind > /dev/null; then
  log "apt-get install valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind > "$OUT/logs/apt.log" 2>&1
fi

EX=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
if [ "$SKIP_BUILD" != 1 ]; then
  log "cargo build --release -p tomodachi --example amqp_count --example raw_lapin_consumer"
  (cd "$ROOT" && cargo build --release -p tomodachi --example amqp_count --example raw_lapin_consumer) \
    > "$OUT/logs/cargo-build.log" 2>&1 || { tail -30 "$OUT/logs/cargo-build.log" >&2; exit 1; }
fi

# ------------------------------------------------------------------ facts about this run
{
  echo "{"
  env_json_common
  echo "\"rabbitmq\": \"$(rabbitmqctl -q version 2> /dev/null || echo '?')\","
  echo "\"python\": \"$($PY -c 'import sys;print(sys.version.split()[0])')\","
  echo "\"packages\": $($PY -c '
import json, importlib.metadata as m
print(json.dumps({p: m.version(p) for p in ["tomodachi", "aioamqp", "aiohttp"]}))'),"
  echo "\"n\": $N, \"runs\": $RUNS, \"modes\": \"$MODES\", \"callgrind\": $CALLGRIND, \"n_a\": $N_A, \"n_b\": $N_B,"
  echo "\"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "\"svc_cpu\": $SVC_CPU, \"load_cpu\": $LOAD_CPU"
  echo "}"
} > "$OUT/env.json"
python3 -m json.tool "$OUT/env.json" > /dev/null
log "results -> $OUT"

machine() {  # MODE LABEL BEFORE: busy/steal over the run -> machine.jsonl
  echo "{\"mode\":\"$1\",\"label\":\"$2\",\"stat_before\":[$3],\"stat_after\":[$(cpu_line)],\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    >> "$OUT/machine.jsonl"
}
reset_queues() { (cd "$SHARED" && ./rabbit_reset.sh bench.in >> "$OUT/logs/reset.log" 2>&1) || true; }
wait_http() {  # URL PID TRIES: until URL answers (false if PID died or TRIES x 0.2 s passed)
  for _ in $(seq 1 "$3"); do
    curl -fs -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$2" 2> /dev/null || return 1
    sleep 0.2
  done
  return 1
}

# ------------------------------------------------------------------ the consumers
# label -> HTTP port, program (CMD) and extra environment (ENVV); every service runs pinned to
# SVC_CPU (`taskset` execs it, so the pid we hold is the service's). The Python ones run from
# SHARED, as upstream's `tomodachi run` only takes service files relative to the working directory.
declare -A PORT=([python]=9704 [rust]=9804 [raw-lapin]=9806 [raw-lapin-tasks]=9806 [raw-lapin-otel]=9806 [raw-aioamqp]=9706)
consumer_cmd() {  # LABEL -> CMD, ENVV
  ENVV=(HTTP_PORT="${PORT[$1]}")
  case $1 in
    python) CMD=("$TOMO" run --production py/amqp_echo.py) ;;
    rust) CMD=("$EX/amqp_count" --production); ENVV+=(TOMODACHI_LOGGER=disabled) ;;
    raw-lapin) CMD=("$EX/raw_lapin_consumer" --port "${PORT[$1]}") ;;
    raw-lapin-tasks) CMD=("$EX/raw_lapin_consumer" --port "${PORT[$1]}" --tasks) ;;
    # the instrumentation's ceiling (issue 14): raw-lapin-tasks plus each delivery traced and
    # metered directly on the opentelemetry crates, OTEL_* exporters from the caller
    raw-lapin-otel) CMD=("$EX/raw_lapin_consumer" --port "${PORT[$1]}" --otel) ;;
    raw-aioamqp) CMD=("$PY" amqp_raw_consumer.py --port "${PORT[$1]}") ;;
    *) log "ERROR: unknown consumer $1"; return 1 ;;
  esac
}
cd "$SHARED"

live() {  # LABEL
  local label=$1 url="http://127.0.0.1:${PORT[$1]}/count" before
  consumer_cmd "$label"
  reset_queues
  if curl -fs -o /dev/null --max-time 1 "$url"; then log "ERROR: $url answers before $label started"; return 1; fi
  env "${ENVV[@]}" taskset -c "$SVC_CPU" "${CMD[@]}" >> "$OUT/logs/live-$label.log" 2>&1 < /dev/null &
  SVC_PID=$!
  if ! wait_http "$url" "$SVC_PID" 600; then
    log "ERROR: $label did not start"; tail -20 "$OUT/logs/live-$label.log" >&2
    echo "{\"bench\":\"amqp\",\"label\":\"$label\",\"error\":\"service did not start\"}" >> "$OUT/amqp.jsonl"
    stop_svc; return 0
  fi
  sleep 2  # the consumer subscribes after HTTP answers (upstream too)
  quiet "live-$label"
  before=$(cpu_line)
  "$PY" "$SHARED/amqp_bench.py" --count-url "$url" --n "$N" --label "$label" --python "$PY" \
    --publisher-cpu "$LOAD_CPU" --pid "svc=$SVC_PID" --pid "rabbitmq=$RABBIT" >> "$OUT/amqp.jsonl" \
    || log "WARN: amqp_bench.py failed for $label"
  machine live "$label" "$before"
  log "live: $(tail -1 "$OUT/amqp.jsonl" | cut -c1-200)"
  stop_svc
}

backlog() {  # LABEL
  local label=$1 url="http://127.0.0.1:${PORT[$1]}/count" before extra=()
  consumer_cmd "$label"
  case $label in python | rust)
    echo "{\"uuid\": \"bench-amqp-backlog-$label\"}" > "$OUT/uuid-$label.json"
    extra=(-c "$OUT/uuid-$label.json") ;;
  esac
  reset_queues
  quiet "backlog-$label"
  before=$(cpu_line)
  "$PY" "$ROOT/benches/amqp_backlog.py" --count-url "$url" --n "$N" --shared "$SHARED" --python "$PY" \
    --pid "rabbitmq=$RABBIT" --label "$label" --log "$OUT/logs/backlog-$label.log" \
    -- env "${ENVV[@]}" taskset -c "$SVC_CPU" "${CMD[@]}" "${extra[@]}" >> "$OUT/amqp_backlog.jsonl" \
    || log "WARN: amqp_backlog.py failed for $label"
  machine backlog "$label" "$before"
  log "backlog: $(tail -1 "$OUT/amqp_backlog.jsonl" | cut -c1-200)"
}

for i in $(seq 1 "$RUNS"); do
  for mode in live backlog; do
    want "$MODES" "$mode" || continue
    for label in $CONSUMERS; do
      log "$mode run $i: $label"
      "$mode" "$label"
    done
  done
done
reset_queues

# ------------------------------------------------------------------ instructions per message
callgrind_one() {  # LABEL N
  local label=$1 n=$2 url="http://127.0.0.1:${PORT[$1]}/count" out="$OUT/callgrind.$1.$2.out" c=0 pub total
  consumer_cmd "$label"
  reset_queues
  env "${ENVV[@]}" taskset -c "$SVC_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${CMD[@]}" >> "$OUT/logs/callgrind-$label-$n.log" 2>&1 < /dev/null &
  SVC_PID=$!
  wait_http "$url" "$SVC_PID" 600 || { log "ERROR: $label did not start under valgrind"; stop_svc; return 0; }
  sleep 3
  pub=$(taskset -c "$LOAD_CPU" "$PY" "$SHARED/amqp_publish.py" --n "$n")
  for _ in $(seq 1 900); do  # poll once a second: the polls' own instructions stay negligible
    c=$(curl -fs --max-time 5 "$url" || echo 0)
    [ "$c" -ge "$n" ] && break
    sleep 1
  done
  stop_svc
  total=$(grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}')
  echo "{\"label\": \"$label\", \"n\": $n, \"consumed\": $c, \"instructions\": ${total:-null}, \"publish\": ${pub:-null}}" \
    >> "$OUT/instructions.jsonl"
  callgrind_annotate --threshold=100 "$out" > "$out.excl.txt" 2> /dev/null || true
  callgrind_annotate --threshold=100 --inclusive=yes "$out" > "$out.incl.txt" 2> /dev/null || true
  log "callgrind $label N=$n: ${total:-?} instructions, consumed $c"
}
if [ "$CALLGRIND" = 1 ]; then
  for label in rust raw-lapin raw-lapin-tasks raw-lapin-otel; do
    want "$CONSUMERS" "$label" || continue
    for n in "$N_A" "$N_B"; do callgrind_one "$label" "$n"; done
  done
  reset_queues
fi

cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg_end"
python3 "$ROOT/benches/amqp_summarize.py" "$OUT" > "$OUT/summary.md"
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/amqp-latest" 2> /dev/null || true
cat "$OUT/summary.md"
log "done: $OUT/summary.md"
