#!/usr/bin/env bash
# The dashboard against the seed's hand-written page, side by side in one
# headless Chromium on the same stream (bench/page-cost.mjs says what is
# measured and how). Builds `signalscope` and the publisher example for
# speed, then runs the benchmark, which starts the demo stack (Redis, three
# stand-ins, the companion serving the dashboard from DIST) itself.
#
# Usage: bash bench/page-cost.sh [--dist DIR] [page-cost.mjs options]
#   --dist DIR   the built dashboard to measure (default dist/, from
#                scripts/build-dashboard.sh)
# About 2 minutes with the defaults. Figures: docs/BENCHMARKS.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/bench"
cargo build --release -p signalscope --locked -q --bin signalscope --example page_publisher
dist="$root/dist"
if [ "${1:-}" = "--dist" ]; then dist="$(cd "$2" && pwd)"; shift 2; fi
[ -f "$dist/index.html" ] || { echo "no dashboard in $dist: run scripts/build-dashboard.sh" >&2; exit 1; }
exec node bench/page-cost.mjs --bin "$CARGO_TARGET_DIR/release/signalscope" \
  --publisher "$CARGO_TARGET_DIR/release/examples/page_publisher" --dist "$dist" "$@"
