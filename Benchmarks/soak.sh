#!/usr/bin/env bash
# Soak: shadow load for a long time, the gateway's resident memory sampled as it goes.
#
#   Benchmarks/soak.sh [--minutes N] [--rate RPS]
#
# A release build of the gateway (one event loop, SQLite store) copies every request of a shadow route to new;
# hey offers RATE requests per second (default 2000) for N minutes (default 30). RSS is sampled every 10 s and
# printed per minute; the verdict compares the samples after a two-minute warm-up: flat means within 5 % of
# their mean (new's answers are kept per second for 15 minutes for the gates, so memory fills for that long first).
# Also printed: requests answered, answers that were not 2xx, pairs compared and dropped.
# Installs hey from Debian if missing; stops what it started when it ends.
set -euo pipefail

MINUTES=30
RATE=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v hey >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hey curl >/dev/null
fi
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
BACKEND=${BENCH_BACKEND_BIN:-$ROOT/.build/release/bench-backend}
if [ ! -x "$BIN" ] || [ ! -x "$BACKEND" ]; then
  (cd "$ROOT" && swift build -c release --product cutover && swift build -c release --product bench-backend)
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
OLD_PORT=$(free_port); NEW_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port)
"$BACKEND" --port "$OLD_PORT" --delay-ms 1 > /dev/null & PIDS+=($!)
"$BACKEND" --port "$NEW_PORT" --delay-ms 2 > /dev/null & PIDS+=($!)
cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$CUTOVER_PORT"
threads: 1
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
store: "sqlite:$WORK/cutover.db"
backends:
  old: { url: "http://127.0.0.1:$OLD_PORT" }
  new: { url: "http://127.0.0.1:$NEW_PORT" }
routes:
  - { name: orders, match: { prefix: /orders }, phase: shadow }
CONF
"$BIN" serve --config "$WORK/cutover.yaml" --log-level error & GATEWAY=$!
PIDS+=("$GATEWAY")
for _ in $(seq 1 200); do curl -fs -o /dev/null "http://127.0.0.1:$CUTOVER_PORT/orders/1" && break; sleep 0.05; done

CONNECTIONS=20
PER=$(( RATE / CONNECTIONS ))
hey -z "${MINUTES}m" -c "$CONNECTIONS" -q "$PER" "http://127.0.0.1:$CUTOVER_PORT/orders/1" > "$WORK/hey.out" 2>&1 & HEY=$!
PIDS+=("$HEY")
echo "hey -c$CONNECTIONS -q$PER (${RATE} req/s offered) for ${MINUTES} min through a shadow route; RSS every 10 s"
: > "$WORK/rss"
elapsed=0
while kill -0 "$HEY" 2>/dev/null; do
  sleep 10
  elapsed=$((elapsed + 10))
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$GATEWAY/status")
  echo "$elapsed $rss" >> "$WORK/rss"
  if [ $((elapsed % 60)) -eq 0 ]; then printf '  minute %3d: RSS %6.1f MiB\n' $((elapsed / 60)) "$(echo "$rss / 1024" | bc -l)"; fi
done
wait "$HEY" || true
metric() { curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v name="$1" 'index($0, name) == 1 { s += $NF } END { printf "%d", s + 0 }'; }
# hey keeps at most a million results for its summary: the gateway's own counters say how many it answered.
ANSWERED=$(metric cutover_requests_total)
FAILED=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | awk 'index($0, "cutover_requests_total") == 1 && index($0, "code=\"2xx\"") == 0 { s += $NF } END { printf "%d", s + 0 }')
python3 - "$WORK/rss" "$ANSWERED" "$FAILED" "$(metric cutover_diffs_total)" "$(metric cutover_diff_queue_dropped_total)" "$(metric cutover_diff_store_dropped_total)" <<'PY'
import re, statistics, sys
samples = [tuple(map(int, line.split())) for line in open(sys.argv[1]) if line.strip()]
after = [rss for seconds, rss in samples if seconds > 120]
print()
print(f"requests answered by the gateway: {sys.argv[2]}, not 2xx: {sys.argv[3]}; pairs compared: {sys.argv[4]}, "
      f"dropped by the queue: {sys.argv[5]}, by the store: {sys.argv[6]}")
if after:
    mean = statistics.mean(after)
    low, high = min(after), max(after)
    spread = max(high - mean, mean - low) / mean * 100
    print(f"RSS after the 2-minute warm-up: {low / 1024:.1f}-{high / 1024:.1f} MiB (mean {mean / 1024:.1f}), "
          f"within {spread:.1f} % of the mean: {'flat (within 5 %)' if spread <= 5 else 'NOT flat'}")
    first, last = statistics.mean(after[:6]), statistics.mean(after[-6:])
    print(f"first minute after warm-up {first / 1024:.1f} MiB, last minute {last / 1024:.1f} MiB")
else:
    print("too short for a verdict: run at least 3 minutes")
PY
