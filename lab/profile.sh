#!/usr/bin/env bash
# Where the device under test's CPU goes: our DR engine (or the nftables netdev DR peer) forwarding a
# steady load on the DR lab, profiled with `perf record` on the DUT's CPU. Prints the top symbols.
# Needs root and perf.
#
#   sudo ./lab/profile.sh [--impl lb|nft] [--size 1500] [--rate 250000] [--seconds 4]
#
# Placement as in lab/compare.py: generator on CPU 0; RPS and the engine on CPU 1, which is profiled.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/topology.sh
source "$ROOT/lab/lib/topology.sh"

IMPL=lb SIZE=1500 RATE=250000 SECONDS_=4
while (( $# )); do
    case "$1" in
        --impl) IMPL="$2"; shift 2 ;;
        --size) SIZE="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --seconds) SECONDS_="$2"; shift 2 ;;
        *) echo "usage: $0 [--impl lb|nft] [--size N] [--rate PPS] [--seconds S]" >&2; exit 2 ;;
    esac
done
lab_require_root
lab_require_dotnet
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
[[ "${LAB_SKIP_BUILD:-}" == 1 ]] || lab_build

P="$(lab_new_prefix)"
ENGINE_PID=""
cleanup() {
    [[ -n "$ENGINE_PID" ]] && kill -TERM "$ENGINE_PID" 2>/dev/null && wait "$ENGINE_PID" 2>/dev/null || true
    lab_down "$P"
}
lab_setup_traps cleanup
lab_up "$P" 2
lab_add_generator "$P"
B="$LAB_BALANCER_NS" IN_IF="$LAB_BALANCER_GEN_IF" OUT_IF="$LAB_BALANCER_IF"
read -r -a SERVER_NS <<< "$LAB_SERVER_NS"
read -r -a SERVER_IFS <<< "$LAB_SERVER_IFS"
read -r -a SERVER_ADDRS <<< "$LAB_SERVER_ADDRS"
for i in "${!SERVER_NS[@]}"; do
    printf 'table netdev sink {\n chain in {\n  type filter hook ingress device "%s" priority 0; policy accept; udp dport 9 counter drop;\n }\n}\n' \
        "${SERVER_IFS[$i]}" | ip netns exec "${SERVER_NS[$i]}" nft -f -
done
ip netns exec "$B" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$IN_IF.rp_filter=0"
BMAC="$(ip netns exec "$B" cat "/sys/class/net/$IN_IF/address")"
OUTMAC="$(ip netns exec "$B" cat "/sys/class/net/$OUT_IF/address")"

if [[ "$IMPL" == lb ]]; then
    CFG="$LAB_DIR/profile.yaml"
    {
        printf 'workers: 1\ncontrol_socket: %s/lb.sock\nservices:\n  - name: sink\n    vip: %s\n    port: 9\n    protocol: udp\n' "$LAB_DIR" "$LAB_VIP"
        printf '    mode: dr\n    interface: %s\n    backend_interface: %s\n    backends:\n' "$IN_IF" "$OUT_IF"
        for i in "${!SERVER_ADDRS[@]}"; do printf '      - {name: rs%d, address: %s}\n' $(( i + 1 )) "${SERVER_ADDRS[$i]}"; done
    } > "$CFG"
    ip netns exec "$B" taskset -c 1 dotnet "$LB_DLL" run --config "$CFG" >> "$LAB_DIR/lb.log" 2>&1 &
    ENGINE_PID=$!
    ready() { dotnet "$LB_DLL" status --socket "$LAB_DIR/lb.sock" --json 2>/dev/null | grep -q '"state":"active".*"state":"active"'; }
    lab_wait_for 30 ready || { cat "$LAB_DIR/lb.log"; exit 1; }
else
    SMACS=()
    for i in "${!SERVER_NS[@]}"; do SMACS+=("$i : $(ip netns exec "${SERVER_NS[$i]}" cat "/sys/class/net/${SERVER_IFS[$i]}/address")"); done
    MAP="$(IFS=,; echo "${SMACS[*]}")"
    ip netns exec "$B" nft -f - <<NFT
table netdev lbpeer {
  chain in {
    type filter hook ingress device "$IN_IF" priority -500; policy accept;
    ip daddr $LAB_VIP udp dport 9 ether saddr set $OUTMAC ether daddr set jhash ip saddr . udp sport mod ${#SERVER_ADDRS[@]} seed 0x5eed map { $MAP } fwd to "$OUT_IF"
  }
}
NFT
fi

gen() {
    ip netns exec "$LAB_GEN_NS" taskset -c 0 dotnet "$LB_DLL" generate --interface "$LAB_GEN_IF" --dst-mac "$BMAC" \
        --src "$LAB_GEN_ADDR" --dst "$LAB_VIP" --flows 1020 --size "$SIZE" --rate "$1" --duration "$2"
}
gen 1000 1 > /dev/null   # warm-up
gen "$RATE" $(( SECONDS_ + 3 )) > "$LAB_DIR/gen.json" &
GEN=$!
sleep 1.5   # let the load reach its steady rate before sampling (the generator itself reports what it sent)
perf record -q -C 1 -F 1999 -g -o "$LAB_DIR/perf.data" -- sleep "$SECONDS_" 2>/dev/null
wait "$GEN"
echo "== $IMPL DR, ${SIZE}-byte frames at $RATE pps offered; CPU 1 (RPS + the forwarding path), ${SECONDS_} s sampled"
cat "$LAB_DIR/gen.json"; echo
report() { perf report -i "$LAB_DIR/perf.data" --no-children --stdio "$@" 2>/dev/null || true; }
echo "== samples on CPU 1 by thread (swapper = idle)"
report --sort comm | grep -E '^#.*Samples|^\s+[0-9.]+%' | sed -n '1,10p'
echo "== by object (kernel, libc, the JIT-compiled engine shows as perf-<pid>.map or [unknown])"
report --sort dso | grep -E '^\s+[0-9.]+%' | sed -n '1,8p'
echo "== top symbols ([k] kernel, [.] user)"
report --sort symbol | grep -E '^\s+[0-9.]+%' | sed -n '1,25p'
