#!/usr/bin/env bash
# The demo from a bare machine: installs what is missing, builds the
# dashboard, then runs Redis, three stand-in instances and the companion
# (the release build: optimised for speed).
# Extra arguments go to `signalscope demo` (see `--help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/build-dashboard.sh
exec cargo run --quiet --release -p signalscope -- demo "$@"
