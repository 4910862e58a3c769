#!/usr/bin/env bash
# Prints the size of the dashboard's .wasm in dist/, raw and gzipped with
# `gzip -9` (what a viewer downloads from a compressing server), and fails
# when the gzipped size is above the ceiling: the first argument, in bytes,
# by default issue 12's goal of 200 KB. Run it after scripts/build-dashboard.sh;
# docs/BENCHMARKS.md ("Dashboard: release .wasm size") says where the bytes go.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ceiling="${1:-200000}"
shopt -s nullglob
wasm=("$root"/dist/*_bg.wasm)
if [ "${#wasm[@]}" -ne 1 ]; then
  echo "expected one dist/*_bg.wasm, found ${#wasm[@]}: run scripts/build-dashboard.sh first" >&2
  exit 1
fi
raw=$(wc -c <"${wasm[0]}")
gzipped=$(gzip -9 -c "${wasm[0]}" | wc -c)
echo "dashboard .wasm: $raw B raw, $gzipped B gzip -9, ceiling $ceiling B"
if [ "$gzipped" -gt "$ceiling" ]; then
  echo "the dashboard's .wasm is $((gzipped - ceiling)) B over its ceiling" >&2
  exit 1
fi
