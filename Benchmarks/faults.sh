#!/usr/bin/env bash
# The fault suite: what a client sees while `new` or the store misbehaves under load.
#
#   Benchmarks/faults.sh [--duration SECONDS] [--connections N]
#
# wrk (-t1, N connections, --latency) drives a route in phase shadow through a release build of the gateway
# (one event loop, a PostgreSQL store from a throwaway cluster, shadow.timeout 2s so that copies time out within
# each run), started afresh for each case. Each case runs DURATION seconds:
#   healthy            old and new answer after 1 ms
#   new-killed         new's process is killed 2 s into the run (and started again after it)
#   new-hang           new accepts and never answers
#   new-reset          new resets every connection (RST) it reads a request on
#   new-half-close     new shuts its sending side after each request
#   new-garbage        new answers bytes that are not HTTP
#   old-slow           old answers after 20 ms (the client waits for old: slower, but no errors)
#   store-down         PostgreSQL is stopped 2 s into the run for 10 s, then started again; the admin API is
#                      called while it is down, and the time until diffs are stored again is measured
#   sqlite-disk-full   a second gateway with its SQLite store on a 1 MiB tmpfs that fills up
# Printed per case: requests, client-visible errors (non-2xx and socket errors), p99 and its ratio to the healthy
# run, and what the gateway dropped and counted. Goal: 0 client errors for every fault on new or the store.
# Installs wrk from Debian if missing; removes everything it started and made when it ends, also on failure.
set -euo pipefail

DURATION=15
CONNECTIONS=32
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$DURATION" -ge 14 ] || { echo "--duration must be at least 14 (the store case stops PostgreSQL for 10 s)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk curl >/dev/null
fi
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
BACKEND=${BENCH_BACKEND_BIN:-$ROOT/.build/release/bench-backend}
if [ ! -x "$BIN" ] || [ ! -x "$BACKEND" ]; then
  (cd "$ROOT" && swift build -c release --product cutover && swift build -c release --product bench-backend)
fi

# A throwaway PostgreSQL (sets PORT, WORK, PSQL, AS_PG and a cleanup trap).
source "$ROOT/Benchmarks/pg-cluster.sh"
PG_PORT=$PORT
"${PSQL[@]}" -d postgres -c "CREATE DATABASE cutover_store" >/dev/null

declare -A PIDS=()
TMPFS=""
cleanup_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$TMPFS" ]; then umount "$TMPFS" 2>/dev/null || true; fi
  pg_cluster_cleanup
}
trap cleanup_all EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
OLD_PORT=$(free_port); NEW_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port)
DISK_PORT=$(free_port); DISK_ADMIN=$(free_port)
TOKEN=faults-viewer-token
DIGEST=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)

wait_url() { for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "$1 never answered" >&2; exit 1; }
start_backend() { # key port args...
  local key=$1 port=$2; shift 2
  "$BACKEND" --port "$port" "$@" > /dev/null & PIDS[$key]=$!
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
  echo "backend $key never listened" >&2; exit 1
}
stop_backend() { kill "${PIDS[$1]}" 2>/dev/null || true; wait "${PIDS[$1]}" 2>/dev/null || true; unset "PIDS[$1]"; }

gateway_config() { # listen admin store
  cat <<CONF
listen: "127.0.0.1:$1"
threads: 1
admin:
  listen: "127.0.0.1:$2"
  tokens: [{ name: viewer, role: viewer, sha256: "$DIGEST" }]
store: "$3"
backends:
  old: { url: "http://127.0.0.1:$OLD_PORT" }
  new: { url: "http://127.0.0.1:$NEW_PORT", connect_timeout: 500ms }
routes:
  - { name: orders, match: { prefix: /orders }, phase: shadow, shadow: { timeout: 2s } }
CONF
}

start_backend old "$OLD_PORT" --delay-ms 1
start_backend new "$NEW_PORT" --delay-ms 1
gateway_config "$CUTOVER_PORT" "$ADMIN_PORT" "postgres://postgres@127.0.0.1:$PG_PORT/cutover_store" > "$WORK/cutover.yaml"
# Each case starts a gateway of its own, so that no state of the previous case (pools, the copies' breaker) carries over.
start_gateway() {
  "$BIN" serve --config "$WORK/cutover.yaml" --log-level error 2>> "$WORK/gateway.log" & PIDS[gateway]=$!
  GATEWAY_PID=${PIDS[gateway]}
  wait_url "http://127.0.0.1:$CUTOVER_PORT/orders/0"
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$ADMIN_PORT/healthz" | grep -q '"state":"up"' && break; sleep 0.05; done
}
stop_gateway() { stop_backend gateway; }

