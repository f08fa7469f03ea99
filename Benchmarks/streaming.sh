#!/usr/bin/env bash
# Streams 1 GiB down and 1 GiB up through Cutover (phase old) and reports the
# gateway's resident memory while doing so, beside the same transfers made
# directly against the upstreams: nginx serves a sparse 1 GiB file to download;
# a small Python server reads every uploaded byte before it answers (nginx's
# `return` would answer early and cut the upload short).
#
#   Benchmarks/streaming.sh [--size-mib N]
set -euo pipefail

SIZE_MIB=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
[ -x "$BIN" ] || (cd "$ROOT" && swift build -c release --product cutover)

WORK=$(mktemp -d)
CUTOVER_PID=""
cleanup() {
  [ -n "$CUTOVER_PID" ] && kill "$CUTOVER_PID" 2>/dev/null || true
  [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
UPSTREAM=$(free_port); SINK=$(free_port); PROXY=$(free_port); ADMIN=$(free_port)
mkdir -p "$WORK/www"
truncate -s "${SIZE_MIB}M" "$WORK/www/blob"   # sparse: costs no disk

cat > "$WORK/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy; fastcgi_temp_path $WORK/fastcgi;
  uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;
  server {
    listen 127.0.0.1:$UPSTREAM;
    client_max_body_size 0;
    location /blob { root $WORK/www; }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"

# The upload sink: reads Content-Length and chunked bodies whole, answers with the count.
cat > "$WORK/sink.py" <<'PY'
import socket, sys, threading
def serve(conn):
    reader = conn.makefile("rb", buffering=1 << 20)
    while True:
        line = reader.readline()
        if not line:
            return
        headers = {}
        while True:
            header = reader.readline()
            if header in (b"\r\n", b""):
                break
            name, value = header.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
        total = 0
        if b"content-length" in headers:
            remaining = int(headers[b"content-length"])
            while remaining:
                got = len(reader.read(min(remaining, 1 << 20)))
                remaining -= got
                total += got
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size = int(reader.readline().split(b";")[0], 16)
                if size == 0:
                    while reader.readline() not in (b"\r\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    remaining -= len(reader.read(min(remaining, 1 << 20)))
                reader.read(2)
                total += size
        body = b"%d\n" % total
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
PY
python3 "$WORK/sink.py" "$SINK" &
SINK_PID=$!

cat > "$WORK/cutover.yaml" <<CONF
listen: "127.0.0.1:$PROXY"
threads: 1
admin: { listen: "127.0.0.1:$ADMIN" }
limits: { max_body_bytes: 4GiB }
backends:
  old: { url: "http://127.0.0.1:$UPSTREAM" }
  new: { url: "http://127.0.0.1:$UPSTREAM" }
  sink: { url: "http://127.0.0.1:$SINK" }
routes:
  - { name: upload, match: { prefix: /upload }, phase: old, backends: { old: sink, new: sink } }
CONF
"$BIN" serve --config "$WORK/cutover.yaml" --log-level warning &
CUTOVER_PID=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$ADMIN/healthz" && break; sleep 0.1; done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$CUTOVER_PID/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$CUTOVER_PID/status"; }

# Warm up the connection pool and allocator, then measure from here.
curl -fs -o /dev/null "http://127.0.0.1:$PROXY/blob" --max-filesize 0 -r 0-1023 || true
BASE=$(rss_kib)
echo 5 > "/proc/$CUTOVER_PID/clear_refs"   # reset the peak (VmHWM) to the current RSS

transfer() { # label, url, extra curl args...
  local label=$1 url=$2; shift 2
  local out; out=$(curl -fsS -o "$WORK/answer" -w '%{time_total} %{speed_download} %{speed_upload}' "$@" "$url")
  case "$label" in *upload*) [ "$(cat "$WORK/answer")" = "$((SIZE_MIB * 1024 * 1024))" ] || { echo "$label: the sink got $(cat "$WORK/answer") bytes" >&2; exit 1; } ;; esac
  python3 - "$label" $out <<'PY'
import sys
label, total, down, up = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"  {label:<28} {total:7.2f} s  {max(down, up) / 2**20:8.1f} MiB/s")
PY
}

echo "${SIZE_MIB} MiB each way; gateway RSS before: $((BASE / 1024)) MiB"
transfer "download, direct" "http://127.0.0.1:$UPSTREAM/blob"
transfer "download, through cutover" "http://127.0.0.1:$PROXY/blob"
AFTER_DOWN=$(hwm_kib)
transfer "upload, direct" "http://127.0.0.1:$SINK/upload" -T "$WORK/www/blob"
transfer "upload, through cutover" "http://127.0.0.1:$PROXY/upload" -T "$WORK/www/blob"
transfer "chunked upload, via cutover" "http://127.0.0.1:$PROXY/upload" -H "Transfer-Encoding: chunked" -T "$WORK/www/blob"
PEAK=$(hwm_kib)
echo "gateway RSS: before $((BASE / 1024)) MiB, peak during download $((AFTER_DOWN / 1024)) MiB, peak overall $((PEAK / 1024)) MiB, growth $(((PEAK - BASE) / 1024)) MiB"
