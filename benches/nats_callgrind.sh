#!/usr/bin/env bash
# NATS JetStream consume cost per message: this port (benches/fixtures/nats_count.rs, a
# `#[nats]` JsonBase handler) against a raw async-nats consumer doing the same work
# (benches/fixtures/raw_nats_consumer.rs: a durable pull consumer, explicit acks, the body
# parsed as JSON, counted, acked), in one sitting, each on a fresh `nats-server -js` of its own
# (temporary store, free loopback port; the shared 4222 one is never touched).
#
# For each consumer and N in (N_A, N_B): start the server and the consumer, publish N JsonBase
# messages (411 bytes) through JetStream (raw_nats_consumer --publish, not measured), poll
# `GET /count` every 2 s until N are handled, SIGTERM. Per message = (B - A) / (N_B - N_A), so
# start-up and shutdown cancel out:
#   instructions  the consumer under `valgrind --tool=callgrind` (repeatable counts);
#   cpu           the consumer natively: utime + stime from /proc/<pid>/stat (10 ms ticks; noisy
#                 on a shared machine, hence the instruction counts).
#
#   benches/nats_callgrind.sh                             # both measures, all three consumers
#   MEASURES=instructions LABELS="rust raw" benches/nats_callgrind.sh
#
# labels: rust (nats_count), raw (raw_nats_consumer: one message at a time, the ack awaited),
#         raw-tasks (raw_nats_consumer --tasks: a task per message, up to 16 at once, as the
#         framework dispatches)
# env: N_A (1000), N_B (4000), CPU_N_A (2000), CPU_N_B (22000), LABELS ("rust raw raw-tasks"),
#      MEASURES ("instructions cpu"), SKIP_BUILD (0), EX (release examples of this checkout),
#      OUT (benches/results/nats-callgrind-<UTC stamp>)
# Writes OUT/results.jsonl (one line per label and measure) and OUT/callgrind.*.out (for
# callgrind_annotate); prints the JSON lines.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N_A=${N_A:-1000}; N_B=${N_B:-4000}; CPU_N_A=${CPU_N_A:-2000}; CPU_N_B=${CPU_N_B:-22000}
LABELS=${LABELS:-rust raw raw-tasks}; MEASURES=${MEASURES:-instructions cpu}
SKIP_BUILD=${SKIP_BUILD:-0}
EX=${EX:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples}
OUT=${OUT:-$ROOT/benches/results/nats-callgrind-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
log() { echo "[nats_callgrind $(date -u +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "$SKIP_BUILD" != 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p tomodachi-nats --example nats_count --example raw_nats_consumer)
fi

NATS_PID=""; SVC_PID=""; STORE=""
cleanup() {
  [ -n "$SVC_PID" ] && { kill -KILL "$SVC_PID" 2> /dev/null || true; wait "$SVC_PID" 2> /dev/null || true; }
  [ -n "$NATS_PID" ] && { kill -TERM "$NATS_PID" 2> /dev/null || true; wait "$NATS_PID" 2> /dev/null || true; }
  [ -n "$STORE" ] && rm -rf "$STORE"
  SVC_PID=""; NATS_PID=""; STORE=""
}
trap cleanup EXIT

start_nats() {
  NATS_PORT=$(free_port); STORE=$(mktemp -d /tmp/nats-bench-store.XXXXXX)
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$STORE" > "$OUT/nats-server.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$NATS_PORT") 2> /dev/null && return 0
    sleep 0.1
  done
  log "nats-server did not start"; exit 1
}

# the consumer's command line for LABEL -> CMD, ENVV
consumer_cmd() {
  local label=$1
  case $label in
    rust)
      echo "{\"options\": {\"http\": {\"host\": \"127.0.0.1\", \"port\": $HTTP_PORT, \"access_log\": false},
             \"nats\": {\"servers\": [\"nats://127.0.0.1:$NATS_PORT\"]}}}" > "$OUT/bench.json"
      CMD=("$EX/nats_count" --production -c "$OUT/bench.json"); ENVV=(TOMODACHI_LOGGER=disabled) ;;
    raw) CMD=("$EX/raw_nats_consumer" --port "$HTTP_PORT" --url "nats://127.0.0.1:$NATS_PORT"); ENVV=() ;;
    raw-tasks) CMD=("$EX/raw_nats_consumer" --port "$HTTP_PORT" --url "nats://127.0.0.1:$NATS_PORT" --tasks); ENVV=() ;;
    *) log "unknown label $label"; exit 2 ;;
  esac
}

count() { curl -fs --max-time 5 "http://127.0.0.1:$HTTP_PORT/count" || true; }

# one run: MEASURE LABEL N -> prints the instruction total or the CPU ticks
run() {
  local measure=$1 label=$2 n=$3 out="$OUT/callgrind.$2.$3.out"
  trap cleanup EXIT  # a command substitution's subshell: stop what it started
  start_nats
  HTTP_PORT=$(free_port)
  consumer_cmd "$label"
  if [ "$measure" = instructions ]; then
    env "${ENVV[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "${CMD[@]}" \
      > "$OUT/$label.$n.log" 2>&1 < /dev/null &
  else
    env "${ENVV[@]}" "${CMD[@]}" > "$OUT/$label.$n.log" 2>&1 < /dev/null &
  fi
  SVC_PID=$!
  for _ in $(seq 1 600); do
    [ -n "$(count)" ] && break
    kill -0 "$SVC_PID" 2> /dev/null || { log "$label exited"; tail "$OUT/$label.$n.log" >&2; exit 1; }
    sleep 0.2
  done
  "$EX/raw_nats_consumer" --publish "$n" --url "nats://127.0.0.1:$NATS_PORT"
  local deadline=$((SECONDS + 1800))
  while [ "$(count)" != "$n" ]; do
    [ $SECONDS -lt $deadline ] || { log "$label handled $(count) of $n"; exit 1; }
    sleep 2
  done
  local ticks=""
  if [ "$measure" = cpu ]; then
    ticks=$(awk '{print $14 + $15}' "/proc/$SVC_PID/stat")
  fi
  kill -TERM "$SVC_PID"; wait "$SVC_PID" || true; SVC_PID=""
  cleanup
  if [ "$measure" = instructions ]; then
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
  else
    echo "$ticks"
  fi
}

HZ=$(getconf CLK_TCK)
for measure in $MEASURES; do
  for label in $LABELS; do
    if [ "$measure" = instructions ]; then a_n=$N_A; b_n=$N_B; else a_n=$CPU_N_A; b_n=$CPU_N_B; fi
    log "$measure $label: $a_n then $b_n messages"
    a=$(run "$measure" "$label" "$a_n"); b=$(run "$measure" "$label" "$b_n")
    if [ "$measure" = instructions ]; then
      per=$(( (b - a) / (b_n - a_n) ))
      line="{\"measure\":\"instructions\",\"label\":\"$label\",\"n_a\":$a_n,\"n_b\":$b_n,\"total_a\":$a,\"total_b\":$b,\"per_message\":$per}"
    else
      per=$(python3 -c "print(round(($b - $a) / $HZ * 1e6 / ($b_n - $a_n), 2))")
      line="{\"measure\":\"cpu\",\"label\":\"$label\",\"n_a\":$a_n,\"n_b\":$b_n,\"ticks_a\":$a,\"ticks_b\":$b,\"cpu_us_per_message\":$per}"
    fi
    echo "$line" | tee -a "$OUT/results.jsonl"
  done
done
