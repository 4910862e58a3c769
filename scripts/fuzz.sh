#!/usr/bin/env bash
# Runs every protocol fuzz target for a number of executions (default 200000)
# on stable Rust (no sanitizer) and prints the execution counts.
# Usage: scripts/fuzz.sh [runs]
set -euo pipefail
runs=${1:-200000}
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz --version 0.13.2
for target in framing hub_message negotiate backplane monitor_line; do
  out=$(cargo fuzz run -s none "$target" -- -runs="$runs" -max_len=4096 2>&1) || { echo "$out" | tail -30; exit 1; }
  echo "$target: $(echo "$out" | grep -E '^Done [0-9]+ runs' | tail -1)"
done
