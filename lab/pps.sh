#!/usr/bin/env bash
# Highest loss-free forwarding rate, RFC 2544 style, of plain kernel IP forwarding and of our DR engine,
# measured in the same run on the same topology (lab/lib/topology.sh). Needs root.
#
#   ./lab/pps.sh [--mode dr|nat] [--size 64] [--loss 2] [--duration 2] [--trials 3] [--flows 1020]
#
# --mode nat measures our NAT against the in-kernel peer: nftables DNAT with a jhash map and conntrack,
# on the two-armed NAT lab (lab_up_nat). There the router's front link is a direct veth to the balancer
# (no bridge), so the generator runs in the router namespace on that link.
#
# Topology: the DR lab plus a generator namespace wired straight to the balancer (lab_add_generator), so
# both paths are  generator -> [balancer: <P>b1 in, <P>b0 out] -> LAN bridge -> real servers.
# Kernel forwarding routes to the servers' addresses; our DR runs two-armed (interface <P>b1,
# backend_interface <P>b0) for the VIP.
# Placement (shared/LAB.md item 7): the generator (`lb generate`) is pinned to CPU 0 and has that core to
# itself; RPS steers the balancer's receive processing to CPU 1 and the engine is pinned to CPU 1, so all
# of the device-under-test's work (receive, kernel forwarding or our ring + rewrite + sendmmsg, and the
# transmit into the bridge) runs on CPU 1. Receivers count at the real servers' interfaces (rx_packets)
# and drop the test traffic at netdev ingress so they add no replies. Loss is counted against the
# offered load (rate x duration), not against what the generator managed to send (LAB.md item 11).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/topology.sh
source "$ROOT/lab/lib/topology.sh"

MODE=dr SIZE=64 LOSS=2 DURATION=2 TRIALS=3 FLOWS=1020
while (( $# )); do
    case "$1" in
        --mode) MODE="$2"; shift 2 ;;
        --size) SIZE="$2"; shift 2 ;;
        --loss) LOSS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --trials) TRIALS="$2"; shift 2 ;;
        --flows) FLOWS="$2"; shift 2 ;;
        *) echo "usage: $0 [--mode dr|nat] [--size N] [--loss PCT] [--duration S] [--trials N] [--flows N]" >&2; exit 2 ;;
    esac
done

lab_require_root
lab_require_dotnet
lab_install_packages
[[ "${LAB_SKIP_BUILD:-}" == 1 ]] || lab_build

P="$(lab_new_prefix)"
ENGINE_PID=""
stop_engine() {
    if [[ -n "$ENGINE_PID" ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
        kill -TERM "$ENGINE_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    ENGINE_PID=""
}
lab_setup_traps "stop_engine; lab_down $P"
case "$MODE" in
    dr)
        lab_up "$P" 2
        lab_add_generator "$P"
        GEN_NS="$LAB_GEN_NS" GEN_IF="$LAB_GEN_IF" GEN_SRC="$LAB_GEN_ADDR"
        IN_IF="$LAB_BALANCER_GEN_IF" OUT_IF="$LAB_BALANCER_IF"
        ;;
    nat)
        lab_up_nat "$P" 2
        GEN_NS="$LAB_ROUTER_NS" GEN_IF="$LAB_ROUTER_LAN_IF" GEN_SRC="$LAB_CLIENT_ADDR"
        IN_IF="$LAB_BALANCER_IF" OUT_IF="$LAB_BALANCER_BACK_IF"
        ;;
    *) echo "mode must be dr or nat" >&2; exit 2 ;;
esac

B="$LAB_BALANCER_NS"
BMAC="$(ip netns exec "$B" cat "/sys/class/net/$IN_IF/address")"
# All of the device-under-test's receive work on CPU 1 (lab_add_generator already does this for dr).
ip netns exec "$B" sh -c "echo 2 > /sys/class/net/$IN_IF/queues/rx-0/rps_cpus"
ip netns exec "$B" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$IN_IF.rp_filter=0"
read -r -a SERVER_NS <<< "$LAB_SERVER_NS"
read -r -a SERVER_IFS <<< "$LAB_SERVER_IFS"
read -r -a SERVER_ADDRS <<< "$LAB_SERVER_ADDRS"

