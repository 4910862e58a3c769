#!/usr/bin/env bash
# Builds the dashboard into dist/ with trunk, offline: trunk must find the
# exact wasm-bindgen and wasm-opt it is told to use (Trunk.toml) and never
# download anything. scripts/setup.sh installs both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
# offline = true in Trunk.toml makes cargo offline too: fetch first.
cargo fetch --quiet
trunk build index.html --release
