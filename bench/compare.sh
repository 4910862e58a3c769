#!/usr/bin/env bash
# signalscope load side by side with the peer it replaces, in one run, on
# one demo stack (Redis + three stand-ins), loopback only, bounded in time:
#
#  1. N connections held by the official @microsoft/signalr client under
#     node, then N held by `signalscope load`: memory per connection and
#     connections opened per CPU-second, and their ratios;
#  2. the latency `load` reports for its broadcasts next to what an
#     independent observer (the official client in node, 10 connections)
#     measures for the very same broadcasts.
#
# Usage: bash bench/compare.sh [N=3000]   (figures: docs/BENCHMARKS.md)
set -euo pipefail
N=${1:-3000}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR=target/bench
cargo build --release -p signalscope --locked -q
bin=target/bench/release/signalscope
out=$(mktemp -d)
mkdir -p "$out/dist" && echo '<!doctype html>' >"$out/dist/index.html"
ulimit -n "$(ulimit -Hn)"

base=$((20000 + RANDOM % 20000))
"$bin" demo --dist "$out/dist" --listen "127.0.0.1:$((base + 100))" --base-port "$base" \
  >"$out/demo.log" 2>&1 &
demo=$!
trap 'kill -TERM $demo 2>/dev/null; wait $demo 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 1 100); do grep -q "signalscope demo ready" "$out/demo.log" && break; sleep 0.2; done
grep -q "signalscope demo ready" "$out/demo.log" || { cat "$out/demo.log"; exit 1; }
redis=$(awk '$1 == "redis" {print $2}' "$out/demo.log")
urls=(); flags=(--redis "$redis" --demo "http://127.0.0.1:$((base + 100))")
for i in 0 1 2; do
  urls+=(--url "http://127.0.0.1:$((base + i))")
  flags+=(--instance "api-$((i + 1))=http://127.0.0.1:$((base + i))")
done

echo "== $N connections: @microsoft/signalr (node) =="
node --expose-gc bench/node-clients.mjs "${urls[@]}" --connections "$N" --ramp 500 --hold 10 \
  --log-level none --json "$out/node.json" >/dev/null
echo "== $N connections: signalscope load =="
"$bin" load "${flags[@]}" --connections "$N" --ramp 500 --duration 10s --quiet \
  --json "$out/load.json" >/dev/null

# The observer holds 10 connections of its own through one load run; it
# times every arrival of the run's broadcasts with the official client.
observe() { # $1: load connections
  node bench/node-clients.mjs "${urls[@]}" --connections 10 --skip-negotiation --hold 22 \
    --log-level none --json "$out/observer-$1.json" >/dev/null &
  local observer=$!
  sleep 2
  "$bin" load "${flags[@]}" --connections "$1" --duration 15s --quiet --json "$out/observed-$1.json" >/dev/null
  wait $observer
}
for c in 30 1000; do
  echo "== latency: signalscope load ($c connections) vs an independent observer =="
  observe $c
done

python3 - "$out" "$N" <<'EOF'
import json, sys
out, n = sys.argv[1], sys.argv[2]
node = json.load(open(f"{out}/node.json"))
load = json.load(open(f"{out}/load.json"))
g = load["generator"]
rows = [
    ("memory per connection (KiB)", node["kib_per_connection"], g["kib_per_connection"]),
    ("connections opened per CPU-second", node["connections_per_cpu_second"], g["connections_per_cpu_second"]),
]
print(f"\n{n} connections over 3 stand-ins ({node['tool']}, node {node['node']})")
print(f"{'figure':<36} {'node':>10} {'load':>10} {'node/load':>10}")
for name, a, b in rows:
    print(f"{name:<36} {a:>10.1f} {b:>10.1f} {a / b if b else float('nan'):>10.2f}")
print(f"opened: node {node['connections']['opened']}/{n}, load {load['connections']['opened']}/{n}")
print("\nsame broadcasts, publish -> arrival, p50 over every arrival (ms):")
print(f"{'load connections':<18} {'observer (node, 10)':>20} {'signalscope load':>18} {'difference':>11}")
for c in (30, 1000):
    obs = json.load(open(f"{out}/observer-{c}.json"))
    run = json.load(open(f"{out}/observed-{c}.json"))
    a, b = obs["latency_ms"]["p50"], run["latency"]["uncorrected"]["p50"]
    print(f"{c:<18} {a:>20.2f} {b:>18.2f} {abs(a - b):>11.2f}")
EOF
