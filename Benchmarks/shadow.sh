#!/usr/bin/env bash
# Measures what phase shadow costs the client: the client-visible latency of a
# route in phase old against the same route in phase shadow (new as fast as
# old), and in shadow with a new backend 10x slower than old, at the same
# offered load (hey, a fixed rate per connection).
#
#   Benchmarks/shadow.sh [--runs N] [--duration SECONDS] [--rate RPS] [--delay-ms MS]
#
# The backends are bench-backend processes answering a 209-byte JSON document
# after a fixed delay (old and new: MS, slow new: 10 x MS). One gateway serves
# three routes, one per case, so the cases differ in nothing but the phase and
# the new backend; runs alternate; medians are printed with the ratios of
# p50/p99 to phase old. The comparator stores its counts in a throwaway SQLite file.
# A fourth case is the control: phase old while a second hey sends new the same
# load directly, so the backends and the machine carry what they carry in shadow
# but the gateway copies nothing; shadow against it is what copying itself costs.
# Installs hey from Debian if missing.
set -euo pipefail

RUNS=3
DURATION=10
RATE=1000
DELAY_MS=2
CONNECTIONS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --delay-ms) DELAY_MS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v hey >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hey >/dev/null
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
OLD_PORT=$(free_port); NEW_PORT=$(free_port); SLOW_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port)
SLOW_MS=$(python3 -c "print($DELAY_MS * 10)")

"$BACKEND" --port "$OLD_PORT" --delay-ms "$DELAY_MS" > /dev/null & PIDS+=($!)
"$BACKEND" --port "$NEW_PORT" --delay-ms "$DELAY_MS" > /dev/null & PIDS+=($!)
"$BACKEND" --port "$SLOW_PORT" --delay-ms "$SLOW_MS" > /dev/null & PIDS+=($!)

cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$CUTOVER_PORT"
threads: 1
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
store: "sqlite:$WORK/cutover.db"
diff_queue: { size: 100000 }
backends:
  old: { url: "http://127.0.0.1:$OLD_PORT", pool_size: 256 }
  new: { url: "http://127.0.0.1:$NEW_PORT", pool_size: 256 }
  new-slow: { url: "http://127.0.0.1:$SLOW_PORT", pool_size: 256 }
routes:
  - { name: phase-old, match: { prefix: /old/ }, phase: old }
  - { name: shadow, match: { prefix: /shadow/ }, phase: shadow }
  - { name: shadow-slow-new, match: { prefix: /slow/ }, phase: shadow, backends: { new: new-slow } }
CONF
"$BIN" serve --config "$WORK/cutover.yaml" --log-level warning & CUTOVER_PID=$!
PIDS+=("$CUTOVER_PID")

wait_url() { for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 never answered" >&2; exit 1; }
wait_url "http://127.0.0.1:$OLD_PORT/"; wait_url "http://127.0.0.1:$NEW_PORT/"; wait_url "http://127.0.0.1:$SLOW_PORT/"
wait_url "http://127.0.0.1:$CUTOVER_PORT/old/1"

PER_CONNECTION=$(python3 -c "print(max(1, round($RATE / $CONNECTIONS)))")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
# One hey run: prints "rps p50_ms p90_ms p99_ms cutover_cpu_us_per_request"
measure() { # path
  local before after out
  before=$(cpu_ticks "$CUTOVER_PID")
  out=$(hey -z "${DURATION}s" -c "$CONNECTIONS" -q "$PER_CONNECTION" "http://127.0.0.1:$CUTOVER_PORT$1")
  after=$(cpu_ticks "$CUTOVER_PID")
  echo "$out" | python3 -c '
import re, sys
text = sys.stdin.read()
codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", text)
bad = [c for c in codes if c[0] != "200"]
if bad or not codes: sys.exit("unexpected answers: %s\n%s" % (bad, text))
def pct(p): return float(re.search(r"\s%d%% in ([\d.]+) secs" % p, text).group(1)) * 1000
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = sum(int(c[1]) for c in codes)
cpu = (int(sys.argv[1]) - int(sys.argv[2])) / int(sys.argv[3])
print("%.0f %.3f %.3f %.3f %.1f" % (rps, pct(50), pct(90), pct(99), cpu / total * 1e6))
' "$after" "$before" "$TICKS"
}

declare -A RESULTS
echo "hey -c$CONNECTIONS at $RATE req/s offered for ${DURATION}s, $RUNS alternating runs; old and new answer after ${DELAY_MS} ms, the slow new after ${SLOW_MS} ms"
for run in $(seq 1 "$RUNS"); do
  for target in old shadow slow control; do
    if [ "$target" = control ]; then
      hey -z "${DURATION}s" -c "$CONNECTIONS" -q "$PER_CONNECTION" "http://127.0.0.1:$NEW_PORT/orders/$run" > /dev/null &
      SIDE_LOAD=$!
      line=$(measure "/old/orders/$run")
      wait "$SIDE_LOAD"
    else
      line=$(measure "/$target/orders/$run")
    fi
    RESULTS[$target]+="$line;"
    printf '  run %d %-7s %s\n' "$run" "$target" "$line"
  done
done

COMPARED=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^cutover_diffs_total/ { sum += $NF } END { print sum + 0 }')
DROPPED=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^cutover_diff_queue_dropped_total/ { sum += $NF } END { print sum + 0 }')

python3 - "${RESULTS[old]}" "${RESULTS[shadow]}" "${RESULTS[slow]}" "${RESULTS[control]}" "$COMPARED" "$DROPPED" <<'PY'
import statistics, sys
def parse(s): return [list(map(float, r.split())) for r in s.strip(";").split(";")]
names = ["phase old", "shadow", "shadow, new 10x slower", "old + load on new"]
data = [parse(a) for a in sys.argv[1:5]]
med = [[statistics.median(r[i] for r in d) for i in range(5)] for d in data]
print()
print(f"{'case':<24} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'cutover CPU us/req':>19}")
for name, m in zip(names, med):
    print(f"{name:<24} {m[0]:>7.0f} {m[1]:>8.3f} {m[2]:>8.3f} {m[3]:>8.3f} {m[4]:>19.1f}")
base = med[0]
print()
for name, m in zip(names[1:3], med[1:3]):
    print(f"{name}: p50 {m[1] / base[1]:.2f}x, p99 {m[3] / base[3]:.2f}x of phase old (target p99 <= 1.05x)")
control = med[3]
print(f"control (old while new carries the same load directly): p50 {control[1] / base[1]:.2f}x, p99 {control[3] / base[3]:.2f}x of phase old")
print(f"shadow against the control: p50 {med[1][1] / control[1]:.2f}x, p99 {med[1][3] / control[3]:.2f}x (what copying itself costs)")
print(f"pairs compared: {sys.argv[5]}, dropped by a full diff queue: {sys.argv[6]}")
PY
