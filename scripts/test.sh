#!/usr/bin/env bash
# The one test command: formatting, lints, every crate's tests (unit, integration, process,
# macro diagnostics, doc tests). Installs what it needs on a fresh machine of this kind.
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

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo build --examples (the process tests run the example binaries)"
cargo build --workspace --examples

log "cargo test"
cargo test --workspace --all-targets
cargo test --workspace --doc
