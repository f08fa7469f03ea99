#!/usr/bin/env bash
# Measures `cutover reconcile` against data-diff 0.11.2 on the same data: a
# 7-column table of 1M and of 5M rows in two databases of one local PostgreSQL
# (a throwaway cluster this script starts and removes), with 100 planted
# differences (40 updates across the columns, 30 rows deleted on new, 30 rows
# inserted on new). Both tools compare all columns on the same key; the script
# checks that both report the same keys and prints both times and the ratio.
#
#   Benchmarks/reconcile.sh [--sizes "1000000 5000000"] [--runs N] [--table seven|wide]
#
# --table wide: 9 compared columns of every common type (int4, numeric(12,2),
# float8, text with NULLs, short text, timestamptz, boolean, jsonb, int4); the
# script also prints the floor — one count and bit_xor(hash_record_extended(ROW(…)))
# per side, both sides in parallel — and cutover's whole run against it.
#
# Installs PostgreSQL from Debian if missing, and data-diff with its pinned
# dependencies (../shared/bench/data-diff-requirements.txt, else the pins below)
# in a virtual environment under .build-bench/.
set -euo pipefail

SIZES="1000000 5000000"
RUNS=1
TABLE=seven
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --table) TABLE="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.build-bench/data-diff"
if [ ! -x "$VENV/bin/data-diff" ]; then
  python3 -m venv "$VENV"
  REQUIREMENTS="$ROOT/../shared/bench/data-diff-requirements.txt"
  if [ -f "$REQUIREMENTS" ]; then
    "$VENV/bin/pip" install -q -r "$REQUIREMENTS"
  else
    "$VENV/bin/pip" install -q 'dbt-core==1.7.20' 'pydantic<2' 'data-diff[postgresql]==0.11.2'
  fi
fi
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
[ -x "$BIN" ] || (cd "$ROOT" && swift build -c release --product cutover)

. "$ROOT/Benchmarks/pg-cluster.sh"

echo "PostgreSQL $("${PSQL[@]}" -At -c 'SHOW server_version') on 127.0.0.1:$PORT, $(nproc) cores; data-diff $("$VENV/bin/data-diff" --version 2>&1 | tail -1)"
declare -a SUMMARY
case "$TABLE" in
  seven)
    DDL="CREATE TABLE orders (id bigint PRIMARY KEY, customer int, total numeric(12,2), status text, weight float8, created timestamptz, paid boolean)"
    FILL="INSERT INTO orders SELECT g, g % 10007, (g % 5000) / 4.0, (ARRAY['open','paid','shipped'])[g % 3 + 1], g / 7.0,
        timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0 FROM generate_series(1, \$ROWS) g"
    COLUMNS_LIST="customer total status weight created paid" ;;
  wide)
    DDL="CREATE TABLE orders (id bigint PRIMARY KEY, customer int, total numeric(12,2), weight float8, note text, status text,
        created timestamptz, paid boolean, doc jsonb, qty int)"
    FILL="INSERT INTO orders SELECT g, g % 10007, (g % 5000) / 4.0, g / 7.0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END,
        (ARRAY['open','paid','shipped'])[g % 3 + 1], timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0,
        jsonb_build_object('n', g % 100, 'tag', 'x'), g % 17 FROM generate_series(1, \$ROWS) g"
    COLUMNS_LIST="customer total weight note status created paid doc qty" ;;
  *) echo "--table is seven or wide, not $TABLE" >&2; exit 2 ;;
esac
for rows in $SIZES; do
  for side in old new; do
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS bench_$side" -c "CREATE DATABASE bench_$side"
    "${PSQL[@]}" -d "bench_$side" -c "$DDL" -c "${FILL//\$ROWS/$rows}" -c "VACUUM ANALYZE orders"
  done
  # 100 differences, spread over the key range: 40 updates (each column type), 30 deletes and 30 inserts on new.
  "${PSQL[@]}" -d bench_new \
    -c "UPDATE orders SET customer = customer + 1 WHERE id IN (SELECT ($rows / 41) * g FROM generate_series(1, 8) g)" \
    -c "UPDATE orders SET total = total + 1 WHERE id IN (SELECT ($rows / 41) * g + 1 FROM generate_series(9, 16) g)" \
    -c "UPDATE orders SET status = 'lost' WHERE id IN (SELECT ($rows / 41) * g + 2 FROM generate_series(17, 24) g)" \
    -c "UPDATE orders SET created = created + interval '1 hour' WHERE id IN (SELECT ($rows / 41) * g + 3 FROM generate_series(25, 32) g)" \
    -c "UPDATE orders SET paid = NOT paid WHERE id IN (SELECT ($rows / 41) * g + 4 FROM generate_series(33, 40) g)" \
    -c "DELETE FROM orders WHERE id IN (SELECT ($rows / 31) * g + 5 FROM generate_series(1, 30) g)" \
    -c "INSERT INTO orders (id, customer, total, status, weight, created, paid)
        SELECT $rows + g * 1000, 1, 1, 'open', 1, now(), true FROM generate_series(1, 30) g" \
    -c "VACUUM ANALYZE orders"

  cat > "$WORK/reconcile.yaml" <<CONF
