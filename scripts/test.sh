#!/usr/bin/env bash
# The one test command: formatting, lints, every crate's tests (unit, integration, process,
# macro diagnostics, broker and interop tests, doc tests). Installs and starts what it needs
# (RabbitMQ, NATS, a Python venv with tomodachi) on a fresh machine of this kind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (the machine's Rust toolchain)" >&2
  exit 1
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

log "test environment (RabbitMQ, NATS, Python tomodachi venv)"
. scripts/test-env.sh
# stops the NATS server test-env.sh may have started
trap test_env_cleanup EXIT

# No incremental caches: this is a one-shot build, and they doubled the size of target/.
export CARGO_INCREMENTAL=0

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

log "feature combinations of tomodachi (cargo clippy --lib, warnings are errors)"
for features in "" http macros amqp aws testing protobuf http,testing testing,amqp testing,aws protobuf,amqp,aws http,macros,amqp,aws opentelemetry opentelemetry,http opentelemetry,amqp http,macros,amqp,aws,opentelemetry schemars http,schemars; do
  echo "-- --no-default-features --features '$features'"
  cargo clippy -q -p tomodachi --lib --no-default-features --features "$features" -- -D warnings
done
# HTTP alone pulls in neither lapin nor the AWS SDK; without `http`, hyper is not built either
if cargo tree -q -p tomodachi --no-default-features --features http,macros,testing -e normal | grep -E '^[^a-z]*(lapin|aws-sdk-)'; then
  echo "lapin or the AWS SDK is in the build without the amqp and aws features" >&2
  exit 1
fi
# the OpenTelemetry SDK and exporters only with the `opentelemetry` feature
if cargo tree -q -p tomodachi -e normal | grep -E '^[^a-z]*opentelemetry'; then
  echo "opentelemetry is in the build without the opentelemetry feature" >&2
  exit 1
fi
if cargo tree -q -p tomodachi --no-default-features --features macros,testing -e normal | grep -E '^[^a-z]*(hyper|tower) '; then
  echo "hyper or tower is in the build without the http feature" >&2
  exit 1
fi

# One build of the dependencies for everything below: the example binaries the process tests
# run, the `tomodachi` binary and the test targets all resolve the same features (with the
# CLI's dependencies in the selection; a plain `cargo build --examples` would leave them out and
# build every dependency a second time).
TEST_TARGETS=(--workspace --lib --bins --tests --benches)

log "cargo build --examples --bins (the process tests run the example binaries)"
df -h . | tail -1 | awk '{print "disk: " $4 " free before the build"}'
cargo build --workspace --examples --bins
cargo test "${TEST_TARGETS[@]}" --no-run

log "cargo test"
results=$(mktemp)
trap 'rm -f "$results"; test_env_cleanup' EXIT
cargo test "${TEST_TARGETS[@]}" --no-fail-fast 2>&1 | tee -a "$results"
cargo test --workspace --doc 2>&1 | tee -a "$results"

# One closing line for the whole run (each test binary prints its own `test result:` line).
passed=$(grep -Eo '[0-9]+ passed' "$results" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$results" | awk '{s += $1} END {print s + 0}')
echo
du -sh target 2>/dev/null | awk '{print "target/: " $1}'
echo "tests: ${passed} passed, ${failed} failed"
