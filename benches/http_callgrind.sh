#!/usr/bin/env bash
# Instructions per keep-alive HTTP request under callgrind (deterministic, whatever the machine
# is doing): each server runs under `valgrind --tool=callgrind` twice, answering N_A and then
# N_B `GET /` requests sent one after another on one keep-alive connection; instructions per
# request = (total_B - total_A) / (N_B - N_A), so start-up and shutdown cancel out.
#
#   benches/http_callgrind.sh                       # hello (access log off) and bare hyper
#   LABELS="hello hello-log" benches/http_callgrind.sh
#   EX=/other/checkout/target/release/examples benches/http_callgrind.sh   # another build
#
#   LABELS=hello-otel benches/http_callgrind.sh     # --opentelemetry-instrument, OTEL_* from the caller
#   LABELS=bare-hyper-otel benches/http_callgrind.sh  # its ceiling: bare hyper + the opentelemetry crates
#
# env: PORT (9871; 0 = a free one), N_A (400), N_B (1400), VALGRIND_ARGS (extra valgrind flags, e.g. --fair-sched=yes), LABELS ("hello bare-hyper"), SKIP_BUILD (0), EX (release examples
#      of this checkout), OUT (benches/results/http-callgrind-<UTC stamp>)
# Prints one JSON line per label: {"label", "n_a", "n_b", "total_a", "total_b", "per_request"}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N_A=${N_A:-400}; N_B=${N_B:-1400}; LABELS=${LABELS:-hello bare-hyper}; SKIP_BUILD=${SKIP_BUILD:-0}
EX=${EX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples}
OUT=${OUT:-$ROOT/benches/results/http-callgrind-$(date -u +%Y%m%dT%H%M%SZ)}
PORT=${PORT:-9871}  # PORT=0: a free ephemeral port (another session's run on 9871 would answer our requests)
[ "$PORT" != 0 ] || PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$OUT"
log() { echo "[http_callgrind $(date -u +%H:%M:%S)] $*" >&2; }

if [ "$SKIP_BUILD" != 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p tomodachi --example hello --example bare_hyper_hello)
fi

server_cmd() {  # LABEL -> CMD, ENVV
  ENVV=(HTTP_PORT=$PORT HTTP_KEEPALIVE_TIMEOUT=5)
  case $1 in
    hello) CMD=("$EX/hello" --production); ENVV+=(HTTP_ACCESS_LOG=0 TOMODACHI_LOGGER=disabled) ;;
    hello-log) CMD=("$EX/hello" --production); ENVV+=(HTTP_ACCESS_LOG=1) ;;
    # OpenTelemetry on (a build with the feature): the OTEL_* exporter variables come from the
    # caller's environment (benches/otel_cost.sh points them at its OTLP receiver)
    hello-otel) CMD=("$EX/hello" --production --opentelemetry-instrument); ENVV+=(HTTP_ACCESS_LOG=0 TOMODACHI_LOGGER=disabled) ;;
    bare-hyper) CMD=("$EX/bare_hyper_hello") ;;
    # the instrumentation ceiling: bare hyper tracing and metering each request directly on the
    # opentelemetry crates (benches/fixtures/bare_hyper_otel.rs), OTEL_* from the caller as above
    bare-hyper-otel) CMD=("$EX/bare_hyper_otel") ;;
    *) log "unknown label $1"; exit 2 ;;
  esac
}

# N requests on one keep-alive connection, each response read before the next request
requests() {  # N
  python3 - "$PORT" "$1" "${PAUSE:-0}" <<'PY'
import http.client, sys, time
port, n, pause = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200, r.status
    r.read()
    if pause:
        time.sleep(pause)
c.close()
PY
}

total() {  # LABEL N -> prints the instruction total
  local label=$1 n=$2 out="$OUT/callgrind.$1.$2.out" pid
  server_cmd "$label"
  env "${ENVV[@]}" valgrind --tool=callgrind ${VALGRIND_ARGS:-} --callgrind-out-file="$out" "${CMD[@]}" \
    > "$OUT/$label.$n.log" 2>&1 < /dev/null &
  pid=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" && break
    kill -0 "$pid" 2> /dev/null || { log "$label exited"; tail "$OUT/$label.$n.log" >&2; exit 1; }
    sleep 0.2
  done
  requests "$n"
  kill -TERM "$pid"; wait "$pid" || true
  # the probe above was one request more for both runs: it cancels out
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

for label in $LABELS; do
  a=$(total "$label" "$N_A"); b=$(total "$label" "$N_B")
  per=$(( (b - a) / (N_B - N_A) ))
  echo "{\"label\":\"$label\",\"n_a\":$N_A,\"n_b\":$N_B,\"total_a\":$a,\"total_b\":$b,\"per_request\":$per}" | tee -a "$OUT/instructions.jsonl"
done