store: "sqlite:$WORK/cutover.db"
reconcile:
  old: "postgres://postgres@127.0.0.1:$PORT/bench_old"
  new: "postgres://postgres@127.0.0.1:$PORT/bench_new"
  tables:
    - { name: orders, old: public.orders, new: public.orders, key: [id] }
CONF
  for run in $(seq 1 "$RUNS"); do
    start=$(date +%s.%N)
    COLUMNS=100000 "$VENV/bin/data-diff" "postgresql://postgres:x@127.0.0.1:$PORT/bench_old" orders "postgresql://postgres:x@127.0.0.1:$PORT/bench_new" orders \
      -k id $(printf -- '-c %s ' $COLUMNS_LIST) --json > "$WORK/data-diff.out"
    dd_seconds=$(python3 -c "print($(date +%s.%N) - $start)")
    start=$(date +%s.%N)
    status=0
    "$BIN" reconcile --config "$WORK/reconcile.yaml" --json > "$WORK/cutover.json" || status=$?
    co_seconds=$(python3 -c "print($(date +%s.%N) - $start)")
    # The floor: one count and hash of every row per side, both sides at once, no grouping.
    ROWHASH="hash_record_extended(ROW(id, $(echo $COLUMNS_LIST | tr ' ' ',')), 0)"
    start=$(date +%s.%N)
    pids=()
    for side in old new; do
      "${PSQL[@]}" -d "bench_$side" -At -c "SET max_parallel_workers_per_gather = 0" -c "SELECT count(*), bit_xor($ROWHASH) FROM orders" >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || { echo "the floor's query failed" >&2; exit 1; }; done
    floor_seconds=$(python3 -c "print($(date +%s.%N) - $start)")
    cp "$WORK/data-diff.out" "$WORK/cutover.json" "$ROOT/.build-bench/"
    [ "$status" = 1 ] || { echo "cutover reconcile exited $status, expected 1 (differences found)" >&2; exit 1; }
    line=$(python3 - "$WORK/data-diff.out" "$WORK/cutover.json" "$dd_seconds" "$co_seconds" "$rows" "$floor_seconds" <<'PY'
import json, re, sys
sides = {}
# data-diff --json prints ["-" or "+", [key, ...]] per row (wrapped by its console when it is narrow).
for sign, key in re.findall(r'\["([-+])",\s*\["([^"]*)"', open(sys.argv[1]).read()):
    sides.setdefault(key, set()).add(sign)
datadiff = {k: ("changed" if s == {"-", "+"} else "missing" if s == {"-"} else "extra") for k, s in sides.items()}
report = json.load(open(sys.argv[2]))["tables"][0]
cutover = {d["key"][0]["value"]: d["kind"] for d in report["differences"]}
if datadiff != cutover:
    only_dd = sorted(set(datadiff.items()) - set(cutover.items()))[:10]
    only_co = sorted(set(cutover.items()) - set(datadiff.items()))[:10]
    sys.exit(f"the tools disagree: only data-diff {only_dd}, only cutover {only_co}")
if len(cutover) != 100:
    sys.exit(f"{len(cutover)} differences found, 100 planted")
dd, co, floor = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[6])
print(f"{int(sys.argv[5]):>9} rows  data-diff {dd:6.2f} s  cutover {co:6.2f} s  ratio {dd / co:5.1f}x  floor {floor:5.2f} s"
      f"  cutover/floor {co / floor:4.2f}x  (both found the same 100 differences)")
PY
)
    echo "$line"
    SUMMARY+=("$line")
  done
done
echo
printf '%s\n' "${SUMMARY[@]}"
echo "target: cutover at least 10x faster than data-diff at 5M rows"
