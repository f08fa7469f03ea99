#!/usr/bin/env bash
# Measures Cutover (phase old, plain forwarding) against nginx as a reverse proxy,
# both in front of the same nginx upstream serving a small JSON document.
#
#   Benchmarks/proxy.sh [--runs N] [--duration SECONDS] [--connections N]
#
# wrk runs against (a) the upstream directly, (b) nginx proxy_pass with upstream
# keepalive, (c) Cutover, (d) the same forwarding built on NIOHTTP1's llhttp decoders
# and encoders (Benchmarks/NIOProxy: what the data plane would cost on them); runs
# alternate, each configuration N times, every run printed; medians are printed with
# the ratios against nginx and CPU seconds per request of each proxy. Every proxy
# uses one worker thread. Installs nginx and wrk from Debian if missing.
set -euo pipefail

RUNS=5
DURATION=10
CONNECTIONS=32
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
NGINX=$(command -v nginx)
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && swift build -c release --product cutover)
fi
NIO_BIN=${NIO_PROXY_BIN:-$ROOT/.build/release/nio-proxy}
if [ ! -x "$NIO_BIN" ]; then
  (cd "$ROOT" && swift build -c release --product nio-proxy)
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/upstream/nginx.pid" ] && kill "$(cat "$WORK/upstream/nginx.pid")" 2>/dev/null || true
  [ -f "$WORK/proxy/nginx.pid" ] && kill "$(cat "$WORK/proxy/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
UPSTREAM_PORT=$(free_port); NGINX_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port); NIO_PORT=$(free_port)

# A 209-byte JSON document.
BODY='{"id":4711,"customer":"ada","status":"open","total":129.5,"currency":"EUR","items":[{"sku":"A-100","qty":2},{"sku":"B-200","qty":1}],"created_at":"2026-11-23T10:00:00Z","note":"benchmark document abcdefghijk"}'
[ ${#BODY} -eq 209 ] || { echo "body is ${#BODY} bytes, expected 209" >&2; exit 1; }

write_nginx() { # dir, server block
  mkdir -p "$1"
  cat > "$1/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/body; proxy_temp_path $1/proxy; fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
  keepalive_requests 1000000;
  $2
}
CONF
}

write_nginx "$WORK/upstream" "server { listen 127.0.0.1:$UPSTREAM_PORT; location / { default_type application/json; return 200 '$BODY'; } }"
write_nginx "$WORK/proxy" "upstream backend { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$NGINX_PORT; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\";
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme; } }"
"$NGINX" -c "$WORK/upstream/nginx.conf" -p "$WORK/upstream"
"$NGINX" -c "$WORK/proxy/nginx.conf" -p "$WORK/proxy"

cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$CUTOVER_PORT"
threads: 1
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
store: "sqlite:$WORK/cutover.db"
backends:
  old: { url: "http://127.0.0.1:$UPSTREAM_PORT" }
  new: { url: "http://127.0.0.1:$UPSTREAM_PORT" }
routes:
  - name: document
    match: { methods: [GET], prefix: "/" }
    phase: old
CONF
"$BIN" serve --config "$WORK/cutover.yaml" --log-level warning &
CUTOVER_PID=$!
PIDS+=("$CUTOVER_PID")
"$NIO_BIN" --port "$NIO_PORT" --upstream-port "$UPSTREAM_PORT" &
NIO_PID=$!
PIDS+=("$NIO_PID")

wait_port() { for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 never answered" >&2; exit 1; }
wait_port "$UPSTREAM_PORT"; wait_port "$NGINX_PORT"; wait_port "$CUTOVER_PORT"; wait_port "$NIO_PORT"
[ "$(curl -fs "http://127.0.0.1:$CUTOVER_PORT/")" = "$BODY" ] || { echo "Cutover does not return the document" >&2; exit 1; }
[ "$(curl -fs "http://127.0.0.1:$NIO_PORT/")" = "$BODY" ] || { echo "nio-proxy does not return the document" >&2; exit 1; }

NGINX_WORKER=$(pgrep -P "$(cat "$WORK/proxy/nginx.pid")" | head -1)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# One wrk run: prints "rps p50_ms p99_ms cpu_us_per_request"
measure() { # port, pid-or-empty
  local before=0 after=0
  [ -n "$2" ] && before=$(cpu_ticks "$2")
  local out; out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/")
  [ -n "$2" ] && after=$(cpu_ticks "$2")
  echo "$out" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else (v * 1000 if unit == "s" else v)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors: sys.exit("non-2xx responses: " + errors.group(1))
cpu = (int(sys.argv[1]) - int(sys.argv[2])) / int(sys.argv[3])
p50, p99 = ms("50%"), ms("99%")
print("%.0f %.3f %.3f %.2f" % (rps, p50, p99, cpu / total * 1e6))
' "$after" "$before" "$TICKS"
}

declare -A RESULTS
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, $RUNS alternating runs each; document of ${#BODY} bytes"
for run in $(seq 1 "$RUNS"); do
  for target in upstream nginx cutover nio; do
    case $target in
      upstream) line=$(measure "$UPSTREAM_PORT" "") ;;
      nginx) line=$(measure "$NGINX_PORT" "$NGINX_WORKER") ;;
      cutover) line=$(measure "$CUTOVER_PORT" "$CUTOVER_PID") ;;
      nio) line=$(measure "$NIO_PORT" "$NIO_PID") ;;
    esac
    RESULTS[$target]+="$line;"
    printf '  run %d %-8s %s\n' "$run" "$target" "$line"
  done
done

python3 - "${RESULTS[upstream]}" "${RESULTS[nginx]}" "${RESULTS[cutover]}" "${RESULTS[nio]}" <<'PY'
import statistics, sys
def parse(s): return [list(map(float, r.split())) for r in s.strip(";").split(";")]
names = ["upstream direct", "nginx proxy", "cutover (old)", "NIOHTTP1 proxy"]
data = [parse(a) for a in sys.argv[1:]]
med = [[statistics.median(r[i] for r in d) for i in range(4)] for d in data]
print()
print(f"{'target':<16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}")
for name, m in zip(names, med):
    cpu = f"{m[3]:.2f}" if name != "upstream direct" else "-"
    print(f"{name:<16} {m[0]:>9.0f} {m[1]:>8.3f} {m[2]:>8.3f} {cpu:>11}")
n, c, h = med[1], med[2], med[3]
print()
print(f"throughput cutover/nginx: {c[0] / n[0]:.2f}x   p99 cutover/nginx: {c[2] / n[2]:.2f}x   CPU per request cutover/nginx: {c[3] / n[3]:.2f}x")
print(f"throughput NIOHTTP1/nginx: {h[0] / n[0]:.2f}x   p99 NIOHTTP1/nginx: {h[2] / n[2]:.2f}x   CPU per request NIOHTTP1/nginx: {h[3] / n[3]:.2f}x")
print(f"CPU per request cutover/NIOHTTP1: {c[3] / h[3]:.2f}x")
PY
