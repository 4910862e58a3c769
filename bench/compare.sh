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

echo "== latency: signalscope load (1000 connections) vs an independent observer =="
node bench/node-clients.mjs "${urls[@]}" --connections 10 --skip-negotiation --hold 28 \
  --log-level none --json "$out/observer.json" >/dev/null &
observer=$!
sleep 2
"$bin" load "${flags[@]}" --connections 1000 --duration 20s --quiet --json "$out/observed.json" >/dev/null
wait $observer

python3 - "$out" "$N" <<'EOF'
import json, statistics, sys
out, n = sys.argv[1], sys.argv[2]
node = json.load(open(f"{out}/node.json"))
load = json.load(open(f"{out}/load.json"))
obs = json.load(open(f"{out}/observer.json"))
observed = json.load(open(f"{out}/observed.json"))
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
run = "signalscope-load:" + observed["run_id"]
mine = [b["latency_ms"] for b in obs["per_broadcast"] if b["origin"] == run]
lo = observed["latency"]["uncorrected"]
print(f"\nsame broadcasts ({len(mine)} seen by the observer), publish -> arrival:")
print(f"  independent observer (official client, first arrival) p50 {statistics.median(mine):.2f} ms")
print(f"  signalscope load (1000 connections, every arrival)    p50 {lo['p50']:.2f} ms, p99 {lo['p99']:.2f} ms")
print(f"  difference at p50: {abs(statistics.median(mine) - lo['p50']):.2f} ms")
EOF
