# Sourced by the benchmarks that need PostgreSQL: installs it from Debian if
# missing, starts a throwaway cluster in $WORK on a free loopback port (tuned
# for speed, not durability) and stops and removes it on exit.
# Sets PORT, WORK, PSQL (an array) and AS_PG (the prefix that runs as postgres).
for bin in /usr/lib/postgresql/*/bin; do [ -d "$bin" ] && PATH="$PATH:$bin"; done
if ! command -v initdb >/dev/null || ! command -v psql >/dev/null; then
  apt-get update -qq && apt-get install -y -qq postgresql postgresql-client >/dev/null
  for bin in /usr/lib/postgresql/*/bin; do [ -d "$bin" ] && PATH="$PATH:$bin"; done
fi
WORK=$(mktemp -d)
chmod 755 "$WORK"
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
  chown postgres "$WORK"
  AS_PG=(runuser -u postgres --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
pg_cluster_cleanup() {
  "${AS_PG[@]}" pg_ctl -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap pg_cluster_cleanup EXIT
"${AS_PG[@]}" initdb -D "$WORK/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
"${AS_PG[@]}" pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=1GB -c max_wal_size=8GB" >/dev/null
PSQL=(psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
