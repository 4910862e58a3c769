#!/usr/bin/env bash
# What the always-on canary costs, side by side in one run: the same demo
# stack (Redis + three stand-ins + companion), scraped by a stand-in for
# Prometheus every 15 s, held W seconds with the canary off, at its
# default 10 s interval, and at 1 s. Figures: Redis commands/s, and CPU
# (ms per minute) of the companion, the stand-ins and Redis; ratios to off.
#
# Usage: bash bench/canary-cost.sh [W=60]   (figures: docs/BENCHMARKS.md)
set -euo pipefail
W=${1:-60}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR=target/bench
cargo build --release -p signalscope --locked -q
python3 - target/bench/release/signalscope "$W" <<'PY'
import json, os, random, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

exe, window = sys.argv[1], float(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / tick

def redis(port, *cmd):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("*%d\r\n" % len(cmd) + "".join("$%d\r\n%s\r\n" % (len(c), c) for c in cmd)).encode())
    data = b""
    while True:
        data += s.recv(65536)
        m = re.match(rb"\$(\d+)\r\n", data)
        if m and len(data) >= m.end() + int(m.group(1)) + 2:
            s.close()
            return data[m.end():m.end() + int(m.group(1))].decode()

def info(port):
    text = redis(port, "INFO", "all")
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l and not l.startswith("#"))

def run(canary):
    dist = tempfile.mkdtemp()
    open(f"{dist}/index.html", "w").write("<!doctype html>")
    base = 20000 + random.randrange(20000)
    listen = f"127.0.0.1:{base + 100}"
    args = [exe, "demo", "--dist", dist, "--listen", listen, "--base-port", str(base)]
    if canary:
        args += ["--canary", canary]
    demo = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "RUST_LOG": "warn"})
    redis_port = None
    for line in demo.stdout:
        if line.split()[:1] == ["redis"]:
            redis_port = int(line.split()[1].rsplit(":", 1)[1])
        if "signalscope demo ready" in line:
            break
    time.sleep(3)  # connections open, the first canaries out
    children = subprocess.run(["pgrep", "-P", str(demo.pid)], capture_output=True, text=True).stdout.split()
    sims = [p for p in children if "sim" in open(f"/proc/{p}/cmdline").read()]
    before = info(redis_port)
    c0, s0 = cpu_ms(demo.pid), sum(cpu_ms(p) for p in sims)
    start = time.time()
    scrapes = 0
    while time.time() - start < window:
        urllib.request.urlopen(f"http://{listen}/metrics").read()
        scrapes += 1
        time.sleep(min(15, max(0, window - (time.time() - start))))
    elapsed = time.time() - start
    after = info(redis_port)
    c1, s1 = cpu_ms(demo.pid), sum(cpu_ms(p) for p in sims)
    demo.send_signal(signal.SIGTERM)
    demo.wait(timeout=20)
    per_min = 60 / elapsed
    commands = int(after["total_commands_processed"]) - int(before["total_commands_processed"]) - 1
    publishes = int(re.search(r"calls=(\d+)", after.get("cmdstat_publish", "calls=0")).group(1)) - \
        int(re.search(r"calls=(\d+)", before.get("cmdstat_publish", "calls=0")).group(1))
    redis_cpu = (float(after["used_cpu_sys"]) + float(after["used_cpu_user"])
                 - float(before["used_cpu_sys"]) - float(before["used_cpu_user"])) * 1000
    return {
        "canary": canary or "off", "seconds": elapsed, "scrapes": scrapes,
        "redis commands/s": commands / elapsed, "PUBLISH/s": publishes / elapsed,
        "companion CPU ms/min": (c1 - c0) * per_min, "stand-ins CPU ms/min": (s1 - s0) * per_min,
        "Redis CPU ms/min": redis_cpu * per_min,
    }

rows = [run(None), run("10s"), run("1s")]
keys = ["redis commands/s", "PUBLISH/s", "companion CPU ms/min", "stand-ins CPU ms/min", "Redis CPU ms/min"]
print(f"\ncanary cost over {window:.0f} s each, /metrics scraped every 15 s in every run")
print(f"{'figure':<24}" + "".join(f"{'canary ' + r['canary']:>14}" for r in rows) + f"{'10s/off':>9}{'1s/off':>9}")
for k in keys:
    off = rows[0][k]
    ratio = lambda v: f"{v / off:>9.2f}" if off else f"{'-':>9}"
    print(f"{k:<24}" + "".join(f"{r[k]:>14.2f}" for r in rows) + ratio(rows[1][k]) + ratio(rows[2][k]))
print(json.dumps(rows))
PY
