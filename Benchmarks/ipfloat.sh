#!/usr/bin/env bash
# Measures the IP outage of floating a service address between two hosts of one L2 segment, in a lab of network
# namespaces on one bridge (old, new, and a client that probes the address with a TCP connection every 10 ms, 5 ms
# timeout, Benchmarks/ipfloat/prober.py), for four ways of doing it, in one run:
#   cutover    `cutover ip float` (in-process release, claim and gratuitous ARP)
#   arping     `ip addr del` on old, `ip addr add` on new, then a spawned `arping -U -c 1`
#   keepalived VRRP between the two namespaces (Debian's keepalived, advert_int 1, equal priorities, nopreempt),
#              failing over by a graceful stop of the master
#   none       `ip addr del` / `ip addr add` with no announcement (the client waits for its ARP entry to expire)
# The outage of a float: from the start of the first probe that failed to the first that succeeded after it (0 when
# no probe failed: below the probes' resolution). Prints every trial, then median, p90 and max per way, and
# Cutover's ratio to the best peer. Needs root; installs iproute2, iputils-arping, keepalived and python3 from Debian
# if missing; removes the lab when it ends, also when it fails.
#
#   Benchmarks/ipfloat.sh [--trials N] [--none-trials N] [--every MS]
set -euo pipefail
TRIALS=20
NONE_TRIALS=3
EVERY=10
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) TRIALS="$2"; shift 2 ;;
    --none-trials) NONE_TRIALS="$2"; shift 2 ;;
    --every) EVERY="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "the lab needs root (network namespaces)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v arping >/dev/null || missing+=(iputils-arping)
command -v keepalived >/dev/null || missing+=(keepalived)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
BIN=${CUTOVER_BIN:-$ROOT/.build/release/cutover}
[ -x "$BIN" ] || (cd "$ROOT" && swift build -c release --product cutover)

ID="cvf$$"
OLD="${ID}o"; NEW="${ID}n"; CLIENT="${ID}c"; BRIDGE="${ID}b"
VIP=198.18.0.100
PORT=8080
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for side in "$OLD" "$NEW"; do [ -f "$WORK/keepalived-$side.pid" ] && kill "$(cat "$WORK/keepalived-$side.pid")" 2>/dev/null || true; done
  sleep 0.2
  for ns in "$OLD" "$NEW" "$CLIENT"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip link add "$BRIDGE" type bridge
ip link set "$BRIDGE" up
n=1
for ns in "$OLD" "$NEW" "$CLIENT"; do
  ip netns add "$ns"
  ip link add "${ns}v" type veth peer name eth0 netns "$ns"
  ip link set "${ns}v" master "$BRIDGE"
  ip link set "${ns}v" up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "198.18.0.$n/24" dev eth0
  n=$((n + 1))
done
# A service on both hosts: accepts a connection and closes it.
for ns in "$OLD" "$NEW"; do
  ip netns exec "$ns" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(512)
while True:
    c, _ = s.accept(); c.close()
' "$PORT" &
  PIDS+=($!)
done
ip -n "$OLD" addr add "$VIP/24" dev eth0
HOLDER=$OLD
other() { [ "$1" = "$OLD" ] && echo "$NEW" || echo "$OLD"; }

# One trial: the prober starts, waits until the address answers steadily, then the float runs; prints the outage.
trial() { # command...
  rm -f "$WORK/ready" "$WORK/go"
  ip netns exec "$CLIENT" python3 "$ROOT/Benchmarks/ipfloat/prober.py" "$VIP" "$PORT" "$EVERY" 5 "$WORK/ready" "$WORK/go" 120 > "$WORK/result" &
  local prober=$!
  for _ in $(seq 1 500); do [ -f "$WORK/ready" ] && break; sleep 0.01; done
  [ -f "$WORK/ready" ] || { echo "the address never answered steadily before the float" >&2; exit 1; }
  touch "$WORK/go"
  "$@" >/dev/null 2>&1
  wait "$prober"
  cat "$WORK/result"
}

float_cutover() { "$BIN" ip float --vip "$VIP/24" --from "netns:$HOLDER:eth0" --to "netns:$(other "$HOLDER"):eth0" --repeat 1 --refresh-after 0; }
float_arping() { local to; to=$(other "$HOLDER"); ip -n "$HOLDER" addr del "$VIP/24" dev eth0 && ip -n "$to" addr add "$VIP/24" dev eth0 && ip netns exec "$to" arping -q -U -c 1 -I eth0 "$VIP"; }
float_none() { ip -n "$HOLDER" addr del "$VIP/24" dev eth0 && ip -n "$(other "$HOLDER")" addr add "$VIP/24" dev eth0; }

declare -A RESULTS
record() { # way, line
  RESULTS[$1]+="$2;"
  printf '  %-10s %s\n' "$1" "$2"
}

