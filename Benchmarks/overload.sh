#!/usr/bin/env bash
# Overload: what many held connections cost the gateway, and what they cost other clients.
#
#   Benchmarks/overload.sh [--idle N] [--slow N] [--duration SECONDS]
#
# A release build of the gateway (one event loop) in front of a bench-backend, with client_timeout 5s,
# limits.body_timeout 5s (body_min_rate 1KiB) and limits.max_client_connections 20000:
#   idle        N keep-alive connections (default 10,000), one request each, then idle: the gateway's resident
#               memory before and after, and per connection
#   slowloris   N connections (default 1,000) sending a request head one byte per second, while wrk (16
#               connections) measures an ordinary client's p99 and errors against a run without them
#   slow bodies N connections announcing a 100,000-byte body and sending it one byte per second, likewise
# The slow connections are expected to be ended by the gateway (408) within client_timeout / body_timeout.
# Installs wrk from Debian if missing; stops what it started when it ends.
set -euo pipefail

IDLE=10000
SLOW=1000
DURATION=12
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) IDLE="$2"; shift 2 ;;
    --slow) SLOW="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk curl >/dev/null
fi
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
BACKEND=${BENCH_BACKEND_BIN:-$ROOT/.build/release/bench-backend}
if [ ! -x "$BIN" ] || [ ! -x "$BACKEND" ]; then
  (cd "$ROOT" && swift build -c release --product cutover && swift build -c release --product bench-backend)
fi
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
OLD_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port)
"$BACKEND" --port "$OLD_PORT" > /dev/null & PIDS+=($!)
cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$CUTOVER_PORT"
threads: 1
client_timeout: 5s
limits: { body_timeout: 5s, body_min_rate: 1KiB, max_client_connections: 20000 }
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
store: "sqlite:$WORK/cutover.db"
backends:
  old: { url: "http://127.0.0.1:$OLD_PORT" }
CONF
"$BIN" serve --config "$WORK/cutover.yaml" --log-level error & GATEWAY=$!
PIDS+=("$GATEWAY")
for _ in $(seq 1 200); do curl -fs -o /dev/null "http://127.0.0.1:$CUTOVER_PORT/" && break; sleep 0.05; done

rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$GATEWAY/status"; }
wrk_line() { # prints "requests errors p99_ms"
  wrk -t1 -c16 -d"${DURATION}s" --latency "http://127.0.0.1:$CUTOVER_PORT/orders/1" | python3 -c '
import re, sys
text = sys.stdin.read()
found = re.search(r"(\d+) requests in", text)
if not found: sys.exit("wrk did not run:\n" + text)
requests = int(found.group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors += int(m.group(1)) if m else 0
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", text).groups()
print(requests, errors, "%.2f" % (float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]))'
}

echo "warm-up and baseline (wrk -t1 -c16, ${DURATION}s):"
wrk_line > /dev/null
BASE=$(wrk_line)
echo "  baseline: requests errors p99_ms = $BASE"

echo
echo "idle: $IDLE keep-alive connections"
BEFORE=$(rss_kib)
python3 "$ROOT/Benchmarks/overload_clients.py" idle "$CUTOVER_PORT" "$IDLE" 3 > "$WORK/idle.out" &
CLIENTS=$!
for _ in $(seq 1 600); do grep -q '"open"' "$WORK/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
HELD=$(rss_kib)
wait "$CLIENTS"
cat "$WORK/idle.out" | sed 's/^/  /'
python3 -c "
before, held, n = $BEFORE, $HELD, $IDLE
print(f'  gateway RSS: {before / 1024:.1f} MiB before, {held / 1024:.1f} MiB holding {n} idle connections: {(held - before) / n:.1f} KiB per connection')"

for mode in slowloris slowbody; do
  echo
  echo "$mode: $SLOW connections, a byte per second, while wrk measures an ordinary client"
  python3 "$ROOT/Benchmarks/overload_clients.py" "$mode" "$CUTOVER_PORT" "$SLOW" "$((DURATION + 4))" > "$WORK/$mode.out" &
  CLIENTS=$!
  sleep 1
  LINE=$(wrk_line)
  wait "$CLIENTS"
  echo "  ordinary client: requests errors p99_ms = $LINE (baseline $BASE)"
  echo "  slow clients: $(cat "$WORK/$mode.out")"
  python3 -c "
base, line = '$BASE'.split(), '$LINE'.split()
print(f'  p99 {float(line[2]) / float(base[2]):.2f}x of the baseline, {line[1]} errors')"
done
echo
echo "gateway RSS at the end: $(( $(rss_kib) / 1024 )) MiB; rejected by reason:"
curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | grep '^cutover_rejected_requests_total' | sed 's/^/  /' || true
