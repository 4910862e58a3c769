#!/usr/bin/env bash
# Installs everything signalscope needs on a bare Debian machine of this kind.
# Idempotent: every step checks first and skips what is already present.
# Nothing here downloads outside the package registries (crates, npm, Debian).
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130
TRUNK_VERSION=0.21.14
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"

say() { printf '[setup] %s\n' "$*"; }

apt_needed=()
command -v redis-server >/dev/null || apt_needed+=(redis-server)
# redis-cli --cluster joins the cluster tests' nodes; Sentinel needs no package of
# its own: the tests run it as `redis-server --sentinel`.
command -v redis-cli >/dev/null || apt_needed+=(redis-tools)
command -v chromium >/dev/null || apt_needed+=(chromium)
command -v chromedriver >/dev/null || apt_needed+=(chromium-driver)
# prometheus and promtool: the /metrics and alert-rule tests.
command -v promtool >/dev/null || apt_needed+=(prometheus)
if ((${#apt_needed[@]})); then
  say "apt: ${apt_needed[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
  # Debian enables a system redis on install; tests start their own on free ports.
  (systemctl disable --now redis-server 2>/dev/null || service redis-server stop 2>/dev/null) >/dev/null || true
  # Likewise its prometheus service: the tests run their own.
  (systemctl disable --now prometheus 2>/dev/null || service prometheus stop 2>/dev/null) >/dev/null || true
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  say "cargo install trunk $TRUNK_VERSION (several minutes)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Its lockfile pins a webpki-roots the registry does not serve: fetch the
  # crate through cargo, then build it with that one dependency moved back.
  cargo install --locked wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" 2>/dev/null || true
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    crate=$(ls -1 "$HOME"/.cargo/registry/cache/*/wasm-bindgen-cli-"$WASM_BINDGEN_VERSION".crate | head -n1)
    work=$(mktemp -d)
    tar -xzf "$crate" -C "$work"
    (cd "$work/wasm-bindgen-cli-$WASM_BINDGEN_VERSION" &&
      cargo update -p webpki-roots --precise 1.0.10 &&
      cargo install --locked --path . --force)
    rm -rf "$work"
  fi
fi

# Node packages: the reference SignalR client (and its MessagePack protocol)
# for interop tests, and npm's
# binaryen for wasm-opt (Debian's binaryen 108 produces modules that break).
if [ ! -x "$root/node_modules/.bin/wasm-opt" ] || [ ! -d "$root/node_modules/@microsoft/signalr" ] ||
  [ ! -d "$root/node_modules/@microsoft/signalr-protocol-msgpack" ] ||
  [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "npm ci"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

say "cargo fetch"
(cd "$root" && cargo fetch --quiet)
say "ready"
