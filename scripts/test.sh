#!/usr/bin/env bash
# Every check and every test signalscope has, from a bare machine:
# installs what is missing, lints native and wasm32, builds the dashboard,
# runs the Rust tests (real redis-server, real official SignalR client),
# the dashboard's browser unit tests and the end-to-end scenarios in
# headless Chromium. Screenshots land in test-output/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

step() { printf '\n=== %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32: protocol and dashboard)"
cargo clippy -p signalscope-protocol -p signalscope-frontend --target wasm32-unknown-unknown --locked -- -D warnings

step "build the dashboard (trunk, offline)"
bash scripts/build-dashboard.sh

step "dashboard .wasm size"
# Issue 12's goal is 200000 B gzipped; the build is not there yet
# (docs/BENCHMARKS.md), so this ceiling only stops it growing: lower it as cuts land.
bash scripts/wasm-size.sh 272000

step "cargo test (native)"
cargo test --workspace --locked

if [ -d frontend/tests ]; then
  step "dashboard browser unit tests (wasm-bindgen-test, headless Chromium)"
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    CHROMEDRIVER="$(command -v chromedriver)" \
    cargo test -p signalscope-frontend --target wasm32-unknown-unknown --locked
fi

if [ -d e2e ]; then
  step "end-to-end scenarios (headless Chromium, demo stack)"
  cargo build -p signalscope --locked
  node --test --test-concurrency=1 e2e/
fi
step "all checks passed"