echo "lab: $OLD, $NEW, $CLIENT on $BRIDGE; probes every ${EVERY} ms (5 ms timeout); $TRIALS trials (none: $NONE_TRIALS)"
for t in $(seq 1 "$TRIALS"); do
  for way in cutover arping; do
    line=$(trial "float_$way")
    HOLDER=$(other "$HOLDER")
    record "$way" "$line"
  done
done

# keepalived: the address moves to its VRRP pair, which takes it over from whichever side was left holding it.
ip -n "$HOLDER" addr del "$VIP/24" dev eth0
for ns in "$OLD" "$NEW"; do
  cat > "$WORK/keepalived-$ns.conf" <<CONF
global_defs { router_id $ns; }
vrrp_instance cutover {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress { $VIP/24 dev eth0 }
}
CONF
done
start_keepalived() { ip netns exec "$1" keepalived -P -f "$WORK/keepalived-$1.conf" -p "$WORK/keepalived-$1.pid" -r "$WORK/vrrp-$1.pid" -n -l -D >/dev/null 2>&1 & PIDS+=($!); }
holder() { for ns in "$OLD" "$NEW"; do if ip -n "$ns" -o addr show dev eth0 to "$VIP" | grep -q .; then echo "$ns"; fi; done; }
start_keepalived "$OLD"
for _ in $(seq 1 100); do [ -n "$(holder)" ] && break; sleep 0.1; done
start_keepalived "$NEW"
sleep 2
for t in $(seq 1 "$TRIALS"); do
  master=$(holder | head -1)
  [ -n "$master" ] || { echo "no keepalived instance holds the address" >&2; exit 1; }
  line=$(trial kill -TERM "$(cat "$WORK/keepalived-$master.pid")")
  record keepalived "$line"
  for _ in $(seq 1 100); do [ ! -e "/proc/$(cat "$WORK/keepalived-$master.pid" 2>/dev/null || echo 0)" ] && break; sleep 0.05; done
  start_keepalived "$master"
  sleep 2
done
for ns in "$OLD" "$NEW"; do kill "$(cat "$WORK/keepalived-$ns.pid")" 2>/dev/null || true; done
for _ in $(seq 1 100); do [ -z "$(holder)" ] && break; sleep 0.05; done
ip -n "$OLD" addr add "$VIP/24" dev eth0
HOLDER=$OLD

for t in $(seq 1 "$NONE_TRIALS"); do
  line=$(trial float_none)
  HOLDER=$(other "$HOLDER")
  record none "$line"
done

python3 - "$TRIALS" "${RESULTS[cutover]}" "${RESULTS[arping]}" "${RESULTS[keepalived]}" "${RESULTS[none]:-}" <<'PY'
import statistics, sys
names = ["cutover", "arping", "keepalived", "none"]
print()
print(f"{'way':<11} {'trials':>6} {'median ms':>10} {'p90 ms':>9} {'max ms':>9} {'failed probes':>14} {'timeouts':>9}")
medians = {}
for name, raw in zip(names, sys.argv[2:]):
    rows = [r.split() for r in raw.strip(";").split(";") if r]
    outages = sorted(float(r[0]) for r in rows if r[0] != "timeout")
    timeouts = sum(1 for r in rows if r[0] == "timeout")
    failed = sum(int(r[1]) for r in rows)
    if not outages:
        print(f"{name:<11} {len(rows):>6} {'-':>10} {'-':>9} {'-':>9} {failed:>14} {timeouts:>9}")
        continue
    p90 = outages[min(len(outages) - 1, int(round(0.9 * (len(outages) - 1))))]
    medians[name] = statistics.median(outages)
    print(f"{name:<11} {len(rows):>6} {medians[name]:>10.1f} {p90:>9.1f} {outages[-1]:>9.1f} {failed:>14} {timeouts:>9}")
peers = {k: v for k, v in medians.items() if k != "cutover"}
if "cutover" in medians and peers:
    best = min(peers, key=peers.get)
    print()
    if peers[best] > 0:
        print(f"cutover median outage / best peer's ({best}, {peers[best]:.1f} ms): {medians['cutover'] / peers[best]:.2f}x")
    else:
        # Both medians below the probes' resolution: the share of floats that cost a probe tells them apart.
        def hit(name):
            rows = [r.split() for r in dict(zip(names, sys.argv[2:]))[name].strip(";").split(";") if r]
            return sum(1 for r in rows if r[0] == "timeout" or float(r[0]) > 0), len(rows)
        (c, cn), (p, pn) = hit("cutover"), hit(best)
        print(f"both medians 0 ms (below the probes' resolution): floats that cost a probe: cutover {c} of {cn}, {best} {p} of {pn}")
PY