for i in "${!SERVER_NS[@]}"; do
    ip netns exec "${SERVER_NS[$i]}" nft -f - <<NFT
table netdev sink {
  chain in { type filter hook ingress device "${SERVER_IFS[$i]}" priority 0; policy accept; udp dport 9 counter drop; }
}
NFT
done

rx_total() {
    local i n total=0
    for i in "${!SERVER_NS[@]}"; do
        n="$(ip netns exec "${SERVER_NS[$i]}" cat "/sys/class/net/${SERVER_IFS[$i]}/statistics/rx_packets")"
        total=$(( total + n ))
    done
    echo "$total"
}

# trial RATE DST... -> prints "offered delivered"
trial() {
    local rate="$1"; shift
    local dsts=() d before after prev gen
    for d in "$@"; do dsts+=(--dst "$d"); done
    before="$(rx_total)"
    gen="$(ip netns exec "$GEN_NS" taskset -c 0 dotnet "$LB_DLL" generate --interface "$GEN_IF" \
        --dst-mac "$BMAC" --src "$GEN_SRC" "${dsts[@]}" --flows $(( FLOWS / $# )) --size "$SIZE" \
        --rate "$rate" --duration "$DURATION")"
    # Wait (bounded) until the receivers' counters stop moving: frames still in flight count as delivered.
    prev=-1
    for _ in $(seq 40); do
        after="$(rx_total)"
        [[ "$after" == "$prev" ]] && break
        prev="$after"
        sleep 0.05
    done
    local offered
    offered="$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["offered"])' "$gen")"
    echo "$offered $(( after - before ))"
}

