#!/usr/bin/env bash
# What OpenTelemetry costs (issue 14), in one sitting:
#
# 1. off, deterministic: instructions per HTTP request (benches/http_callgrind.sh, labels `hello`
#    and `hello-log`) and per AMQP message (benches/amqp_compare.sh CALLGRIND=1, consumer `rust`)
#    of three builds of the same services (examples/hello.rs, benches/fixtures/amqp_count.rs):
#      off   tomodachi without the `opentelemetry` feature (features http, macros, amqp)
#      otel  the same features plus `opentelemetry`, instrumentation not enabled
#      ws    the workspace's release examples (WS_EX), the feature compiled in, not enabled
#    `off` and `otel` are built from a crate generated outside the workspace ($BUILD/crate): inside
#    it tomodachi's own dev-dependency on itself (features testing, protobuf, opentelemetry,
#    schemars) is unified into every example, so `cargo build --example hello
#    --no-default-features --features http,macros` still compiles the feature in.
# 2. on, side by side with Python tomodachi 0.29 (.venv-otel: tomodachi[opentelemetry]): CPU time
#    (utime+stime from /proc/<pid>/stat) per keep-alive HTTP request under wrk and per AMQP
#    message of a drained backlog, instrumentation off and on, exporting traces and metrics over
#    OTLP http/protobuf to crates/tomodachi/tests/fixtures/otlp_receiver.py (benches/otel_cost.py;
#    services on core SVC_CPU, wrk, the publisher and the receiver on core LOAD_CPU), RUNS times
#    in turn; a run with instrumentation on counts only when the receiver got every span.
# 3. where the "on" cost goes: `hello` with --opentelemetry-instrument under callgrind
#    (http_callgrind.sh label `hello-otel`, exporting to the receiver), instructions per request
#    and the per-function difference to `hello` (benches/otel_cost_summary.py), beside its ceiling:
#    bare hyper with and without tracing and metering each request directly on the opentelemetry
#    crates (benches/fixtures/bare_hyper_otel.rs, label `bare-hyper-otel`); `amqp_count` with
#    TOMODACHI_OPENTELEMETRY_INSTRUMENT=1 under amqp_compare.sh CALLGRIND=1 likewise (per message).
#
#   benches/otel_cost.sh
#   WS_EX=/work/target-rel/release/examples benches/otel_cost.sh
#   ONLY=callgrind benches/otel_cost.sh                 # only the instruction counts (any load)
#   ONLY="http amqp" RUNS=1 DURATION=3s N=5000 benches/otel_cost.sh      # quick
#
# Writes benches/results/otel-<UTC stamp>/: env.json, quiet.jsonl, http.jsonl, amqp.jsonl,
# callgrind/<build>-{http,amqp}/ and callgrind/on-http/, logs/, summary.md.
#
# env: ONLY ("build callgrind http amqp"), RUNS (3), DURATION (10s), WARMUP (2s), CONNS (64),
#      N (30000 messages; 100000 gives Rust's CPU figure > 1 s), SVC_CPU (0), LOAD_CPU (1),
#      OTEL_BSP_MAX_QUEUE_SIZE (1048576 here: no span dropped while the receiver lags; the SDKs'
#      default 2048 would drop most of a saturated run's spans and their export cost), BUILD (target-rel/otel-cost: the generated
#      crate and its builds), WS_EX (${CARGO_TARGET_DIR:-target}/release/examples; a build
#      without amqp_count or hello is skipped), ON_EX (the `otel` build: the Rust "on" runs),
#      QUIET_MAX (900), QUIET_MAX_EACH (180), OTEL_VENV (.venv-otel), VENV (.venv: the AMQP
#      publisher's aioamqp), SHARED (../shared/bench), OUT
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared/bench}
[ -f "$SHARED/amqp_publish.py" ] || SHARED=/work/shared/bench
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/benches/results/otel-$STAMP}
ONLY=${ONLY:-build callgrind http amqp}
RUNS=${RUNS:-3}; DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-2s}; CONNS=${CONNS:-64}; N=${N:-30000}
SVC_CPU=${SVC_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
QUIET_MAX=${QUIET_MAX:-900}; QUIET_MAX_EACH=${QUIET_MAX_EACH:-180}
BUILD=${BUILD:-$ROOT/target-rel/otel-cost}
WS_EX=${WS_EX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples}
ON_EX=${ON_EX:-$BUILD/otel/release/examples}
OTEL_VENV=${OTEL_VENV:-$ROOT/.venv-otel}; VENV=${VENV:-$ROOT/.venv}
RECEIVER=$ROOT/crates/tomodachi/tests/fixtures/otlp_receiver.py
want() { [[ " $ONLY " == *" $1 "* ]]; }
mkdir -p "$OUT/logs"
log() { echo "[otel_cost $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
. "$ROOT/benches/lib.sh"

REC_PID=""
stop_receiver() { [ -z "$REC_PID" ] || { kill -TERM "$REC_PID" 2> /dev/null || true; wait "$REC_PID" 2> /dev/null || true; REC_PID=""; }; }
trap stop_receiver EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for p in wrk valgrind; do command -v $p > /dev/null || { log "ERROR: $p is not installed (apt-get install $p)"; exit 1; }; done
"$OTEL_VENV/bin/python" -c 'import tomodachi, opentelemetry.proto, opentelemetry.exporter.otlp.proto.http' \
  || { log "ERROR: $OTEL_VENV lacks tomodachi[opentelemetry] / opentelemetry-proto"; exit 1; }
"$VENV/bin/python" -c 'import aioamqp' || { log "ERROR: $VENV lacks aioamqp"; exit 1; }

# ------------------------------------------------------------------ 1. the off and otel builds
# bins in a crate outside the workspace; copied to $BUILD/<build>/release/examples/, the layout
# http_callgrind.sh (EX) and amqp_compare.sh (CARGO_TARGET_DIR) expect
if want build; then
  mkdir -p "$BUILD/crate"
  cat > "$BUILD/crate/Cargo.toml" << EOF
# generated by benches/otel_cost.sh: the bench services with tomodachi as a plain dependency
[package]
name = "otel-cost"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "hello"
path = "$ROOT/examples/hello.rs"

[[bin]]
name = "amqp_count"
path = "$ROOT/benches/fixtures/amqp_count.rs"

[dependencies]
tomodachi = { path = "$ROOT/crates/tomodachi", default-features = false, features = ["http", "macros", "amqp"] }
serde_json = "1"

[features]
otel = ["tomodachi/opentelemetry"]

[workspace]
EOF
  cp "$ROOT/Cargo.lock" "$BUILD/crate/Cargo.lock"
  for b in off otel; do
    feat=(); [ "$b" = otel ] && feat=(--features otel)
    log "cargo build --release (${b}) in $BUILD/crate"
    (cd "$BUILD/crate" && CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} CARGO_TARGET_DIR="$BUILD/target" \
      cargo build --release "${feat[@]}") > "$OUT/logs/build-$b.log" 2>&1 \
      || { tail -30 "$OUT/logs/build-$b.log" >&2; exit 1; }
    mkdir -p "$BUILD/$b/release/examples"
    cp "$BUILD/target/release/hello" "$BUILD/target/release/amqp_count" "$BUILD/$b/release/examples/"
  done
fi
# the builds must behave as labelled: `off` refuses the flag (exit 2), `otel` and `ws` accept it
flag_ok() { HTTP_PORT=1 timeout 5 "$1/hello" --production --opentelemetry-instrument --asyncapi > /dev/null 2>&1; }
BUILDS=()
for b in off otel ws; do
  ex=$BUILD/$b/release/examples; [ "$b" = ws ] && ex=$WS_EX
  [ -x "$ex/hello" ] && [ -x "$ex/amqp_count" ] || { log "no $b build in $ex: skipped"; continue; }
  BUILDS+=("$b")
done

{
  echo "{"
  env_json_common
  echo "\"python\": \"$("$OTEL_VENV/bin/python" -c 'import sys;print(sys.version.split()[0])')\","
  echo "\"packages\": $("$OTEL_VENV/bin/python" -c '
import json, importlib.metadata as m
print(json.dumps({p: m.version(p) for p in ["tomodachi", "aiohttp", "aioamqp", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "protobuf"]}))'),"
  echo "\"builds\": \"${BUILDS[*]}\", \"ws_ex\": \"$WS_EX\", \"on_ex\": \"$ON_EX\","
  for b in "${BUILDS[@]}"; do
    ex=$BUILD/$b/release/examples; [ "$b" = ws ] && ex=$WS_EX
    echo "\"sha256_$b\": \"$(sha256sum "$ex/hello" | cut -c1-16) $(sha256sum "$ex/amqp_count" | cut -c1-16)\","
  done
  echo "\"runs\": $RUNS, \"duration\": \"$DURATION\", \"warmup\": \"$WARMUP\", \"conns\": $CONNS, \"n\": $N,"
  echo "\"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"svc_cpu\": $SVC_CPU, \"load_cpu\": $LOAD_CPU"
  echo "}"
} > "$OUT/env.json"
python3 -m json.tool "$OUT/env.json" > /dev/null
log "results -> $OUT (builds: ${BUILDS[*]})"

start_receiver() {  # FILE -> REC_PID, exports the OTEL_* variables pointing at it
  local fifo="$OUT/logs/receiver.port"
  rm -f "$1" "$fifo"
  taskset -c "$LOAD_CPU" "$OTEL_VENV/bin/python" "$RECEIVER" "$1" > "$fifo" 2>> "$OUT/logs/receiver.err" &
  REC_PID=$!
  for _ in $(seq 1 100); do [ -s "$fifo" ] && break; sleep 0.1; done
  export OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=otlp OTEL_LOGS_EXPORTER=none \
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(head -1 "$fifo")"
}

# ------------------------------------------------------------------ 1. + 3. callgrind
if want callgrind; then
  for b in "${BUILDS[@]}"; do
    ex=$BUILD/$b/release/examples; [ "$b" = ws ] && ex=$WS_EX
    if [ "$b" = off ]; then
      flag_ok "$ex" && { log "ERROR: the off build accepts --opentelemetry-instrument"; exit 1; }
    else
      flag_ok "$ex" || { log "ERROR: the $b build refuses --opentelemetry-instrument"; exit 1; }
    fi
    log "callgrind HTTP, $b"
    PORT=0 EX=$ex SKIP_BUILD=1 PAUSE=0.01 LABELS="hello hello-log" OUT="$OUT/callgrind/$b-http" \
      "$ROOT/benches/http_callgrind.sh" 2>> "$OUT/logs/callgrind.log" | sed "s/^{/{\"build\":\"$b\",/" >> "$OUT/callgrind_http.jsonl"
    log "callgrind AMQP, $b"
    ex_root=$(dirname "$(dirname "$ex")")
    CARGO_TARGET_DIR=$ex_root SKIP_BUILD=1 CALLGRIND=1 MODES= CONSUMERS=rust VENV=$VENV QUIET_MAX=0 QUIET_MAX_EACH=0 \
      OUT="$OUT/callgrind/$b-amqp" "$ROOT/benches/amqp_compare.sh" > /dev/null 2>> "$OUT/logs/callgrind.log"
    sed "s/^{/{\"build\":\"$b\",/" "$OUT/callgrind/$b-amqp/instructions.jsonl" >> "$OUT/callgrind_amqp.jsonl"
  done
  # 3. instrumentation on, exporting to the receiver; and the ceiling (bare hyper, off and with
  # each request traced and metered directly on the opentelemetry crates)
  if [ -x "$WS_EX/bare_hyper_otel" ]; then
    log "callgrind HTTP, the ceiling: bare hyper and bare hyper + opentelemetry ($WS_EX)"
    start_receiver "$OUT/logs/callgrind-spans.jsonl"
    PORT=0 EX=$WS_EX SKIP_BUILD=1 PAUSE=0.01 LABELS="bare-hyper bare-hyper-otel" OUT="$OUT/callgrind/ceiling-http" \
      "$ROOT/benches/http_callgrind.sh" 2>> "$OUT/logs/callgrind.log" | sed 's/^{/{"build":"ceiling",/' >> "$OUT/callgrind_http.jsonl"
    stop_receiver
    rm -f "$OUT/logs/callgrind-spans.jsonl"
  fi
  log "callgrind HTTP, --opentelemetry-instrument ($ON_EX)"
  start_receiver "$OUT/logs/callgrind-spans.jsonl"
  PORT=0 EX=$ON_EX SKIP_BUILD=1 PAUSE=0.01 LABELS="hello-otel" OUT="$OUT/callgrind/on-http" \
    "$ROOT/benches/http_callgrind.sh" 2>> "$OUT/logs/callgrind.log" | sed 's/^{/{"build":"on",/' >> "$OUT/callgrind_http.jsonl"
  stop_receiver
  echo "{\"callgrind_on_spans\": $(wc -l < "$OUT/logs/callgrind-spans.jsonl" 2> /dev/null || echo 0)}" >> "$OUT/callgrind_http.jsonl"
  rm -f "$OUT/logs/callgrind-spans.jsonl"
  log "callgrind AMQP, TOMODACHI_OPENTELEMETRY_INSTRUMENT=1 ($ON_EX)"
  start_receiver "$OUT/logs/callgrind-spans.jsonl"
  CARGO_TARGET_DIR=$(dirname "$(dirname "$ON_EX")") TOMODACHI_OPENTELEMETRY_INSTRUMENT=1 OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS=count \
    SKIP_BUILD=1 CALLGRIND=1 MODES= CONSUMERS=rust VENV=$VENV QUIET_MAX=0 QUIET_MAX_EACH=0 \
    OUT="$OUT/callgrind/on-amqp" "$ROOT/benches/amqp_compare.sh" > /dev/null 2>> "$OUT/logs/callgrind.log"
  stop_receiver
  sed 's/^{/{"build":"on",/' "$OUT/callgrind/on-amqp/instructions.jsonl" >> "$OUT/callgrind_amqp.jsonl"
  echo "{\"callgrind_on_spans\": $(wc -l < "$OUT/logs/callgrind-spans.jsonl" 2> /dev/null || echo 0)}" >> "$OUT/callgrind_amqp.jsonl"
  rm -f "$OUT/logs/callgrind-spans.jsonl"
  for d in "$OUT"/callgrind/*-http; do
    for f in "$d"/callgrind.*.out; do [ -f "$f" ] && callgrind_annotate --threshold=100 --inclusive=yes "$f" > "$f.incl.txt" 2> /dev/null; callgrind_annotate --threshold=100 "$f" > "$f.excl.txt" 2> /dev/null || true; done
  done
fi

# ------------------------------------------------------------------ 2. side by side
cd "$SHARED"  # upstream's `tomodachi run` takes service files relative to the working directory
TOMO=$OTEL_VENV/bin/tomodachi
measure() {  # MODE LABEL URL OTEL(0|1) CMD...
  local mode=$1 label=$2 url=$3 otel=$4 flag=(); shift 4
  [ "$otel" = 1 ] && flag=(--otel)
  quiet "$mode-$label"
  "$OTEL_VENV/bin/python" "$ROOT/benches/otel_cost.py" "$mode" --label "$label" --url "$url" "${flag[@]}" \
    --receiver "$RECEIVER" --receiver-python "$OTEL_VENV/bin/python" --out "$OUT/logs" --load-cpu "$LOAD_CPU" \
    --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --n "$N" --shared "$SHARED" \
    --publisher-python "$VENV/bin/python" -- "$@" >> "$OUT/$mode.jsonl" || log "WARN: $mode $label failed"
  log "$mode: $(tail -1 "$OUT/$mode.jsonl" | cut -c1-220)"
}
# no span is dropped while the receiver (Python) lags behind: every span's export is counted
export OTEL_BSP_MAX_QUEUE_SIZE=${OTEL_BSP_MAX_QUEUE_SIZE:-1048576}
if want http; then
  for i in $(seq 1 "$RUNS"); do
    for otel in 0 1; do
      on=(); [ "$otel" = 1 ] && on=(--opentelemetry-instrument)
      measure http "rust:otel=$otel" http://127.0.0.1:9802/ "$otel" env HTTP_ACCESS_LOG=0 HTTP_KEEPALIVE_TIMEOUT=5 \
        TOMODACHI_LOGGER=disabled taskset -c "$SVC_CPU" "$ON_EX/hello" --production "${on[@]}"
      measure http "python:otel=$otel" http://127.0.0.1:9702/ "$otel" env HTTP_ACCESS_LOG=0 HTTP_KEEPALIVE_TIMEOUT=5 \
        taskset -c "$SVC_CPU" "$TOMO" run --production "${on[@]}" py/hello.py
      # the ceiling: bare hyper, and bare hyper tracing and metering each request directly on the
      # opentelemetry crates (the workspace's release examples)
      if [ -x "$WS_EX/bare_hyper_otel" ]; then
        bare=bare_hyper_hello; [ "$otel" = 1 ] && bare=bare_hyper_otel
        measure http "ceiling:otel=$otel" http://127.0.0.1:9807/ "$otel" env HTTP_PORT=9807 \
          taskset -c "$SVC_CPU" "$WS_EX/$bare"
      fi
    done
  done
fi
if want amqp; then
  echo '{"uuid": "bench-otel-cost-rust"}' > "$OUT/uuid-rust.json"
  echo '{"uuid": "bench-otel-cost-python"}' > "$OUT/uuid-python.json"
  for i in $(seq 1 "$RUNS"); do
    for otel in 0 1; do
      on=(); [ "$otel" = 1 ] && on=(--opentelemetry-instrument)
      (./rabbit_reset.sh bench.in >> "$OUT/logs/reset.log" 2>&1) || true
      measure amqp "rust:otel=$otel" http://127.0.0.1:9804/count "$otel" env TOMODACHI_LOGGER=disabled \
        taskset -c "$SVC_CPU" "$ON_EX/amqp_count" --production "${on[@]}" -c "$OUT/uuid-rust.json"
      (./rabbit_reset.sh bench.in >> "$OUT/logs/reset.log" 2>&1) || true
      measure amqp "python:otel=$otel" http://127.0.0.1:9704/count "$otel" \
        taskset -c "$SVC_CPU" "$TOMO" run --production "${on[@]}" py/amqp_echo.py -c "$OUT/uuid-python.json"
    done
  done
  (./rabbit_reset.sh bench.in >> "$OUT/logs/reset.log" 2>&1) || true
fi

cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg_end"
python3 "$ROOT/benches/otel_cost_summary.py" "$OUT" > "$OUT/summary.md"
ln -sfn "$(basename "$OUT")" "$(dirname "$OUT")/otel-latest" 2> /dev/null || true
cat "$OUT/summary.md"
log "done: $OUT/summary.md"