metric() { # admin-port name [label filter]
  curl -fs "http://127.0.0.1:$1/metrics" | awk -v name="$2" -v filter="${3:-}" \
    'index($0, name) == 1 && (filter == "" || index($0, filter) > 0) { sum += $NF } END { printf "%d", sum + 0 }'
}
stored_compared() { # admin-port: pairs compared as the store counts them
  curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/api/v1/diffs/summary" |
    python3 -c 'import json,sys; print(sum(r["compared"] for r in json.load(sys.stdin)["routes"]))' 2>/dev/null || echo -1
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# One wrk run in the background; `finish_wrk` waits for it, then `wrk_result` prints "requests errors p99_ms"
# (waiting must happen in this shell: a command substitution cannot wait for this shell's child).
start_wrk() { # port
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/orders/1" > "$WORK/wrk.out" 2>&1 & WRK_PID=$!
}
finish_wrk() {
  wait "$WRK_PID" || true
}
wrk_result() {
  python3 - "$WORK/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
found = re.search(r"(\d+) requests in", text)
if not found: sys.exit("wrk did not run:\n" + text)
requests = int(found.group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors += int(non2xx.group(1)) if non2xx else 0
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", text).groups()
p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
print(f"{requests} {errors} {p99:.2f}")
PY
}

declare -A RESULT=()
declare -A NOTE=()
counters() { # the gateway's drops and failures, summed
  echo "$(metric "$1" cutover_diff_queue_dropped_total) $(metric "$1" cutover_diff_store_dropped_total) \
$(metric "$1" cutover_shadow_requests_total 'reason="new_busy"') $(metric "$1" cutover_shadow_errors_total) $(metric "$1" cutover_diff_store_errors_total)"
}
run_case() { # name port hook (runs while wrk does)
  local name=$1 port=$2 before
  start_gateway
  before=$(counters "$ADMIN_PORT")
  start_wrk "$port"
  "$3"
  finish_wrk
  local line; line=$(wrk_result)
  local after; after=$(counters "$ADMIN_PORT")
  RESULT[$name]="$line $(python3 -c 'import sys; a=sys.argv[1].split(); b=sys.argv[2].split(); print(" ".join(str(int(y)-int(x)) for x,y in zip(a,b)))' "$before" "$after") $(rss_mib "$GATEWAY_PID")"
  printf '  %-17s %s\n' "$name" "${RESULT[$name]}"
  stop_gateway
}

nothing() { :; }
kill_new_midway() { sleep 2; stop_backend new; }
store_outage() {
  sleep 2
  local before; before=$(stored_compared "$ADMIN_PORT")
  "${AS_PG[@]}" pg_ctl -D "$WORK/data" -m immediate -w stop > /dev/null
  local stopped; stopped=$(date +%s.%N)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$ADMIN_PORT/healthz" | grep -q '"state":"down"' && break; sleep 0.05; done
  local known; known=$(python3 -c "import time; print(f'{time.time() - $stopped:.2f}')")
  local answer; answer=$(curl -s -o "$WORK/admin.out" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$ADMIN_PORT/api/v1/diffs/summary")
  NOTE[admin]="the gateway knew the store was down ${known} s after PostgreSQL stopped; the admin API then answered $answer s: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$WORK/admin.out")"
  sleep "$(python3 -c "print(max(0.0, 10 - $known))")"
  "${AS_PG[@]}" pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" > /dev/null
  local restarted; restarted=$(date +%s.%N)
  local now
  for _ in $(seq 1 300); do
    now=$(stored_compared "$ADMIN_PORT")
    if [ "$now" -gt "$before" ] 2>/dev/null; then break; fi
    sleep 0.1
  done
  NOTE[resume]="diffs stored again $(python3 -c "import time; print(f'{time.time() - $restarted:.1f}')") s after PostgreSQL was back (compared in the store: $before before the outage, $now after)"
}

echo "wrk -t1 -c$CONNECTIONS for ${DURATION}s per case; route in shadow, shadow.timeout 2s; store: PostgreSQL"
echo "  case              requests errors p99_ms queue_drops store_drops new_busy copy_failures store_errors rss_mib"
run_case healthy "$CUTOVER_PORT" nothing

run_case new-killed "$CUTOVER_PORT" kill_new_midway
start_backend new "$NEW_PORT" --delay-ms 1

for fault in hang reset half-close garbage; do
  stop_backend new
  start_backend new "$NEW_PORT" --fault "$fault"
  run_case "new-$fault" "$CUTOVER_PORT" nothing
done
stop_backend new
start_backend new "$NEW_PORT" --delay-ms 1

stop_backend old
start_backend old "$OLD_PORT" --delay-ms 20
run_case old-slow "$CUTOVER_PORT" nothing
stop_backend old
start_backend old "$OLD_PORT" --delay-ms 1

run_case store-down "$CUTOVER_PORT" store_outage

# SQLite on a full disk: a second gateway whose store lives on a 1 MiB tmpfs.
TMPFS="$WORK/tmpfs"
mkdir -p "$TMPFS"
if mount -t tmpfs -o size=1m tmpfs "$TMPFS" 2>/dev/null; then
  gateway_config "$DISK_PORT" "$DISK_ADMIN" "sqlite:$TMPFS/cutover.db" > "$WORK/disk.yaml"
  "$BIN" serve --config "$WORK/disk.yaml" --log-level critical 2> /dev/null & PIDS[disk]=$!
  wait_url "http://127.0.0.1:$DISK_PORT/orders/0"
  # Fill what is left of the disk so that the store's next writes fail.
  dd if=/dev/zero of="$TMPFS/filler" bs=64k 2>/dev/null || true
  before=$(counters "$DISK_ADMIN")
  start_wrk "$DISK_PORT"
  finish_wrk
  line=$(wrk_result)
  after=$(counters "$DISK_ADMIN")
  RESULT[sqlite-disk-full]="$line $(python3 -c 'import sys; a=sys.argv[1].split(); b=sys.argv[2].split(); print(" ".join(str(int(y)-int(x)) for x,y in zip(a,b)))' "$before" "$after") $(rss_mib "${PIDS[disk]}")"
  printf '  %-17s %s\n' sqlite-disk-full "${RESULT[sqlite-disk-full]}"
else
  TMPFS=""
  NOTE[disk]="sqlite-disk-full skipped: this machine does not let the script mount a tmpfs"
fi

python3 - "${RESULT[healthy]}" <<PY
import sys
results = {}
$(for key in "${!RESULT[@]}"; do echo "results['$key'] = '${RESULT[$key]}'"; done)
order = ["healthy", "new-killed", "new-hang", "new-reset", "new-half-close", "new-garbage", "old-slow", "store-down", "sqlite-disk-full"]
base = float(results["healthy"].split()[2])
print()
print(f"{'case':<17} {'requests':>9} {'errors':>7} {'p99 ms':>8} {'p99/healthy':>11} {'queue':>6} {'store':>6} {'busy':>6} {'copy':>6} {'store':>6} {'RSS':>5}")
print(f"{'':<17} {'':>9} {'':>7} {'':>8} {'':>11} {'drops':>6} {'drops':>6} {'':>6} {'fails':>6} {'errors':>6} {'MiB':>5}")
for name in order:
    if name not in results: continue
    r = results[name].split()
    print(f"{name:<17} {r[0]:>9} {r[1]:>7} {float(r[2]):>8.2f} {float(r[2]) / base:>10.2f}x {r[3]:>6} {r[4]:>6} {r[5]:>6} {r[6]:>6} {r[7]:>6} {r[8]:>5}")
faults_on_new_or_store = [n for n in order if n.startswith("new-") or n.startswith("store") or n.startswith("sqlite")]
bad = [n for n in faults_on_new_or_store if n in results and int(results[n].split()[1]) > 0]
print()
print("client errors caused by a fault on new or the store: " + ("none" if not bad else ", ".join(bad)))
PY
for key in admin resume disk; do [ -n "${NOTE[$key]:-}" ] && echo "${NOTE[$key]}"; done
exit 0
