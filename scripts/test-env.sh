#!/usr/bin/env bash
# Brings up what the broker and interop tests need, idempotently, and exports where it is:
#   - RabbitMQ on 127.0.0.1:5672 (guest/guest): installs rabbitmq-server from Debian's packages
#     if missing and starts it if it is not running;
#   - a NATS server with JetStream: installs nats-server from Debian's packages if missing; uses
#     the one on 127.0.0.1:4222 if it answers, else starts `nats-server -js` on a free loopback
#     port with a temporary store (`test_env_cleanup` stops it and removes the store);
#   - .venv/ with the real Python tomodachi from PyPI and protobuf (interop tests, envelope byte
#     checks) and the moto server (the AWS SNS+SQS emulator; each test starts its own on an
#     ephemeral loopback port and stops it);
#   - .venv-otel/ with tomodachi[opentelemetry] and opentelemetry-proto (the OpenTelemetry tests'
#     OTLP receiver and Python side; its own venv: they need protobuf < 5, .venv has protobuf 7).
#     checks), the moto server (the AWS SNS+SQS emulator; each test starts its own on an
#     ephemeral loopback port and stops it) and openapi-spec-validator (the OpenAPI documents);
#   - scripts/asyncapi-validate/node_modules: the official AsyncAPI parser (npm ci).
# Source it: `. scripts/test-env.sh`. Exports TOMODACHI_TEST_AMQP_URL, TOMODACHI_TEST_NATS_URL,
# TOMODACHI_TEST_PYTHON, TOMODACHI_TEST_OTEL_PYTHON, TOMODACHI_TEST_PROMETHEUS (Prometheus from
# Debian's packages, for the metrics tests) and TOMODACHI_TEST_MOTO_SERVER; call
# `test_env_cleanup` when done (at exit) to stop what it started.
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_log() { printf '[test-env] %s\n' "$*"; }

# the form tests encode their bodies with a real client
if ! command -v curl >/dev/null 2>&1; then
  _log "installing curl"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl
fi

_rabbit_up() { rabbitmqctl -q status >/dev/null 2>&1; }

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  _log "installing rabbitmq-server"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server
fi
if ! _rabbit_up; then
  _log "starting rabbitmq-server"
  rabbitmq-server -detached
  for _ in $(seq 1 120); do _rabbit_up && break; sleep 1; done
  _rabbit_up || { echo "[test-env] RabbitMQ did not come up" >&2; exit 1; }
fi
# the AMQP listener can lag behind the node being up
for _ in $(seq 1 60); do
  (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break
  sleep 1
done
_log "rabbitmq is up on 127.0.0.1:5672"

_port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! command -v nats-server >/dev/null 2>&1; then
  _log "installing nats-server"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nats-server
fi
_test_env_nats_pid=""
_test_env_nats_store=""
test_env_cleanup() {
  if [ -n "$_test_env_nats_pid" ]; then
    kill "$_test_env_nats_pid" 2>/dev/null || true
    wait "$_test_env_nats_pid" 2>/dev/null || true
    _test_env_nats_pid=""
  fi
  if [ -n "$_test_env_nats_store" ]; then
    rm -rf "$_test_env_nats_store"
    _test_env_nats_store=""
  fi
}
if _port_answers 4222; then
  _nats_port=4222
else
  _nats_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  _test_env_nats_store="$(mktemp -d)"
  _log "starting nats-server -js on 127.0.0.1:$_nats_port"
  nats-server -js -a 127.0.0.1 -p "$_nats_port" -sd "$_test_env_nats_store" >/dev/null 2>&1 &
  _test_env_nats_pid=$!
  for _ in $(seq 1 100); do _port_answers "$_nats_port" && break; sleep 0.1; done
  _port_answers "$_nats_port" || { echo "[test-env] nats-server did not come up" >&2; test_env_cleanup; exit 1; }
fi
_log "nats is up on 127.0.0.1:$_nats_port"
export TOMODACHI_TEST_NATS_URL="nats://127.0.0.1:$_nats_port"

_venv="$_root/.venv"
if [ ! -x "$_venv/bin/python" ]; then
  _log "creating $_venv"
  python3 -m venv "$_venv"
  "$_venv/bin/pip" install -q --upgrade pip
fi
if ! "$_venv/bin/python" -c 'import tomodachi, moto.server, google.protobuf, openapi_spec_validator' 2>/dev/null || [ ! -x "$_venv/bin/moto_server" ]; then
  _log "pip install -r scripts/requirements-test.txt"
  "$_venv/bin/pip" install -q -r "$_root/scripts/requirements-test.txt"
fi
_log "python tomodachi $("$_venv/bin/python" -c 'import tomodachi; print(tomodachi.__version__)'), moto $("$_venv/bin/python" -c 'import moto; print(moto.__version__)')"

_venv_otel="$_root/.venv-otel"
if [ ! -x "$_venv_otel/bin/python" ]; then
  _log "creating $_venv_otel"
  python3 -m venv "$_venv_otel"
  "$_venv_otel/bin/pip" install -q --upgrade pip
fi
if ! "$_venv_otel/bin/python" -c 'import tomodachi.opentelemetry, opentelemetry.proto.collector.trace.v1.trace_service_pb2, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.prometheus, prometheus_client' 2>/dev/null || [ ! -x "$_venv_otel/bin/tomodachi" ]; then
  _log "pip install -r scripts/requirements-otel-test.txt"
  "$_venv_otel/bin/pip" install -q -r "$_root/scripts/requirements-otel-test.txt"
fi
export TOMODACHI_TEST_OTEL_PYTHON="$_venv_otel/bin/python"
# The OpenTelemetry metrics tests scrape the Prometheus endpoint with a real Prometheus.
if ! command -v prometheus >/dev/null 2>&1; then
  _log "installing prometheus"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
fi
export TOMODACHI_TEST_PROMETHEUS="$(command -v prometheus)"
# The AsyncAPI documents' validator: the official parser from npm, pinned by
# scripts/asyncapi-validate/package-lock.json (crates/tomodachi/tests/apidoc.rs runs it with node).
_asyncapi="$_root/scripts/asyncapi-validate"
if [ ! -d "$_asyncapi/node_modules/@asyncapi/parser" ]; then
  command -v npm >/dev/null 2>&1 || { echo "[test-env] node and npm are required (the AsyncAPI validation)" >&2; exit 1; }
  _log "npm ci in scripts/asyncapi-validate"
  (cd "$_asyncapi" && npm ci --no-audit --no-fund --loglevel=error)
fi
_log "asyncapi parser $(node -p 'require("'"$_asyncapi"'/node_modules/@asyncapi/parser/package.json").version')"

export TOMODACHI_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/%2f"
export TOMODACHI_TEST_PYTHON="$_venv/bin/python"
export TOMODACHI_TEST_MOTO_SERVER="$_venv/bin/moto_server"
