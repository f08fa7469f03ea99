#!/usr/bin/env bash
# LeakSanitizer on the gateway: a build with AddressSanitizer (whose leak checker runs at exit) serves shadow
# load for a while, is stopped with SIGTERM, and its leak report is read.
#
#   Benchmarks/leaks.sh [--seconds N]
#
# The build goes to .build-asan (debug, --sanitize=address). hey sends N seconds (default 20) of requests through
# a shadow route (old, new and a noise baseline, an SQLite store) and a merged list route, with SIGHUP reloads
# meanwhile; then the gateway drains and exits, and LeakSanitizer reports what was never freed. Leaks whose stack
# names no Cutover frame (the Swift runtime's and the libraries' own caches) are counted apart.
# Installs hey from Debian if missing.
set -euo pipefail

SECONDS_RUN=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v hey >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hey curl >/dev/null
fi
SCRATCH="$ROOT/.build-asan"
(cd "$ROOT" && swift build --product cutover --sanitize=address --scratch-path "$SCRATCH" 2>&1 | grep -E "error|Build complete" || true)
(cd "$ROOT" && swift build -c release --product bench-backend 2>&1 | grep -E "error" || true)
BIN="$SCRATCH/debug/cutover"
BACKEND=${BENCH_BACKEND_BIN:-$ROOT/.build/release/bench-backend}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
OLD_PORT=$(free_port); SECOND_PORT=$(free_port); NEW_PORT=$(free_port); CUTOVER_PORT=$(free_port); ADMIN_PORT=$(free_port)
"$BACKEND" --port "$OLD_PORT" > /dev/null & PIDS+=($!)
"$BACKEND" --port "$SECOND_PORT" > /dev/null & PIDS+=($!)
"$BACKEND" --port "$NEW_PORT" > /dev/null & PIDS+=($!)
cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$CUTOVER_PORT"
threads: 2
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
store: "sqlite:$WORK/cutover.db"
backends:
  old: { url: "http://127.0.0.1:$OLD_PORT" }
  old-secondary: { url: "http://127.0.0.1:$SECOND_PORT" }
  new: { url: "http://127.0.0.1:$NEW_PORT" }
routes:
  - { name: orders, match: { prefix: /orders }, phase: shadow, shadow: { writes: mirror } }
CONF
ASAN_OPTIONS=detect_leaks=1:halt_on_error=0 LSAN_OPTIONS=report_objects=0 \
  "$BIN" serve --config "$WORK/cutover.yaml" --log-level error 2> "$WORK/gateway.err" & GATEWAY=$!
for _ in $(seq 1 600); do curl -fs -o /dev/null "http://127.0.0.1:$CUTOVER_PORT/orders/1" && break; sleep 0.1; done

hey -z "${SECONDS_RUN}s" -c 8 "http://127.0.0.1:$CUTOVER_PORT/orders/1" > "$WORK/get.out" 2>&1 &
GETS=$!
hey -z "${SECONDS_RUN}s" -c 2 -m POST -d '{"total":10}' "http://127.0.0.1:$CUTOVER_PORT/orders" > "$WORK/post.out" 2>&1 &
POSTS=$!
for _ in 1 2 3; do sleep $(( SECONDS_RUN / 4 )); kill -HUP "$GATEWAY"; done
wait "$GETS" "$POSTS"
kill -TERM "$GATEWAY"
wait "$GATEWAY" || true
cp "$WORK/gateway.err" "$SCRATCH/leaks.log"
echo "the whole report: $SCRATCH/leaks.log"
python3 - "$WORK/gateway.err" "$WORK/get.out" "$WORK/post.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
answered = sum(int(n) for f in sys.argv[2:4] for n in re.findall(r"\[\d+\]\s+(\d+) responses", open(f).read()))
leaks = re.split(r"\n(?=(?:Direct|Indirect) leak of )", text)
ours, theirs = [], []
for block in leaks:
    if not re.match(r"(Direct|Indirect) leak of", block):
        continue
    (ours if re.search(r"Cutover|cutover", block) else theirs).append(block)
print(f"requests answered under AddressSanitizer: {answered}")
if "LeakSanitizer" not in text and not leaks[1:]:
    print("LeakSanitizer: no leak reported")
print(f"leaks with a Cutover frame: {len(ours)}; without one (runtime, libraries): {len(theirs)}")
direct = [b for b in ours if b.startswith("Direct")]
print(f"direct leaks with a Cutover frame: {len(direct)}")
for block in (direct or ours)[:5]:
    print(block[:2500])
sys.exit(1 if ours else 0)
PY