# search LABEL DST... -> highest rate with loss < LOSS %
search() {
    local label="$1"; shift
    local lo=0 hi=100000 result offered delivered loss_ok steps=0
    passes() {
        local rate="$1"; shift
        result="$(trial "$rate" "$@")"
        read -r offered delivered <<< "$result"
        loss_ok="$(/usr/bin/python3 -c 'import sys; o,d,l=map(float,sys.argv[1:]); print(1 if o>0 and (o-d)/o*100 < l else 0)' "$offered" "$delivered" "$LOSS")"
        printf '  %-8s %8d pps offered %9d delivered %9d  %s\n' "$label" "$rate" "$offered" "$delivered" "$([[ $loss_ok == 1 ]] && echo pass || echo loss)" >&2
        [[ "$loss_ok" == 1 ]]
    }
    # Grow until a rate fails, then bisect to within 2 %.
    while passes "$hi" "$@"; do
        lo=$hi
        hi=$(( hi * 2 ))
        (( hi > 4000000 )) && break
    done
    while (( steps < 8 && (hi - lo) * 50 > hi )); do
        local mid=$(( (lo + hi) / 2 ))
        if passes "$mid" "$@"; then lo=$mid; else hi=$mid; fi
        steps=$(( steps + 1 ))
    done
    echo "$lo"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== placement: generator CPU 0 (alone); balancer receive (RPS), forwarding and engine CPU 1; frames ${SIZE} B, ${FLOWS} flows, loss < ${LOSS} %, ${DURATION} s per trial"

CFG="$LAB_DIR/pps.yaml"
{
    echo "workers: 1"
    echo "control_socket: $LAB_DIR/lb.sock"
    echo "services:"
    echo "  - name: sink"
    echo "    vip: $LAB_VIP"
    echo "    port: 9"
    echo "    protocol: udp"
    echo "    mode: $MODE"
    echo "    interface: $IN_IF"
    echo "    backend_interface: $OUT_IF"
    echo "    backends:"
    for i in "${!SERVER_ADDRS[@]}"; do
        echo "      - name: rs$(( i + 1 ))"
        echo "        address: ${SERVER_ADDRS[$i]}"
    done
} > "$CFG"
ready() { dotnet "$LB_DLL" status --socket "$LAB_DIR/lb.sock" --json 2>/dev/null | grep -q '"state":"active".*"state":"active"'; }
start_engine() {
    ip netns exec "$B" taskset -c 1 dotnet "$LB_DLL" run --config "$CFG" >> "$LAB_DIR/lb.log" 2>&1 &
    ENGINE_PID=$!
    lab_wait_for 30 ready || { cat "$LAB_DIR/lb.log"; exit 1; }
    trial 1000 "$LAB_VIP" > /dev/null   # warm-up: tiered JIT, first flows
}

# The in-kernel peer of each mode. dr: plain IP forwarding to the servers' addresses (the ceiling of the
# path). nat: nftables DNAT of the VIP with a jhash map over the servers, with conntrack.
kernel_on() {
    ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
        "net.ipv4.conf.$IN_IF.send_redirects=0" "net.ipv4.conf.$OUT_IF.rp_filter=0"
    if [[ "$MODE" == nat ]]; then
        ip netns exec "$B" nft -f - <<NFT
table ip lbpeer {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $LAB_VIP udp dport 9 dnat to jhash ip saddr . udp sport mod ${#SERVER_ADDRS[@]} seed 0x5eed map { $(for i in "${!SERVER_ADDRS[@]}"; do printf '%s%d : %s' "$([[ $i == 0 ]] || echo ', ')" "$i" "${SERVER_ADDRS[$i]}"; done) }
  }
}
NFT
    fi
}
kernel_off() {
    ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=0
    if [[ "$MODE" == nat ]]; then
        ip netns exec "$B" nft delete table ip lbpeer 2>/dev/null || true
        ip netns exec "$B" sh -c 'command -v conntrack >/dev/null && conntrack -F' >/dev/null 2>&1 || true
    fi
}
if [[ "$MODE" == nat ]]; then KERNEL_LABEL="nftables DNAT (jhash map, conntrack)" KERNEL_DSTS=("$LAB_VIP")
else KERNEL_LABEL="kernel IP forwarding" KERNEL_DSTS=("${SERVER_ADDRS[@]}"); fi

# Searches alternate (kernel, ours, kernel, ours, ...) so slow drift on a shared VM hits both alike.
# The kernel peer runs with the engine stopped: its ETH_P_ALL ring would otherwise tax every frame.
KERNEL=() DR=()
for t in $(seq "$TRIALS"); do
    echo "== trial $t/$TRIALS: $KERNEL_LABEL"
    kernel_on
    trial 1000 "${KERNEL_DSTS[@]}" > /dev/null   # warm-up: ARP for the servers, first conntrack entries
    KERNEL+=("$(search kernel "${KERNEL_DSTS[@]}")")
    kernel_off

    echo "== trial $t/$TRIALS: lb $MODE (lb run, pinned to CPU 1)"
    start_engine
    DR+=("$(search "$MODE" "$LAB_VIP")")
    dotnet "$LB_DLL" status --socket "$LAB_DIR/lb.sock" | tail -3 | head -1
    stop_engine
done

k="$(median "${KERNEL[@]}")"
d="$(median "${DR[@]}")"
echo
echo "== highest loss-free rate (loss < ${LOSS} %), ${SIZE}-byte frames, ${TRIALS} searches each"
printf '%-38s %s   median %s\n' "$KERNEL_LABEL" "${KERNEL[*]}" "$k"
printf '%-38s %s   median %s\n' "lb $MODE" "${DR[*]}" "$d"
/usr/bin/python3 -c 'import sys; k,d,m,l=sys.argv[1:]; k,d=float(k),float(d); print("lb %s / %s = %.2f" % (m, l, d/k if k else 0))' "$k" "$d" "$MODE" "$KERNEL_LABEL"
