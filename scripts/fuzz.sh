#!/usr/bin/env bash
# Runs every protocol fuzz target for a while (default 60 s each)
# on stable Rust (no sanitizer) and prints the execution counts.
# Usage: scripts/fuzz.sh [seconds-per-target]
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz --version 0.13.2
for target in framing hub_message negotiate backplane monitor_line; do
  out=$(cargo fuzz run -s none "$target" -- -max_total_time="$seconds" -max_len=4096 2>&1) || { echo "$out" | tail -30; exit 1; }
  echo "$target: $(echo "$out" | grep -E '^Done [0-9]+ runs' | tail -1)"
done
